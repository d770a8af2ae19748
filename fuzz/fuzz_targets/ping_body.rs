#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| atalaya_fuzzing::ping_body(data));
