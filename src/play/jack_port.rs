//! JACK MIDI output (feature `jack`), chosen at run time by a port name that starts with
//! `jack:` (`--port jack:fluidsynth:midi_00`, or `jack:` and a unique part of a name). ALSA,
//! through midir, stays the backend of every other port name: midir's own `jack` feature would
//! replace ALSA at compile time, so JACK goes through the `jack` crate instead, which loads
//! `libjack.so.0` only when a `jack:` port is asked for.
//!
//! cadenza registers one MIDI output port, `cadenza:out`, connects it to the chosen input port,
//! and hands each message to the real-time process callback through a channel, stamped with
//! JACK's microsecond clock when nodi's player sent it. The callback writes each message one
//! period after its stamp (a constant latency of one period), at its exact frame within the
//! cycle, so the timing that reaches the port is the wall-clock timing of the player, not
//! rounded to periods. Moments become frames through the callback's own measure of the server's
//! schedule ([`super::jack_clock`]), not JACK's filtered estimate, which a late server throws
//! off for seconds.
//!
//! A live session ([`duplex`]) also registers `cadenza:in`, connected from the keyboard's
//! port: the callback stamps each message it reads with the moment its frame stands for and
//! hands it to the session ([`crate::live::Incoming`]); a connection of either port that is
//! broken (the other client went away) or the server shutting down ends the session with a
//! line that says which.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jack::{
    AsyncClient, Client, ClientOptions, ClientStatus, Control, MidiIn, MidiOut, NotificationHandler, Port,
    PortFlags, PortId, PortSpec, ProcessHandler, ProcessScope, RawMidi,
};
use midly::live::LiveEvent;
use nodi::{Connection, MidiEvent};

use super::failure;
use super::jack_clock::FrameClock;
use crate::error::Result;
use crate::live::{Incoming, Sink};

/// The prefix that selects JACK.
pub const PREFIX: &str = "jack:";

/// What follows `jack:` in `spec`, if it names a JACK port.
pub fn jack_spec(spec: &str) -> Option<&str> {
    spec.strip_prefix(PREFIX)
}

/// A message for the process callback: its bytes and when it was sent (JACK's microsecond
/// clock).
struct Stamped {
    usecs: u64,
    len: usize,
    bytes: [u8; 3],
}

/// The real-time side: drains the channel into the port's buffer, and (live) reads the input
/// port.
struct Process {
    port: Port<MidiOut>,
    rx: Receiver<Stamped>,
    /// A message due in a later cycle (or that did not fit in this one).
    pending: Option<Stamped>,
    /// Messages handed over and not yet written.
    queued: Arc<AtomicUsize>,
    /// Cycles run so far (so that closing waits for cycles, not wall time: on a loaded machine
    /// the server may run late).
    cycles: Arc<AtomicUsize>,
    /// The server's schedule, as this callback measures it.
    clock: FrameClock,
    input: Option<Listen>,
}

/// The input side of a live session.
struct Listen {
    port: Port<MidiIn>,
    tx: Sender<Incoming>,
    /// An instant and JACK's microsecond clock at the same moment.
    origin: (Instant, u64),
}

impl Listen {
    fn read(&self, clock: &FrameClock, ps: &ProcessScope) {
        for m in self.port.iter(ps) {
            let us = clock.usecs_at(m.time);
            let at = if us >= self.origin.1 {
                self.origin.0 + Duration::from_micros(us - self.origin.1)
            } else {
                self.origin.0.checked_sub(Duration::from_micros(self.origin.1 - us)).unwrap_or(self.origin.0)
            };
            let _ = self.tx.send(Incoming::Midi { at, bytes: m.bytes.to_vec() });
        }
    }
}

/// Watches a live session's connections and the server (nothing for plain playback).
#[derive(Default)]
pub struct Watch {
    /// Our ports' full names, and where to say that one lost its connection.
    live: Option<(Vec<String>, Mutex<Sender<Incoming>>)>,
}

