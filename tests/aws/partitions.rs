//! The alert function with the engine's state in partitions, as it keeps it on DynamoDB
//! (`atalaya_core::partition`): outages and silence told once, invocations taking turns, an
//! incident moving with its service, and a steady minute writing only freshness stamps.

use super::alert::at_regions;
use super::*;
use atalaya_alert_fn::{handle, Deps};

/// Twenty-four services of one check each (k<i> of s<i>) in three regions; with `dependency`,
/// s1 depends on s0.
fn twenty_four_services(dependency: bool) -> atalaya_app::Checks {
    let mut services = String::new();
    let mut checks_text = String::new();
    for i in 0..24 {
        let dep = if dependency && i == 1 {
            ", depends_on: [s0]"
        } else {
            ""
        };
        services.push_str(&format!(
            "  - {{ id: s{i}, customer: acme, name: Service {i}{dep} }}\n"
        ));
        checks_text.push_str(&format!(
            "  - {{ id: k{i}, service: s{i}, http: {{ url: 'https://s{i}.acme.example/' }} }}\n"
        ));
    }
    checks(&format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: {{ interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
{services}checks:
{checks_text}"
    ))
}

/// The state split into partitions, as the alert function keeps it on DynamoDB: an outage opens
/// one incident (named after its partition) listing the dependent service beside it, each
/// audience hears once, a silent region is told once (not once per partition), and the
/// resolution comes when every region sees the services working.
#[tokio::test]
async fn with_the_state_in_partitions_an_outage_and_a_silent_region_are_told_once() {
    let c = twenty_four_services(true);
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let s = store().await.with_partitions(8);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let plan = c.plan(8);
    assert!(plan.parts.len() > 1, "the services spread over partitions");
    let home = plan.of_check("k0").unwrap().key.clone();
    assert_eq!(
        plan.of_check("k1").unwrap().key,
        home,
        "a dependency stays together"
    );

    let all = |m: i64, down: &[&str], regions: &[&str]| -> Vec<ProbeResult> {
        let t = chrono::Utc::now() - chrono::TimeDelta::minutes(10) + chrono::TimeDelta::minutes(m);
        (0..24)
            .flat_map(|i| {
                let id = format!("k{i}");
                let outcome = if down.contains(&id.as_str()) {
                    Outcome::Down
                } else {
                    Outcome::Up
                };
                at_regions(&id, t, outcome)
                    .into_iter()
                    .filter(|r| regions.contains(&r.region.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let every = ["eu-west-1", "us-east-1", "ap-southeast-2"];
    let base = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    let at = |m: i64| base + chrono::TimeDelta::minutes(m) + chrono::TimeDelta::seconds(20);
    // Minute 0: all well. Minutes 1-2: s0 and its dependent s1 down everywhere.
    handle(&deps, &all(0, &[], &every), None, at(0)).await;
    for minute in 1..=2 {
        let out = handle(&deps, &all(minute, &["k0", "k1"], &every), None, at(minute)).await;
        assert!(!out.evaluation_failed, "{out:?}");
    }
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].id.starts_with(&format!("inc-{home}-")),
        "{}",
        open[0].id
    );
    let listed: Vec<&String> = open[0].services().collect();
    assert!(listed.iter().any(|s| *s == "s1"), "{listed:?}");
    // Minutes 3-6: recovered, and ap-southeast-2 stops reporting.
    for minute in 3..=6 {
        let out = handle(&deps, &all(minute, &[], &every[..2]), None, at(minute)).await;
        assert!(!out.evaluation_failed, "{out:?}");
        handle(
            &deps,
            &[],
            None,
            at(minute) + chrono::TimeDelta::seconds(30),
        )
        .await;
    }
    assert!(
        s.incidents(true).await.unwrap().is_empty(),
        "resolved by the two regions that see it"
    );
    let subjects: Vec<String> = m
        .drain(&ops_q)
        .await
        .iter()
        .map(|o| o["Subject"].as_str().unwrap_or_default().to_string())
        .collect();
    let cust = events(&m.drain(&cust_q).await);
    let count = |p: &str| subjects.iter().filter(|s| s.starts_with(p)).count();
    assert_eq!(count("[OPENED] s0"), 1, "{subjects:?}");
    assert_eq!(count("[RESOLVED] s0"), 1, "{subjects:?}");
    assert_eq!(
        count("[REGION SILENT] ap-southeast-2"),
        1,
        "told once, not once per partition: {subjects:?}"
    );
    // The customer hears once about each of its two services, and once of each resolution.
    assert_eq!(
        cust.iter().filter(|e| *e == "opened").count(),
        2,
        "{cust:?}"
    );
    assert_eq!(
        cust.iter().filter(|e| *e == "resolved").count(),
        2,
        "{cust:?}"
    );
    // Every partition's item is small; the unsplit document was never written.
    assert_eq!(s.load_state().await.unwrap().version, 0);
    assert!(
        s.stats().largest_state_item() < 8 * 1024,
        "{}",
        s.stats().largest_state_item()
    );
}

/// Two invocations at once (two stream shards, or a batch and the tick): the lease lets one
/// evaluate at a time, both succeed, and the outage is told once.
#[tokio::test]
async fn concurrent_invocations_take_turns_and_tell_once() {
    let c = checks(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
  - { id: blog, customer: acme, name: Blog }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: blog-home, service: blog, http: { url: 'https://blog.acme.example/' } }
",
    );
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = store().await.with_partitions(4);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(3);
    let mut down = at_regions("shop-home", t0, Outcome::Down);
    down.extend(at_regions("blog-home", t0, Outcome::Up));
    let (first, second) = down.split_at(3);
    let now = t0 + chrono::TimeDelta::seconds(20);
    let (a, b) = tokio::join!(
        handle(&deps, first, Some("1".into()), now),
        handle(&deps, second, Some("2".into()), now)
    );
    assert!(!a.evaluation_failed && !b.evaluation_failed, "{a:?} {b:?}");
    assert_eq!(
        a.events + b.events,
        2,
        "opened, for operators and the customer: {a:?} {b:?}"
    );
    let subjects: Vec<String> = m
        .drain(&ops_q)
        .await
        .iter()
        .map(|o| o["Subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("[OPENED] shop"))
            .count(),
        1,
        "{subjects:?}"
    );
    // The lease was given back.
    let t = chrono::Utc::now();
    assert!(s
        .lease("after", t, t + chrono::TimeDelta::seconds(60))
        .await
        .unwrap());
}

/// A new dependency joins a service's group to another partition while its incident is open:
/// the incident moves with it, and the customer still hears it resolved when it is seen working.
#[tokio::test]
async fn an_open_incident_moves_with_its_service_to_another_partition() {
    let file = |depends: bool, a: &str, b: &str| {
        checks(&format!(
            "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: {{ interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: {a}, customer: acme, name: Core }}
  - {{ id: {b}, customer: acme, name: Shop{} }}
checks:
  - {{ id: core-home, service: {a}, http: {{ url: 'https://core.acme.example/' }} }}
  - {{ id: shop-home, service: {b}, http: {{ url: 'https://shop.acme.example/' }} }}
",
            if depends {
                format!(", depends_on: [{a}]")
            } else {
                String::new()
            }
        ))
    };
    // Two service ids that land in different partitions on their own.
    let (a, b) = (0..)
        .map(|i| (format!("core{i}"), format!("shop{i}")))
        .find(|(a, b)| {
            let p = file(false, a, b).plan(8);
            p.of_service(a).map(|x| x.key.clone()) != p.of_service(b).map(|x| x.key.clone())
        })
        .unwrap();
    let (before, after) = (file(false, &a, &b), file(true, &a, &b));
    let from = before.plan(8).of_service(&b).unwrap().key.clone();
    let to = after.plan(8).of_service(&b).unwrap().key.clone();
    assert_ne!(from, to);
    assert_eq!(
        to,
        after.plan(8).of_service(&a).unwrap().key,
        "the group follows its first service"
    );

    let m = moto().await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let s = store().await.with_partitions(8);
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    let at = |m: i64| t0 + chrono::TimeDelta::minutes(m);
    let minute = |m: i64, shop: Outcome| {
        let mut r = at_regions("core-home", at(m), Outcome::Up);
        r.extend(at_regions("shop-home", at(m), shop));
        r
    };
    let deps = Deps {
        checks: &before,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    handle(
        &deps,
        &minute(0, Outcome::Down),
        None,
        at(0) + chrono::TimeDelta::seconds(20),
    )
    .await;
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1);
    let id = open[0].id.clone();
    assert!(id.starts_with(&format!("inc-{from}-")), "{id}");

    // The file changes: the shop now depends on the core. A tick moves the incident.
    let deps = Deps {
        checks: &after,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    handle(&deps, &[], None, at(0) + chrono::TimeDelta::seconds(50)).await;
    assert!(
        s.load_part(&to)
            .await
            .unwrap()
            .state
            .incidents
            .contains_key(&id),
        "now where its service is"
    );
    assert!(
        !s.load_part(&from)
            .await
            .unwrap()
            .state
            .incidents
            .contains_key(&id),
        "and only there"
    );
    // Seen working again: resolved, and the customer is told.
    handle(
        &deps,
        &minute(1, Outcome::Up),
        None,
        at(1) + chrono::TimeDelta::seconds(20),
    )
    .await;
    handle(
        &deps,
        &minute(2, Outcome::Up),
        None,
        at(2) + chrono::TimeDelta::seconds(20),
    )
    .await;
    assert!(
        s.incidents(true).await.unwrap().is_empty(),
        "{:?}",
        s.incidents(true).await.unwrap()
    );
    let cust = events(&m.drain(&cust_q).await);
    assert_eq!(
        cust.iter().filter(|e| *e == "resolved").count(),
        1,
        "{cust:?}"
    );
}

/// A steady minute writes only the partitions' freshness stamps, never their state proper;
/// a change writes both.
#[tokio::test]
async fn a_steady_minute_writes_only_the_stamps() {
    let c = checks(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
    );
    let m = moto().await;
    let s = store().await.with_partitions(4);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let part = c.plan(4).of_check("shop-home").unwrap().key.clone();
    // Within one hour: once an hour the rollup marks move (docs/architecture.md, "Rollups").
    let t0 = chrono::DurationRound::duration_trunc(
        chrono::Utc::now() - chrono::TimeDelta::hours(2),
        chrono::TimeDelta::hours(1),
    )
    .unwrap()
        + chrono::TimeDelta::minutes(5);
    let at = |m: i64| t0 + chrono::TimeDelta::minutes(m);
    let minute = |m: i64, outcome: Outcome| {
        let results = at_regions(
            "shop-home",
            at(m) + chrono::TimeDelta::milliseconds(250),
            outcome,
        );
        let deps = &deps;
        async move { handle(deps, &results, None, at(m) + chrono::TimeDelta::seconds(20)).await }
    };
    // Heard twice (what recovery counts), the check is steady: its state stops changing.
    for m in 0..3 {
        minute(m, Outcome::Up).await;
    }
    let before = s.load_part(&part).await.unwrap();
    for m in 3..24 {
        minute(m, Outcome::Up).await;
    }
    let after = s.load_part(&part).await.unwrap();
    assert_eq!(
        after.version, before.version,
        "the state proper was not rewritten"
    );
    assert_eq!(
        after.stamps,
        before.stamps + 21,
        "the stamps were, once a minute"
    );
    let heard = after.state.checks["shop-home"].regions["eu-west-1"].last_at;
    assert!(
        heard >= at(23) + chrono::TimeDelta::milliseconds(250),
        "{heard}"
    );
    // A failure changes the state proper.
    minute(24, Outcome::Down).await;
    assert_eq!(s.load_part(&part).await.unwrap().version, after.version + 1);
    // A duplicate of an applied result is still recognised (its stamp is not older than it).
    let down = at_regions(
        "shop-home",
        at(24) + chrono::TimeDelta::milliseconds(250),
        Outcome::Down,
    );
    let again = handle(&deps, &down, None, at(24) + chrono::TimeDelta::seconds(40)).await;
    assert_eq!(again.events, 0);
    let state = s.load_part(&part).await.unwrap().state;
    assert_eq!(
        state.checks["shop-home"].regions["eu-west-1"].fails, 1,
        "counted once"
    );
}

/// When the monitor cannot see checks of several partitions (two of three regions silent: no
/// quorum anywhere), each partition judges its own checks, and operators get one notice naming
/// them all, then one when the monitor sees again — not one per partition.
#[tokio::test]
async fn a_blind_monitor_is_told_once_for_every_partition() {
    let c = twenty_four_services(false);
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let s = store().await.with_partitions(8);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let parts: std::collections::BTreeSet<String> = (0..24)
        .map(|i| c.plan(8).of_check(&format!("k{i}")).unwrap().key.clone())
        .collect();
    assert!(
        parts.len() >= 4,
        "the checks spread over partitions: {parts:?}"
    );
    let base = chrono::Utc::now() - chrono::TimeDelta::minutes(12);
    let at = |m: i64| base + chrono::TimeDelta::minutes(m);
    let minute = |m: i64, regions: &'static [&'static str]| {
        let results: Vec<ProbeResult> = (0..24)
            .flat_map(|i| at_regions(&format!("k{i}"), at(m), Outcome::Up))
            .filter(|r| regions.contains(&r.region.as_str()))
            .collect();
        let deps = &deps;
        async move {
            let out = handle(deps, &results, None, at(m) + chrono::TimeDelta::seconds(20)).await;
            assert!(!out.evaluation_failed, "{out:?}");
            let tick = handle(deps, &[], None, at(m) + chrono::TimeDelta::seconds(50)).await;
            assert!(!tick.evaluation_failed, "{tick:?}");
        }
    };
    const EVERY: &[&str] = &["eu-west-1", "us-east-1", "ap-southeast-2"];
    for m in 0..2 {
        minute(m, EVERY).await;
    }
    // Two regions stop reporting: no check has a quorum of fresh results.
    for m in 2..8 {
        minute(m, &["eu-west-1"]).await;
    }
    for m in 8..11 {
        minute(m, EVERY).await;
    }
    let told: Vec<(String, String)> = m
        .drain(&ops_q)
        .await
        .iter()
        .map(|o| {
            (
                o["Subject"].as_str().unwrap_or_default().to_string(),
                o["Message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let of = |p: &str| -> Vec<&(String, String)> {
        told.iter().filter(|(s, _)| s.starts_with(p)).collect()
    };
    let subjects: Vec<&String> = told.iter().map(|(s, _)| s).collect();
    let blind = of("[MONITOR BLIND]");
    assert_eq!(
        blind.len(),
        1,
        "one notice, not one per partition: {subjects:?}"
    );
    assert!(
        blind[0]
            .0
            .starts_with("[MONITOR BLIND] 24 checks cannot be judged ("),
        "{}",
        blind[0].0
    );
    assert!(
        blind[0].0.contains("regions: ap-southeast-2, us-east-1"),
        "{}",
        blind[0].0
    );
    for i in 0..24 {
        assert!(
            blind[0].1.contains(&format!(
                "  k{i}  service s{i} (Service {i})  unknown since "
            )),
            "k{i} in {}",
            blind[0].1
        );
    }
    let restored = of("[MONITOR RESTORED]");
    assert_eq!(restored.len(), 1, "{subjects:?}");
    assert!(restored[0]
        .0
        .starts_with("[MONITOR RESTORED] 24 checks can be judged again ("));
    // Nothing of it reached the customer, and no part is left behind in the outbox.
    assert!(events(&m.drain(&cust_q).await).is_empty());
    assert!(s.pending().await.unwrap().is_empty());
}
