//! The event vocabulary: a dense, ordered layout of token ids and their readable names.
//!
//! Layout: `PAD, BOS, EOS`, then NOTE_ON for each pitch in range, NOTE_OFF likewise,
//! TIME_SHIFT 1..=max, VELOCITY bins, and (with [`ProgramMode::Programs`]) 128 PROGRAM tokens and
//! one DRUMS token.

use super::config::{ProgramMode, TokenizerConfig};
use super::TokenId;

/// What a token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Pad,
    Bos,
    Eos,
    NoteOn(u8),
    NoteOff(u8),
    /// Advance time by this many steps (>= 1).
    TimeShift(u16),
    /// Velocity bin for the notes that follow.
    Velocity(u8),
    /// General MIDI program of the notes that follow.
    Program(u8),
    /// The notes that follow are drums.
    Drums,
}

/// Dense numbering of [`Event`]s for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocab {
    pitch_min: u8,
    pitches: u16,
    shifts: u16,
    velocity_bins: u16,
    programs: bool,
    note_on: u16,
    note_off: u16,
    shift: u16,
    velocity: u16,
    program: u16,
    len: u16,
}

impl Vocab {
    /// The vocabulary of `config` (assumed valid).
    pub fn new(config: &TokenizerConfig) -> Self {
        let pitches = u16::from(config.pitch_max) - u16::from(config.pitch_min) + 1;
        let shifts = config.max_shift_steps;
        let velocity_bins = u16::from(config.velocity_bins);
        let programs = config.programs == ProgramMode::Programs;
        let note_on = 3;
        let note_off = note_on + pitches;
        let shift = note_off + pitches;
        let velocity = shift + shifts;
        let program = velocity + velocity_bins;
        let len = program + if programs { 129 } else { 0 };
        Vocab {
            pitch_min: config.pitch_min,
            pitches,
            shifts,
            velocity_bins,
            programs,
            note_on,
            note_off,
            shift,
            velocity,
            program,
            len,
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Lowest and highest pitch with NOTE_ON/NOTE_OFF tokens.
    pub fn pitch_range(&self) -> (u8, u8) {
        (self.pitch_min, (u16::from(self.pitch_min) + self.pitches - 1) as u8)
    }

    /// Always false: PAD/BOS/EOS exist in every vocabulary.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The token for `event`, or `None` if this vocabulary cannot express it.
    pub fn id(&self, event: Event) -> Option<TokenId> {
        let pitch = |p: u8| {
            let i = u16::from(p).checked_sub(u16::from(self.pitch_min))?;
            (i < self.pitches).then_some(i)
        };
        Some(match event {
            Event::Pad => super::PAD,
            Event::Bos => super::BOS,
            Event::Eos => super::EOS,
            Event::NoteOn(p) => self.note_on + pitch(p)?,
            Event::NoteOff(p) => self.note_off + pitch(p)?,
            Event::TimeShift(s) if s >= 1 && s <= self.shifts => self.shift + s - 1,
            Event::Velocity(b) if u16::from(b) < self.velocity_bins => self.velocity + u16::from(b),
            Event::Program(p) if self.programs && p < 128 => self.program + u16::from(p),
            Event::Drums if self.programs => self.program + 128,
            _ => return None,
        })
    }

    /// What `token` means; ids past the end read as PAD.
    pub fn event(&self, token: TokenId) -> Event {
        let t = token;
        match t {
            0 => Event::Pad,
            1 => Event::Bos,
            2 => Event::Eos,
            _ if t < self.note_off => Event::NoteOn(self.pitch_min + (t - self.note_on) as u8),
            _ if t < self.shift => Event::NoteOff(self.pitch_min + (t - self.note_off) as u8),
            _ if t < self.velocity => Event::TimeShift(t - self.shift + 1),
            _ if t < self.program => Event::Velocity((t - self.velocity) as u8),
            _ if t < self.len && t == self.program + 128 => Event::Drums,
            _ if t < self.len => Event::Program((t - self.program) as u8),
            _ => Event::Pad,
        }
    }

    /// Readable name of `token`.
    pub fn name(&self, token: TokenId) -> String {
        match self.event(token) {
            Event::Pad => "PAD".into(),
            Event::Bos => "BOS".into(),
            Event::Eos => "EOS".into(),
            Event::NoteOn(p) => format!("NOTE_ON_{p}"),
            Event::NoteOff(p) => format!("NOTE_OFF_{p}"),
            Event::TimeShift(s) => format!("SHIFT_{s}"),
            Event::Velocity(b) => format!("VELOCITY_{b}"),
            Event::Program(p) => format!("PROGRAM_{p}"),
            Event::Drums => "DRUMS".into(),
        }
    }

    /// The token named `name` (inverse of [`Vocab::name`]).
    pub fn parse(&self, name: &str) -> Option<TokenId> {
        let num = |prefix: &str| name.strip_prefix(prefix).and_then(|s| s.parse::<u16>().ok());
        let event = match name {
            "PAD" => Event::Pad,
            "BOS" => Event::Bos,
            "EOS" => Event::Eos,
            "DRUMS" => Event::Drums,
            _ => {
                if let Some(p) = num("NOTE_ON_") {
                    Event::NoteOn(u8::try_from(p).ok()?)
                } else if let Some(p) = num("NOTE_OFF_") {
                    Event::NoteOff(u8::try_from(p).ok()?)
                } else if let Some(s) = num("SHIFT_") {
                    Event::TimeShift(s)
                } else if let Some(b) = num("VELOCITY_") {
                    Event::Velocity(u8::try_from(b).ok()?)
                } else if let Some(p) = num("PROGRAM_") {
                    Event::Program(u8::try_from(p).ok()?)
                } else {
                    return None;
                }
            }
        };
        self.id(event)
    }

    /// The velocity bin of MIDI velocity `v` (1..=127).
    pub fn velocity_bin(&self, v: u8) -> u8 {
        let v = u16::from(v.clamp(1, 127)) - 1; // 0..=126
        ((v * self.velocity_bins) / 127) as u8
    }

    /// The MIDI velocity a bin decodes to: the middle of the bin's range.
    pub fn bin_velocity(&self, bin: u8) -> u8 {
        let b = u16::from(bin.min((self.velocity_bins - 1) as u8));
        let lo = (b * 127).div_ceil(self.velocity_bins); // smallest v-1 in bin
        let hi = ((b + 1) * 127).div_ceil(self.velocity_bins) - 1; // largest v-1 in bin
        ((lo + hi) / 2 + 1) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn performance_rnn_layout_has_388_events() {
        let v = Vocab::new(&TokenizerConfig::performance_rnn());
        assert_eq!(v.len(), 388 + 3);
    }

    #[test]
    fn every_id_round_trips_through_event_and_name() {
        for cfg in [TokenizerConfig::default(), TokenizerConfig::performance_rnn()] {
            let v = Vocab::new(&cfg);
            for id in 0..v.len() as TokenId {
                assert_eq!(v.id(v.event(id)), Some(id), "{}", v.name(id));
                assert_eq!(v.parse(&v.name(id)), Some(id));
            }
        }
    }

    #[test]
    fn velocity_bins_cover_1_to_127_and_decode_into_themselves() {
        for bins in [1u8, 7, 32, 127, 128] {
            let cfg = TokenizerConfig { velocity_bins: bins, ..Default::default() };
            let v = Vocab::new(&cfg);
            let mut seen = vec![false; bins as usize];
            for vel in 1..=127u8 {
                let b = v.velocity_bin(vel);
                assert!(b < bins);
                seen[b as usize] = true;
                assert_eq!(v.velocity_bin(v.bin_velocity(b)), b, "bins={bins} vel={vel}");
            }
            if bins <= 127 {
                assert!(seen.iter().all(|&s| s), "bins={bins}");
            }
        }
    }
}
