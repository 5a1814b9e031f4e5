//! The event vocabulary: a dense, ordered layout of token ids and their readable names.
//!
//! Every layout starts with `PAD, BOS, EOS`; then come segments of one kind of event each, in an
//! order fixed per scheme:
//!
//! - `midi-like`: NOTE_ON and NOTE_OFF for each pitch in range, SHIFT 1..=max, VELOCITY bins;
//! - `tsd`: PITCH for each pitch in range, VELOCITY bins, DURATION 1..=max_note_steps, SHIFT
//!   1..=max;
//! - `remi`: BAR, TIMESIG for each meter of [`super::bars::TIME_SIGNATURES`], POSITION
//!   0..bar steps, PITCH, VELOCITY, DURATION;
//!
//! and, with [`ProgramMode::Programs`], 128 PROGRAM tokens and one DRUMS token last (repeated
//! for each further instance when `tracks` keeps instruments of one program apart:
//! `PROGRAM_p_TRACK_2`, ..., `DRUMS_TRACK_2`, ...). The
//! `midi-like` layout is the one every checkpoint written before schemes existed uses.

use super::bars;
use super::config::{ProgramMode, Scheme, TimeMode, TokenizerConfig};
use super::controls::{self, Control};
use super::TokenId;

/// What a token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Pad,
    Bos,
    Eos,
    /// `midi-like`: a note of this pitch starts now.
    NoteOn(u8),
    /// `midi-like`: the oldest sounding note of this pitch ends now.
    NoteOff(u8),
    /// Advance time by this many steps (>= 1).
    TimeShift(u16),
    /// Velocity bin: of the NOTE_ONs that follow (`midi-like`), of this note (`tsd`, `remi`).
    Velocity(u8),
    /// General MIDI program of the notes that follow, and which instance of it (0 for the
    /// first; others exist when the configuration's `tracks` keeps several apart).
    Program(u8, u8),
    /// The notes that follow are drums (of this instance of the kit).
    Drums(u8),
    /// `tsd`, `remi`: a note of this pitch starts now (its VELOCITY and DURATION follow).
    Pitch(u8),
    /// `tsd`, `remi`: the length in steps (>= 1) of the note whose PITCH came before.
    Duration(u16),
    /// `remi`: a bar line.
    Bar,
    /// `remi`: the onset, in steps from the start of the current bar, of the notes that follow.
    Position(u16),
    /// `remi`: the meter (numerator, denominator) from this bar on.
    TimeSig(u8, u8),
    /// Control prefix: the piece's key, `tonic + 12 * minor` (see [`super::controls`]).
    Key(u8),
    /// Control prefix: the piece's tempo bin.
    Tempo(u8),
    /// Control prefix: the piece's note-density bin.
    Density(u8),
    /// Control prefix: an instrument that plays (program 0..=127, 128 for drums).
    Instrument(u8),
}

/// The kinds of events, one per segment of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoteOn,
    NoteOff,
    Shift,
    Velocity,
    Program,
    Pitch,
    Duration,
    Bar,
    Position,
    TimeSig,
    Key,
    Tempo,
    Density,
    Instrument,
}

/// One segment of a layout: `count` tokens of `kind` from id `start` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    kind: Kind,
    start: u16,
    count: u16,
}

const MAX_SEGMENTS: usize = 12;
const KINDS: usize = 14;

/// Dense numbering of [`Event`]s for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocab {
    scheme: Scheme,
    /// Whether the layout has control tokens.
    controls: bool,
    tracks: u8,
    pitch_min: u8,
    pitches: u16,
    velocity_bins: u16,
    segments: [Segment; MAX_SEGMENTS],
    used: usize,
    /// The segment of each kind (count 0 when the layout has none), indexed by `Kind as usize`.
    by_kind: [Segment; KINDS],
    len: u16,
}

