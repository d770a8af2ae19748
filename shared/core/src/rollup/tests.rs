//! A scripted history through the pure core: two days of results for one service in two
//! regions, evaluated every minute, with an outage, a one-region failure, a blind spell and a
//! maintenance window; the hours add up to hand-checked figures under each accounting option.

use super::*;
use crate::result::{Outcome, Phases, ProbeResult, Reason};

const FILE: &str = "
settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME }
services:
  - id: shop
    customer: acme
    name: Shop
    maintenance:
      - { start: '2026-11-02T02:00:00Z', end: '2026-11-02T03:00:00Z' }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
";

fn result(region: &str, at: DateTime<Utc>, down: bool) -> ProbeResult {
    ProbeResult {
        check: "shop-home".into(),
        region: region.into(),
        at,
        outcome: if down { Outcome::Down } else { Outcome::Up },
        reason: if down { Reason::HttpStatus } else { Reason::Ok },
        detail: String::new(),
        latency_ms: 50.0,
        phases: Phases::default(),
        http_status: Some(if down { 503 } else { 200 }),
        cert_days_left: None,
    }
}

/// Two days, minute by minute: which regions report, and which report the shop down.
fn history() -> Hours {
    histories().0
}

/// The service's hours, and each region's of its check.
fn histories() -> (Hours, BTreeMap<String, Hours>) {
    let config = crate::load_str(FILE, "checks.yaml", crate::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    let service = &config.services[0];
    let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
    let mut state = State::default();
    let mut hours = Hours::new();
    let mut last: Option<(DateTime<Utc>, Condition)> = None;
    let mut regions: BTreeMap<String, Hours> = BTreeMap::new();
    let mut last_region: BTreeMap<String, (DateTime<Utc>, Condition)> = BTreeMap::new();
    for m in 0..2 * 24 * 60 {
        let minute = t0 + TimeDelta::minutes(m);
        let at = minute + TimeDelta::seconds(5);
        let mut results = Vec::new();
        let blind = (1740..1770).contains(&m); // day 2, 05:00-05:30: no region reports
        if !blind {
            let everywhere = (600..690).contains(&m) // day 1, 10:00-11:30
                || (1560..1620).contains(&m); // day 2, 02:00-03:00 (in maintenance)
            let one_region = (900..945).contains(&m); // day 1, 15:00-15:45, us-east-1 only
            results.push(result("eu-west-1", at, everywhere));
            results.push(result("us-east-1", at, everywhere || one_region));
        }
        let now = minute + TimeDelta::seconds(30);
        state = crate::evaluate::evaluate(&state, &results, now, &config).0;
        if let Some((from, c)) = last {
            accrue(&mut hours, c, from, now);
        }
        last = Some((now, service_condition(&state, &config, service, now)));
        for region in ["eu-west-1", "us-east-1"] {
            let key = check_key("shop-home", region);
            if let Some((from, c)) = last_region.get(&key) {
                accrue(regions.entry(key.clone()).or_default(), *c, *from, now);
            }
            let c = check_condition(&state, &config, &config.checks[0], region, now);
            last_region.insert(key, (now, c));
        }
    }
    (hours, regions)
}

#[test]
fn each_region_of_a_check_keeps_what_it_saw() {
    let (_, regions) = histories();
    let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
    let all = |r: &str| {
        sum(
            &regions[&check_key("shop-home", r)],
            t0,
            t0 + TimeDelta::days(2),
        )
    };
    let (eu, us) = (all("eu-west-1"), all("us-east-1"));
    // The outage everywhere: down in both regions, from the evaluation that saw each down
    // (retries 1: the first failure is already past its retries) to the one that saw it back.
    assert_eq!(eu.down, 90 * MIN, "{eu:?}");
    // us-east-1 alone failed 15:00-15:45: down there, and only there.
    assert_eq!(us.down, (90 + 45) * MIN, "{us:?}");
    assert_eq!(eu.degraded + us.degraded, 0);
    // Nobody reported for half an hour: unknown in both from the evaluation that found the
    // last result three intervals old (05:02:30) to the one that had a new one (05:30:30).
    assert_eq!((eu.unknown, us.unknown), (28 * MIN, 28 * MIN));
    assert_eq!(eu.maintenance, 60 * MIN);
    assert_eq!(eu.total(), us.total());
}

const MIN: u64 = 60_000;

#[test]
fn two_days_add_up_to_the_hand_checked_figures() {
    let hours = history();
    let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
    let all = sum(&hours, t0, t0 + TimeDelta::days(2));
    // From the first evaluation (00:00:30) to the last (day 2, 23:59:30): 2,879 minutes.
    assert_eq!(all.total(), 2879 * MIN);
    // Down from the evaluation that saw it (10:00:30) to the one that saw it back (11:30:30).
    assert_eq!(all.down, 90 * MIN, "{all:?}");
    // One region of two failing: the quorum does not confirm it.
    assert_eq!(all.degraded, 45 * MIN, "{all:?}");
    // Unknown once the last results are three intervals old (04:59:05 + 3 min: the 05:02:30
    // evaluation) until results come back (05:30:30): 28 minutes.
    assert_eq!(all.unknown, 28 * MIN, "{all:?}");
    // The window, from the first evaluation in it to the first after it; the failures inside
    // it count as maintenance, not downtime.
    assert_eq!(all.maintenance, 60 * MIN, "{all:?}");
    assert_eq!(all.up, (2879 - 90 - 45 - 28 - 60) * MIN);
    // The first day alone: 23 h 59 m 30 s counted from 00:00:30.
    let day1 = sum(&hours, t0, t0 + TimeDelta::days(1));
    assert_eq!(day1.total(), 1439 * MIN + 30_000);
    assert_eq!(
        (day1.down, day1.degraded, day1.unknown, day1.maintenance),
        (90 * MIN, 45 * MIN, 0, 0)
    );
    // The outage's hours: 10:00-11:00 has 59.5 minutes down, 11:00-12:00 30.5.
    let ten: DateTime<Utc> = "2026-11-01T10:00:00Z".parse().unwrap_or_default();
    assert_eq!(hours[&ten].down, 59 * MIN + 30_000);
    assert_eq!(hours[&(ten + TimeDelta::hours(1))].down, 30 * MIN + 30_000);
}

#[test]
fn uptime_under_each_accounting_option() {
    let all = {
        let hours = history();
        let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
        sum(&hours, t0, t0 + TimeDelta::days(2))
    };
    let close =
        |a: Option<f64>, b: f64| assert!((a.unwrap_or(-1.0) - b).abs() < 1e-9, "{a:?} vs {b}");
    // The default: maintenance and unknown left out, degraded counting 0.3.
    let p = Policy::default();
    let u = p.uptime(&all);
    assert_eq!(u.counted_ms, (2656 + 45 + 90) * MIN);
    close(u.percent, 100.0 * (1.0 - 103.5 / 2791.0));
    // 0.1 % of 2,791 minutes is 2.791 minutes of allowed downtime; 103.5 used.
    close(u.budget_used, 103.5 / 2.791);
    // Degraded as full downtime, or as none.
    close(
        Policy {
            partial_weight: 1.0,
            ..p
        }
        .uptime(&all)
        .percent,
        100.0 * (1.0 - 135.0 / 2791.0),
    );
    close(
        Policy {
            partial_weight: 0.0,
            ..p
        }
        .uptime(&all)
        .percent,
        100.0 * (1.0 - 90.0 / 2791.0),
    );
    // Maintenance as downtime.
    close(
        Policy {
            exclude_maintenance: false,
            ..p
        }
        .uptime(&all)
        .percent,
        100.0 * (1.0 - 163.5 / 2851.0),
    );
    // What the monitor did not see, as up or as down.
    close(
        Policy {
            unknown: UnknownAs::Up,
            ..p
        }
        .uptime(&all)
        .percent,
        100.0 * (1.0 - 103.5 / 2819.0),
    );
    close(
        Policy {
            unknown: UnknownAs::Down,
            ..p
        }
        .uptime(&all)
        .percent,
        100.0 * (1.0 - 131.5 / 2819.0),
    );
    // Nothing counted: no figure rather than 100 %.
    assert_eq!(
        p.uptime(&Millis {
            unknown: MIN,
            ..Millis::default()
        })
        .percent,
        None
    );
}

#[test]
fn time_is_split_at_each_hour() {
    let mut hours = Hours::new();
    let from: DateTime<Utc> = "2026-11-01T09:59:00Z".parse().unwrap_or_default();
    accrue(
        &mut hours,
        Condition::Down,
        from,
        from + TimeDelta::minutes(62),
    );
    let values: Vec<u64> = hours.values().map(|m| m.down / MIN).collect();
    assert_eq!(values, [1, 60, 1]);
}

#[test]
fn the_policy_is_read_from_the_checks_file() {
    let config = crate::load_str(
        &FILE.replace(
            "  defaults:",
            "  sla: { target: 99.5, exclude_maintenance: false, partial_weight: 0.5, unknown: down }\n  defaults:",
        ),
        "checks.yaml",
        crate::Target::Lambda,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.settings.sla,
        Policy {
            target: 99.5,
            exclude_maintenance: false,
            partial_weight: 0.5,
            unknown: UnknownAs::Down
        }
    );
    let plain = crate::load_str(FILE, "checks.yaml", crate::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.settings.sla, Policy::default());
}

#[test]
fn latency_percentiles_merge_within_one_percent() {
    let mut hours: Vec<Latency> = Vec::new();
    // 10,000 latencies 1..=10,000 ms, spread over ten hours; faults measure nothing.
    for h in 0..10 {
        let mut l = Latency::default();
        for i in 1..=1000 {
            let mut r = result("eu-west-1", DateTime::<Utc>::UNIX_EPOCH, false);
            r.latency_ms = f64::from(h * 1000 + i);
            r.phases.ttfb_ms = Some(r.latency_ms / 2.0);
            l.record(&r);
        }
        let mut fault = result("eu-west-1", DateTime::<Utc>::UNIX_EPOCH, false);
        fault.reason = crate::result::Reason::Blocked;
        fault.latency_ms = 1e9;
        l.record(&fault);
        hours.push(l);
    }
    let mut month = Latency::default();
    for h in &hours {
        month.merge(h);
    }
    let p = month
        .percentiles("total")
        .unwrap_or_else(|| panic!("{month:?}"));
    assert_eq!(p.samples, 10_000);
    for (got, want) in [(p.p50, 5000.0), (p.p95, 9500.0), (p.p99, 9900.0)] {
        assert!((got - want).abs() / want <= 0.01, "{got} vs {want}");
    }
    let ttfb = month.percentiles("ttfb").unwrap_or_else(|| panic!("ttfb"));
    assert!((ttfb.p50 - 2500.0).abs() / 2500.0 <= 0.01, "{ttfb:?}");
    assert!(month.percentiles("tls").is_none());
}

/// The alert function's way (marks in the state, moved when a condition changes and once an
/// hour, completed hours written and forgotten) adds up to the runner's (every minute accrued)
/// for the same history.
#[test]
fn marks_written_hourly_add_up_to_accruing_every_minute() {
    let config = crate::load_str(FILE, "checks.yaml", crate::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    let service = &config.services[0];
    let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
    let mut state = State::default();
    let mut every_minute = Hours::new();
    let mut last: Option<(DateTime<Utc>, Condition)> = None;
    let mut marks = Marks::default();
    let mut written = Hours::new();
    let mut changes = 0;
    for m in 0..2 * 24 * 60 {
        let minute = t0 + TimeDelta::minutes(m);
        let at = minute + TimeDelta::seconds(5);
        let down = (600..690).contains(&m);
        let results = vec![result("eu-west-1", at, down), result("us-east-1", at, down)];
        let now = minute + TimeDelta::seconds(30);
        state = crate::evaluate::evaluate(&state, &results, now, &config).0;
        let c = service_condition(&state, &config, service, now);
        if let Some((from, was)) = last {
            accrue(&mut every_minute, was, from, now);
        }
        last = Some((now, c));
        let before = marks.clone();
        marks.advance(now, &BTreeMap::from([("shop".to_string(), c)]), None);
        if marks != before {
            changes += 1;
        }
        let done = marks.completed(now);
        if let Some(h) = done.get("shop") {
            for (t, v) in h {
                written.entry(*t).or_default().merge(v);
            }
        }
        marks.forget(&done);
    }
    let end: DateTime<Utc> = "2026-11-02T23:00:00Z".parse().unwrap_or_default();
    let full: Hours = every_minute.range(..end).map(|(t, v)| (*t, *v)).collect();
    assert_eq!(written, full);
    // The marks changed at the start, once an hour (47 hours began), and when the outage
    // ended (it began with the 10:00 hour: one change for both).
    assert_eq!(changes, 1 + 47 + 1);
}

#[test]
fn a_monitor_that_was_not_running_counts_that_time_unknown() {
    let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap_or_default() };
    let up = BTreeMap::from([("shop".to_string(), Condition::Up)]);
    let mut marks = Marks::default();
    marks.advance(t("2026-11-01T10:00:00Z"), &up, None);
    marks.advance(t("2026-11-01T10:20:00Z"), &up, None);
    // The shell last ran at 10:30 and runs again at 12:15.
    marks.advance(
        t("2026-11-01T12:15:00Z"),
        &up,
        Some(t("2026-11-01T10:30:00Z")),
    );
    let done = marks.completed(t("2026-11-01T12:15:00Z"));
    let shop = &done["shop"];
    assert_eq!(shop[&t("2026-11-01T10:00:00Z")].up, 30 * MIN);
    assert_eq!(shop[&t("2026-11-01T10:00:00Z")].unknown, 30 * MIN);
    assert_eq!(shop[&t("2026-11-01T11:00:00Z")].unknown, 60 * MIN);
    // The current hour is not complete: it stays.
    assert_eq!(
        marks.pending["shop"][&t("2026-11-01T12:00:00Z")].unknown,
        15 * MIN
    );
    marks.forget(&done);
    assert_eq!(marks.pending["shop"].len(), 1);
    // A subject that leaves is accrued to the moment it left.
    marks.advance(t("2026-11-01T12:20:00Z"), &BTreeMap::new(), None);
    assert!(marks.since.is_empty());
    assert_eq!(
        marks.pending["shop"][&t("2026-11-01T12:00:00Z")].up,
        5 * MIN
    );
}

/// An hour of results alone, as a job reading the results table sees it: a failure is degraded
/// until `retries` in a row, then down; a region that goes quiet is unknown after three
/// intervals; a monitoring fault is unknown; a maintenance window is maintenance whatever was
/// seen; latency from every real result of the hour.
#[test]
fn an_hour_from_its_results_alone() {
    let config = crate::load_str(
        "
settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1m, timeout: 10s, retries: 2, recover_after: 1 }
customers:
  - { id: acme, name: ACME }
services:
  - id: shop
    customer: acme
    name: Shop
    maintenance:
      - { start: '2026-11-01T10:40:00Z', end: '2026-11-01T10:42:00Z' }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
        "checks.yaml",
        crate::Target::Lambda,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap_or_default() };
    let (from, to) = (t("2026-11-01T10:00:00Z"), t("2026-11-01T11:00:00Z"));
    let mut results = Vec::new();
    // From 09:57 (the counters need what came before the hour) to 10:59, at :05 each minute.
    for m in -3..60 {
        let at = from + TimeDelta::minutes(m) + TimeDelta::seconds(5);
        // eu-west-1: failing at 10:10, 10:11 and 10:12.
        results.push(result("eu-west-1", at, (10..13).contains(&m)));
        // us-east-1: quiet from 10:31 to 10:44; a monitoring fault at 10:50.
        if !(31..45).contains(&m) {
            let mut r = result("us-east-1", at, false);
            if m == 50 {
                r.outcome = Outcome::Unknown;
                r.reason = Reason::Blocked;
            }
            results.push(r);
        }
    }
    let hour = from_results(&config, &results, from, to);
    let eu = hour.checks[&check_key("shop-home", "eu-west-1")];
    // Degraded for the first failure (one of two retries), down from the second to recovery.
    assert_eq!(
        (eu.up, eu.degraded, eu.down, eu.unknown, eu.maintenance),
        (55 * MIN, MIN, 2 * MIN, 0, 2 * MIN)
    );
    let us = hour.checks[&check_key("shop-home", "us-east-1")];
    // Unknown from 10:33:05 (three intervals after 10:30:05) to 10:45:05, less the window; and
    // from the fault (10:50:05) to the next result.
    assert_eq!(
        (us.up, us.degraded, us.down, us.unknown, us.maintenance),
        (47 * MIN, 0, 0, 11 * MIN, 2 * MIN)
    );
    assert_eq!(eu.total(), 60 * MIN);
    assert_eq!(us.total(), 60 * MIN);
    // Latency of every real result in the hour: per region and for the service.
    let count = |k: &str| {
        hour.latency[k]
            .percentiles("total")
            .map_or(0, |p| p.samples)
    };
    assert_eq!(count(&check_key("shop-home", "eu-west-1")), 60);
    assert_eq!(count(&check_key("shop-home", "us-east-1")), 45);
    assert_eq!(count("shop"), 105);

    // Pages of results come in any order: the tally is the same.
    let mut tally = Tally::new(&config, from, to);
    for page in results.rchunks(7) {
        for r in page {
            tally.add(r);
        }
    }
    assert_eq!(tally.len(), results.len());
    let again = tally.finish();
    assert_eq!(again.checks, hour.checks);
    assert_eq!(
        count("shop"),
        again.latency["shop"]
            .percentiles("total")
            .map_or(0, |p| p.samples)
    );
    // Kept per region, merged back: the same hour.
    let mut merged = Detail::default();
    for region in ["eu-west-1", "us-east-1"] {
        let part: Vec<_> = results
            .iter()
            .filter(|r| r.region == region)
            .cloned()
            .collect();
        let json =
            serde_json::to_string(&from_results(&config, &part, from, to)).unwrap_or_default();
        merged.merge(&serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(merged.checks, hour.checks);
    assert_eq!(
        merged.latency["shop"].percentiles("total"),
        hour.latency["shop"].percentiles("total")
    );
    // A one-minute check with two retries needs four minutes before the hour (staleness is
    // three intervals); at least five are read.
    assert_eq!(Tally::lookback(&config), TimeDelta::minutes(5));
}

#[test]
fn an_hour_drifts_when_its_median_is_the_factor_times_its_usual_phase_by_phase() {
    let sketch = |total: f64, connect: f64, n: usize| {
        let mut l = Latency::default();
        for i in 0..n {
            let mut r = result(
                "eu-west-1",
                "2026-11-01T10:00:00Z".parse().unwrap_or_default(),
                false,
            );
            r.latency_ms = total + i as f64 * 0.01;
            r.phases.connect_ms = Some(connect);
            l.record(&r);
        }
        l
    };
    let usual = [
        sketch(100.0, 20.0, 60),
        sketch(110.0, 20.0, 60),
        sketch(90.0, 20.0, 60),
    ];
    // Three times the usual total, the same connect: total drifts, connect does not.
    let found = drift(&sketch(300.0, 20.0, 60), &usual, 2.0).unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:?}");
    let (phase, now, was) = &found[0];
    assert_eq!(phase, "total");
    assert!(
        (now - 300.0).abs() <= 3.0 && (was - 100.0).abs() <= 1.0,
        "{found:?}"
    );
    // Under the factor: nothing drifted, and that is something to say.
    assert_eq!(drift(&sketch(150.0, 20.0, 60), &usual, 2.0), Some(vec![]));
    // Too little to say: an hour of 3 results, or one week of usual.
    assert_eq!(drift(&sketch(300.0, 20.0, 3), &usual, 2.0), None);
    assert_eq!(drift(&sketch(300.0, 20.0, 60), &usual[..1], 2.0), None);
}
