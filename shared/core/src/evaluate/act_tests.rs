//! Operators' actions: words per language, the technical-content check, no good news the
//! monitor has not seen, acknowledgements kept.

use super::tests::{config, t, up, Sim};
use super::*;
use crate::config::Language;
use crate::result::Outcome;

fn down(_: &str, _: &str) -> Option<Outcome> {
    Some(Outcome::Down)
}

/// A Spanish customer (acme, shop) and an English one (globex, portal, depending on shop): an
/// outage of shop confirmed at minute 2 tells both.
fn two_languages() -> Sim {
    let services = "  - { id: portal, customer: globex, name: Portal, depends_on: [shop] }\n";
    let checks = "  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }\n";
    let mut sim = Sim::new(config(services, checks));
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, down);
    }
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!(inc.told.len(), 2, "{inc:?}");
    sim
}

fn texts(pairs: &[(Option<Language>, &str)]) -> Texts {
    let mut t = Texts::default();
    for (l, text) in pairs {
        match l {
            None => t.default = Some(text.to_string()),
            Some(l) => {
                t.by_language.insert(*l, text.to_string());
            }
        }
    }
    t
}

fn update(
    sim: &Sim,
    phase: Phase,
    texts: Texts,
    force: bool,
) -> Result<(State, Vec<Event>), ActionError> {
    let id = sim.state.incidents.keys().next().unwrap().clone();
    act(
        &sim.state,
        &id,
        Action::Update {
            phase,
            texts,
            force,
        },
        t(4),
        &sim.config,
    )
}

fn refusals(r: Result<(State, Vec<Event>), ActionError>) -> Vec<Refusal> {
    match r {
        Err(ActionError::Refused(list)) => list,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn each_customer_gets_the_text_in_their_language() {
    let sim = two_languages();
    let (_, events) = update(
        &sim,
        Phase::Identified,
        texts(&[
            (None, "We found the fault in the payment gateway."),
            (
                Some(Language::Es),
                "Hemos encontrado el fallo en la pasarela de pago.",
            ),
        ]),
        false,
    )
    .unwrap();
    let by_customer: Vec<(Option<&str>, Option<&str>)> = events
        .iter()
        .filter(|e| e.audience == Audience::Customers)
        .map(|e| (e.customer(), e.text()))
        .collect();
    assert_eq!(
        by_customer,
        [
            (
                Some("acme"),
                Some("Hemos encontrado el fallo en la pasarela de pago.")
            ),
            (
                Some("globex"),
                Some("We found the fault in the payment gateway.")
            )
        ]
    );
    let ops = events
        .iter()
        .find(|e| e.audience == Audience::Operators)
        .unwrap();
    assert_eq!(
        ops.note(),
        Some(&Note::Texts(
            [
                (
                    "default".to_string(),
                    "We found the fault in the payment gateway.".to_string()
                ),
                (
                    "es".to_string(),
                    "Hemos encontrado el fallo en la pasarela de pago.".to_string()
                )
            ]
            .into()
        ))
    );
}

#[test]
fn a_customer_without_a_text_in_their_language_is_named_and_the_update_refused() {
    let sim = two_languages();
    let r = refusals(update(
        &sim,
        Phase::Identified,
        Texts::one("We found the fault in the payment gateway."),
        false,
    ));
    assert_eq!(
        r,
        [Refusal::MissingLanguage {
            customer: "acme".into(),
            name: "ACME".into(),
            language: Language::Es
        }]
    );
    assert_eq!(
        r[0].to_string(),
        "customer acme (ACME) reads Spanish: there is no Spanish text"
    );
    // Forced: the Spanish customer gets the default text.
    let (_, events) = update(
        &sim,
        Phase::Identified,
        Texts::one("We found the fault in the payment gateway."),
        true,
    )
    .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.audience == Audience::Customers)
            .count(),
        2
    );
}

