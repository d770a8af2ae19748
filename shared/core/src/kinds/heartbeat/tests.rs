use super::*;
use crate::config::Check;
use crate::result::{Outcome, Reason};
use crate::{load_str, Target};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn file(heartbeat: &str) -> String {
    format!(
        "customers: [{{ id: acme, name: Acme }}]\nservices: [{{ id: backups, customer: acme, name: Backups }}]\nchecks:\n  - id: nightly\n    service: backups\n    heartbeat: {heartbeat}\n"
    )
}

fn check(heartbeat: &str) -> (Check, HeartbeatCheck) {
    let config =
        load_str(&file(heartbeat), "checks.yaml", Target::Local).unwrap_or_else(|e| panic!("{e}"));
    let c = config.checks[0].clone();
    let CheckKind::Heartbeat(h) = c.kind.clone() else {
        panic!("not a heartbeat")
    };
    (c, h)
}

use crate::kinds::CheckKind;

fn ping(log: &mut PingLog, kind: PingKind, at: &str) {
    log.record(&Ping::new(kind, t(at), b""));
}

fn judged(heartbeat: &str, log: &PingLog, now: &str, since: &str) -> (Outcome, Reason, String) {
    let (c, h) = check(heartbeat);
    let r = judge(
        &c,
        &h,
        log,
        t(now),
        Endpoint::AvailableSince(t(since)),
        "local",
    );
    (r.outcome, r.reason, r.detail)
}

const DAILY: &str = "{ every: 1d, grace: 30m, max_run: 2h }";

#[test]
fn on_time_late_and_back() {
    let mut log = PingLog::default();
    let since = "2026-11-01T00:00:00Z";
    let (o, r, d) = judged(DAILY, &log, "2026-11-02T00:00:00Z", since);
    assert_eq!((o, r), (Outcome::Unknown, Reason::CheckError), "{d}");
    assert!(d.contains("no ping yet"), "{d}");
    ping(&mut log, PingKind::Success, "2026-11-02T03:00:00Z");
    let (o, _, d) = judged(DAILY, &log, "2026-11-03T03:29:00Z", since);
    assert_eq!(o, Outcome::Up, "{d}");
    assert!(d.contains("next expected by 2026-11-03T03:30:00Z"), "{d}");
    let (o, r, d) = judged(DAILY, &log, "2026-11-03T03:31:00Z", since);
    assert_eq!((o, r), (Outcome::Down, Reason::Late), "{d}");
    assert!(d.contains("no success since 2026-11-02T03:00:00Z"), "{d}");
    assert!(d.contains("1m late"), "{d}");
    ping(&mut log, PingKind::Success, "2026-11-03T03:40:00Z");
    assert_eq!(
        judged(DAILY, &log, "2026-11-03T03:41:00Z", since).0,
        Outcome::Up
    );
}

#[test]
fn a_failure_or_a_nonzero_exit_is_down_until_a_success() {
    let mut log = PingLog::default();
    let since = "2026-11-01T00:00:00Z";
    ping(&mut log, PingKind::Success, "2026-11-02T03:00:00Z");
    log.record(&Ping::new(
        PingKind::Fail,
        t("2026-11-03T03:00:00Z"),
        b"pg_dump: connection refused",
    ));
    let (o, r, d) = judged(DAILY, &log, "2026-11-03T03:00:01Z", since);
    assert_eq!((o, r), (Outcome::Down, Reason::JobFailed), "{d}");
    assert!(d.contains("it said: pg_dump: connection refused"), "{d}");
    ping(&mut log, PingKind::Exit(0), "2026-11-03T03:10:00Z");
    assert_eq!(
        judged(DAILY, &log, "2026-11-03T03:11:00Z", since).0,
        Outcome::Up
    );
    ping(&mut log, PingKind::Exit(3), "2026-11-04T03:10:00Z");
    let (o, r, d) = judged(DAILY, &log, "2026-11-04T03:11:00Z", since);
    assert_eq!((o, r), (Outcome::Down, Reason::JobFailed), "{d}");
    assert!(d.contains("exit status 3"), "{d}");
}

