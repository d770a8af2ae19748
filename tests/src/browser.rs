//! Debian's chromium, headless, driven over the DevTools protocol (a WebSocket on 127.0.0.1):
//! load pages, run script in them, resize the window, take screenshots, and collect every
//! console error and uncaught exception. Started with a fresh profile and everything that
//! would reach the network off.

use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// The browser binary (`make browser` installs Debian's chromium).
pub fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("which")
            .arg(c)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!("no chromium: `make test` installs Debian's chromium (apt-get install -y chromium)");
}

/// Headless, and nothing that would reach the network; each run also gets a fresh
/// `--user-data-dir`.
pub const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<TcpStream>,
    session: String,
    next: u64,
    /// Console errors, uncaught exceptions and failed loads, as text.
    pub errors: Vec<String>,
    loaded: bool,
}

impl Browser {
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(chromium())
            .args(FLAGS)
            .args([
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting chromium: {e}"));
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let text = loop {
            if let Ok(t) = std::fs::read_to_string(&port_file) {
                if t.lines().count() >= 2 {
                    break t;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut lines = text.lines();
        let port = lines.next().unwrap_or_default().trim().to_string();
        let path = lines.next().unwrap_or_default().trim().to_string();
        let stream = TcpStream::connect(format!("127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("DevTools port {port}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{e}"));
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .unwrap_or_else(|e| panic!("DevTools handshake: {e}"));
        let mut b = Browser {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next: 0,
            errors: Vec::new(),
            loaded: false,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
        );
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}));
        }
        b
    }

    /// Sends a command (to the page once attached) and waits for its answer; events that
    /// arrive meanwhile are noted.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        loop {
            let v = self.read();
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or_default();
                    self.note(&v);
                    return v;
                }
                Ok(_) => continue,
                Err(e) => panic!("DevTools: {e}"),
            }
        }
    }

    fn note(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.errors.push(format!("console.error: {}", p["args"]));
            }
            Some("Runtime.exceptionThrown") => {
                self.errors
                    .push(format!("exception: {}", p["exceptionDetails"]));
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                self.errors.push(format!(
                    "{}: {} {}",
                    p["entry"]["source"], p["entry"]["text"], p["entry"]["url"]
                ));
            }
            Some("Page.loadEventFired") => self.loaded = true,
            _ => {}
        }
    }

    /// Loads `url` and waits for its load event.
    pub fn goto(&mut self, url: &str) {
        self.loaded = false;
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_loaded();
    }

    /// Clicks the element `selector` names and waits for the page it leads to.
    pub fn click_to_load(&mut self, selector: &str) {
        self.loaded = false;
        let js = format!(
            "document.querySelector({}).click()",
            serde_json::to_string(selector).unwrap_or_default()
        );
        self.eval(&js);
        self.wait_loaded();
    }

    fn wait_loaded(&mut self) {
        while !self.loaded {
            self.read();
        }
    }

    /// Runs `expression` in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The window's size as a device of that width would have it (375: a phone).
    pub fn size(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        );
    }

    /// A PNG of the whole page at the current width, written to `path`.
    pub fn screenshot(&mut self, path: &Path) -> PathBuf {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
            }),
        );
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{e}"));
        path.to_path_buf()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// axe-core's script (`make browser` installs it with npm into `tests/browser/node_modules`).
pub fn axe_source() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: `make browser` installs axe-core (npm ci --prefix tests/browser)",
            path.display()
        )
    })
}
