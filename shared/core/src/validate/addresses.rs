//! The addresses others reach us at (`settings.status_page.url`, `settings.heartbeats.url`): one
//! rule for both.

use super::Errs;
use crate::at::At;
use crate::config::*;
use crate::raw::*;
use crate::template::EnvTemplate;

/// An address others reach us at: http(s), a host, no query; written without a trailing `/`
/// (as the URL library writes it: nothing breaks out of an HTML attribute).
pub(super) fn site_url(
    errs: &mut Errs,
    v: &At<String>,
    s: &str,
    field: &str,
    like: &str,
) -> Option<String> {
    match url::Url::parse(v.value.trim()) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some()
                && u.query().is_none() =>
        {
            Some(u.as_str().trim_end_matches('/').to_string())
        }
        _ => {
            errs.push(
                v.pos,
                s,
                field,
                format!("{:?} is not an http(s) address like {like}", v.value),
            );
            None
        }
    }
}

/// `settings.heartbeats`: an http(s) address, and a key that is a reference.
pub(super) fn heartbeats(
    errs: &mut Errs,
    raw: Option<&RawHeartbeats>,
    s: &str,
) -> HeartbeatSettings {
    let Some(raw) = raw else {
        return HeartbeatSettings::default();
    };
    let url = raw.url.as_ref().and_then(|v| {
        site_url(
            errs,
            v,
            s,
            "heartbeats.url",
            "https://abc.lambda-url.eu-west-1.on.aws",
        )
    });
    let key = raw.key.as_ref().and_then(|v| {
        let t = EnvTemplate::parse(&v.value)
            .map_err(|e| errs.push(v.pos, s, "heartbeats.key", e))
            .ok()?;
        if !t.has_references() {
            errs.push(v.pos, s, "heartbeats.key", "must be a reference such as ${ssm:/atalaya/heartbeat/key}: the key itself never goes in the checks file");
            return None;
        }
        Some(t)
    });
    HeartbeatSettings { url, key }
}

/// `settings.status_page`: an http(s) address and a one-line title.
pub(super) fn status_site(
    errs: &mut Errs,
    raw: Option<&RawStatusSite>,
    s: &str,
) -> crate::config::StatusSite {
    let Some(raw) = raw else {
        return Default::default();
    };
    let url = raw
        .url
        .as_ref()
        .and_then(|v| site_url(errs, v, s, "status_page.url", "https://status.acme.example"));
    let title = raw.title.as_ref().and_then(|t| {
        if t.value.trim().is_empty()
            || crate::text::hidden_char(&t.value, false).is_some()
            || t.value.chars().count() > 100
        {
            errs.push(
                t.pos,
                s,
                "status_page.title",
                "give a title of one line, at most 100 characters",
            );
            None
        } else {
            Some(t.value.trim().to_string())
        }
    });
    crate::config::StatusSite { url, title }
}
