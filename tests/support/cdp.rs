//! A tiny Chrome DevTools Protocol client for `tests/studio_browser.rs`: it launches Debian's
//! `chromium` headless with a throw-away profile, connects to the browser's DevTools websocket
//! (named in the profile's `DevToolsActivePort` file), opens a page and attaches to it, and
//! speaks JSON commands over that blocking websocket (`tungstenite`). Events are kept: uncaught exceptions and console / log errors
//! become [`Chrome::errors`], which a test asserts empty.

#![allow(dead_code)]

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// How long one command may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium binary: `$CADENZA_CHROMIUM`, else the first of `chromium`, `chromium-browser`,
/// `google-chrome` on the PATH. Without one the caller skips, except under CI (`CI` set),
/// where a missing browser is a failure.
pub fn chromium() -> Option<PathBuf> {
    let found =
        std::env::var_os("CADENZA_CHROMIUM").map(PathBuf::from).filter(|p| p.is_file()).or_else(|| {
            let path = std::env::var_os("PATH").unwrap_or_default();
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but there is no chromium (apt-get install chromium, or run scripts/setup.sh; \
             or set CADENZA_CHROMIUM)"
        );
        eprintln!(
            "skipping: no chromium on the PATH (scripts/setup.sh installs it; or set CADENZA_CHROMIUM)"
        );
    }
    found
}

