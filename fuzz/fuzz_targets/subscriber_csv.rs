#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| atalaya_fuzzing::subscriber_csv(data));
