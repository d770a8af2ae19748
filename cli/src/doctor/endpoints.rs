//! The public endpoints' `/alive`, called through their public addresses with the monitor's own
//! prober (so through the network guard of the file's `allow_networks`, as the judge calls it).

use super::deployment::Deployment;
use super::facts::Got;
use atalaya_core::Outcome;

/// Each public endpoint of `d` (ping, pages): up, or why not.
pub async fn look(d: &Deployment, config: &atalaya_core::Config) -> Vec<(String, Got<()>)> {
    let urls: Vec<String> = [
        ("the ping endpoint", &d.ping_url),
        ("the subscribers' pages", &d.pages_url),
    ]
    .into_iter()
    .filter_map(|(what, u)| {
        u.as_ref()
            .map(|u| format!("{what} {}/alive", u.trim_end_matches('/')))
    })
    .collect();
    if urls.is_empty() {
        return Vec::new();
    }
    let engine = match atalaya_probe::Engine::new(atalaya_probe::EngineOptions {
        allow_networks: config.settings.allow_networks.clone(),
        ..Default::default()
    }) {
        Ok(e) => e,
        Err(e) => {
            return urls
                .into_iter()
                .map(|u| (u, Err(format!("no prober: {e}"))))
                .collect()
        }
    };
    let mut out = Vec::new();
    for named in urls {
        let url = named.rsplit(' ').next().unwrap_or_default();
        let got = match check(url, config) {
            Ok(c) => match engine.probe(&c).await {
                Ok(r) if r.outcome == Outcome::Up => Ok(()),
                Ok(r) => Err(r.detail),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        out.push((named, got));
    }
    out
}

/// A check of `url` (answering 2xx within 5 s), under the file's allowed networks.
fn check(url: &str, config: &atalaya_core::Config) -> Result<atalaya_core::Check, String> {
    let networks: Vec<String> = config
        .settings
        .allow_networks
        .iter()
        .map(|n| serde_json::Value::String(n.to_string()).to_string())
        .collect();
    let text = format!(
        "settings: {{ allow_networks: [{}] }}\ncustomers: [{{ id: atalaya, name: Atalaya }}]\nservices: [{{ id: endpoint, customer: atalaya, name: Endpoint }}]\nchecks:\n  - {{ id: endpoint, service: endpoint, timeout: 5s, http: {{ url: {} }} }}\n",
        networks.join(", "),
        serde_json::Value::String(url.to_string()),
    );
    atalaya_core::load_str(&text, "doctor", atalaya_core::Target::Local)
        .map(|c| c.checks[0].clone())
        .map_err(|e| format!("not a usable address: {e}"))
}
