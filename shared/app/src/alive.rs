//! How the monitor calls its own public endpoints (the heartbeats' judge, `atalaya doctor`):
//! with its own prober, through the network guard of the file's `allow_networks`.

use atalaya_core::{Check, Config};

/// A check of `url` answering 2xx within 5 s, under `config`'s allowed networks.
pub fn check(url: &str, config: &Config) -> Result<Check, String> {
    let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let networks: Vec<String> = config
        .settings
        .allow_networks
        .iter()
        .map(|n| quoted(&n.to_string()))
        .collect();
    let text = format!(
        "settings: {{ allow_networks: [{}] }}\ncustomers: [{{ id: atalaya, name: Atalaya }}]\nservices: [{{ id: endpoint, customer: atalaya, name: Endpoint }}]\nchecks:\n  - {{ id: endpoint, service: endpoint, timeout: 5s, http: {{ url: {} }} }}\n",
        networks.join(", "),
        quoted(url),
    );
    atalaya_core::load_str(&text, "endpoint", atalaya_core::Target::Lambda)
        .map(|c| c.checks[0].clone())
        .map_err(|e| e.to_string())
}
