//! A running `cadenza studio` for the end-to-end tests (`tests/studio_http.rs`,
//! `tests/studio_browser.rs`, `tests/midi_ports_jack.rs`): a tiny corpus and Markov checkpoints
//! made with the real binary, the server started on a free port and killed (SIGKILL) on drop, and
//! plain HTTP/1.0 exchanges over a std `TcpStream`. Included with `#[path]`, next to `mod common`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common;

/// A running studio, killed (SIGKILL) on drop.
pub struct Studio {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Studio {
    /// The page's address, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Start `cadenza studio` on a free port over `ckpts`, with its data in `data`, seeds from
/// `corpus`, and no SoundFont (WAV requests get a 404).
pub fn start(tmp: &Path, ckpts: &Path, data: &Path, corpus: &Path) -> Studio {
    start_with(tmp, ckpts, data, corpus, &["--soundfont", "/nonexistent/none.sf2"])
}

/// [`start`] with `extra` options in place of the missing SoundFont.
pub fn start_with(tmp: &Path, ckpts: &Path, data: &Path, corpus: &Path, extra: &[&str]) -> Studio {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cadenza"))
        .args(["studio", "--port", "0", "--checkpoints"])
        .arg(ckpts)
        .arg("--data")
        .arg(data)
        .arg("--corpus")
        .arg(corpus)
        .args(extra)
        .args(["--device", "cpu"])
        .env("CADENZA_CACHE", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("studio: http://").unwrap_or_else(|| panic!("first line: {line:?}"));
    let addr: SocketAddr = url.trim_end_matches('/').parse().unwrap();
    assert!(addr.ip().is_loopback(), "loopback by default: {addr}");
    Studio { child, addr }
}

/// One HTTP/1.0 exchange: status and body.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let kind = if path == "/api/uploads" { "audio/midi" } else { "application/json" };
    http_as(addr, method, path, body, &addr.to_string(), kind)
}

/// One HTTP/1.0 exchange with the given Host and Content-Type headers.
pub fn http_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    host: &str,
    kind: &str,
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\nContent-Type: {kind}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a header");
    let status_line = String::from_utf8_lossy(&out[..split]).lines().next().unwrap().to_string();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

pub fn json_of(body: &[u8]) -> Value {
    common::json(body)
}

/// A 4xx whose body is exactly one line of JSON with an `error` string.
pub fn assert_error(what: &str, (status, body): (u16, Vec<u8>), want: u16) {
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, want, "{what}: {text}");
    assert!((400..500).contains(&status), "{what}: {status}");
    assert_eq!(text.trim_end().lines().count(), 1, "{what}: one line: {text}");
    assert!(json_of(&body)["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {text}");
}

/// A tiny corpus, a Markov checkpoint trained on it (twice, under two names) and folders:
/// `(corpus, checkpoints, data)`.
pub fn setup(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let corpus = common::tiny_corpus(tmp, 10, false);
    let ckpt = common::train(tmp, &corpus, "markov", &["--order", "3"]);
    let ckpts = tmp.join("ckpts");
    std::fs::create_dir_all(&ckpts).unwrap();
    std::fs::copy(&ckpt, ckpts.join("tiny.markov")).unwrap();
    std::fs::copy(&ckpt, ckpts.join("twin.markov")).unwrap();
    std::fs::write(tmp.join("secret.txt"), b"outside").unwrap();
    (corpus, ckpts, tmp.join("data"))
}