#[test]
fn technical_words_are_refused_naming_what_and_where() {
    let sim = two_languages();
    let r = refusals(update(
        &sim,
        Phase::Identified,
        texts(&[
            (
                None,
                "Root cause: 500 from https://10.0.0.5:8443/api (db-prod-1.internal, ECONNREFUSED)",
            ),
            (
                Some(Language::Es),
                "Causa: el check shop-home en eu-west-1, como en Portal de Globex.",
            ),
        ]),
        false,
    ));
    let texts: Vec<String> = r.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts[0].starts_with("the default text has technical content: 1:13: \"500 from\" (an HTTP status code); 1:22: \"https://10.0.0.5:8443/api\" (a URL); 1:49: \"db-prod-1.internal\" (a host name); 1:69: \"ECONNREFUSED\" (an error code);"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("\"shop-home\" (a check id)")
            && texts[1].contains("\"eu-west-1\" (a region name)")
            && texts[1].contains("\"Globex\" (another customer's name)"),
        "{}",
        texts[1]
    );
}

#[test]
fn working_again_by_hand_is_refused_while_the_monitor_sees_it_failing() {
    let sim = two_languages();
    let r = refusals(update(
        &sim,
        Phase::Monitoring,
        texts(&[
            (None, "It works again."),
            (Some(Language::Es), "Vuelve a funcionar."),
        ]),
        false,
    ));
    assert_eq!(
        r,
        [Refusal::NotSeenPassing {
            checks: vec![
                ("shop-home".into(), Verdict::Down),
                ("portal-home".into(), Verdict::Down)
            ]
        }]
    );
}

#[test]
fn a_forced_resolution_is_marked_and_holds_off_a_new_incident_until_the_checks_pass() {
    let mut sim = two_languages();
    let id = sim.state.incidents.keys().next().unwrap().clone();
    let resolve = |force| Action::Resolve { texts: None, force };
    let r = refusals(act(&sim.state, &id, resolve(false), t(4), &sim.config));
    assert_eq!(
        r[0].to_string(),
        "the monitor does not see it working: shop-home is down, portal-home is down"
    );
    let (state, events) = act(&sim.state, &id, resolve(true), t(4), &sim.config).unwrap();
    sim.state = state;
    sim.record(&events);
    let ops = sim
        .messages
        .iter()
        .rfind(|m| m.attributes.event.as_str() == "resolved" && m.topic == Audience::Operators)
        .unwrap();
    assert!(
        ops.subject.contains("resolved by hand after")
            && ops.body.contains("Resolved by hand (--force) while the monitor did not see these passing: shop-home, portal-home."),
        "{}\n{}",
        ops.subject,
        ops.body
    );
    let timeline = &sim.state.incidents[&id].timeline;
    assert!(timeline.iter().any(|t| t.kind == EventKind::Resolved
        && t.text.as_deref().is_some_and(
            |x| x.contains("resolved by hand while shop-home, portal-home not seen passing")
        )));
    // Still failing: no "the problem is back" seconds later.
    for m in 5..=20 {
        sim.minute(m, down);
    }
    assert_eq!(
        sim.count(EventKind::Opened, Audience::Customers),
        2,
        "the first two only"
    );
    // Once the checks pass, a new failure is an outage again (the same incident re-opens).
    for m in 21..=23 {
        sim.minute(m, up);
    }
    for m in 24..=26 {
        sim.minute(m, down);
    }
    assert!(sim.state.incidents[&id].is_open());
    assert_eq!(sim.state.incidents[&id].reopened, 1);
}

#[test]
fn a_second_acknowledgement_is_kept_and_the_same_one_twice_changes_nothing() {
    let sim = two_languages();
    let id = sim.state.incidents.keys().next().unwrap().clone();
    let ack = |by: &str| Action::Acknowledge { by: by.into() };
    let (state, events) = act(&sim.state, &id, ack("ana"), t(4), &sim.config).unwrap();
    assert_eq!(events.len(), 1);
    let (state2, events) = act(&state, &id, ack("bob"), t(5), &sim.config).unwrap();
    assert_eq!(
        events[0].note(),
        Some(&Note::Acknowledged {
            before: vec!["ana".into()]
        })
    );
    let inc = &state2.incidents[&id];
    assert_eq!(
        (inc.acknowledged_by.as_deref(), inc.acknowledgements.len()),
        (Some("ana"), 2),
        "the first stays, the second is kept"
    );
    assert_eq!(
        act(&state2, &id, ack("ana"), t(6), &sim.config),
        Err(ActionError::AlreadyAcknowledged {
            by: "ana".into(),
            at: t(4)
        })
    );
}