/// The browser's process group, killed (SIGKILL) on drop, also when a launch fails half-way.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group that `launch` started (`process_group(0)`).
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// A headless Chromium with one page attached; the browser is closed on drop.
pub struct Chrome {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// The page's session (`None`: commands go to the browser).
    session: Option<String>,
    /// Every event received, in order (`method` and `params`).
    pub events: Vec<Value>,
    // Dropped after `ws`, in this order: the processes, then their profile folder.
    group: Group,
    profile: tempfile::TempDir,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // Ask politely first; `Group` kills whatever is left.
        self.session = None;
        let _ = self.send("Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && !matches!(self.group.0.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Chrome {
    /// Launch `bin` headless (window `width` x `height`) and attach to its first page.
    pub fn launch(bin: &Path, width: u32, height: u32) -> Chrome {
        let profile = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(profile.path().join("stderr.log")).unwrap();
        let child = Group(
            Command::new(bin)
                .args([
                    "--headless=new",
                    "--remote-debugging-port=0",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--mute-audio",
                    "--autoplay-policy=no-user-gesture-required",
                    "--hide-scrollbars",
                    &format!("--window-size={width},{height}"),
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
        );
        // The file holds the port and the browser's websocket path, one a line.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let (port, path) = loop {
            let text = std::fs::read_to_string(&port_file).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(Ok(port)), Some(path)) =
                (lines.next().map(|l| l.trim().parse::<u16>()), lines.next())
            {
                break (port, path.trim().to_string());
            }
            let log = std::fs::read_to_string(profile.path().join("stderr.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "chromium wrote no DevToolsActivePort in 60 s; its stderr:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let ws_url = format!("ws://127.0.0.1:{port}{path}");
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (ws, _) = tungstenite::client::client(ws_url.as_str(), stream)
            .unwrap_or_else(|e| panic!("websocket {ws_url}: {e}"));
        // Short reads from here on, so that waiting loops can check their deadlines.
        ws.get_ref().set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut chrome = Chrome { ws, next_id: 0, session: None, events: Vec::new(), group: child, profile };
        // A page of its own, attached in "flat" mode: its commands and events carry its session id.
        let target = chrome.call("Target.createTarget", json!({"url": "about:blank"}))["targetId"].clone();
        let session = chrome.call("Target.attachToTarget", json!({"targetId": target, "flatten": true}))
            ["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        chrome.session = Some(session);
        for domain in ["Runtime.enable", "Page.enable", "Log.enable"] {
            chrome.call(domain, json!({}));
        }
        chrome.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        chrome
    }

    fn send(&mut self, method: &str, params: Value) -> tungstenite::Result<u64> {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = &self.session {
            msg["sessionId"] = json!(session);
        }
        self.ws.send(Message::text(msg.to_string()))?;
        Ok(self.next_id)
    }

    /// The next message, or `None` after the socket's short read timeout.
    fn receive(&mut self) -> Option<Value> {
        match self.ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v.get("method").is_some() {
                    self.events.push(v.clone());
                }
                Some(v)
            }
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                None
            }
            Err(e) => panic!("DevTools websocket: {e}"),
        }
    }

    /// Run one command and return its `result`; a protocol error fails the test.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params).unwrap_or_else(|e| panic!("{method}: {e}"));
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer in {CALL_TIMEOUT:?}");
            if let Some(v) = self.receive() {
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                    return v["result"].clone();
                }
            }
        }
    }

    /// Read events until one named `method` arrives (or `timeout` passes: the test fails).
    pub fn wait_event(&mut self, method: &str, timeout: Duration) -> Value {
        let seen = self.events.len();
        if let Some(e) = self.events[..seen].iter().rev().find(|e| e["method"] == method) {
            return e["params"].clone();
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            self.receive();
            if let Some(e) = self.events[seen..].iter().find(|e| e["method"] == method) {
                return e["params"].clone();
            }
        }
        panic!("no {method} event in {timeout:?}")
    }

    /// Load `url` and wait for its load event.
    pub fn navigate(&mut self, url: &str) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
        let r = self.call("Page.navigate", json!({ "url": url }));
        assert!(r.get("errorText").is_none(), "navigate {url}: {r}");
        self.wait_event("Page.loadEventFired", Duration::from_secs(60));
    }

    /// Evaluate `expr` in the page (awaiting a promise) and return its value; a thrown
    /// exception fails the test.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true, "userGesture": true}),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr}: {}", ex["exception"]["description"].as_str().unwrap_or(&ex.to_string()));
        }
        r["result"]["value"].clone()
    }

    /// Poll `expr` until it is truthy, and return it; after `timeout` the test fails, showing
    /// `show` (an expression describing the page's state).
    pub fn wait_for(&mut self, expr: &str, timeout: Duration, show: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(expr);
            if !(v.is_null() || v == false || v == 0 || v == "") {
                return v;
            }
            if Instant::now() > deadline {
                panic!("waited {timeout:?} for {expr}; the page shows: {}", self.eval(show));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Choose `files` in the file input matching `selector`.
    pub fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let root = self.call("DOM.getDocument", json!({}))["root"]["nodeId"].clone();
        let node =
            self.call("DOM.querySelector", json!({"nodeId": root, "selector": selector}))["nodeId"].clone();
        assert!(node.as_u64().is_some_and(|n| n > 0), "no {selector} in the page");
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.call("DOM.setFileInputFiles", json!({"nodeId": node, "files": files}));
    }

    /// Drag the mouse with the left button held from `from` to `to` (viewport CSS pixels), in
    /// `steps` moves: real `mousedown`, `mousemove` and `mouseup` events in the page.
    pub fn drag(&mut self, from: (f64, f64), to: (f64, f64), steps: u32) {
        let mouse = |kind: &str, (x, y): (f64, f64), buttons: u32| json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1});
        self.call("Input.dispatchMouseEvent", mouse("mouseMoved", from, 0));
        self.call("Input.dispatchMouseEvent", mouse("mousePressed", from, 1));
        let steps = steps.max(1);
        for i in 1..=steps {
            let f = f64::from(i) / f64::from(steps);
            let at = (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f);
            self.call("Input.dispatchMouseEvent", mouse("mouseMoved", at, 1));
        }
        self.call("Input.dispatchMouseEvent", mouse("mouseReleased", to, 0));
    }

    /// A PNG of the whole page (beyond the viewport) written to `path`; its size in bytes.
    pub fn screenshot(&mut self, path: &Path) -> usize {
        let r = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let png = base64_decode(r["data"].as_str().expect("screenshot data"));
        std::fs::write(path, &png).unwrap();
        png.len()
    }

    /// Uncaught exceptions, `console.error` calls and error log entries (failed loads) so far,
    /// one line each.
    pub fn errors(&mut self) -> Vec<String> {
        while self.receive().is_some() {}
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.exceptionThrown" => Some(format!(
                        "exception: {}",
                        p["exceptionDetails"]["exception"]["description"]
                            .as_str()
                            .unwrap_or(&p["exceptionDetails"]["text"].to_string())
                    )),
                    "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                        Some(format!("console.{}: {}", p["type"], p["args"]))
                    }
                    "Log.entryAdded" if p["entry"]["level"] == "error" => {
                        Some(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The browser's stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("stderr.log")).unwrap_or_default()
    }
}

/// Standard base64 (what `Page.captureScreenshot` returns), without a crate for it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(value(c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
}
