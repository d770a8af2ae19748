//! A scripted history told through the one round (`atalaya_app::Round`) over any store: a shop
//! and a blog watched from three regions, minute by minute for some hours, with outages and a
//! spell when the monitor itself was away; then the hourly rollup job, and the month's report.
//! Told over SQLite (the runner's store) and over DynamoDB on moto (the functions'), the same
//! history must give the same report.

use atalaya_app::report::{report, Report, Scope};
use atalaya_app::status_site::Folder;
use atalaya_app::{Checks, Handoff, Round};
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use atalaya_store::{HourlyRollups, Rollups, Store};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub const FILE: &str = "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } }
services:
  - { id: shop, customer: acme, name: Shop }
  - { id: blog, customer: acme, name: Blog }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/' } }
  - { id: blog-home, service: blog, http: { url: 'https://blog.acme.example/' } }
";

pub const CHECKS: [&str; 3] = ["shop-home", "shop-api", "blog-home"];
pub const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

/// What happens, minute by minute (minutes from the story's start).
#[derive(Clone, Debug)]
pub struct Story {
    pub minutes: i64,
    /// (check, region, first minute, minutes): failing then.
    pub outages: Vec<(usize, usize, i64, i64)>,
    /// (first minute, minutes): the monitor is away (no results, no rounds).
    pub away: Option<(i64, i64)>,
}

impl Story {
    /// Three hours: the shop's home page down everywhere from 0:30 to 1:15, its API failing in
    /// one region only from 1:40 to 1:50, the monitor away from 2:00 to 2:20.
    pub fn three_hours() -> Story {
        Story {
            minutes: 180,
            outages: vec![
                (0, 0, 30, 45),
                (0, 1, 30, 45),
                (0, 2, 30, 45),
                (1, 1, 100, 10),
            ],
            away: Some((120, 20)),
        }
    }

    fn failing(&self, check: usize, region: usize, m: i64) -> bool {
        self.outages.iter().any(|(c, r, from, len)| {
            *c == check && *r == region && (*from..from + len).contains(&m)
        })
    }

    fn away(&self, m: i64) -> bool {
        self.away
            .is_some_and(|(from, len)| (from..from + len).contains(&m))
    }
}

/// The hour a story starts at: five hours ago, on the hour (recent enough for any store's
/// retention).
pub fn start() -> DateTime<Utc> {
    (Utc::now() - TimeDelta::hours(5))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_default()
}

fn result(check: &str, region: &str, at: DateTime<Utc>, failing: bool, m: i64) -> ProbeResult {
    ProbeResult {
        check: check.into(),
        region: region.into(),
        at,
        outcome: if failing { Outcome::Down } else { Outcome::Up },
        reason: if failing {
            Reason::HttpStatus
        } else {
            Reason::Ok
        },
        detail: String::new(),
        // Latency that varies with the minute, the same for every store.
        latency_ms: 40.0 + (m % 7) as f64 * 3.5,
        phases: Phases {
            connect_ms: Some(5.0 + (m % 3) as f64),
            ttfb_ms: Some(30.0 + (m % 5) as f64),
            ..Phases::default()
        },
        http_status: Some(if failing { 503 } else { 200 }),
        cert_days_left: None,
    }
}

/// Tells `story` from `t0` through rounds over `store` (`sole`: the store's only evaluator, as
/// the runner is), runs the hourly job past its end, and reports the month it ends in.
pub async fn tell<S: Store + Rollups + HourlyRollups>(
    store: &S,
    checks: &Checks,
    story: &Story,
    t0: DateTime<Utc>,
    sole: bool,
) -> Report {
    let wake = || {};
    let round: Round<'_, S, Folder> = Round {
        store,
        checks,
        site: None,
        handoff: Handoff::Beside(&wake),
        sole,
    };
    for m in 0..story.minutes {
        if story.away(m) {
            continue;
        }
        let at = t0 + TimeDelta::minutes(m) + TimeDelta::seconds(5);
        let mut results = Vec::new();
        for (c, check) in CHECKS.iter().enumerate() {
            for (r, region) in REGIONS.iter().enumerate() {
                results.push(result(check, region, at, story.failing(c, r, m), m));
            }
        }
        store
            .put_results(
                &results,
                std::time::Instant::now() + std::time::Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let now = at + TimeDelta::seconds(20);
        round
            .run(&results, now, true)
            .await
            .unwrap_or_else(|e| panic!("minute {m}: {e}"));
    }
    // After the end: a tick writes the last completed hour, the job tallies every hour.
    let end = t0 + TimeDelta::minutes(story.minutes);
    let after = end + TimeDelta::minutes(10);
    round
        .run(&[], after, true)
        .await
        .unwrap_or_else(|e| panic!("the last tick: {e}"));
    let job = atalaya_app::rollup_job::run(
        store,
        &checks.config,
        after,
        std::time::Instant::now() + std::time::Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.pending, 0, "the job left hours: {job:?}");
    let (from, to) = (t0 - TimeDelta::hours(1), end + TimeDelta::hours(1));
    report(
        store,
        &checks.config,
        &Scope {
            month: "story",
            from,
            to,
            customer: None,
            service: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}