#[test]
fn a_long_run_is_degraded_while_it_runs_and_after() {
    let mut log = PingLog::default();
    let since = "2026-11-01T00:00:00Z";
    ping(&mut log, PingKind::Success, "2026-11-02T03:00:00Z");
    ping(&mut log, PingKind::Start, "2026-11-03T03:00:00Z");
    assert_eq!(
        judged(DAILY, &log, "2026-11-03T04:59:00Z", since).0,
        Outcome::Up
    );
    let (o, r, d) = judged(DAILY, &log, "2026-11-03T05:01:00Z", since);
    assert_eq!((o, r), (Outcome::Degraded, Reason::LongRun), "{d}");
    assert!(d.contains("running for 2h1m"), "{d}");
    ping(&mut log, PingKind::Success, "2026-11-03T03:20:00Z");
    // That success ended the run in 20 minutes: fine again.
    assert_eq!(
        judged(DAILY, &log, "2026-11-03T05:02:00Z", since).0,
        Outcome::Up
    );
    assert_eq!(log.last_run_ms, Some(20 * 60 * 1000));
    ping(&mut log, PingKind::Start, "2026-11-04T03:00:00Z");
    ping(&mut log, PingKind::Success, "2026-11-04T06:00:00Z");
    let (o, r, d) = judged(DAILY, &log, "2026-11-04T06:01:00Z", since);
    assert_eq!((o, r), (Outcome::Degraded, Reason::LongRun), "{d}");
    assert!(d.contains("the last run took 3h"), "{d}");
}

#[test]
fn a_ping_possibly_missed_while_the_endpoint_was_away_is_unknown_not_late() {
    let mut log = PingLog::default();
    ping(&mut log, PingKind::Success, "2026-11-02T03:00:00Z");
    // The endpoint was away and back at 03:10 the next day: the 03:00 ping may have been lost.
    let since = "2026-11-03T03:10:00Z";
    let (o, r, d) = judged(DAILY, &log, "2026-11-03T04:00:00Z", since);
    assert_eq!((o, r), (Outcome::Unknown, Reason::CheckError), "{d}");
    assert!(d.contains("judged again by 2026-11-04T03:40:00Z"), "{d}");
    let (o, r, _) = judged(DAILY, &log, "2026-11-04T03:41:00Z", since);
    assert_eq!((o, r), (Outcome::Down, Reason::Late));
    // Not taking pings now: nothing is known.
    let (c, h) = check(DAILY);
    let r = judge(
        &c,
        &h,
        &log,
        t("2026-11-02T04:00:00Z"),
        Endpoint::Unavailable,
        "local",
    );
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Unknown, Reason::CheckError)
    );
}

#[test]
fn a_cron_schedule_is_read_in_its_time_zone() {
    let nightly = r#"{ cron: "0 3 * * *", timezone: Europe/Madrid, grace: 30m }"#;
    let mut log = PingLog::default();
    let since = "2026-11-01T00:00:00Z";
    // 03:05 in Madrid (UTC+1 in November) is 02:05 UTC; the next run is 02:00 UTC tomorrow.
    ping(&mut log, PingKind::Success, "2026-11-02T02:05:00Z");
    assert_eq!(
        judged(nightly, &log, "2026-11-03T02:29:00Z", since).0,
        Outcome::Up
    );
    let (o, r, d) = judged(nightly, &log, "2026-11-03T02:31:00Z", since);
    assert_eq!((o, r), (Outcome::Down, Reason::Late), "{d}");
    assert!(d.contains("expected by 2026-11-03T02:00:00Z"), "{d}");
    assert!(d.contains("cron \"0 3 * * *\" (Europe/Madrid)"), "{d}");
}