impl Vocab {
    /// The vocabulary of `config` (assumed valid).
    pub fn new(config: &TokenizerConfig) -> Self {
        let pitches = u16::from(config.pitch_max) - u16::from(config.pitch_min) + 1;
        let shifts = config.max_shift_steps;
        let velocity_bins = u16::from(config.velocity_bins);
        let durations = config.max_note_steps.min(super::config::MAX_DURATION_STEPS) as u16;
        let positions = match config.time {
            TimeMode::Beats { steps_per_beat } => bars::max_bar_steps(steps_per_beat),
            TimeMode::Seconds { .. } => 0,
        };
        let layout: &[(Kind, u16)] = match config.scheme {
            Scheme::MidiLike => &[
                (Kind::NoteOn, pitches),
                (Kind::NoteOff, pitches),
                (Kind::Shift, shifts),
                (Kind::Velocity, velocity_bins),
            ],
            Scheme::Tsd => &[
                (Kind::Pitch, pitches),
                (Kind::Velocity, velocity_bins),
                (Kind::Duration, durations),
                (Kind::Shift, shifts),
            ],
            Scheme::Remi => &[
                (Kind::Bar, 1),
                (Kind::TimeSig, bars::TIME_SIGNATURES.len() as u16),
                (Kind::Position, positions),
                (Kind::Pitch, pitches),
                (Kind::Velocity, velocity_bins),
                (Kind::Duration, durations),
            ],
        };
        let empty = Segment { kind: Kind::Bar, start: 0, count: 0 };
        let mut segments = [empty; MAX_SEGMENTS];
        let mut used = 0;
        let mut next = 3u16;
        let instances = u16::from(config.tracks.max(1));
        let programs = (config.programs == ProgramMode::Programs).then_some((Kind::Program, 129 * instances));
        let c = config.controls;
        let controls = [
            (Control::Key, Kind::Key, controls::KEYS),
            (Control::Tempo, Kind::Tempo, controls::TEMPO_BINS),
            (Control::Density, Kind::Density, controls::DENSITY_BINS),
            (Control::Instruments, Kind::Instrument, controls::INSTRUMENT_TOKENS),
        ]
        .into_iter()
        .filter(|&(control, ..)| c.has(control))
        .map(|(_, kind, count)| (kind, count as u16));
        for (kind, count) in layout.iter().copied().chain(programs).chain(controls) {
            segments[used] = Segment { kind, start: next, count };
            used += 1;
            next += count;
        }
        let mut by_kind = [empty; KINDS];
        for seg in &segments[..used] {
            by_kind[seg.kind as usize] = *seg;
        }
        Vocab {
            scheme: config.scheme,
            controls: !c.is_empty(),
            tracks: config.tracks.max(1),
            pitch_min: config.pitch_min,
            pitches,
            velocity_bins,
            segments,
            used,
            by_kind,
            len: next,
        }
    }

    /// The scheme this vocabulary belongs to.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Lowest and highest pitch with note tokens.
    pub fn pitch_range(&self) -> (u8, u8) {
        (self.pitch_min, (u16::from(self.pitch_min) + self.pitches - 1) as u8)
    }

