//! What an operator can do to an incident: acknowledge, tell the customers something, resolve.
//! Human words reach customers only in their own language, free of technical content, and
//! never as good news the monitor has not seen, unless the operator forces them.

use super::events::{Audience, EventKind, Note, Severity};
use super::state::{Acknowledgement, Phase, Verdict};
use super::Evaluator;
use crate::config::{Config, Language};
use crate::screen::{screen, Finding};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;

/// An operator's words for customers: a default text and texts per language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Texts {
    /// The text in the default language (English): it is English customers' own text, and the
    /// fallback for a language without its own when the operator forces it.
    pub default: Option<String>,
    pub by_language: BTreeMap<Language, String>,
}

impl Texts {
    /// One text, in the default language.
    pub fn one(text: impl Into<String>) -> Texts {
        Texts {
            default: Some(text.into()),
            by_language: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.default
            .iter()
            .chain(self.by_language.values())
            .all(|t| t.trim().is_empty())
    }

    /// The text written for `language` (the default text is English).
    pub fn own(&self, language: Language) -> Option<&str> {
        self.by_language
            .get(&language)
            .or(self
                .default
                .as_ref()
                .filter(|_| language == Language::default()))
            .map(String::as_str)
    }

    /// What a customer speaking `language` gets: their own text, else the default one.
    pub fn for_customer(&self, language: Language) -> Option<&str> {
        self.own(language).or(self.default.as_deref())
    }

    /// Every text with its key (`default`, `en`, `es`), for operators and refusals.
    pub fn by_key(&self) -> BTreeMap<String, String> {
        self.default
            .iter()
            .map(|t| ("default".to_string(), t.clone()))
            .chain(
                self.by_language
                    .iter()
                    .map(|(l, t)| (l.code().to_string(), t.clone())),
            )
            .collect()
    }

    /// One line for operators: the default text, or each language's.
    pub fn summary(&self) -> Option<String> {
        if let Some(d) = &self.default {
            if self.by_language.is_empty() {
                return Some(d.clone());
            }
        }
        let all = self.by_key();
        (!all.is_empty()).then(|| {
            all.iter()
                .map(|(k, t)| format!("[{k}] {t}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

/// What an operator can do to an incident.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Stops the reminders and the escalation.
    Acknowledge { by: String },
    /// Sends the texts to the affected customers, each in their language (framed by the
    /// templates). `force` sends what the checks would refuse.
    Update {
        phase: Phase,
        texts: Texts,
        force: bool,
    },
    /// Resolves by hand, with an optional closing message for the customers. Refused while the
    /// monitor does not see every check passing, unless `force`.
    Resolve { texts: Option<Texts>, force: bool },
    /// Resolved in a paging tool (`by`: who, and where): resolves the incident when the
    /// monitor sees every check passing; otherwise it stays open and operators are told why
    /// (the truth rules hold whatever a paging tool says).
    ResolvedElsewhere { by: String },
}

/// Why an action was refused; each says what to do instead. `--force` overrides them all but
/// `Hidden`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A text (`default`, `en`, `es`) has a control, bidirectional or invisible character: it
    /// would reach customers' mail and pages as is. Never sent, forced or not.
    Hidden { text: String, what: String },
    /// A customer who would get it has no text in their language.
    MissingLanguage {
        customer: String,
        name: String,
        language: Language,
    },
    /// A text (`default`, `en`, `es`) carries technical content.
    Technical {
        text: String,
        findings: Vec<Finding>,
    },
    /// Good news the monitor has not seen: these checks are failing or cannot be seen.
    NotSeenPassing { checks: Vec<(String, Verdict)> },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MissingLanguage {
                customer,
                name,
                language,
            } => write!(
                f,
                "customer {customer} ({name}) reads {}: there is no {} text",
                language.name(),
                language.name()
            ),
            Refusal::Hidden { text, what } => write!(
                f,
                "the {text} text has {what}, which would reach customers as is: remove it (--force does not send it)"
            ),
            Refusal::Technical { text, findings } => {
                write!(f, "the {text} text has technical content:")?;
                for x in findings {
                    write!(f, " {x};")?;
                }
                Ok(())
            }
            Refusal::NotSeenPassing { checks } => write!(
                f,
                "the monitor does not see it working: {}",
                checks
                    .iter()
                    .map(|(c, v)| format!("{c} is {}", verdict_words(*v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// How a check's state reads for an operator deciding whether to resolve.
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Down => "down",
        Verdict::Unknown => "unknown (the monitor cannot see it)",
        Verdict::Degraded => "still failing in some regions",
        Verdict::Up => "not yet recovered",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no incident {0}")]
    Unknown(String),
    #[error("incident {0} is resolved")]
    Resolved(String),
    #[error("a message is needed: --message (or --message-<language>)")]
    EmptyMessage,
    #[error("already acknowledged by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC"))]
    AlreadyAcknowledged { by: String, at: DateTime<Utc> },
    #[error("refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
}

/// Applies an operator's action to an incident.
pub fn act(
    state: &super::State,
    incident: &str,
    action: Action,
    now: DateTime<Utc>,
    config: &Config,
) -> Result<(super::State, Vec<super::Event>), ActionError> {
    let mut e = Evaluator::new(state.clone(), now, config);
    let inc = e
        .state
        .incidents
        .get(incident)
        .ok_or_else(|| ActionError::Unknown(incident.to_string()))?;
    if !inc.is_open() {
        return Err(ActionError::Resolved(incident.to_string()));
    }
    match action {
        Action::Acknowledge { by } => e.acknowledge(incident, by)?,
        Action::Update {
            phase,
            texts,
            force,
        } => {
            if texts.is_empty() {
                return Err(ActionError::EmptyMessage);
            }
            refuse_hidden(&texts)?;
            let mut refusals = e.check_texts(incident, &texts);
            if phase == Phase::Monitoring && !e.incident_working_now(incident) {
                refusals.push(Refusal::NotSeenPassing {
                    checks: e.not_working(incident),
                });
            }
            if !refusals.is_empty() && !force {
                return Err(ActionError::Refused(refusals));
            }
            if let Some(inc) = e.state.incidents.get_mut(incident) {
                if phase != Phase::Resolved {
                    inc.phase = phase;
                }
            }
            if let Some(ev) = e.incident_event(
                incident,
                EventKind::HumanUpdate,
                Audience::Operators,
                None,
                Severity::Info,
                texts.summary(),
            ) {
                ev.set_note(Note::Texts(texts.by_key()));
            }
            e.customer_events(incident, EventKind::HumanUpdate, |service| {
                let language = language_of(config, service);
                texts.for_customer(language).map(str::to_string)
            });
        }
        Action::Resolve { texts, force } => {
            if let Some(t) = &texts {
                refuse_hidden(t)?;
            }
            let mut refusals = texts
                .as_ref()
                .map(|t| e.check_texts(incident, t))
                .unwrap_or_default();
            let not_clear = e.not_clear(incident);
            if !not_clear.is_empty() {
                refusals.push(Refusal::NotSeenPassing {
                    checks: not_clear.clone(),
                });
            }
            if !refusals.is_empty() && !force {
                return Err(ActionError::Refused(refusals));
            }
            let forced = not_clear.into_iter().map(|(c, _)| c).collect();
            e.resolve(incident, texts.as_ref(), forced);
        }
        Action::ResolvedElsewhere { by } => {
            let not_clear = e.not_clear(incident);
            if not_clear.is_empty() {
                e.resolve(incident, None, Vec::new());
            } else {
                let seen: Vec<String> = not_clear
                    .iter()
                    .map(|(c, v)| format!("{c} is {}", verdict_words(*v)))
                    .collect();
                e.incident_event(
                    incident,
                    EventKind::NotResolved,
                    Audience::Operators,
                    None,
                    Severity::Warning,
                    Some(format!(
                        "Resolved by {by}, but the monitor does not see it working: {}. The incident stays open here (customers are told nothing new) and resolves on its own once every check passes; reminders go on until it is acknowledged.",
                        seen.join(", ")
                    )),
                );
            }
        }
    }
    Ok((e.state, e.events))
}

/// Texts with a character people must not be sent are refused, whatever `--force` says.
fn refuse_hidden(texts: &Texts) -> Result<(), ActionError> {
    let hidden: Vec<Refusal> = texts
        .by_key()
        .into_iter()
        .filter_map(|(key, text)| {
            crate::text::hidden_char(&text, true).map(|what| Refusal::Hidden { text: key, what })
        })
        .collect();
    if hidden.is_empty() {
        Ok(())
    } else {
        Err(ActionError::Refused(hidden))
    }
}

fn language_of(config: &Config, service: &str) -> Language {
    config
        .service(service)
        .and_then(|s| config.customer(&s.customer))
        .map(|c| c.language)
        .unwrap_or_default()
}

impl Evaluator<'_> {
    fn acknowledge(&mut self, incident: &str, by: String) -> Result<(), ActionError> {
        let now = self.now;
        let Some(inc) = self.state.incidents.get_mut(incident) else {
            return Err(ActionError::Unknown(incident.to_string()));
        };
        if let Some(a) = inc
            .acknowledgements
            .iter()
            .rev()
            .find(|a| a.by == by && inc.acknowledged_at.is_some_and(|at| a.at >= at))
        {
            return Err(ActionError::AlreadyAcknowledged {
                by: a.by.clone(),
                at: a.at,
            });
        }
        // Acknowledgements since the incident last (re)opened.
        let before: Vec<String> = inc
            .acknowledgements
            .iter()
            .filter(|a| inc.acknowledged_at.is_some_and(|at| a.at >= at))
            .map(|a| a.by.clone())
            .collect();
        if inc.acknowledged_at.is_none() {
            inc.acknowledged_at = Some(now);
            inc.acknowledged_by = Some(by.clone());
        }
        inc.acknowledgements.push(Acknowledgement {
            by: by.clone(),
            at: now,
        });
        if let Some(e) = self.incident_event(
            incident,
            EventKind::Acknowledged,
            Audience::Operators,
            None,
            Severity::Info,
            Some(format!("acknowledged by {by}")),
        ) {
            e.set_note(Note::Acknowledged { before });
        }
        Ok(())
    }

    /// Who would get a human text now: the services whose customers were told of the incident
    /// and are not in maintenance.
    fn recipients(&self, incident: &str) -> Vec<&crate::config::Customer> {
        let Some(inc) = self.state.incidents.get(incident) else {
            return Vec::new();
        };
        let mut out: Vec<&crate::config::Customer> = Vec::new();
        for s in inc.services() {
            let Some(svc) = self.config.service(s) else {
                continue;
            };
            if !inc.told.contains(s) || self.in_maintenance(svc) {
                continue;
            }
            if let Some(c) = self.config.customer(&svc.customer) {
                if !out.iter().any(|o| o.id == c.id) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Every language its recipients read has a text of its own, and no text carries technical
    /// content (for the customers who would read it).
    fn check_texts(&self, incident: &str, texts: &Texts) -> Vec<Refusal> {
        let recipients = self.recipients(incident);
        let mut out = Vec::new();
        for c in &recipients {
            if texts.own(c.language).is_none() {
                out.push(Refusal::MissingLanguage {
                    customer: c.id.clone(),
                    name: c.name.clone(),
                    language: c.language,
                });
            }
        }
        for (key, text) in texts.by_key() {
            let readers: Vec<&str> = recipients
                .iter()
                .filter(|c| match Language::from_code(&key) {
                    Some(l) => c.language == l,
                    None => texts.own(c.language).is_none() || c.language == Language::default(),
                })
                .map(|c| c.id.as_str())
                .collect();
            let findings = screen(&text, self.config, &readers);
            if !findings.is_empty() {
                out.push(Refusal::Technical {
                    text: key,
                    findings,
                });
            }
        }
        out
    }

    fn not_working(&self, incident: &str) -> Vec<(String, Verdict)> {
        let Some(inc) = self.state.incidents.get(incident) else {
            return Vec::new();
        };
        inc.services()
            .flat_map(|s| self.service_checks(s))
            .filter(|c| !self.working_now(c))
            .map(|c| (c.id.clone(), self.verdict(&c.id)))
            .collect()
    }
}
