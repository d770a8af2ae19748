//! One rule for addresses: what `check_address` accepts, lettre writes (the application
//! layer's `customer_mail` tests give up, once, an address kept from before that it cannot).

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::email::check_address;

#[test]
fn what_check_address_accepts_lettre_can_write_and_the_hostile_ones_are_refused() {
    for bad in [
        "a..b@x.example",
        ".lead@x.example",
        "trail.@x.example",
        "x@-x.example",
        "x@x-.example",
        "x@x..example",
        "\"quoted\"@x.example",
        "a b@x.example",
        "a@b@x.example",
        "nodot@localhost",
    ] {
        let e = check_address(bad).expect_err(bad);
        assert!(e.contains("is not an email address"), "{bad}: {e}");
    }
    // Every combination of a few awkward characters on either side: whatever passes, lettre
    // takes as an address and as a mailbox (the mailer's two parses).
    let parts = [
        "a", "a.b", "a+b", "a-b", "a_b", "a'b", "a=b", "1", "a%b", "a!b", "a~b", "ñ",
    ];
    let domains = [
        "x.example",
        "x-y.example",
        "1.example",
        "xn--nxasmq6b.example",
        "a.b.c.example",
        "ñ.example",
    ];
    let mut accepted = 0;
    for local in parts {
        for domain in domains {
            let address = format!("{local}@{domain}");
            if check_address(&address).is_ok() {
                accepted += 1;
                assert!(address.parse::<lettre::Address>().is_ok(), "{address}");
                assert!(
                    address.parse::<lettre::message::Mailbox>().is_ok(),
                    "{address}"
                );
            }
        }
    }
    assert!(accepted >= 40, "{accepted}");
}
