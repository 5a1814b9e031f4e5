//! The built-in software synthesizer: a General MIDI SoundFont played by rustysynth, usable as a
//! nodi [`Connection`] (directly, or shared through [`Shared`] / [`Locked`]).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use midly::MidiMessage;
use nodi::{Connection, MidiEvent};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::failure;
use crate::error::Result;

/// Read and parse a SoundFont (`.sf2`). Errors name the path in one line.
pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>> {
    let file = std::fs::File::open(path)
        .map_err(|e| failure(path.display(), format!("cannot open SoundFont: {e}")))?;
    let mut reader = std::io::BufReader::new(file);
    SoundFont::new(&mut reader)
        .map(Arc::new)
        .map_err(|e| failure(path.display(), format!("not a usable SoundFont: {e}")))
}

/// A SoundFont synthesizer fed with MIDI events, rendering stereo `f32` audio.
pub struct Synth {
    inner: Synthesizer,
    sample_rate: u32,
    programs: [u8; 16],
}

impl std::fmt::Debug for Synth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synth")
            .field("sample_rate", &self.sample_rate)
            .field("programs", &self.programs)
            .finish()
    }
}

impl Synth {
    /// A synthesizer on `soundfont` rendering at `sample_rate` Hz (16 000 to 192 000).
    pub fn new(soundfont: &Arc<SoundFont>, sample_rate: u32) -> Result<Synth> {
        let rate = i32::try_from(sample_rate).unwrap_or(i32::MAX);
        let mut settings = SynthesizerSettings::new(rate);
        settings.maximum_polyphony = 128;
        let inner = Synthesizer::new(soundfont, &settings)
            .map_err(|e| failure("synthesizer", format!("cannot start: {e}")))?;
        Ok(Synth { inner, sample_rate, programs: [0; 16] })
    }

    /// Samples per second of the rendered audio.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The last program (GM instrument, 0-127) set on each of the 16 channels.
    pub fn programs(&self) -> [u8; 16] {
        self.programs
    }

    /// Apply one MIDI event.
    pub fn send(&mut self, event: MidiEvent) {
        let ch = i32::from(u8::from(event.channel));
        let (command, d1, d2): (i32, i32, i32) = match event.message {
            MidiMessage::NoteOff { key, vel } => (0x80, key.as_int().into(), vel.as_int().into()),
            MidiMessage::NoteOn { key, vel } => (0x90, key.as_int().into(), vel.as_int().into()),
            MidiMessage::Controller { controller, value } => {
                (0xB0, controller.as_int().into(), value.as_int().into())
            }
            MidiMessage::ProgramChange { program } => {
                self.programs[usize::from(u8::from(event.channel))] = program.as_int();
                (0xC0, program.as_int().into(), 0)
            }
            MidiMessage::PitchBend { bend } => {
                let v = i32::from(bend.0.as_int());
                (0xE0, v & 0x7F, v >> 7)
            }
            // Aftertouch is not supported by rustysynth.
            MidiMessage::Aftertouch { .. } | MidiMessage::ChannelAftertouch { .. } => return,
        };
        self.inner.process_midi_message(ch, command, d1, d2);
    }

    /// Render the next `left.len()` frames (`left` and `right` must have the same length).
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len().min(right.len());
        self.inner.render(&mut left[..n], &mut right[..n]);
    }
}

impl Connection for Synth {
    fn play(&mut self, event: MidiEvent) -> bool {
        self.send(event);
        true
    }

    fn all_notes_off(&mut self) {
        super::silence(self, true);
    }
}

/// A synth (or any connection) shared on one thread, e.g. between a nodi `Timer` that renders
/// audio and the `Connection` that feeds it events.
#[derive(Debug, Default)]
pub struct Shared<T>(pub Rc<RefCell<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Rc::clone(&self.0))
    }
}

impl<T: Connection> Connection for Shared<T> {
    fn play(&mut self, event: MidiEvent) -> bool {
        self.0.borrow_mut().play(event)
    }
}

/// A synth (or any connection) shared between threads, e.g. the player and the audio callback.
#[derive(Debug, Default)]
pub struct Locked<T>(pub Arc<Mutex<T>>);

impl<T> Clone for Locked<T> {
    fn clone(&self) -> Self {
        Locked(Arc::clone(&self.0))
    }
}

impl<T: Connection> Connection for Locked<T> {
    fn play(&mut self, event: MidiEvent) -> bool {
        match self.0.lock() {
            Ok(mut c) => c.play(event),
            Err(poisoned) => poisoned.into_inner().play(event),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use midly::num::{u4, u7};

    #[test]
    fn missing_soundfont_is_one_line_naming_the_path() {
        let e = load_soundfont(Path::new("/no/such/font.sf2")).unwrap_err().to_string();
        assert!(e.contains("/no/such/font.sf2") && e.contains("SoundFont") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_soundfont_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.sf2");
        std::fs::write(&p, b"RIFF....sfbk garbage").unwrap();
        let e = load_soundfont(&p).unwrap_err().to_string();
        assert!(e.contains("bad.sf2") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn records_program_changes() {
        let Some(sf) = crate::play::tests::soundfont() else {
            return;
        };
        let mut s = Synth::new(&sf, 44_100).unwrap();
        s.send(MidiEvent {
            channel: u4::new(3),
            message: MidiMessage::ProgramChange { program: u7::new(73) },
        });
        let mut p = [0u8; 16];
        p[3] = 73;
        assert_eq!(s.programs(), p);
    }
}
