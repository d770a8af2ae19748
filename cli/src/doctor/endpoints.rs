//! The public endpoints' `/alive`, called through their public addresses with the monitor's own
//! prober (so through the network guard of the file's `allow_networks`, as the judge calls it).

use super::deployment::Deployment;
use super::facts::Got;
use atalaya_core::Outcome;

/// Each public endpoint of `d` (ping, pages): up, or why not.
pub async fn look(d: &Deployment, config: &atalaya_core::Config) -> Vec<(String, Got<()>)> {
    let urls: Vec<(&str, String)> = [
        ("the ping endpoint", &d.ping_url),
        ("the subscribers' pages", &d.pages_url),
    ]
    .into_iter()
    .filter_map(|(what, u)| {
        u.as_ref()
            .map(|u| (what, format!("{}/alive", u.trim_end_matches('/'))))
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
                .map(|(what, u)| (format!("{what} {u}"), Err(format!("no prober: {e}"))))
                .collect()
        }
    };
    let mut out = Vec::new();
    for (what, url) in urls {
        let got = match atalaya_app::alive::check(&url, config) {
            Ok(c) => match engine.probe(&c).await {
                Ok(r) if r.outcome == Outcome::Up => Ok(()),
                Ok(r) => Err(r.detail),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("not a usable address: {e}")),
        };
        out.push((format!("{what} {url}"), got));
    }
    out
}
