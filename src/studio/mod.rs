//! `cadenza studio`: a local web page and JSON API to generate from the checkpoints of a folder,
//! look at and listen to the samples, and run blind listening tests whose votes go to SQLite.
//!
//! [`serve`] binds (loopback by default) and answers requests on a few threads; [`api`] holds
//! the handlers (a pure function from request to response, tested without a socket), [`store`]
//! the sample files and their opaque ids, [`models`] the checkpoints kept loaded between
//! requests, [`jobs`] generation in the background with its progress, [`ports`] the MIDI ports
//! a sample can be sent to, [`edit`] infill and harmonize on a sample or an upload, [`live`] the Live panel's answers,
//! [`votes`] the database and the Wilson intervals, and `page.html` the one self-contained page.
//!
//! Every bad request gets a 4xx answer whose body is one line of JSON, `{"error": "..."}`.

pub mod api;
pub mod edit;
#[cfg(feature = "lstm")]
pub mod finetune;
pub mod jobs;
pub mod live;
pub mod models;
pub mod ports;
pub mod store;
pub mod votes;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The largest request body accepted (uploads included): 4 MiB.
pub const MAX_BODY: usize = 4 << 20;

/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: u64 = 32 << 20;

/// How to run the studio.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: IpAddr,
    /// 0: any free port.
    pub port: u16,
    /// The folder whose checkpoints can be generated from (its files only, not subfolders).
    pub checkpoints: PathBuf,
    /// The folder for samples and uploads.
    pub data: PathBuf,
    /// The votes database.
    pub db: PathBuf,
    /// A corpus whose pieces can seed generation and whose test pieces can be the real side of
    /// a listening trial.
    pub corpus: Option<PathBuf>,
    /// SoundFont for WAV rendering; `None`: the first one found (`doctor::find_soundfont`).
    pub soundfont: Option<PathBuf>,
    /// Device for libtorch models.
    pub device: String,
    /// Threads answering requests.
    pub threads: usize,
    /// Checkpoints kept loaded between requests (see [`models`]).
    pub cached_models: usize,
}

impl Config {
    /// Defaults around a checkpoints folder: loopback, port 8080, data in `studio/`.
    pub fn new(checkpoints: PathBuf) -> Config {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            checkpoints,
            data: PathBuf::from("studio"),
            db: PathBuf::from("studio/votes.sqlite"),
            corpus: None,
            soundfont: None,
            device: "auto".into(),
            threads: 4,
            cached_models: models::DEFAULT_CAPACITY,
        }
    }
}

/// A bound studio, ready to [`Server::run`].
pub struct Server {
    http: Arc<tiny_http::Server>,
    state: Arc<api::State>,
    threads: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr()).finish()
    }
}

impl Server {
    /// Open the folders and the database and bind the socket.
    pub fn bind(config: Config) -> Result<Server> {
        let threads = config.threads.max(1);
        let addr = SocketAddr::new(config.bind, config.port);
        let state = api::State::open(config)?;
        let http = tiny_http::Server::http(addr).map_err(|e| {
            Error::io(
                format!("{addr}"),
                std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, e.to_string()),
            )
        })?;
        Ok(Server { http: Arc::new(http), state: Arc::new(state), threads })
    }

    /// The address actually bound (the port chosen when 0 was asked).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.http.server_addr().to_ip()
    }

    /// Answer requests until the process ends.
    pub fn run(self) -> Result<()> {
        let workers: Vec<_> = (0..self.threads)
            .map(|_| {
                let http = Arc::clone(&self.http);
                let state = Arc::clone(&self.state);
                std::thread::spawn(move || {
                    while let Ok(request) = http.recv() {
                        answer(&state, request);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        Ok(())
    }
}

/// Bind as `config` says and serve forever.
pub fn serve(config: Config) -> Result<()> {
    Server::bind(config)?.run()
}

/// Read one request, answer it, and never panic the worker: a panic in a handler becomes a
/// 500 with a one-line JSON error.
fn answer(state: &Arc<api::State>, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_ascii_uppercase();
    let header = |name: &'static str| {
        request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
    };
    let host = header("Host");
    let content_type = header("Content-Type");
    let url = request.url().to_string();
    let declared = request.body_length();
    let body = if declared.is_some_and(|n| n > MAX_BODY) {
        // Read (a bounded amount of) what the client sends anyway, so that it gets the answer
        // instead of a connection reset.
        let _ =
            std::io::copy(&mut std::io::Read::take(request.as_reader(), DRAIN_LIMIT), &mut std::io::sink());
        Err(())
    } else {
        let mut buf = Vec::new();
        use std::io::Read;
        let read = request.as_reader().take(MAX_BODY as u64 + 1).read_to_end(&mut buf);
        if read.is_err() || buf.len() > MAX_BODY {
            Err(())
        } else {
            Ok(buf)
        }
    };
    let response = match body {
        Err(()) => api::Response::error_of(&crate::error::StudioError::TooLarge { limit: MAX_BODY }.into()),
        Ok(body) => {
            let req = api::Request { method, url, host, content_type, body };
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api::handle(state, &req)))
                .unwrap_or_else(|_| api::Response::json(500, &serde_json::json!({"error": "internal error"})))
        }
    };
    // Never chunked (tiny_http's default above 32 KiB): a known Content-Length lets the browser's
    // audio element know a WAV's duration.
    let mut out = tiny_http::Response::from_data(response.body)
        .with_status_code(response.status)
        .with_chunked_threshold(usize::MAX);
    for (name, value) in [
        ("Content-Type", response.content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ] {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(h);
        }
    }
    if let Some(name) = response.download {
        let v = format!("attachment; filename=\"{name}\"");
        if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Disposition"[..], v.as_bytes()) {
            out.add_header(h);
        }
    }
    let _ = request.respond(out);
}
