//! The studio's MIDI ports: `GET /api/ports` lists them (ALSA output ports by name, the MIDI
//! inputs of a running JACK server as `jack:NAME`), and `POST /api/ports/play`
//! (`{"sample": ID, "port": NAME}`) plays a sample to one of them on a thread of its own
//! ([`crate::play::play_to_port_in_background`]), answering once the port is connected.

use serde::Deserialize;
use serde_json::json;

use super::api::{bad, parse, Response, State};
use super::store;
use crate::error::{Error, Result, StudioError};

/// Longest port name accepted.
const MAX_NAME: usize = 256;

/// `GET /api/ports`.
pub fn list(_state: &State) -> Result<Response> {
    Ok(Response::json(200, &json!({ "ports": names() })))
}

#[cfg(feature = "audio")]
fn names() -> Vec<String> {
    let alsa = crate::play::ports::port_names().unwrap_or_default();
    #[cfg(feature = "jack")]
    let alsa = {
        let jack = crate::play::jack_port::port_names().unwrap_or_default();
        let prefixed = jack.into_iter().map(|n| format!("{}{n}", crate::play::jack_port::PREFIX));
        alsa.into_iter().chain(prefixed).collect()
    };
    alsa
}

#[cfg(not(feature = "audio"))]
fn names() -> Vec<String> {
    Vec::new()
}

#[derive(Debug, Deserialize)]
struct PlayBody {
    sample: String,
    port: String,
}

/// `POST /api/ports/play`.
pub fn play(state: &State, body: &[u8]) -> Result<Response> {
    let b: PlayBody = parse(body, &["sample", "port"], false)?;
    store::check_id(&b.sample, "sample")?;
    let port = b.port.trim();
    if port.is_empty() || port.len() > MAX_NAME || port.chars().any(char::is_control) {
        return Err(bad("port", format!("must be a port name of 1 to {MAX_NAME} printable characters")));
    }
    state.store.sample_midi(&b.sample)?;
    let path = state.store.sample_path(&b.sample, "mid")?;
    let seconds = start(&path, port)?;
    Ok(Response::json(200, &json!({ "playing": b.sample, "port": port, "seconds": seconds })))
}

#[cfg(feature = "audio")]
fn start(path: &std::path::Path, port: &str) -> Result<f64> {
    let opts = crate::play::PlayOptions::default();
    match crate::play::play_to_port_in_background(path, port, &opts) {
        // The thread plays on; its outcome is nobody's business but the port's.
        Ok((seconds, _thread)) => Ok(seconds),
        Err(e @ Error::Play { .. }) => Err(StudioError::NoPort(e.to_string()).into()),
        Err(e) => Err(e),
    }
}

#[cfg(not(feature = "audio"))]
fn start(_path: &std::path::Path, _port: &str) -> Result<f64> {
    Err(StudioError::NoPort("this cadenza was built without the `audio` feature".into()).into())
}
