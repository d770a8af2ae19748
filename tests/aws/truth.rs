//! What customers hear is true, on the real SDK against moto: every built-in subject reaches an
//! email subscriber unchanged in meaning, and a blind monitor sends no good news.

use super::alert::{at_regions, stream_batch};
use super::{checks, events, moto};
use atalaya_alert_fn::{handle, results_of, Deps};
use atalaya_core::evaluate::{evaluate, About, Audience, Event, EventKind, Phase, Severity, State};
use atalaya_core::{Outcome, Renderer};
use atalaya_store::Store;
use chrono::TimeDelta;

const CHECKS: &str = "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
  operators: { renotify_every: 30m, escalate_after: 10m }
customers:
  - { id: acme, name: ACME Corp, language: es, update_every: 5m, timezone: Europe/Madrid }
  - { id: globex, name: Globex, update_every: 5m, timezone: America/Argentina/Buenos_Aires }
services:
  - id: shop
    customer: acme
    name: Tienda online
    maintenance: [ { start: 2026-12-01T02:00:00Z, end: 2026-12-01T03:00:00Z, announce_before: 24h, note: Mejora de la plataforma de pagos. } ]
  - id: portal
    customer: globex
    name: Customer portal
    maintenance: [ { start: 2026-12-01T02:00:00Z, end: 2026-12-01T03:00:00Z, announce_before: 24h } ]
  - { id: anyo, customer: acme, name: Año Nuevo }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }
  - { id: anyo-home, service: anyo, http: { url: 'https://anyo.acme.example/' } }
";

/// Every customer event the built-in templates know, for each service, rendered.
fn every_customer_message(config: &atalaya_core::Config) -> Vec<atalaya_core::Message> {
    let renderer = Renderer::new();
    let t0: chrono::DateTime<chrono::Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    let mut state = State::default();
    // An open incident per service, so "since" and "reopened" have something to say.
    let down: Vec<_> = ["shop-home", "portal-home", "anyo-home"]
        .iter()
        .flat_map(|c| at_regions(c, t0, Outcome::Down))
        .collect();
    state = evaluate(&state, &down, t0 + TimeDelta::seconds(5), config).0;
    let mut out = Vec::new();
    for service in ["shop", "portal", "anyo"] {
        let svc = config.service(service).unwrap();
        let inc = state
            .incidents
            .values()
            .find(|i| i.service == service)
            .unwrap()
            .id
            .clone();
        let mut kinds: Vec<(EventKind, Phase, bool, bool)> = vec![
            (EventKind::Opened, Phase::Investigating, false, false),
            (EventKind::Opened, Phase::Investigating, false, true),
            (EventKind::Resolved, Phase::Resolved, false, false),
        ];
        for phase in [Phase::Investigating, Phase::Identified, Phase::Monitoring] {
            kinds.push((EventKind::Update, phase, false, false));
            kinds.push((EventKind::Update, phase, true, false));
            kinds.push((EventKind::HumanUpdate, phase, false, false));
        }
        for (i, (kind, phase, unseen, reopened)) in kinds.into_iter().enumerate() {
            let mut s = state.clone();
            if let Some(x) = s.incidents.get_mut(&inc) {
                x.reopened = u32::from(reopened);
            }
            let e = event(
                &format!("{inc}/{i}/{}/{service}", kind.as_str()),
                kind,
                About::Conversation {
                    incident: inc.clone(),
                    service: service.into(),
                    customer: svc.customer.clone(),
                    phase,
                    text: Some("Texto del equipo.".into()),
                    unseen,
                },
            );
            out.push(renderer.render(&e, &s, config).unwrap());
        }
        let Some(window) = svc.maintenance.first() else {
            continue;
        };
        let start = window.start.timestamp();
        for (name, kind) in [
            ("scheduled", EventKind::MaintenanceScheduled),
            ("started", EventKind::MaintenanceStarted),
            ("ended", EventKind::MaintenanceEnded),
        ] {
            let e = event(
                &format!("maintenance/{service}/{start}/{name}/customers"),
                kind,
                About::Maintenance {
                    service: service.into(),
                    customer: Some(svc.customer.clone()),
                    window: window.clone(),
                    unseen: false,
                },
            );
            out.push(renderer.render(&e, &state, config).unwrap());
        }
    }
    out
}

fn event(id: &str, kind: EventKind, about: About) -> Event {
    Event {
        id: id.into(),
        at: "2026-11-24T10:07:00Z".parse().unwrap(),
        kind,
        audience: Audience::Customers,
        severity: Severity::Info,
        about,
    }
}

