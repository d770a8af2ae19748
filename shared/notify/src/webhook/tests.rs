use super::*;
use crate::fixtures::life;
use atalaya_tests::vendors::{schemas, WEBHOOK_SECRET};

#[test]
fn the_signature_verifies_after_the_standard_webhooks_convention() {
    let m = &life()[0];
    let bytes = serde_json::to_vec(&body(m)).unwrap();
    let now = chrono::Utc::now().timestamp();
    let sig = signature(&key(WEBHOOK_SECRET).unwrap(), "msg_1", now, &bytes);
    assert_eq!(
        schemas::webhook_signature(WEBHOOK_SECRET, "msg_1", &now.to_string(), &sig, &bytes),
        Ok(())
    );
    let mut tampered = bytes.clone();
    tampered[10] ^= 1;
    assert!(
        schemas::webhook_signature(WEBHOOK_SECRET, "msg_1", &now.to_string(), &sig, &tampered)
            .is_err()
    );
}

#[test]
fn the_body_is_versioned_and_carries_the_incident_and_its_failing_checks() {
    let b = body(&life()[0]);
    assert_eq!(b["version"], 1);
    assert_eq!(b["type"], "opened");
    assert_eq!(b["data"]["incident"], "inc-7");
    assert_eq!(b["data"]["action"], "open");
    assert_eq!(b["data"]["failing"][0]["check"], "shop-home");
}

#[test]
fn a_secret_that_is_not_base64_is_refused() {
    assert!(key("whsec_not base64!").is_err());
}
