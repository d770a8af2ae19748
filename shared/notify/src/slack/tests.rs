use super::*;
use crate::fixtures::{life, long};
use atalaya_tests::vendors::schemas;

#[test]
fn every_message_is_block_kit_within_slacks_limits_with_a_fallback() {
    let mut all = life();
    all.push(long(200_000));
    for m in &all {
        for thread in [None, Some("1700000000.000001")] {
            let body = post_body("C0ATALAYA", m, thread);
            assert_eq!(schemas::slack(&body, false), Vec::<String>::new(), "{body}");
            assert!(body["blocks"].as_array().unwrap().len() <= MAX_BLOCKS);
        }
    }
}

#[test]
fn mrkdwn_control_characters_are_escaped() {
    let (_, blocks) = event_blocks(&life()[0]);
    let text = serde_json::to_string(&blocks).unwrap();
    assert!(text.contains("&lt;503&gt; &amp; more"), "{text}");
    assert!(!text.contains("<503>"), "{text}");
}

#[test]
fn the_first_message_says_where_the_incident_stands() {
    let life = life();
    let standing = |i: usize| {
        root_blocks(&life[i]).1[1]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(standing(0).contains("Open"));
    assert!(standing(2).contains("Acknowledged"));
    assert!(standing(3).contains("Resolved"));
    let (_, blocks) = root_blocks(&life[2]);
    assert!(blocks
        .last()
        .unwrap()
        .to_string()
        .contains("Acknowledged by alice via slack"));
}
