//! A scripted history through the pure core (evaluate, render, accrue): three days of a shop
//! with two checks and a blog, an outage on day 2 that was resolved, a partial outage open
//! now, a blog the monitor cannot see, and maintenance ahead. The site shows exactly that.

use super::*;
use atalaya_core::evaluate::evaluate;
use atalaya_core::result::{Outcome, Phases, ProbeResult, Reason};
use atalaya_core::rollup::{accrue, service_condition, Condition};
use atalaya_core::Renderer;
use chrono::TimeDelta;

const FILE: &str = "
settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
  brand: { name: Nube, from: 'Estado <estado@nube.example>' }
customers:
  - { id: acme, name: Acme Iberia, language: es, timezone: Europe/Madrid, status_page: { slug: acme-7f3k9q } }
  - { id: other, name: Globex, language: en }
services:
  - id: shop
    customer: acme
    name: Tienda online
    public: true
    maintenance:
      - { start: '2026-11-05T01:00:00Z', end: '2026-11-05T02:00:00Z', announce_before: 7d, note: Cambiamos la base de datos }
  - { id: blog, customer: acme, name: Blog }
  - { id: intranet, customer: other, name: Intranet }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/' } }
  - { id: blog-home, service: blog, http: { url: 'https://blog.acme.example/' } }
  - { id: intranet-home, service: intranet, http: { url: 'https://intranet.globex.example/' } }
";

