//! Subscribers as people hand them over: one (`atalaya subscribers add`) or a CSV file
//! (`atalaya subscribers import`), each checked against the checks file before anything is
//! stored. A file is taken whole or not at all; every problem names its line, and values are
//! quoted by their start and end only (a field may be megabytes).

use atalaya_core::email::{check_address, Subscription};
use atalaya_core::{Config, Language};

/// A subscriber to add, checked against the checks file.
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    pub customer: String,
    pub email: String,
    pub language: Option<Language>,
    pub services: Subscription,
}

/// The most problems of a file that are listed.
pub const SHOWN: usize = 50;

fn short(v: &str) -> String {
    atalaya_core::text::shorten(v, 80)
}

/// One subscriber, checked: the customer, the address, the language and the services.
pub fn wanted(
    config: &Config,
    customer: &str,
    email: &str,
    language: Option<&str>,
    services: &[String],
) -> Result<Wanted, String> {
    let c = config.customer(customer).ok_or_else(|| {
        format!(
            "no customer {:?} in the checks file ({})",
            short(customer),
            config.source
        )
    })?;
    check_address(email.trim())?;
    let language = match language.map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(code) => Some(Language::from_code(code).ok_or_else(|| {
            format!(
                "{:?} is not a supported language: use en or es",
                short(code)
            )
        })?),
    };
    let services: Vec<String> = services
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    for s in &services {
        match config.service(s) {
            Some(svc) if svc.customer == c.id => {}
            Some(_) => return Err(format!("service {:?} is not {customer}'s", short(s))),
            None => return Err(format!("no service {:?} in the checks file", short(s))),
        }
    }
    Ok(Wanted {
        customer: c.id.clone(),
        email: email.trim().to_string(),
        language,
        services: if services.is_empty() {
            Subscription::All
        } else {
            Subscription::Services(services.into_iter().collect())
        },
    })
}

/// The subscribers of a CSV file's text (`name` names it in problems): a header line naming
/// the columns customer and email (language and services optional, services separated by `;`
/// or spaces), then one subscriber a line. Every problem, `name:line: …`, at most [`SHOWN`] of
/// them and how many more.
pub fn parse_csv(text: &str, name: &str, config: &Config) -> Result<Vec<Wanted>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("{name}:1: the header line: {e}")]),
    };
    let column = |col: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(col));
    let (Some(c), Some(e)) = (column("customer"), column("email")) else {
        return Err(vec![format!("{name}:1: the header line must name the columns customer and email (and optionally language, services)")]);
    };
    let (l, s) = (column("language"), column("services"));
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(err) => {
                problems.push(format!("{name}:{line}: {err}"));
                continue;
            }
        };
        let get = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or_default();
        let services: Vec<String> = get(s).split([';', ' ']).map(str::to_string).collect();
        match wanted(config, get(Some(c)), get(Some(e)), Some(get(l)), &services) {
            Ok(w) => rows.push(w),
            Err(err) => problems.push(format!("{name}:{line}: {err}")),
        }
    }
    if problems.is_empty() {
        return Ok(rows);
    }
    let more = problems.len().saturating_sub(SHOWN);
    problems.truncate(SHOWN);
    if more > 0 {
        problems.push(format!("… and {more} more"));
    }
    Err(problems)
}
