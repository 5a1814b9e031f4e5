//! The two ports of a live session (`cadenza live --in PORT --out PORT`): both JACK (`jack:`
//! names; one client, `cadenza:in` and `cadenza:out`, see [`super::jack_port::duplex`]) or both
//! ALSA (through midir: an input named `cadenza`, stamped on arrival, and the output of
//! [`super::ports::connect`]). They become the session's [`Incoming`] channel and [`Sink`].

use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

use nodi::midir::{Ignore, MidiInput, MidiInputConnection, MidiOutputConnection};

use super::{failure, ports};
use crate::error::Result;
use crate::live::{Incoming, Sink};

/// An open pair of ports.
pub struct LivePorts {
    pub input: Receiver<Incoming>,
    pub sink: Box<dyn Sink>,
    /// Kept open for as long as the session runs (ALSA input).
    _alsa_input: Option<MidiInputConnection<()>>,
}

impl std::fmt::Debug for LivePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePorts").finish_non_exhaustive()
    }
}

struct AlsaOut(MidiOutputConnection);

impl Sink for AlsaOut {
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.0.send(bytes).is_ok()
    }
}

/// The MIDI ports a session can listen to, as `--list-ports` shows them: one `INDEX: NAME` line
/// per ALSA input (or why there are none), then one `jack:NAME` line per MIDI output of a
/// running JACK server.
pub fn describe_sources() -> String {
    let alsa = super::quiet::without_stderr(|| MidiInput::new("cadenza"))
        .map(|input| input.ports().iter().map(|p| input.port_name(p).unwrap_or_default()).collect())
        .map_err(|e| format!("the MIDI system is not available ({e})"));
    #[cfg(feature = "jack")]
    let jack = super::jack_port::source_names().unwrap_or_default();
    #[cfg(not(feature = "jack"))]
    let jack = Vec::new();
    ports::describe("input", alsa, &jack)
}

/// Open the session's ports: `input` (where the player's keyboard is) and `output` (where the
/// answers go).
pub fn open(input: &str, output: &str) -> Result<LivePorts> {
    let (tx, rx) = channel();
    let jack = |s: &str| s.trim().strip_prefix("jack:").map(str::to_string);
    match (jack(input), jack(output)) {
        (Some(_i), Some(_o)) => {
            #[cfg(feature = "jack")]
            return Ok(LivePorts {
                input: rx,
                sink: Box::new(super::jack_port::duplex(&_i, &_o, tx)?),
                _alsa_input: None,
            });
            #[cfg(not(feature = "jack"))]
            return Err(failure(
                format!("MIDI port \"{input}\""),
                "this cadenza was built without the `jack` feature",
            ));
        }
        (None, None) => {
            let mut midi_in = super::quiet::without_stderr(|| MidiInput::new("cadenza"))
                .map_err(|e| failure("MIDI", format!("the MIDI system is not available ({e})")))?;
            midi_in.ignore(Ignore::None);
            let sources = midi_in.ports();
            let names: Vec<String> =
                sources.iter().map(|p| midi_in.port_name(p).unwrap_or_default()).collect();
            let i = ports::select_named(&names, input, "MIDI input port", "there are no MIDI input ports")?;
            let sink = Box::new(AlsaOut(ports::connect(output)?));
            let conn = midi_in
                .connect(
                    &sources[i],
                    "in",
                    move |_, bytes, _| {
                        let _ = tx.send(Incoming::Midi { at: Instant::now(), bytes: bytes.to_vec() });
                    },
                    (),
                )
                .map_err(|e| {
                    failure(format!("MIDI input port \"{}\"", names[i]), format!("cannot connect ({e})"))
                })?;
            Ok(LivePorts { input: rx, sink, _alsa_input: Some(conn) })
        }
        _ => Err(failure(
            format!("MIDI ports \"{input}\" and \"{output}\""),
            "--in and --out must both be JACK ports (jack:NAME) or both ALSA ports",
        )),
    }
}