fn result(check: &str, region: &str, at: DateTime<Utc>, down: bool) -> ProbeResult {
    ProbeResult {
        check: check.into(),
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

struct World {
    config: Config,
    state: State,
    messages: Vec<Message>,
    hours: BTreeMap<String, Hours>,
    now: DateTime<Utc>,
}

impl World {
    fn input(&self) -> Input<'_> {
        Input {
            config: &self.config,
            state: &self.state,
            incidents: &[],
            messages: &self.messages,
            hours: &self.hours,
            now: self.now,
            only: None,
        }
    }
}

const T0: &str = "2026-11-01T00:00:00Z";

/// Minute by minute from T0 for `minutes`: day 2 10:00-11:00 the shop is down everywhere; from
/// day 3 12:00 its API is down everywhere; the blog reports until day 3 11:50 and then not.
fn history(minutes: i64) -> (World, Vec<Incident>) {
    let config = atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    let renderer = Renderer::new();
    let t0: DateTime<Utc> = T0.parse().unwrap_or_default();
    let mut state = State::default();
    let mut messages = Vec::new();
    let mut hours: BTreeMap<String, Hours> = BTreeMap::new();
    let mut last: BTreeMap<String, (DateTime<Utc>, Condition)> = BTreeMap::new();
    let mut now = t0;
    // As the store's incidents table keeps them: every version, the latest kept.
    let mut kept: BTreeMap<String, Incident> = BTreeMap::new();
    for m in 0..minutes {
        let minute = t0 + TimeDelta::minutes(m);
        let at = minute + TimeDelta::seconds(5);
        let mut results = Vec::new();
        for region in ["eu-west-1", "us-east-1"] {
            let home_down = (24 * 60 + 600..24 * 60 + 660).contains(&m);
            let api_down = m >= 2 * 24 * 60 + 720;
            results.push(result("shop-home", region, at, home_down));
            results.push(result("shop-api", region, at, api_down));
            results.push(result("intranet-home", region, at, false));
            if m < 2 * 24 * 60 + 710 {
                results.push(result("blog-home", region, at, false));
            }
        }
        now = minute + TimeDelta::seconds(30);
        let (next, events) = evaluate(&state, &results, now, &config);
        state = next;
        for (id, i) in &state.incidents {
            kept.insert(id.clone(), i.clone());
        }
        for e in &events {
            if e.audience == atalaya_core::evaluate::Audience::Customers {
                messages.push(
                    renderer
                        .render(e, &state, &config)
                        .unwrap_or_else(|e| panic!("{e}")),
                );
            }
        }
        for s in &config.services {
            let h = hours.entry(s.id.clone()).or_default();
            if let Some((from, c)) = last.get(&s.id) {
                accrue(h, *c, *from, now);
            }
            last.insert(
                s.id.clone(),
                (now, service_condition(&state, &config, s, now)),
            );
        }
    }
    let incidents = kept.into_values().collect();
    (
        World {
            config,
            state,
            messages,
            hours,
            now,
        },
        incidents,
    )
}

fn built(w: &World, incidents: &[Incident], now: DateTime<Utc>) -> BTreeMap<String, Object> {
    built_for(w, incidents, now, None)
}

/// The objects of a build (of these customers' pages only, with `only`), by path.
fn built_for(
    w: &World,
    incidents: &[Incident],
    now: DateTime<Utc>,
    only: Option<&std::collections::BTreeSet<String>>,
) -> BTreeMap<String, Object> {
    build(&Input {
        now,
        incidents,
        only,
        ..w.input()
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .into_iter()
    .map(|o| (o.path.clone(), o))
    .collect()
}

fn text(site: &BTreeMap<String, Object>, path: &str) -> String {
    let o = site
        .get(path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", site.keys().collect::<Vec<_>>()));
    String::from_utf8(o.body.clone()).unwrap_or_default()
}

fn json(site: &BTreeMap<String, Object>, path: &str) -> serde_json::Value {
    serde_json::from_str(&text(site, path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Three days, up to day 3 13:30 (UTC): the API has been down an hour and a half.
fn three_days() -> (World, Vec<Incident>) {
    history(2 * 24 * 60 + 810)
}

#[test]
fn each_service_shows_what_the_monitor_saw() {
    let (w, incidents) = three_days();
    let input = Input {
        incidents: &incidents,
        ..w.input()
    };
    let status = |id: &str| {
        model::service_status(
            &input,
            w.config.service(id).unwrap_or_else(|| panic!("{id}")),
        )
    };
    // One of the shop's two checks is down by the quorum: a partial outage.
    assert_eq!(status("shop"), Status::PartialOutage);
    // The blog has not reported for 40 minutes: not operational, unavailable.
    assert_eq!(status("blog"), Status::MonitoringUnavailable);
    assert_eq!(status("intranet"), Status::Operational);
    // An hour after the last evaluation the whole state is old news.
    let later = Input {
        now: w.now + TimeDelta::hours(1),
        ..input
    };
    for s in ["shop", "blog", "intranet"] {
        let svc = w.config.service(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(
            model::service_status(&later, svc),
            Status::MonitoringUnavailable,
            "{s}"
        );
    }
    // In the maintenance window: under maintenance, whatever the checks say.
    let during = Input {
        now: "2026-11-05T01:30:00Z".parse().unwrap_or_default(),
        ..input
    };
    let shop = w.config.service("shop").unwrap_or_else(|| panic!("shop"));
    assert_eq!(
        model::service_status(&during, shop),
        Status::UnderMaintenance
    );
}

#[test]
fn the_customer_page_tells_the_story_in_their_words_and_language() {
    let (w, incidents) = three_days();
    let site = built(&w, &incidents, w.now);
    let es = text(&site, "acme-7f3k9q/index.html");
    assert_eq!(es, text(&site, "acme-7f3k9q/index.es.html"));
    assert!(es.contains("<html lang=\"es\""), "{es}");
    assert!(es.contains("Interrupción parcial"));
    assert!(es.contains("Supervisión no disponible"));
    // The open incident shows the words the customer was sent, without greeting and sign-off.
    let opened = w
        .messages
        .iter()
        .rfind(|m| m.attributes.event.as_str() == "opened")
        .unwrap_or_else(|| panic!("no opened message"));
    let second_paragraph = opened.body.split("\n\n").nth(1).unwrap_or_default();
    assert!(
        second_paragraph.contains("Tienda online"),
        "{}",
        opened.body
    );
    assert!(es.contains(&html_escape(second_paragraph)), "{es}");
    assert!(!es.contains("Hola Acme Iberia"));
    assert!(!es.contains("El equipo de soporte"));
    // Globex's service is not on Acme's page.
    assert!(!es.contains("Intranet"));
    // 90 bars per service: day 2 (Madrid) down, day 1 up, days before the monitor started none.
    let bars = |page: &str, kind: &str| page.matches(&format!("class=\"bar b-{kind}\"")).count();
    let all: usize = ["up", "down", "degraded", "maintenance", "unseen", "none"]
        .iter()
        .map(|k| bars(&es, k))
        .sum();
    assert_eq!(all, 2 * 90);
    assert_eq!(bars(&es, "none"), 2 * 87, "{es}");
    // Shop: day 1 up, day 2 down, day 3 down (open); blog: three up days (unseen for the last
    // 40 minutes of day 3 only).
    assert_eq!(bars(&es, "down"), 2);
    assert_eq!(bars(&es, "up"), 4);
    // Past incident, in the history, with its duration.
    assert!(es.contains("Incidencias anteriores"));
    assert!(es.contains("duró 1 hora"), "{es}");
    // Its title follows it to its end: what the customer was last told, not "new problem".
    assert!(
        es.contains("<summary><strong>Tienda online: resuelto, funciona con normalidad</strong>"),
        "{es}"
    );
    // Maintenance within its announcement, with its note.
    assert!(es.contains("Cambiamos la base de datos"));

    // The English page of the same customer uses the messages' translations.
    let en = text(&site, "acme-7f3k9q/index.en.html");
    assert!(en.contains("<html lang=\"en\""));
    assert!(en.contains("Partial outage"));
    assert!(en.contains("has not been working as it should"), "{en}");
    assert!(en.contains("hreflang=\"es\""));
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#x27;")
}

#[test]
fn the_public_page_has_public_services_and_no_customer_names() {
    let (w, incidents) = three_days();
    let site = built(&w, &incidents, w.now);
    let public = text(&site, "index.html");
    assert!(public.contains("Tienda online"));
    assert!(!public.contains(">Blog<"));
    assert!(!public.contains("Intranet"));
    assert!(!public.contains("Acme Iberia"), "{public}");
    assert!(!public.contains("Hola"), "{public}");
    let summary = json(&site, "api/v2/summary.json");
    assert_eq!(summary["components"].as_array().map(Vec::len), Some(1));
    // A customer without public services has their own page only.
    assert!(site.contains_key("other/index.html"));
    assert!(site.contains_key("other/badges/intranet.svg"));
}

#[test]
fn the_api_has_statuspage_shape_and_never_claims_what_was_not_seen() {
    let (w, incidents) = three_days();
    let site = built(&w, &incidents, w.now);
    let s = json(&site, "acme-7f3k9q/api/v2/summary.json");
    assert_eq!(s["status"]["indicator"], "major");
    let component = |id: &str| {
        s["components"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no component {id}: {s}"))
    };
    assert_eq!(component("shop")["status"], "partial_outage");
    // The blog: nobody was told of an outage, and the monitor cannot see it: the description
    // says so.
    assert_eq!(
        component("blog")["description"],
        "Supervisión no disponible"
    );
    let open = s["incidents"].as_array().cloned().unwrap_or_default();
    assert_eq!(open.len(), 1, "{s}");
    assert_eq!(open[0]["status"], "investigating");
    assert_eq!(open[0]["components"][0]["id"], "shop");
    let update = &open[0]["incident_updates"][0];
    assert!(update["body"]
        .as_str()
        .unwrap_or_default()
        .contains("Tienda online"));
    assert_eq!(s["scheduled_maintenances"][0]["status"], "scheduled");
    assert_eq!(
        s["scheduled_maintenances"][0]["scheduled_until"],
        "2026-11-05T02:00:00Z"
    );
    let st = json(&site, "acme-7f3k9q/api/v2/status.json");
    assert_eq!(st["status"], s["status"]);
    assert_eq!(st["page"]["time_zone"], "Europe/Madrid");
    let badge = text(&site, "acme-7f3k9q/badges/shop.svg");
    assert!(
        badge.contains("Tienda online: Interrupción parcial"),
        "{badge}"
    );
}

#[test]
fn a_rebuild_changes_only_what_changed() {
    let (w, incidents) = three_days();
    let now = w.now;
    let a = built(&w, &incidents, now);
    // Two minutes on, the same hour, nothing new: the same bytes.
    let b = built(&w, &incidents, now + TimeDelta::minutes(2));
    let differ: Vec<&String> = a.keys().filter(|p| a.get(*p) != b.get(*p)).collect();
    assert!(differ.is_empty(), "{differ:?}");
    assert_eq!(a.len(), b.len());
    // Past the hour, the bars and the "updated" line move; the feed does not.
    let c = built(&w, &incidents, now + TimeDelta::minutes(40));
    assert_ne!(a["acme-7f3k9q/index.html"], c["acme-7f3k9q/index.html"]);
    assert_eq!(a["acme-7f3k9q/history.atom"], c["acme-7f3k9q/history.atom"]);
    assert_eq!(
        a.values().filter(|o| o.cache == Cache::Asset).count(),
        3,
        "a stylesheet, a script and an icon"
    );
}

#[test]
fn the_feed_has_every_customer_update_newest_first() {
    let (w, incidents) = three_days();
    let site = built(&w, &incidents, w.now);
    let feed = text(&site, "acme-7f3k9q/history.atom");
    let sent = w
        .messages
        .iter()
        .filter(|m| {
            m.attributes.service.as_deref() == Some("shop") && m.attributes.incident.is_some()
        })
        .count();
    assert!(sent >= 3, "opened, resolved, opened: {sent}");
    assert_eq!(feed.matches("<entry>").count(), sent, "{feed}");
    let times: Vec<&str> = feed
        .split("<published>")
        .skip(1)
        .filter_map(|p| p.split('<').next())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[test]
fn page_words_drop_the_greeting_and_sign_off_only() {
    let config = atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    let acme = config.customer("acme").unwrap_or_else(|| panic!("acme"));
    let body = "Hola Acme Iberia,\n\nLa tienda va lenta.\n\nVolveremos a escribir.\n\nEl equipo de soporte";
    assert_eq!(
        model::page_words(
            body,
            acme,
            &config,
            atalaya_core::config::Language::Es,
            Reader::Customer(acme)
        ),
        vec!["La tienda va lenta.", "Volveremos a escribir."]
    );
    // A custom template that names the customer elsewhere: on the public page, nothing of it.
    let own = "Estimados clientes:\n\nAcme Iberia sigue sin tienda.";
    assert!(model::page_words(
        own,
        acme,
        &config,
        atalaya_core::config::Language::Es,
        Reader::Public
    )
    .is_empty());
    // A greeting of its own, in each language: dropped as well.
    let text = FILE.replace(
        "name: Acme Iberia,",
        "name: Acme Iberia, greeting: { es: equipo de Acme, en: Acme team },",
    );
    assert_ne!(text, FILE, "the fixture has the customer as written here");
    let config = atalaya_core::load_str(&text, "checks.yaml", atalaya_core::Target::Lambda)
        .unwrap_or_else(|e| panic!("{e}"));
    let acme = config.customer("acme").unwrap_or_else(|| panic!("acme"));
    for (greeting, sign_off, l) in [
        (
            "Hola, equipo de Acme:",
            "El equipo de soporte",
            atalaya_core::config::Language::Es,
        ),
        (
            "Hello Acme team,",
            "The support team",
            atalaya_core::config::Language::En,
        ),
    ] {
        let body = format!("{greeting}\n\nLa tienda va lenta.\n\n{sign_off}");
        assert_eq!(
            model::page_words(&body, acme, &config, l, Reader::Customer(acme)),
            vec!["La tienda va lenta."],
            "{greeting}"
        );
    }
}

#[test]
fn a_build_for_some_customers_writes_their_pages_and_the_public_one_only() {
    let (w, incidents) = three_days();
    let only = std::collections::BTreeSet::from(["other".to_string()]);
    let some = built_for(&w, &incidents, w.now, Some(&only));
    assert!(some.contains_key("other/index.html"));
    assert!(!some.keys().any(|p| p.starts_with("acme-7f3k9q/")));
    // Globex has no public service: the public page is not rebuilt, nor in scope.
    assert!(!some.contains_key("index.html"));
    assert!(!in_scope(&w.config, Some(&only), "index.html"));
    assert!(in_scope(&w.config, Some(&only), "other/history.atom"));
    assert!(!in_scope(&w.config, Some(&only), "acme-7f3k9q/index.html"));
    assert!(!in_scope(
        &w.config,
        Some(&only),
        "assets/status.0000000000.css"
    ));
    // Acme has the public shop: its build has the public page too, byte for byte the whole
    // site's.
    let acme = std::collections::BTreeSet::from(["acme".to_string()]);
    let all = built(&w, &incidents, w.now);
    let part = built_for(&w, &incidents, w.now, Some(&acme));
    for (path, o) in &part {
        assert_eq!(Some(o), all.get(path), "{path}");
    }
    assert!(part.contains_key("index.html") && in_scope(&w.config, Some(&acme), "badges/shop.svg"));
}

/// A message recorded before translations existed is shown as it was sent on the other
/// language's page too, without its own greeting and sign-off.
#[test]
fn an_untranslated_message_loses_its_own_sign_off_on_the_other_page() {
    let (mut w, incidents) = three_days();
    for m in &mut w.messages {
        m.translations.clear();
    }
    let site = built(&w, &incidents, w.now);
    let en = text(&site, "acme-7f3k9q/index.en.html");
    assert!(
        en.contains("«Tienda online» no funciona con normalidad"),
        "{en}"
    );
    assert!(!en.contains("El equipo de soporte"), "{en}");
    assert!(!en.contains("Hola, Acme Iberia"), "{en}");
}

/// A bar's tooltip says first what the day was, as its colour does: today's red bar, in an
/// outage not yet a whole hour old, is an outage "so far", not "no data".
#[test]
fn a_bars_tooltip_states_what_the_day_was() {
    let (w, incidents) = three_days();
    // Ten minutes into the API's outage: today's hours so far hold no minute of it.
    let now = w.now - TimeDelta::minutes(80);
    let input = Input {
        incidents: &incidents,
        now,
        ..w.input()
    };
    let acme = w.config.customer("acme").unwrap_or_else(|| panic!("acme"));
    let page = model::page(&input, Reader::Customer(acme), Language::Es);
    let shop = &page.services[0];
    let today = shop.bars.last().unwrap_or_else(|| panic!("bars"));
    assert_eq!(today.kind, "down", "{:?}", today.words);
    assert!(
        today.words.contains(" · Interrupción · ") && today.words.contains("hasta ahora"),
        "{}",
        today.words
    );
    assert!(today.words.contains("1 incidencia: "), "{}", today.words);
    for b in page.services.iter().flat_map(|s| &s.bars) {
        assert!(!b.words.contains("sin datos"), "{}", b.words);
        let what = b.words.split(" · ").nth(1).unwrap_or_default();
        let expected = match b.kind {
            "down" => "Interrupción",
            "degraded" => "Rendimiento degradado",
            "maintenance" => "Mantenimiento programado",
            "unseen" => "Sin supervisión la mayor parte del día",
            "up" => "Sin problemas",
            _ => "Aún sin supervisar",
        };
        assert_eq!(what, expected, "{}", b.words);
    }
}