    /// Always false: PAD/BOS/EOS exist in every vocabulary.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn segment(&self, kind: Kind) -> Option<Segment> {
        let s = self.by_kind[kind as usize];
        (s.count > 0).then_some(s)
    }

    /// The token for `event`, or `None` if this vocabulary cannot express it.
    pub fn id(&self, event: Event) -> Option<TokenId> {
        let at = |kind: Kind, index: u16| {
            let seg = self.segment(kind)?;
            (index < seg.count).then_some(seg.start + index)
        };
        let pitch = |p: u8| u16::from(p).checked_sub(u16::from(self.pitch_min));
        match event {
            Event::Pad => Some(super::PAD),
            Event::Bos => Some(super::BOS),
            Event::Eos => Some(super::EOS),
            Event::NoteOn(p) => at(Kind::NoteOn, pitch(p)?),
            Event::NoteOff(p) => at(Kind::NoteOff, pitch(p)?),
            Event::Pitch(p) => at(Kind::Pitch, pitch(p)?),
            Event::TimeShift(s) => at(Kind::Shift, s.checked_sub(1)?),
            Event::Duration(d) => at(Kind::Duration, d.checked_sub(1)?),
            Event::Velocity(b) => at(Kind::Velocity, u16::from(b)),
            Event::Program(p, i) if p < 128 && i < self.tracks => {
                at(Kind::Program, u16::from(i) * 129 + u16::from(p))
            }
            Event::Program(..) => None,
            Event::Drums(i) if i < self.tracks => at(Kind::Program, u16::from(i) * 129 + 128),
            Event::Drums(_) => None,
            Event::Bar => at(Kind::Bar, 0),
            Event::Position(k) => at(Kind::Position, k),
            Event::TimeSig(n, d) => at(Kind::TimeSig, bars::time_signature_index(n, d)? as u16),
            Event::Key(k) => at(Kind::Key, u16::from(k)),
            Event::Tempo(b) => at(Kind::Tempo, u16::from(b)),
            Event::Density(b) => at(Kind::Density, u16::from(b)),
            Event::Instrument(p) => at(Kind::Instrument, u16::from(p)),
        }
    }

    /// What `token` means; ids past the end read as PAD.
    pub fn event(&self, token: TokenId) -> Event {
        match token {
            0 => return Event::Pad,
            1 => return Event::Bos,
            2 => return Event::Eos,
            _ => {}
        }
        let Some(seg) =
            self.segments[..self.used].iter().find(|s| token >= s.start && token - s.start < s.count)
        else {
            return Event::Pad;
        };
        let i = token - seg.start;
        let pitch = self.pitch_min.wrapping_add(i as u8);
        match seg.kind {
            Kind::NoteOn => Event::NoteOn(pitch),
            Kind::NoteOff => Event::NoteOff(pitch),
            Kind::Pitch => Event::Pitch(pitch),
            Kind::Shift => Event::TimeShift(i + 1),
            Kind::Duration => Event::Duration(i + 1),
            Kind::Velocity => Event::Velocity(i as u8),
            Kind::Program if i % 129 == 128 => Event::Drums((i / 129) as u8),
            Kind::Program => Event::Program((i % 129) as u8, (i / 129) as u8),
            Kind::Bar => Event::Bar,
            Kind::Position => Event::Position(i),
            Kind::TimeSig => {
                let (n, d) = bars::TIME_SIGNATURES[usize::from(i)];
                Event::TimeSig(n, d)
            }
            Kind::Key => Event::Key(i as u8),
            Kind::Tempo => Event::Tempo(i as u8),
            Kind::Density => Event::Density(i as u8),
            Kind::Instrument => Event::Instrument(i as u8),
        }
    }

    /// Whether the layout has control tokens ([`super::controls`]).
    pub fn has_controls(&self) -> bool {
        self.controls
    }

    /// Where the control tokens lie, when there are any: `(first, instruments, end)`: they are
    /// the ids `first..end`, the last of the layout, of which `instruments..end` are the
    /// instrument controls (`instruments == end` without them).
    pub fn control_span(&self) -> Option<(TokenId, TokenId, u32)> {
        if !self.controls {
            return None;
        }
        let first = [Kind::Key, Kind::Tempo, Kind::Density, Kind::Instrument]
            .into_iter()
            .filter_map(|k| self.segment(k))
            .map(|s| s.start)
            .min()?;
        let instruments = self.segment(Kind::Instrument).map_or(self.len, |s| s.start);
        Some((first, instruments, u32::from(self.len)))
    }

    /// Whether `token` selects an instrument (PROGRAM or DRUMS), in every scheme.
    pub fn is_instrument(&self, token: TokenId) -> bool {
        matches!(self.event(token), Event::Program(..) | Event::Drums(_))
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
            Event::Program(p, 0) => format!("PROGRAM_{p}"),
            Event::Program(p, i) => format!("PROGRAM_{p}_TRACK_{}", u16::from(i) + 1),
            Event::Drums(0) => "DRUMS".into(),
            Event::Drums(i) => format!("DRUMS_TRACK_{}", u16::from(i) + 1),
            Event::Pitch(p) => format!("PITCH_{p}"),
            Event::Duration(d) => format!("DURATION_{d}"),
            Event::Bar => "BAR".into(),
            Event::Position(k) => format!("POSITION_{k}"),
            Event::TimeSig(n, d) => format!("TIMESIG_{n}_{d}"),
            Event::Key(k) => format!("KEY_{}", controls::key_name(k)),
            Event::Tempo(b) => format!("TEMPO_{b}"),
            Event::Density(b) => format!("DENSITY_{b}"),
            Event::Instrument(128) => "INSTRUMENT_DRUMS".into(),
            Event::Instrument(p) => format!("INSTRUMENT_{p}"),
        }
    }

    /// The token named `name` (inverse of [`Vocab::name`]).
    pub fn parse(&self, name: &str) -> Option<TokenId> {
        let num = |prefix: &str| name.strip_prefix(prefix).and_then(|s| s.parse::<u16>().ok());
        let byte = |prefix: &str| num(prefix).and_then(|v| u8::try_from(v).ok());
        let event = match name {
            "PAD" => Event::Pad,
            "BOS" => Event::Bos,
            "EOS" => Event::Eos,
            "DRUMS" => Event::Drums(0),
            "BAR" => Event::Bar,
            "INSTRUMENT_DRUMS" => Event::Instrument(128),
            _ => {
                if let Some(p) = byte("NOTE_ON_") {
                    Event::NoteOn(p)
                } else if let Some(p) = byte("NOTE_OFF_") {
                    Event::NoteOff(p)
                } else if let Some(s) = num("SHIFT_") {
                    Event::TimeShift(s)
                } else if let Some(b) = byte("VELOCITY_") {
                    Event::Velocity(b)
                } else if let Some(p) = byte("PROGRAM_") {
                    Event::Program(p, 0)
                } else if let Some((p, i)) = name.strip_prefix("PROGRAM_").and_then(|r| track_of(r)) {
                    Event::Program(p, i)
                } else if let Some((0, i)) = name.strip_prefix("DRUMS").and_then(|r| track_of(r)) {
                    Event::Drums(i)
                } else if let Some(p) = byte("PITCH_") {
                    Event::Pitch(p)
                } else if let Some(d) = num("DURATION_") {
                    Event::Duration(d)
                } else if let Some(k) = num("POSITION_") {
                    Event::Position(k)
                } else if let Some(k) = name.strip_prefix("KEY_").and_then(controls::parse_key_name) {
                    Event::Key(k)
                } else if let Some(b) = byte("TEMPO_") {
                    Event::Tempo(b)
                } else if let Some(b) = byte("DENSITY_") {
                    Event::Density(b)
                } else if let Some(p) = byte("INSTRUMENT_").filter(|&p| p < 128) {
                    Event::Instrument(p)
                } else if let Some(rest) = name.strip_prefix("TIMESIG_") {
                    let (n, d) = rest.split_once('_')?;
                    Event::TimeSig(n.parse().ok()?, d.parse().ok()?)
                } else {
                    return None;
                }
            }
        };
        self.id(event)
    }

    /// How many instances of one program this vocabulary has tokens for.
    pub fn tracks(&self) -> u8 {
        self.tracks
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

/// `"{n}_TRACK_{k}"` as `(n, k - 1)` and `"_TRACK_{k}"` as `(0, k - 1)`, for k >= 2.
fn track_of(rest: &str) -> Option<(u8, u8)> {
    let (n, k) = rest.split_once("_TRACK_")?;
    let n = if n.is_empty() { 0 } else { n.parse().ok().filter(|_| !n.starts_with('0') || n == "0")? };
    let k: u8 = k.parse().ok()?;
    (k >= 2).then(|| (n, k - 1))
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
    fn layouts_of_the_duration_schemes() {
        // 88 pitches, 32 velocity bins, 192 durations, 48 shifts, 129 instrument tokens.
        let tsd = Vocab::new(&TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() });
        assert_eq!(tsd.len(), 3 + 88 + 32 + 192 + 48 + 129);
        assert_eq!(tsd.name(3), "PITCH_21");
        // BAR, 90 meters, 144 positions (12 beats of 12 steps), pitches, bins, durations.
        let remi = Vocab::new(&TokenizerConfig { scheme: Scheme::Remi, ..TokenizerConfig::default() });
        assert_eq!(remi.len(), 3 + 1 + 90 + 144 + 88 + 32 + 192 + 129);
        assert_eq!(remi.name(3), "BAR");
        assert_eq!(remi.parse("TIMESIG_3_4").map(|t| remi.event(t)), Some(Event::TimeSig(3, 4)));
        assert_eq!(remi.parse("TIMESIG_5_3"), None);
        assert_eq!(remi.parse("NOTE_ON_60"), None, "no NOTE_ON in remi");
        let midi = Vocab::new(&TokenizerConfig::default());
        assert_eq!(midi.parse("PITCH_60"), None, "no PITCH in midi-like");
        assert_eq!(midi.parse("PROGRAM_5_TRACK_2"), None, "one instance per program by default");
    }

    #[test]
    fn tracks_append_instances_after_the_first_layout() {
        let one = Vocab::new(&TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() });
        let three =
            Vocab::new(&TokenizerConfig { scheme: Scheme::Tsd, tracks: 3, ..TokenizerConfig::default() });
        assert_eq!(three.len(), one.len() + 2 * 129);
        for id in 0..one.len() as TokenId {
            assert_eq!(three.event(id), one.event(id), "the first instance keeps its ids");
        }
        let second = three.parse("PROGRAM_40_TRACK_2").unwrap();
        assert_eq!(three.event(second), Event::Program(40, 1));
        assert_eq!(three.name(three.id(Event::Drums(2)).unwrap()), "DRUMS_TRACK_3");
        assert_eq!(three.id(Event::Drums(3)), None);
        assert_eq!(three.parse("PROGRAM_40_TRACK_1"), None, "the first instance is plain PROGRAM_40");
        assert!(three.is_instrument(second));
    }

    #[test]
    fn every_id_round_trips_through_event_and_name() {
        let tsd = TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() };
        let remi = TokenizerConfig { scheme: Scheme::Remi, ..TokenizerConfig::default() };
        let piano = TokenizerConfig { programs: ProgramMode::MergePiano, ..remi };
        let tracked = TokenizerConfig { tracks: 3, ..tsd };
        let all = "all".parse().unwrap();
        let controlled = TokenizerConfig { controls: all, ..remi };
        let midi_controlled = TokenizerConfig { controls: all, tracks: 2, ..TokenizerConfig::default() };
        for cfg in [
            TokenizerConfig::default(),
            TokenizerConfig::performance_rnn(),
            tsd,
            remi,
            piano,
            tracked,
            controlled,
            midi_controlled,
        ] {
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
