//! A JACK dummy server of a test's own and a test client on it, shared by the tests of real
//! MIDI ports (`tests/midi_ports_jack.rs`, `tests/live_jack.rs`) and the live latency benchmark
//! (`examples/live_latency.rs`). Times are JACK's microsecond clock (`Client::time`), taken
//! from each cycle's own mapping of frames onto it, so they do not depend on when a thread
//! happens to wake; what arrives is also timed by the schedule the client measures itself
//! (`Traffic::heard`), which stays true after a dummy server's xrun. (The live tests and the
//! benchmark keep JACK's mapping: timed by the measured schedule, `live_latency` saw one
//! folk Transformer answer a beat late, 434 ms, in 3 of 8 runs of 8 phrases, against none in 7
//! with JACK's mapping; not yet understood.)
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jack::{
    AsyncClient, Client, ClientOptions, Control, MidiIn, MidiOut, Port, ProcessHandler, ProcessScope, RawMidi,
};

pub const RATE: u32 = 48_000;

/// `jackd` on the PATH, or a skip (a failure under CI).
pub fn jackd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).map(|d| d.join("jackd")).find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but there is no jackd (apt-get install jackd2)");
        eprintln!("skipping: no jackd (apt-get install jackd2, or run scripts/setup.sh)");
    }
    found
}

/// A JACK dummy server of our own, stopped on drop: SIGTERM first, so that it removes its shared
/// memory and unlocks its metadata database (a SIGKILLed jackd leaves them behind in /dev/shm,
/// and later servers can hang on them), SIGKILL only if it is still there after 5 s.
pub struct Server {
    child: Child,
    log: tempfile::NamedTempFile,
    pub name: String,
}

impl Server {
    /// Start `jackd` (dummy driver, 128-frame periods) under a name unique to this process and
    /// `tag`, and point every JACK client of this process at it (`JACK_DEFAULT_SERVER`). It runs
    /// realtime, as JACK is run, where the system allows (its clients' callbacks then too);
    /// where it does not, jackd says so and runs without (`--no-realtime` was used before: on a
    /// loaded machine the callbacks then missed cycles, and their MIDI with them).
    pub fn start(jackd: &std::path::Path, tag: &str) -> Server {
        let name = format!("cadenza-{tag}-{}", std::process::id());
        std::env::set_var("JACK_DEFAULT_SERVER", &name);
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(jackd)
            .args(["-n", &name, "-d", "dummy", "-r", &RATE.to_string(), "-p", "128"])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Server { child, log, name }
    }

