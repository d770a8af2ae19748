use super::*;
use crate::fixtures::{life, long};
use atalaya_tests::vendors::schemas;

#[test]
fn an_incidents_life_is_one_alias_created_noted_acknowledged_and_closed_within_the_alert_api() {
    let all: Vec<Request> = life().iter().flat_map(requests).collect();
    let paths: Vec<String> = all.iter().map(|r| r.path.join("/")).collect();
    assert_eq!(
        paths,
        [
            "v2/alerts",
            "v2/alerts",
            "v2/alerts/inc-7/priority",
            "v2/alerts/inc-7/notes",
            "v2/alerts/inc-7/acknowledge",
            "v2/alerts/inc-7/close"
        ]
    );
    for r in &all {
        let query = if r.path.len() > 2 {
            "identifierType=alias"
        } else {
            ""
        };
        let p = schemas::opsgenie(
            &format!("/{}", r.path.join("/")),
            query,
            &r.body,
            Some("GenieKey k"),
        );
        assert_eq!(p, Vec::<String>::new(), "{}", r.body);
    }
    assert_eq!(all[0].body["priority"], "P2");
    assert_eq!(all[2].body["priority"], "P1");
    assert_eq!(all[4].body["user"], "alice via slack");
}

#[test]
fn a_long_body_is_cut_to_opsgenies_limits() {
    let r = &requests(&long(100_000))[0];
    assert_eq!(
        schemas::opsgenie("/v2/alerts", "", &r.body, Some("GenieKey k")),
        Vec::<String>::new()
    );
}

#[test]
fn the_alias_is_encoded_as_one_path_segment() {
    let base = url::Url::parse("https://api.eu.opsgenie.com").unwrap();
    let path = ["v2", "alerts", "maintenance:shop/a b?c#d", "notes"].map(String::from);
    let u = url(&base, &path);
    assert_eq!(
        u.path(),
        "/v2/alerts/maintenance:shop%2Fa%20b%3Fc%23d/notes"
    );
    assert_eq!(u.query(), Some("identifierType=alias"));
    assert_eq!(
        url(&base, &path[..2]).as_str(),
        "https://api.eu.opsgenie.com/v2/alerts"
    );
}
