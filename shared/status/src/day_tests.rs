//! The bars' days are the customer's: pinned instants on both sides of midnight in Madrid
//! (UTC+1 in winter, UTC+2 in summer), never the clock of the machine running the tests.

use super::model::{page, Reader};
use super::*;
use atalaya_core::rollup::{accrue, Condition};
use chrono::{NaiveDate, TimeDelta, TimeZone};

const FILE: &str = "
customers:
  - { id: acme, name: Acme Iberia, language: es, timezone: Europe/Madrid }
services:
  - { id: shop, customer: acme, name: Tienda online }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
";

fn madrid_midnight(d: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Madrid
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The shop's bars at `now` when it was watched (up) for the `watched` whole Madrid days
/// before `now`'s Madrid day, and from that day's midnight to `now`.
fn bars(now: DateTime<Utc>, watched: i64) -> Vec<(String, &'static str)> {
    let config = atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Local)
        .unwrap_or_else(|e| panic!("{e}"));
    let today = now.with_timezone(&chrono_tz::Europe::Madrid).date_naive();
    let mut hours = Hours::new();
    accrue(
        &mut hours,
        Condition::Up,
        madrid_midnight(today - TimeDelta::days(watched)),
        now,
    );
    let hours = BTreeMap::from([("shop".to_string(), hours)]);
    let state = State::default();
    let input = Input {
        config: &config,
        state: &state,
        incidents: &[],
        messages: &[],
        hours: &hours,
        now,
        only: None,
    };
    let customer = config.customer("acme").unwrap_or_else(|| panic!("acme"));
    let p = page(&input, Reader::Customer(customer), Language::Es);
    p.services[0]
        .bars
        .iter()
        .map(|b| (b.date.clone(), b.kind))
        .collect()
}

#[test]
fn the_last_bar_is_the_customers_today_on_both_sides_of_their_midnight() {
    // (now, the customer's today, what today's bar shows). The page counts whole hours (it is
    // rebuilt every hour): in the first hour of the customer's day, today has no data yet.
    for (now, today, today_kind) in [
        // Winter: Madrid's midnight is 23:00 UTC.
        ("2026-11-30T21:30:00Z", "2026-11-30", "up"),
        ("2026-11-30T22:59:59Z", "2026-11-30", "up"),
        ("2026-11-30T23:00:30Z", "2026-12-01", "none"),
        ("2026-11-30T23:30:00Z", "2026-12-01", "none"),
        ("2026-12-01T00:30:00Z", "2026-12-01", "up"),
        // Summer: 22:00 UTC.
        ("2026-07-01T21:59:59Z", "2026-07-01", "up"),
        ("2026-07-01T22:30:00Z", "2026-07-02", "none"),
        ("2026-07-01T23:30:00Z", "2026-07-02", "up"),
    ] {
        let now: DateTime<Utc> = now.parse().unwrap_or_default();
        let bars = bars(now, 59);
        assert_eq!(bars.len(), 90, "{now}");
        assert_eq!(
            (bars[89].0.as_str(), bars[89].1),
            (today, today_kind),
            "{now}"
        );
        // Watched for the 59 days before today: the 30 before them have no data, whatever the
        // hour of the day.
        assert!(
            bars[..30].iter().all(|(_, k)| *k == "none"),
            "{now}: {bars:?}"
        );
        assert!(
            bars[30..89].iter().all(|(_, k)| *k == "up"),
            "{now}: {bars:?}"
        );
        // The days follow each other, oldest first.
        let first = NaiveDate::parse_from_str(&bars[0].0, "%Y-%m-%d").unwrap_or_default();
        for (i, (date, _)) in bars.iter().enumerate() {
            assert_eq!(
                *date,
                (first + TimeDelta::days(i as i64))
                    .format("%Y-%m-%d")
                    .to_string()
            );
        }
    }
}