#[tokio::test]
async fn every_built_in_subject_reaches_an_email_subscriber_with_its_meaning_intact() {
    let config =
        atalaya_core::load_str(CHECKS, "checks.yaml", atalaya_core::Target::Lambda).unwrap();
    let m = moto().await;
    let q = m.queue("all", &m.cust_topic, None).await;
    let messages = every_customer_message(&config);
    assert_eq!(messages.len(), 3 * 12 + 2 * 3, "every kind, phase and tone");
    let mut distinct = std::collections::BTreeSet::new();
    for message in &messages {
        m.sns.publish(message).await.unwrap();
        distinct.insert(message.subject.clone());
    }
    let received = m.drain(&q).await;
    assert_eq!(received.len(), messages.len());
    for (m, r) in messages.iter().zip(&received) {
        let subject = r["Subject"].as_str().unwrap();
        assert!(subject.is_ascii(), "{subject}");
        if m.attributes.service.as_deref() == Some("anyo") {
            // A name with ñ: spelled, never cut to another word ("año" is not "ano").
            assert!(subject.starts_with("Anyo Nuevo: "), "{subject}");
            assert_eq!(
                subject["Anyo Nuevo".len()..],
                m.subject["Año Nuevo".len()..]
            );
        } else {
            // The built-in words need no change at all to be ASCII.
            assert_eq!(subject, m.subject, "{}", m.id);
        }
    }
    // Subjects tell the states apart, in both languages.
    for s in [
        "Tienda online: nuevo problema, estamos trabajando en ello",
        "Tienda online: el problema ha vuelto, estamos trabajando en ello",
        "Tienda online: seguimos trabajando en el problema",
        "Tienda online: hemos encontrado la causa del problema",
        "Tienda online: funciona de nuevo y seguimos vigilando",
        "Tienda online: resuelto, funciona con normalidad",
        "Tienda online: mantenimiento programado el 1 de diciembre de 2026",
        "Tienda online: mantenimiento programado en curso",
        "Tienda online: mantenimiento programado terminado",
        "Customer portal: new problem, we are working on it",
        "Customer portal: the problem is back, we are working on it",
        "Customer portal: still working on the problem",
        "Customer portal: cause found, fix under way",
        "Customer portal: working again, we are watching it",
        "Customer portal: resolved, working normally again",
        "Customer portal: planned maintenance on 30 November 2026",
        "Customer portal: planned maintenance under way",
        "Customer portal: planned maintenance is over",
    ] {
        assert!(distinct.contains(s), "{s:?} not among {distinct:#?}");
    }
    // The customer's own time zone, named: a window on one day states the date once.
    let scheduled = messages
        .iter()
        .find(|m| {
            m.subject
                .starts_with("Tienda online: mantenimiento programado el")
        })
        .unwrap();
    assert!(
        scheduled.body.contains("el 1 de diciembre de 2026, de las 03:00 a las 04:00 (hora de Madrid). Mejora de la plataforma de pagos. Durante"),
        "{}",
        scheduled.body
    );
    let portal = messages
        .iter()
        .find(|m| {
            m.subject
                .starts_with("Customer portal: planned maintenance on")
        })
        .unwrap();
    assert!(
        portal.body.contains(
            "from 23:00 on 30 November 2026 to 00:00 on 1 December 2026 (Buenos Aires time)"
        ),
        "{}",
        portal.body
    );
}

#[tokio::test]
async fn with_every_probe_region_silent_mid_incident_the_alert_function_sends_no_good_news() {
    let c = checks(CHECKS);
    let m = moto().await;
    let acme_q = m
        .queue("acme", &m.cust_topic, Some(r#"{"customer": ["acme"]}"#))
        .await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = atalaya_tests::moto::store().await.0;
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = chrono::Utc::now() - TimeDelta::minutes(60);
    // The shop goes down in every region; the others are fine.
    let mut first: Vec<_> = at_regions("shop-home", t0, Outcome::Down);
    first.extend(at_regions("portal-home", t0, Outcome::Up));
    first.extend(at_regions("anyo-home", t0, Outcome::Up));
    let batch = stream_batch(&first, 1);
    let (results, seq) = results_of(&batch);
    let out = handle(&deps, &results, seq, t0 + TimeDelta::seconds(5)).await;
    assert_eq!(out.batch_item_failures.len(), 0, "{out:?}");
    // Then every probe region stops: only the one-minute tick invokes the function.
    for m in 1..=40 {
        let out = handle(
            &deps,
            &[],
            None,
            t0 + TimeDelta::minutes(m) + TimeDelta::seconds(5),
        )
        .await;
        assert!(!out.evaluation_failed, "{out:?}");
    }
    // About the incident (the maintenance announced for tomorrow is another conversation).
    let customer: Vec<(String, String)> = m
        .drain(&acme_q)
        .await
        .iter()
        .filter(|e| e["MessageAttributes"].get("incident").is_some())
        .map(|e| {
            (
                e["MessageAttributes"]["event"]["Value"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                e["Subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(customer[0].0, "opened");
    assert!(
        customer.len() >= 8,
        "the cadence is kept while blind: {customer:#?}"
    );
    for (event, subject) in &customer[1..] {
        assert_eq!(
            (event.as_str(), subject.as_str()),
            (
                "update",
                "Tienda online: seguimos trabajando en el problema"
            ),
            "no good news while the monitor is blind"
        );
    }
    let ops = events(&m.drain(&ops_q).await);
    assert_eq!(
        ops.iter().filter(|e| *e == "region_silent").count(),
        3,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|e| *e == "monitoring_blind").count(),
        1,
        "{ops:?}"
    );
    assert!(
        !ops.iter().any(|e| e == "resolved" || e == "escalated"),
        "{ops:?}"
    );
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].phase, Phase::Investigating);
}
