//! MIDI output ports (hardware synths, DAWs, FluidSynth) through midir (ALSA), which nodi's
//! `midir` feature turns into a nodi `Connection`; names starting with `jack:` go to JACK instead
//! ([`super::jack_port`], feature `jack`). [`connect_any`] picks the backend by the name.

use nodi::midir::{MidiOutput, MidiOutputConnection, MidiOutputPort};
use nodi::{Connection, MidiEvent};

use super::failure;
use crate::error::Result;

const CLIENT: &str = "cadenza";

/// Why MIDI output is unavailable, if it is.
fn try_midi_output() -> std::result::Result<MidiOutput, String> {
    // ALSA prints its own diagnostics on stderr when there is no sequencer; our error says it.
    super::quiet::without_stderr(|| MidiOutput::new(CLIENT))
        .map_err(|e| format!("the MIDI system is not available ({e})"))
}

fn midi_output() -> Result<MidiOutput> {
    try_midi_output().map_err(|why| failure("MIDI", why))
}

/// Names of the MIDI output ports, in index order. An error if the MIDI system itself is not
/// available (e.g. no ALSA sequencer).
pub fn port_names() -> Result<Vec<String>> {
    let out = midi_output()?;
    Ok(names_of(&out, &out.ports()))
}

fn names_of(out: &MidiOutput, ports: &[MidiOutputPort]) -> Vec<String> {
    ports.iter().map(|p| out.port_name(p).unwrap_or_else(|_| "(unnamed)".to_string())).collect()
}

/// Text for `--list-ports`: one `INDEX: NAME` line per ALSA port (or a one-line explanation that
/// there are none), then one `jack:NAME` line per MIDI input of a running JACK server.
pub fn describe_ports() -> String {
    let alsa = try_midi_output().map(|out| names_of(&out, &out.ports()));
    #[cfg(feature = "jack")]
    let jack = super::jack_port::port_names().unwrap_or_default();
    #[cfg(not(feature = "jack"))]
    let jack = Vec::new();
    describe("output", alsa, &jack)
}

/// The `--list-ports` text of ALSA ports of one `direction` (or why there are none) and JACK
/// ports.
pub(super) fn describe(
    direction: &str,
    alsa: std::result::Result<Vec<String>, String>,
    jack: &[String],
) -> String {
    let mut text = match alsa {
        Ok(names) if names.is_empty() => format!("no MIDI {direction} ports found\n"),
        Ok(names) => names.iter().enumerate().map(|(i, n)| format!("{i}: {n}\n")).collect(),
        Err(why) => format!("no MIDI {direction} ports: {why}\n"),
    };
    for n in jack {
        text += &format!("jack:{n}\n");
    }
    text
}

/// A connection to a MIDI port of either backend.
pub enum PortConnection {
    /// ALSA, through midir.
    Alsa(Box<MidiOutputConnection>),
    /// JACK (a `jack:` name).
    #[cfg(feature = "jack")]
    Jack(super::jack_port::JackConnection),
}

impl std::fmt::Debug for PortConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortConnection::Alsa(_) => f.write_str("PortConnection::Alsa"),
            #[cfg(feature = "jack")]
            PortConnection::Jack(c) => write!(f, "PortConnection::Jack({})", c.target),
        }
    }
}

impl Connection for PortConnection {
    fn play(&mut self, event: MidiEvent) -> bool {
        match self {
            PortConnection::Alsa(c) => c.play(event),
            #[cfg(feature = "jack")]
            PortConnection::Jack(c) => c.play(event),
        }
    }
}

/// Connect to the port `spec` names: `jack:NAME` on the running JACK server, anything else
/// among the ALSA ports (see [`select_port`]).
pub fn connect_any(spec: &str) -> Result<PortConnection> {
    if let Some(rest) = spec.trim().strip_prefix("jack:") {
        #[cfg(feature = "jack")]
        return Ok(PortConnection::Jack(super::jack_port::connect(rest)?));
        #[cfg(not(feature = "jack"))]
        return Err(failure(
            format!("MIDI port \"{spec}\""),
            format!(
                "this cadenza was built without the `jack` feature, so \"jack:{rest}\" cannot be reached"
            ),
        ));
    }
    Ok(PortConnection::Alsa(Box::new(connect(spec)?)))
}

/// The port that `spec` names among `names`: an index; else a case-insensitive exact name;
/// else the only name containing `spec` (case-insensitive).
pub fn select_port(names: &[String], spec: &str) -> Result<usize> {
    select_named(names, spec, "MIDI port", "no MIDI output ports found")
}

/// [`select_port`], its error naming `spec` as `what` and saying `none` when there are no
/// ports at all.
pub(super) fn select_named(names: &[String], spec: &str, what: &str, none: &str) -> Result<usize> {
    let spec = spec.trim();
    if let Ok(i) = spec.parse::<usize>() {
        if i < names.len() {
            return Ok(i);
        }
    }
    let lower = spec.to_lowercase();
    if let Some(i) = names.iter().position(|n| n.to_lowercase() == lower) {
        return Ok(i);
    }
    let hits: Vec<usize> = (0..names.len()).filter(|&i| names[i].to_lowercase().contains(&lower)).collect();
    if let [i] = hits[..] {
        return Ok(i);
    }
    let subject = format!("{what} \"{spec}\"");
    if names.is_empty() {
        return Err(failure(subject, none));
    }
    let list = names.iter().enumerate().map(|(i, n)| format!("{i}: {n}")).collect::<Vec<_>>().join(", ");
    let why = if hits.is_empty() { "no such port" } else { "matches several ports" };
    Err(failure(subject, format!("{why}; available: {list}")))
}

/// Connect to the output port `spec` names (see [`select_port`]).
pub fn connect(spec: &str) -> Result<MidiOutputConnection> {
    let out = midi_output()?;
    let ports = out.ports();
    let names = names_of(&out, &ports);
    let i = select_port(&names, spec)?;
    out.connect(&ports[i], "cadenza-play")
        .map_err(|e| failure(format!("MIDI port \"{}\"", names[i]), format!("cannot connect: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["Midi Through Port-0", "FLUID Synth (1234):Synth input port", "USB MIDI Keyboard"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn selects_by_index_exact_name_or_unique_part() {
        let n = names();
        assert_eq!(select_port(&n, "1").unwrap(), 1);
        assert_eq!(select_port(&n, "usb midi keyboard").unwrap(), 2);
        assert_eq!(select_port(&n, "fluid").unwrap(), 1);
    }

    #[test]
    fn ambiguous_or_unknown_names_list_the_ports() {
        let n = names();
        let e = select_port(&n, "midi").unwrap_err().to_string();
        assert!(e.contains("several") && e.contains("0: Midi Through Port-0"), "{e}");
        let e = select_port(&n, "7").unwrap_err().to_string();
        assert!(e.contains("no such port") && e.contains("\"7\""), "{e}");
        let e = select_port(&[], "x").unwrap_err().to_string();
        assert!(e.contains("no MIDI output ports") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn describe_ports_never_fails() {
        // On a machine without MIDI this is the "no MIDI output ports" line.
        let text = describe_ports();
        assert!(text.ends_with('\n') && !text.trim().is_empty(), "{text:?}");
    }
}
