use super::*;
use crate::fixtures::{life, long};
use atalaya_tests::vendors::schemas;

#[test]
fn every_message_is_an_adaptive_card_1_5_within_teams_limits() {
    let mut all = life();
    all.push(long(200_000));
    for m in &all {
        let c = card(m);
        let raw = serde_json::to_vec(&c).unwrap();
        assert_eq!(schemas::teams(&raw, &c), Vec::<String>::new(), "{c}");
    }
    let c = card(&life()[2]);
    assert!(c.to_string().contains("\"Acknowledged by\""), "{c}");
}