impl Watch {
    fn say(&self, why: String) {
        if let Some((_, tx)) = &self.live {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(Incoming::Closed(why));
            }
        }
    }
}

impl NotificationHandler for Watch {
    unsafe fn shutdown(&mut self, _: ClientStatus, reason: &str) {
        self.say(format!("the JACK server shut down ({reason})"));
    }

    fn ports_connected(&mut self, client: &Client, a: PortId, b: PortId, connected: bool) {
        let Some((ours, _)) = &self.live else { return };
        if connected {
            return;
        }
        let name = |id| client.port_by_id(id).and_then(|p| p.name().ok());
        let (na, nb) = (name(a), name(b));
        let mine = |n: &Option<String>| n.as_ref().is_some_and(|n| ours.contains(n));
        if mine(&na) || mine(&nb) {
            let (ours, other) = if mine(&na) { (na, nb) } else { (nb, na) };
            self.say(format!(
                "JACK port {} was disconnected from {}",
                ours.unwrap_or_default(),
                other.unwrap_or_else(|| "a port that went away".into())
            ));
        }
    }
}

impl ProcessHandler for Process {
    fn process(&mut self, client: &Client, ps: &ProcessScope) -> Control {
        self.clock.cycle(ps.last_frame_time(), client.time());
        if let Some(input) = &self.input {
            input.read(&self.clock, ps);
        }
        let n = ps.n_frames();
        let mut writer = self.port.writer(ps);
        let mut last = 0;
        while let Some(m) = self.pending.take().or_else(|| self.rx.try_recv().ok()) {
            // Due one period after its stamp.
            let offset = self.clock.offset_of(m.usecs) + f64::from(n);
            if offset >= f64::from(n) {
                self.pending = Some(m);
                break;
            }
            // Late ones go out at once; times within a cycle never decrease.
            let time = (offset.max(0.0) as u32).max(last);
            if writer.write(&RawMidi { time, bytes: &m.bytes[..m.len] }).is_err() {
                self.pending = Some(m); // the buffer is full: next cycle
                break;
            }
            last = time;
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
        self.cycles.fetch_add(1, Ordering::SeqCst);
        Control::Continue
    }
}

/// A connection to a JACK MIDI input port; nodi's player plays into it.
pub struct JackConnection {
    client: Option<AsyncClient<Watch, Process>>,
    tx: Sender<Stamped>,
    queued: Arc<AtomicUsize>,
    /// Cycles the process callback has run.
    cycles: Arc<AtomicUsize>,
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

/// The MIDI output ports of the running JACK server (where a live session can listen).
pub fn source_names() -> Result<Vec<String>> {
    let client = open_client()?;
    Ok(client.ports(None, Some("midi"), PortFlags::IS_OUTPUT))
}

/// The port among `client`'s MIDI ports with `flags` that `spec` names.
fn find(client: &Client, spec: &str, flags: PortFlags) -> Result<String> {
    let names = client.ports(None, Some("midi"), flags);
    let i = super::ports::select_port(&names, spec)
        .map_err(|_| failure(format!("JACK MIDI port \"{spec}\""), no_such(&names, flags)))?;
    Ok(names[i].clone())
}

/// Register our port `name` (`out`, `in`).
fn register<S: PortSpec + Default>(client: &Client, name: &str) -> Result<Port<S>> {
    client
        .register_port(name, S::default())
        .map_err(|e| failure("JACK", format!("cannot register a MIDI port ({e})")))
}

/// Connect to the JACK MIDI input port `spec` names (what follows `jack:`; see
/// [`super::ports::select_port`]).
pub fn connect(spec: &str) -> Result<JackConnection> {
    let client = open_client()?;
    let target = find(&client, spec, PortFlags::IS_INPUT)?;
    let port = register::<MidiOut>(&client, "out")?;
    start(client, port, None, Watch::default(), target)
}

/// A live session's ports: `cadenza:in`, connected from the MIDI output port `input` names,
/// whose messages go to `tx`, and `cadenza:out`, connected to the MIDI input port `output`
/// names (both what follows `jack:`).
pub fn duplex(input: &str, output: &str, tx: Sender<Incoming>) -> Result<JackConnection> {
    let client = open_client()?;
    let source = find(&client, input, PortFlags::IS_OUTPUT)?;
    let target = find(&client, output, PortFlags::IS_INPUT)?;
    let out = register::<MidiOut>(&client, "out")?;
    let port = register::<MidiIn>(&client, "in")?;
    let ins = port.name().map_err(|e| failure("JACK", e.to_string()))?;
    let outs = out.name().map_err(|e| failure("JACK", e.to_string()))?;
    let origin = (Instant::now(), client.time());
    let listen = Listen { port, tx: tx.clone(), origin };
    let watch = Watch { live: Some((vec![ins.clone(), outs], Mutex::new(tx))) };
    let con = start(client, out, Some(listen), watch, target)?;
    let client = con.client.as_ref().expect("an active client").as_client();
    client
        .connect_ports_by_name(&source, &ins)
        .map_err(|e| failure(format!("JACK MIDI port \"{source}\""), format!("cannot connect ({e})")))?;
    Ok(con)
}

/// Activate `client` with `port` (and the input) and connect `port` to `target`.
fn start(
    client: Client,
    port: Port<MidiOut>,
    input: Option<Listen>,
    watch: Watch,
    target: String,
) -> Result<JackConnection> {
    let ours = port.name().map_err(|e| failure("JACK", e.to_string()))?;
    let (tx, rx) = channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let cycles = Arc::new(AtomicUsize::new(0));
    let process = Process {
        port,
        rx,
        pending: None,
        queued: Arc::clone(&queued),
        cycles: Arc::clone(&cycles),
        clock: FrameClock::new(client.sample_rate()),
        input,
    };
    let client = client
        .activate_async(watch, process)
        .map_err(|e| failure("JACK", format!("cannot activate the client ({e})")))?;
    client
        .as_client()
        .connect_ports_by_name(&ours, &target)
        .map_err(|e| failure(format!("JACK MIDI port \"{target}\""), format!("cannot connect ({e})")))?;
    Ok(JackConnection { client: Some(client), tx, queued, cycles, target })
}

fn no_such(names: &[String], flags: PortFlags) -> String {
    let kind = if flags.contains(PortFlags::IS_INPUT) { "input" } else { "output" };
    if names.is_empty() {
        format!("the JACK server has no MIDI {kind} ports")
    } else {
        format!("no such port, or several match; available: {}", names.join(", "))
    }
}

impl Connection for JackConnection {
    fn play(&mut self, event: MidiEvent) -> bool {
        let mut buf = Vec::with_capacity(3);
        let live = LiveEvent::Midi { channel: event.channel, message: event.message };
        if live.write_std(&mut buf).is_err() {
            return true;
        }
        self.send_bytes(&buf)
    }
}

impl Sink for JackConnection {
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.send_bytes(bytes)
    }

    /// Messages are written one period after they are handed over.
    fn latency(&self) -> Duration {
        self.client.as_ref().map_or(Duration::ZERO, |c| {
            let c = c.as_client();
            Duration::from_secs_f64(f64::from(c.buffer_size()) / f64::from(c.sample_rate().max(1)))
        })
    }
}

impl JackConnection {
    /// Hand a message of up to three bytes to the process callback, stamped now.
    fn send_bytes(&mut self, buf: &[u8]) -> bool {
        let Some(client) = &self.client else { return false };
        let mut bytes = [0u8; 3];
        let len = buf.len().min(3);
        bytes[..len].copy_from_slice(&buf[..len]);
        let usecs = client.as_client().time();
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(Stamped { usecs, len, bytes }).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }
}

impl Drop for JackConnection {
    /// Let the queued messages reach the port and two more cycles run, so that the receiving
    /// ports read the last one (each wait up to a second), then close the client.
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.queued.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(client) = self.client.take() {
            let written = self.cycles.load(Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(1);
            while self.cycles.load(Ordering::SeqCst) < written + 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = client.deactivate();
        }
    }
}
