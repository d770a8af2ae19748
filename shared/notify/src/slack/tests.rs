use super::*;
use crate::fixtures::{life, long};
use atalaya_tests::vendors::schemas;

#[test]
fn every_message_is_block_kit_within_slacks_limits_with_a_fallback() {
    let mut all = life();
    all.push(long(200_000));
    for m in &all {
        for (thread, interactive) in [(None, false), (Some("1700000000.000001"), true)] {
            let body = post_body("C0ATALAYA", m, thread, interactive);
            assert_eq!(schemas::slack(&body, false), Vec::<String>::new(), "{body}");
            assert!(body["blocks"].as_array().unwrap().len() <= MAX_BLOCKS);
        }
    }
}

#[test]
fn mrkdwn_control_characters_are_escaped() {
    let (_, blocks) = event_blocks(&life()[0], false);
    let text = serde_json::to_string(&blocks).unwrap();
    assert!(text.contains("&lt;503&gt; &amp; more"), "{text}");
    assert!(!text.contains("<503>"), "{text}");
}

#[test]
fn the_first_message_says_where_the_incident_stands() {
    let life = life();
    let standing = |i: usize| {
        root_blocks(&life[i], false).1[1]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(standing(0).contains("Open"));
    assert!(standing(2).contains("Acknowledged"));
    assert!(standing(3).contains("Resolved"));
    let (_, blocks) = root_blocks(&life[2], false);
    assert!(blocks
        .last()
        .unwrap()
        .to_string()
        .contains("Acknowledged by alice via slack"));
}

#[test]
fn an_open_incident_has_an_acknowledge_button_in_place_or_to_the_page() {
    let mut m = life().remove(0);
    m.details.as_mut().unwrap().ack_url = Some("https://pages.acme.example/ack/inc-7/t0k".into());
    let last = |interactive| root_blocks(&m, interactive).1.last().unwrap().clone();
    let page = last(false);
    assert_eq!(page["type"], "actions");
    assert_eq!(
        page["elements"][0]["url"],
        "https://pages.acme.example/ack/inc-7/t0k"
    );
    let in_place = last(true);
    assert_eq!(in_place["elements"][0]["action_id"], ACK_ACTION);
    assert_eq!(in_place["elements"][0]["value"], "inc-7");
    assert!(in_place["elements"][0].get("url").is_none());
    assert_eq!(
        schemas::blocks(&serde_json::json!([page, in_place])),
        Vec::<String>::new()
    );
    let mut long = long(200_000);
    long.details.as_mut().unwrap().ack_url = Some("https://x/ack/a/b".into());
    let (_, blocks) = event_blocks(&long, true);
    assert!(blocks.len() <= MAX_BLOCKS);
    assert_eq!(blocks.last().unwrap()["type"], "actions");
}
