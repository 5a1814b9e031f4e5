//! JACK MIDI output (feature `jack`), chosen at run time by a port name that starts with
//! `jack:` (`--port jack:fluidsynth:midi_00`, or `jack:` and a unique part of a name). ALSA,
//! through midir, stays the backend of every other port name: midir's own `jack` feature would
//! replace ALSA at compile time, so JACK goes through the `jack` crate instead, which loads
//! `libjack.so.0` only when a `jack:` port is asked for.
//!
//! cadenza registers one MIDI output port, `cadenza:out`, connects it to the chosen input port,
//! and hands each message to the real-time process callback through a channel, stamped with
//! JACK's frame clock when nodi's player sent it. The callback writes each message one period
//! after its stamp (a constant latency of one period), at its exact frame within the cycle, so
//! the timing that reaches the port is the wall-clock timing of the player, not rounded to
//! periods.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jack::{
    AsyncClient, Client, ClientOptions, Control, MidiOut, Port, PortFlags, ProcessHandler, ProcessScope,
    RawMidi,
};
use midly::live::LiveEvent;
use nodi::{Connection, MidiEvent};

use super::failure;
use crate::error::Result;

/// The prefix that selects JACK.
pub const PREFIX: &str = "jack:";

/// What follows `jack:` in `spec`, if it names a JACK port.
pub fn jack_spec(spec: &str) -> Option<&str> {
    spec.strip_prefix(PREFIX)
}

/// A message for the process callback: its bytes and the frame it was sent at.
struct Stamped {
    frame: u32,
    len: usize,
    bytes: [u8; 3],
}

/// The real-time side: drains the channel into the port's buffer.
struct Process {
    port: Port<MidiOut>,
    rx: Receiver<Stamped>,
    /// A message due in a later cycle (or that did not fit in this one).
    pending: Option<Stamped>,
    /// Messages handed over and not yet written.
    queued: Arc<AtomicUsize>,
}

impl ProcessHandler for Process {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let n = ps.n_frames();
        let start = ps.last_frame_time();
        let mut writer = self.port.writer(ps);
        let mut last = 0;
        while let Some(m) = self.pending.take().or_else(|| self.rx.try_recv().ok()) {
            // Due one period after its stamp; wrapping arithmetic for the 32-bit frame clock.
            let offset = m.frame.wrapping_add(n).wrapping_sub(start) as i32;
            if offset >= n as i32 {
                self.pending = Some(m);
                break;
            }
            // Late ones go out at once; times within a cycle never decrease.
            let time = (offset.max(0) as u32).max(last);
            if writer.write(&RawMidi { time, bytes: &m.bytes[..m.len] }).is_err() {
                self.pending = Some(m); // the buffer is full: next cycle
                break;
            }
            last = time;
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
        Control::Continue
    }
}

/// A connection to a JACK MIDI input port; nodi's player plays into it.
pub struct JackConnection {
    client: Option<AsyncClient<(), Process>>,
    tx: Sender<Stamped>,
    queued: Arc<AtomicUsize>,
    /// The port connected to, as JACK names it.
    pub target: String,
}

impl std::fmt::Debug for JackConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JackConnection").field("target", &self.target).finish()
    }
}

/// Open a JACK client on the running server (`$JACK_DEFAULT_SERVER`, else the default one),
/// without starting one.
fn open_client() -> Result<Client> {
    match Client::new("cadenza", ClientOptions::NO_START_SERVER) {
        Ok((client, _)) => Ok(client),
        Err(jack::Error::LibraryError(why)) => {
            Err(failure("JACK", format!("libjack is not available ({why}); install jackd2")))
        }
        Err(e) => Err(failure("JACK", format!("no JACK server is running ({e})"))),
    }
}

/// The MIDI input ports of the running JACK server.
pub fn port_names() -> Result<Vec<String>> {
    let client = open_client()?;
    Ok(client.ports(None, Some("midi"), PortFlags::IS_INPUT))
}

/// Connect to the JACK MIDI input port `spec` names (what follows `jack:`; see
/// [`super::ports::select_port`]).
pub fn connect(spec: &str) -> Result<JackConnection> {
    let client = open_client()?;
    let names = client.ports(None, Some("midi"), PortFlags::IS_INPUT);
    let target = names[super::ports::select_port(&names, spec)
        .map_err(|_| failure(format!("JACK MIDI port \"{spec}\""), no_such(&names)))?]
    .clone();
    let port = client
        .register_port("out", MidiOut::default())
        .map_err(|e| failure("JACK", format!("cannot register a MIDI port ({e})")))?;
    let ours = port.name().map_err(|e| failure("JACK", e.to_string()))?;
    let (tx, rx) = channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let process = Process { port, rx, pending: None, queued: Arc::clone(&queued) };
    let client = client
        .activate_async((), process)
        .map_err(|e| failure("JACK", format!("cannot activate the client ({e})")))?;
    client
        .as_client()
        .connect_ports_by_name(&ours, &target)
        .map_err(|e| failure(format!("JACK MIDI port \"{target}\""), format!("cannot connect ({e})")))?;
    Ok(JackConnection { client: Some(client), tx, queued, target })
}

fn no_such(names: &[String]) -> String {
    if names.is_empty() {
        "the JACK server has no MIDI input ports".to_string()
    } else {
        format!("no such port, or several match; available: {}", names.join(", "))
    }
}

impl Connection for JackConnection {
    fn play(&mut self, event: MidiEvent) -> bool {
        let Some(client) = &self.client else { return false };
        let mut buf = Vec::with_capacity(3);
        let live = LiveEvent::Midi { channel: event.channel, message: event.message };
        if live.write_std(&mut buf).is_err() {
            return true;
        }
        let mut bytes = [0u8; 3];
        let len = buf.len().min(3);
        bytes[..len].copy_from_slice(&buf[..len]);
        let frame = client.as_client().frame_time();
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(Stamped { frame, len, bytes }).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }
}

impl Drop for JackConnection {
    /// Let the queued messages reach the port (up to a second), then close the client.
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.queued.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(client) = self.client.take() {
            // One more period, so that the last cycle's buffer is delivered.
            let period = client.as_client().buffer_size() as f64 / client.as_client().sample_rate() as f64;
            std::thread::sleep(Duration::from_secs_f64(period * 2.0));
            let _ = client.deactivate();
        }
    }
}