    /// What the server printed.
    pub fn said(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A client named `name`, once the server accepts clients (20 s at most).
    pub fn client(&self, name: &str) -> Client {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Client::new(name, ClientOptions::NO_START_SERVER) {
                Ok((c, _)) => {
                    assert_eq!(c.sample_rate() as u64, u64::from(RATE));
                    return c;
                }
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "the JACK server {} did not come up: {e}\n{}",
                        self.name,
                        self.said()
                    )
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the child this struct owns.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Messages with their times: (microseconds on JACK's clock, bytes).
pub type Log = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// What the test client sends and receives.
#[derive(Default)]
pub struct Traffic {
    /// (due microseconds, bytes), in time order: sent in the cycle they fall in, at their frame.
    pub to_send: VecDeque<(u64, Vec<u8>)>,
    /// What was sent, at the time its frame stands for.
    pub sent: Vec<(u64, Vec<u8>)>,
    /// What arrived on the input port.
    pub got: Vec<(u64, Vec<u8>)>,
    /// The same, timed by the server's schedule as this client measures it (below), not by
    /// JACK's mapping: what `tests/midi_ports_jack.rs` judges.
    pub heard: Vec<(u64, Vec<u8>)>,
    /// The indices in `heard` of messages that arrived in a cycle whose callback began more
    /// than [`STALL_US`] after its place in the schedule: the machine or the server stalled,
    /// and no sender could have been on time.
    pub stalled: Vec<usize>,
    /// Cycles the callback did not run in (JACK drops their MIDI): each time a cycle's first
    /// frame was past where the last one ended, counted in periods.
    pub skipped: usize,
}

/// Cycles over which the client takes the server's schedule.
const WINDOW: usize = 8;

/// A callback that begins this much after its place in the schedule (1.5 periods) marks a stall.
pub const STALL_US: f64 = 4_000.0;

/// The test client's process callback: an input port always, an output port when asked for.
pub struct Handler {
    input: Port<MidiIn>,
    output: Option<Port<MidiOut>>,
    traffic: Arc<Mutex<Traffic>>,
    /// For each of the last [`WINDOW`] cycles: when its callback began less the time of its
    /// first frame at [`RATE`] (microseconds).
    leads: VecDeque<f64>,
    /// Where the last cycle ended.
    next: Option<u32>,
}

impl ProcessHandler for Handler {
    fn process(&mut self, client: &Client, ps: &ProcessScope) -> Control {
        // Frames to microseconds through JACK's own mapping of this cycle onto the system clock.
        // A cycle whose times JACK cannot give is still read (its events exist only in this
        // cycle), timed by the client's frame clock instead.
        let (start, per_frame, end) = match ps.cycle_times() {
            Ok(t) => {
                let period = if t.next_usecs > t.current_usecs {
                    (t.next_usecs - t.current_usecs) as f64
                } else {
                    f64::from(t.period_usecs)
                };
                (t.current_usecs, period / f64::from(ps.n_frames().max(1)), t.current_usecs + period as u64)
            }
            Err(_) => {
                let start = client.frames_to_time(ps.last_frame_time());
                let per = 1e6 / f64::from(RATE);
                (start, per, start + (per * f64::from(ps.n_frames())) as u64)
            }
        };
        // And through the server's schedule as this callback measures it: the earliest of the
        // last cycles' beginnings against their first frames (a callback begins late, never
        // early). After an xrun a dummy server restarts its schedule, and JACK's mapping then
        // stays 10-40 ms off for seconds; the frames alone a stalled server leaves behind.
        let frame = ps.last_frame_time();
        let frame_us = 1e6 / f64::from(RATE);
        let first_us = f64::from(frame) * frame_us;
        let this_lead = client.time() as f64 - first_us;
        if self.leads.len() == WINDOW {
            self.leads.pop_front();
        }
        self.leads.push_back(this_lead);
        let lead = self.leads.iter().copied().fold(f64::INFINITY, f64::min);
        let scheduled = first_us + lead;
        let stalled = this_lead - lead > STALL_US;
        let Ok(mut t) = self.traffic.lock() else { return Control::Continue };
        // (A cycle that reads as earlier than the last one's end is not a skip: JACK gives the
        // server's current frame, which a late callback sees a cycle ahead.)
        if let Some(ahead) = self.next.map(|f| frame.wrapping_sub(f) as i32).filter(|&d| d > 0) {
            t.skipped += (ahead as u32).div_ceil(ps.n_frames().max(1)) as usize;
        }
        self.next = Some(frame.wrapping_add(ps.n_frames()));
        for m in self.input.iter(ps) {
            t.got.push((start + (f64::from(m.time) * per_frame) as u64, m.bytes.to_vec()));
            if stalled {
                let i = t.heard.len();
                t.stalled.push(i);
            }
            t.heard.push(((scheduled + f64::from(m.time) * frame_us) as u64, m.bytes.to_vec()));
        }
        if let Some(out) = &mut self.output {
            let mut writer = out.writer(ps);
            let mut last = 0;
            while t.to_send.front().is_some_and(|(due, _)| *due < end) {
                let (due, bytes) = t.to_send.pop_front().unwrap();
                let frame = ((due.saturating_sub(start)) as f64 / per_frame) as u32;
                let frame = frame.min(ps.n_frames() - 1).max(last);
                if writer.write(&RawMidi { time: frame, bytes: &bytes }).is_err() {
                    t.to_send.push_front((due, bytes));
                    break;
                }
                last = frame;
                t.sent.push((start + (f64::from(frame) * per_frame) as u64, bytes));
            }
        }
        Control::Continue
    }
}

/// A test client `name` with an input port `in` and, with `output`, an output port `out`.
pub fn test_client(
    server: &Server,
    name: &str,
    output: bool,
) -> (AsyncClient<(), Handler>, Arc<Mutex<Traffic>>) {
    let client = server.client(name);
    let input = client.register_port("in", MidiIn::default()).unwrap();
    let output = output.then(|| client.register_port("out", MidiOut::default()).unwrap());
    let traffic: Arc<Mutex<Traffic>> = Arc::default();
    let handler =
        Handler { input, output, traffic: Arc::clone(&traffic), leads: VecDeque::new(), next: None };
    (client.activate_async((), handler).unwrap(), traffic)
}

/// A note-on or note-off the test client received.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// Seconds since the first note-on.
    pub at: f64,
    pub pitch: u8,
    pub on: bool,
    /// It arrived in a cycle that began late ([`Traffic::stalled`]).
    pub stalled: bool,
}

/// The note-ons and note-offs the test client received, timed by the schedule it measured.
pub fn notes(traffic: &Traffic) -> Vec<Heard> {
    let events: Vec<(u64, Heard)> = traffic
        .heard
        .iter()
        .enumerate()
        .filter(|(_, (_, b))| b.len() == 3 && matches!(b[0] & 0xf0, 0x80 | 0x90))
        .map(|(i, (us, b))| {
            let on = b[0] & 0xf0 == 0x90 && b[2] > 0;
            (*us, Heard { at: 0.0, pitch: b[1], on, stalled: traffic.stalled.contains(&i) })
        })
        .collect();
    let Some(first) = events.iter().find(|e| e.1.on).map(|e| e.0) else { return Vec::new() };
    events.into_iter().map(|(us, h)| Heard { at: (us as f64 - first as f64) / 1e6, ..h }).collect()
}
