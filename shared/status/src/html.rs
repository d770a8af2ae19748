//! The pages: one minijinja template, HTML-escaped, with a stylesheet and a small script named
//! by their content (cached for a year, replaced by name when they change).

use crate::model::Page;
use crate::words::words;
use crate::{Cache, Object};
use atalaya_core::config::Language;
use minijinja::{context, Environment};
use sha2::{Digest, Sha256};

pub(crate) const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = include_str!("assets/status.css");
const JS: &str = include_str!("assets/status.js");
const ICON: &str = include_str!("assets/icon.svg");
const PAGE: &str = include_str!("templates/page.html");

pub(crate) struct Assets {
    env: Environment<'static>,
    css: String,
    js: String,
    icon: String,
}

fn named(stem: &str, ext: &str, body: &str) -> String {
    let h = Sha256::digest(body.as_bytes());
    let hex: String = h.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("assets/{stem}.{hex}.{ext}")
}

impl Assets {
    pub(crate) fn new() -> Result<Assets, String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.add_template("page.html", PAGE)
            .map_err(|e| format!("page.html: {e}"))?;
        Ok(Assets {
            env,
            css: named("status", "css", CSS),
            js: named("status", "js", JS),
            icon: named("icon", "svg", ICON),
        })
    }

    pub(crate) fn objects(&self) -> Vec<Object> {
        vec![
            Object {
                path: self.css.clone(),
                body: CSS.as_bytes().to_vec(),
                content_type: "text/css; charset=utf-8",
                cache: Cache::Asset,
            },
            Object {
                path: self.js.clone(),
                body: JS.as_bytes().to_vec(),
                content_type: "text/javascript; charset=utf-8",
                cache: Cache::Asset,
            },
            Object {
                path: self.icon.clone(),
                body: ICON.as_bytes().to_vec(),
                content_type: "image/svg+xml",
                cache: Cache::Asset,
            },
        ]
    }

    pub(crate) fn page(&self, page: &Page, root: &str) -> Result<String, String> {
        let l = page.lang;
        let languages: Vec<_> = Language::ALL
            .iter()
            .map(|l| context! { code => l.code(), name => l.own_name() })
            .collect();
        self.env
            .get_template("page.html")
            .and_then(|t| {
                t.render(context! {
                    page => minijinja::Value::from(minijinja::value::Serde(page)),
                    w => minijinja::Value::from(minijinja::value::Serde(words(l))),
                    // The site's own paths (hex names under assets/): nothing to escape.
                    root => minijinja::Value::from_safe_string(root.to_string()),
                    css => minijinja::Value::from_safe_string(self.css.clone()),
                    js => minijinja::Value::from_safe_string(self.js.clone()),
                    icon => minijinja::Value::from_safe_string(self.icon.clone()),
                    languages => languages,
                })
            })
            .map_err(|e| format!("page.html: {e}"))
    }
}