#[test]
fn ping_paths_are_read_strictly() {
    assert_eq!(parse_path("/ping/abc"), Some(("abc", PingKind::Success)));
    assert_eq!(parse_path("/ping/abc/"), Some(("abc", PingKind::Success)));
    assert_eq!(
        parse_path("/ping/abc/start"),
        Some(("abc", PingKind::Start))
    );
    assert_eq!(parse_path("/ping/abc/fail"), Some(("abc", PingKind::Fail)));
    assert_eq!(parse_path("/ping/abc/0"), Some(("abc", PingKind::Exit(0))));
    assert_eq!(
        parse_path("/ping/abc/255"),
        Some(("abc", PingKind::Exit(255)))
    );
    for bad in [
        "/ping/abc/256",
        "/ping/abc/-1",
        "/ping/",
        "/ping/abc/log",
        "/other/abc",
        "/ping/a/1/2",
    ] {
        assert_eq!(parse_path(bad), None, "{bad}");
    }
}

#[test]
fn the_rate_limit_lets_a_burst_through_and_refills() {
    let mut b = Bucket::default();
    let now = t("2026-11-02T03:00:00Z");
    for _ in 0..10 {
        assert!(b.take(now).is_ok());
    }
    let refused = b.take(now).unwrap_err();
    assert_eq!(refused.retry_after_s, 6);
    assert!(b.take(now + chrono::TimeDelta::seconds(6)).is_ok());
    assert!(b.take(now + chrono::TimeDelta::seconds(7)).is_err());
}

#[test]
fn bodies_are_cut_at_ten_kilobytes_on_a_character() {
    let long = "é".repeat(MAX_BODY);
    let p = Ping::new(PingKind::Fail, t("2026-11-02T03:00:00Z"), long.as_bytes());
    assert!(p.body.len() <= MAX_BODY && p.body.chars().all(|c| c == 'é'));
}

#[test]
fn a_bad_heartbeat_says_what_and_where() {
    let bad = [
        (
            "{ every: 1d, cron: \"0 3 * * *\" }",
            "give every or cron, not both",
        ),
        ("{ grace: 1h }", "no schedule"),
        (
            "{ cron: \"61 3 * * *\" }",
            "not a cron schedule of five fields",
        ),
        (
            "{ cron: \"0 3 * * *\", timezone: Mars/Olympus }",
            "not an IANA time zone",
        ),
        ("{ every: 1s }", "at least 2s on the local runner"),
        (
            "{ every: 1d, token: abcdefabcdefabcdef }",
            "must be a reference",
        ),
    ];
    for (h, want) in bad {
        let e = load_str(&file(h), "checks.yaml", Target::Local)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("checks.yaml:6:") && e.contains("check nightly") && e.contains(want),
            "{h}: {e}"
        );
    }
    let e = load_str(&file("{ every: 30s }"), "checks.yaml", Target::Lambda)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 1m on Lambda"), "{e}");
    assert!(e.contains("no token"), "{e}");
    let with_interval = file("{ every: 1d }") + "    interval: 5m\n";
    let e = load_str(&with_interval, "checks.yaml", Target::Local)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checks.yaml:7:") && e.contains("a heartbeat is not probed"),
        "{e}"
    );
}

#[test]
fn a_heartbeat_is_judged_where_pings_arrive() {
    let text = file("{ every: 1d, token: \"${ssm:/atalaya/heartbeat/nightly}\" }");
    let config = load_str(&text, "checks.yaml", Target::Lambda).unwrap_or_else(|e| panic!("{e}"));
    let c = &config.checks[0];
    assert_eq!(c.regions, vec![REGION.to_string()]);
    assert!(config.settings.regions.contains(&REGION.to_string()));
    assert_eq!(
        (c.interval.as_secs(), c.retries, c.recover_after),
        (60, 1, 1)
    );
    // Locally a short heartbeat is judged every second.
    let (c, _) = check("{ every: 10s, grace: 2s }");
    assert_eq!(c.interval.as_secs(), 1);
}
