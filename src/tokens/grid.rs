//! Notes on the token grid: quantizing a [`Piece`] onto the grid, the canonical form both the
//! encoder and the decoder work with, and turning grid notes back into a [`Piece`].
//!
//! The canonical form is what makes the tokenizer lossless (see the `tokens` module doc): a list
//! of [`GridNote`]s in which, for every (part, pitch), notes sorted by start also have sorted
//! ends (so a FIFO decoder pairs each NOTE_OFF with the right NOTE_ON), no note is longer than
//! `max_note_steps`, and no two notes are identical.

use super::config::{ProgramMode, TimeMode, TokenizerConfig};
use super::gm_names;
use super::vocab::{Event, Vocab};
use crate::midi::{Instrument, Note, Piece, TempoChange, TempoMap, TimeSignature, DRUM_CHANNEL};

/// MIDI's default tempo, 120 bpm.
const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

/// How a decoded piece is laid out beyond its notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Tempo of the piece, microseconds per quarter note (default 500 000: 120 bpm). In seconds
    /// mode it is rounded to whole milliseconds and only sets how the fixed-time grid is
    /// notated; in beats mode it sets how fast the beats go.
    pub micros_per_beat: u32,
    /// Time signature `(numerator, denominator)` written at tick 0 (default: none, which MIDI
    /// reads as 4/4).
    pub time_signature: Option<(u8, u8)>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { micros_per_beat: DEFAULT_MICROS_PER_BEAT, time_signature: None }
    }
}

impl DecodeOptions {
    /// Options that keep `piece`'s opening tempo and time signature (e.g. a generation seed's).
    pub fn from_piece(piece: &Piece) -> Self {
        DecodeOptions {
            micros_per_beat: piece
                .tempos
                .first()
                .map_or(DEFAULT_MICROS_PER_BEAT, |t| t.micros_per_beat.max(1)),
            time_signature: piece.time_signatures.first().map(|ts| (ts.numerator, ts.denominator)),
        }
    }
}

/// Which instrument a note belongs to in the token stream: a program or the drum kit, and its
/// instance (0 unless [`TokenizerConfig::tracks`] keeps several parts of one program apart).
/// Orders programs before drums, each by instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Part {
    /// A pitched General MIDI program (0-127), instance.
    Program(u8, u8),
    /// The drum kit, instance.
    Drums(u8),
}

impl Part {
    /// The first instance of program `p`.
    pub(super) fn program(p: u8) -> Part {
        Part::Program(p.min(127), 0)
    }

    /// The first drum kit.
    pub(super) const DRUMS: Part = Part::Drums(0);

    /// The program number, 128 for drums.
    pub(super) fn program_code(self) -> u8 {
        match self {
            Part::Program(p, _) => p.min(127),
            Part::Drums(_) => 128,
        }
    }

    /// Which instance of its program this part is (0 for the first).
    pub(super) fn instance(self) -> u8 {
        match self {
            Part::Program(_, i) | Part::Drums(i) => i,
        }
    }

    /// Whether this is a drum kit.
    pub(super) fn is_drums(self) -> bool {
        matches!(self, Part::Drums(_))
    }

    /// This part's program (or drums) as instance `i`.
    pub(super) fn with_instance(self, i: u8) -> Part {
        match self {
            Part::Program(p, _) => Part::Program(p, i),
            Part::Drums(_) => Part::Drums(i),
        }
    }

    /// A number below 2^12 that orders parts as `Ord` does (programs by number, drums last,
    /// each by instance).
    pub(super) fn code(self) -> u16 {
        u16::from(self.program_code()) * u16::from(super::config::MAX_TRACKS) + u16::from(self.instance())
    }

    /// The PROGRAM or DRUMS event that selects this part.
    pub(super) fn event(self) -> Event {
        match self {
            Part::Program(p, i) => Event::Program(p, i),
            Part::Drums(i) => Event::Drums(i),
        }
    }

    /// The part `event` selects, if it selects one.
    pub(super) fn of_event(event: Event) -> Option<Part> {
        match event {
            Event::Program(p, i) => Some(Part::Program(p, i)),
            Event::Drums(i) => Some(Part::Drums(i)),
            _ => None,
        }
    }
}

/// A note on the grid: times in steps, velocity as a bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GridNote {
    pub part: Part,
    pub pitch: u8,
    pub start: u64,
    pub end: u64,
    pub bin: u8,
}

/// Maps a piece's ticks to grid steps.
pub(super) enum StepClock {
    Beats { steps_per_beat: u128, ticks_per_beat: u128 },
    Seconds { map: TempoMap, step_ms: f64 },
}

impl StepClock {
    pub(super) fn new(config: &TokenizerConfig, piece: &Piece) -> Self {
        match config.time {
            TimeMode::Beats { steps_per_beat } => StepClock::Beats {
                steps_per_beat: u128::from(steps_per_beat),
                ticks_per_beat: u128::from(piece.ticks_per_beat.max(1)),
            },
            TimeMode::Seconds { step_ms } => {
                StepClock::Seconds { map: TempoMap::new(piece), step_ms: f64::from(step_ms) }
            }
        }
    }

    /// The grid step nearest to `tick` (halves round up).
    pub(super) fn step(&self, tick: u64) -> u64 {
        match self {
            StepClock::Beats { steps_per_beat, ticks_per_beat } => {
                // u64 arithmetic whenever it cannot overflow (any real file: ticks below 2^40),
                // as u128 division costs several times more and runs twice per note.
                let (spb, tpb) = (*steps_per_beat as u64, *ticks_per_beat as u64);
                if tick < 1 << 40 {
                    return (2 * tick * spb + tpb) / (2 * tpb);
                }
                let s = (2 * u128::from(tick) * steps_per_beat + ticks_per_beat) / (2 * ticks_per_beat);
                u64::try_from(s).unwrap_or(u64::MAX / 2)
            }
            StepClock::Seconds { map, step_ms } => {
                let s = (map.seconds_at(tick) * 1000.0 / step_ms).round();
                // `as` saturates; keep far from overflow when adding durations.
                (s as u64).min(u64::MAX / 2)
            }
        }
    }

    /// Fractional grid position of `tick` (for cut points).
    fn position(&self, tick: f64) -> f64 {
        match self {
            StepClock::Beats { steps_per_beat, ticks_per_beat } => {
                tick * *steps_per_beat as f64 / *ticks_per_beat as f64
            }
            StepClock::Seconds { map, step_ms } => {
                let t = tick.max(0.0);
                // Interpolate between the two neighbouring ticks (the map takes whole ticks).
                let lo = t.floor();
                let frac = t - lo;
                let lo_t = lo.min(u64::MAX as f64 / 4.0) as u64;
                let a = map.seconds_at(lo_t);
                let b = map.seconds_at(lo_t.saturating_add(1));
                (a + (b - a) * frac) * 1000.0 / step_ms
            }
        }
    }
}

/// The grid position (in steps, fractional) of the cut point `beats` beats and/or `seconds`
/// seconds into `piece`; the earlier cut wins when both are given, `+inf` when neither is.
pub(super) fn cut_position(
    config: &TokenizerConfig,
    piece: &Piece,
    beats: Option<f64>,
    seconds: Option<f64>,
) -> f64 {
    let clock = StepClock::new(config, piece);
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let sanitize = |x: f64| if x.is_nan() { 0.0 } else { x.max(0.0) };
    let mut cut = f64::INFINITY;
    if let Some(b) = beats {
        let b = sanitize(b);
        let pos = match config.time {
            TimeMode::Beats { steps_per_beat } => b * f64::from(steps_per_beat),
            TimeMode::Seconds { .. } if b.is_finite() => clock.position(b * tpb),
            TimeMode::Seconds { .. } => f64::INFINITY,
        };
        cut = cut.min(pos);
    }
    if let Some(s) = seconds {
        let s = sanitize(s);
        let pos = match config.time {
            TimeMode::Seconds { step_ms } => s * 1000.0 / f64::from(step_ms),
            TimeMode::Beats { .. } => {
                if s.is_finite() {
                    clock.position(TempoMap::new(piece).tick_at(s) as f64)
                } else {
                    f64::INFINITY
                }
            }
        };
        cut = cut.min(pos);
    }
    cut
}

/// The part an instrument's notes go to, or `None` when the configuration drops it.
/// (Its first instance: [`assign_instances`] numbers them.)
fn part_of(config: &TokenizerConfig, inst: &Instrument) -> Option<Part> {
    match (config.programs, inst.is_drum) {
        (ProgramMode::MergePiano, true) => None,
        (ProgramMode::MergePiano, false) => Some(Part::program(0)),
        (ProgramMode::Programs, true) => Some(Part::DRUMS),
        (ProgramMode::Programs, false) => Some(Part::program(inst.program)),
    }
}

/// Every note of `piece` the configuration keeps, quantized onto the grid (not yet canonical):
/// starts and ends rounded to the nearest step, a note whose end does not come after its start
/// made one step long, pitches outside `pitch_min..=pitch_max` dropped.
pub(super) fn quantize_notes(config: &TokenizerConfig, vocab: &Vocab, piece: &Piece) -> Vec<GridNote> {
    let clock = StepClock::new(config, piece);
    let mut out = Vec::with_capacity(piece.note_count());
    if config.tracks > 1 {
        return assign_instances(config, piece, |inst, out| {
            quantize_instrument(config, vocab, &clock, inst, out)
        });
    }
    for inst in &piece.instruments {
        quantize_instrument(config, vocab, &clock, inst, &mut out);
    }
    out
}

/// Push the grid notes of one instrument (its first instance) onto `out`.
fn quantize_instrument(
    config: &TokenizerConfig,
    vocab: &Vocab,
    clock: &StepClock,
    inst: &Instrument,
    out: &mut Vec<GridNote>,
) {
    let Some(part) = part_of(config, inst) else { return };
    for n in &inst.notes {
        if n.pitch < config.pitch_min || n.pitch > config.pitch_max {
            continue;
        }
        let start = clock.step(n.start);
        let mut end = clock.step(n.end);
        if end <= start {
            end = start.saturating_add(1);
        }
        out.push(GridNote { part, pitch: n.pitch, start, end, bin: vocab.velocity_bin(n.velocity) });
    }
}

/// The grid notes of every instrument of `piece` (each quantized by `quantize`), the
/// instruments of one program (or the drum kits) numbered as its instances 0, 1, ... up to
/// `config.tracks - 1`, the rest merged into the last.
///
/// The numbering is canonical, so that a decoded piece encodes to the same tokens: instruments
/// of one program are ranked by their canonical notes (first by their first onset, then note by
/// note), and instruments left without a note do not count.
fn assign_instances(
    config: &TokenizerConfig,
    piece: &Piece,
    quantize: impl Fn(&Instrument, &mut Vec<GridNote>),
) -> Vec<GridNote> {
    let mut each: Vec<Vec<GridNote>> = Vec::with_capacity(piece.instruments.len());
    for inst in &piece.instruments {
        let mut notes = Vec::with_capacity(inst.notes.len());
        quantize(inst, &mut notes);
        if notes.is_empty() {
            continue;
        }
        let mut notes = canonicalize(notes, config.max_note_steps);
        notes.sort_unstable_by_key(|n| (n.start, n.pitch, n.end, n.bin));
        each.push(notes);
    }
    let key = |n: &GridNote| (n.start, n.pitch, n.end, n.bin);
    each.sort_by(|a, b| a[0].part.cmp(&b[0].part).then_with(|| a.iter().map(key).cmp(b.iter().map(key))));
    let last = config.tracks.max(1) - 1;
    let mut out = Vec::with_capacity(each.iter().map(Vec::len).sum());
    let mut previous: Option<Part> = None;
    let mut instance = 0u8;
    for notes in each {
        let part = notes[0].part;
        instance = if previous == Some(part) { instance.saturating_add(1).min(last) } else { 0 };
        previous = Some(part);
        out.extend(notes.into_iter().map(|n| GridNote { part: part.with_instance(instance), ..n }));
    }
    out
}

/// The canonical form of `notes`, sorted by `(part, pitch, start, end)`:
///
/// 1. for each (part, pitch), the k-th earliest start is paired with the k-th earliest end (the
///    pairing a FIFO decoder makes; it changes only notes nested inside another note of the
///    same pitch), the velocity staying with the start;
/// 2. each note is cut to at most `max_note_steps`;
/// 3. identical notes (same part, pitch, start, end) are merged, keeping the loudest bin;
/// 4. the instances of each program are numbered by [`renumber_instances`]'s rule.
///
/// Every input note must have `end > start`; so does every output note. Idempotent.
pub(super) fn canonicalize(mut notes: Vec<GridNote>, max_note_steps: u32) -> Vec<GridNote> {
    let max_len = u64::from(max_note_steps.max(1));
    // Sorting on one packed integer is several times faster than on the tuple; pieces whose
    // times do not fit the packing (never real music) take the tuple.
    if notes.iter().all(|n| n.start < 1 << 45 && n.end < 1 << 56) {
        let mut keyed: Vec<(u128, GridNote)> = notes
            .iter()
            .map(|n| {
                let hi = u64::from(n.part.code()) << 52 | u64::from(n.pitch & 0x7F) << 45 | n.start;
                ((u128::from(hi) << 64) | u128::from(n.end << 8 | u64::from(n.bin)), *n)
            })
            .collect();
        keyed.sort_unstable_by_key(|(k, _)| *k);
        notes.clear();
        notes.extend(keyed.into_iter().map(|(_, n)| n));
    } else {
        notes.sort_unstable_by_key(|n| (n.part, n.pitch, n.start, n.end, n.bin));
    }
    let mut i = 0;
    let mut ends = Vec::new();
    while i < notes.len() {
        let key = (notes[i].part, notes[i].pitch);
        let mut j = i + 1;
        while j < notes.len() && (notes[j].part, notes[j].pitch) == key {
            j += 1;
        }
        ends.clear();
        ends.extend(notes[i..j].iter().map(|n| n.end));
        ends.sort_unstable();
        for (n, &e) in notes[i..j].iter_mut().zip(&ends) {
            // The k-th end is after the k-th start: at least k notes end by then, each of which
            // started strictly earlier. The `max` only guards against broken input.
            n.end = e.max(n.start.saturating_add(1)).min(n.start.saturating_add(max_len));
        }
        // Sorted starts paired with sorted ends (each capped by a monotone rule) stay sorted by
        // (start, end); re-sort only if broken input defeated that.
        let group = &mut notes[i..j];
        if !group.windows(2).all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)) {
            group.sort_unstable_by_key(|n| (n.start, n.end));
        }
        i = j;
    }
    // Identical notes (now adjacent) merge into one, keeping the loudest.
    let mut out: Vec<GridNote> = Vec::with_capacity(notes.len());
    for n in notes {
        match out.last_mut() {
            Some(last)
                if (last.part, last.pitch, last.start, last.end) == (n.part, n.pitch, n.start, n.end) =>
            {
                last.bin = last.bin.max(n.bin);
            }
            _ => out.push(n),
        }
    }
    renumber_instances(out)
}

/// Number the instances of each program (and of the drum kit) 0, 1, ... in the order of their
/// notes, sorted by (start, pitch, end, bin) and compared as lists (so mostly by first onset),
/// whatever instance numbers they came with: a decoded piece then encodes to the tokens of its
/// canonical numbering. `notes` are sorted as [`canonicalize`] sorts them, and stay so.
fn renumber_instances(notes: Vec<GridNote>) -> Vec<GridNote> {
    if notes.iter().all(|n| n.part.instance() == 0) {
        return notes;
    }
    let mut parts: Vec<(Part, Vec<(u64, u8, u64, u8)>)> = Vec::new();
    for n in &notes {
        match parts.last_mut() {
            Some((p, list)) if *p == n.part => list.push((n.start, n.pitch, n.end, n.bin)),
            _ => parts.push((n.part, vec![(n.start, n.pitch, n.end, n.bin)])),
        }
    }
    for (_, list) in &mut parts {
        list.sort_unstable();
    }
    parts.sort_by(|a, b| (a.0.program_code(), &a.1).cmp(&(b.0.program_code(), &b.1)));
    let mut renamed: Vec<(Part, Part)> = Vec::with_capacity(parts.len());
    let mut previous: Option<(u8, u8)> = None;
    for (part, _) in &parts {
        let instance = match previous {
            Some((code, i)) if code == part.program_code() => i + 1,
            _ => 0,
        };
        previous = Some((part.program_code(), instance));
        renamed.push((*part, part.with_instance(instance)));
    }
    if renamed.iter().all(|(a, b)| a == b) {
        return notes;
    }
    renamed.sort_unstable();
    let mut notes = notes;
    for n in &mut notes {
        if let Ok(i) = renamed.binary_search_by(|(old, _)| old.cmp(&n.part)) {
            n.part = renamed[i].1;
        }
    }
    notes.sort_unstable_by_key(|n| (n.part, n.pitch, n.start, n.end));
    notes
}

/// Resolution of decoded pieces: `(ticks_per_beat, ticks per grid step, micros_per_beat)`.
///
/// - Beats mode: `ticks_per_beat` is the smallest multiple of `steps_per_beat` that is at least
///   480 (or `steps_per_beat` itself when that is larger), so every step is a whole number of
///   ticks (12 steps per beat → 480 ticks per beat, 40 ticks per step). The tempo is
///   `options.micros_per_beat`.
/// - Seconds mode: one tick is one millisecond: the tempo is `options.micros_per_beat` rounded
///   to a whole number of milliseconds per beat (at least 1) and `ticks_per_beat` is that
///   number (120 bpm → 500 ticks per beat), so a step is `step_ms` ticks.
pub(super) fn output_resolution(config: &TokenizerConfig, options: &DecodeOptions) -> (u16, u64, u32) {
    match config.time {
        TimeMode::Beats { steps_per_beat } => {
            let spb = steps_per_beat.max(1);
            let k = 480u16.div_ceil(spb).max(1);
            (spb * k, u64::from(k), options.micros_per_beat.max(1))
        }
        TimeMode::Seconds { step_ms } => {
            let ms = options.micros_per_beat.saturating_add(500) / 1000;
            let tpb = u16::try_from(ms.max(1)).unwrap_or(u16::MAX);
            (tpb, u64::from(step_ms), u32::from(tpb) * 1000)
        }
    }
}

/// Channels for pitched instruments, in order of use (9 is the drum channel).
const PITCHED_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// A piece holding canonical `notes` at the decoder's resolution (see [`output_resolution`]).
///
/// One instrument per part, ordered by its first note (ties: programs in number order, then
/// drums, each by instance); pitched instruments take channels 0, 1, ... skipping 9 (wrapping
/// after 15), drums channel 9; names are the General MIDI program names or "Drums", with the
/// instance's number after the first ("Violin 2"); drums have program 0.
/// Velocities are the centres of their bins. One tempo event at tick 0; the time signatures
/// `meters` (`(step, (numerator, denominator))`, REMI's bars) or, when there are none, the one
/// of `options`; no key signature.
pub(super) fn to_piece(
    config: &TokenizerConfig,
    vocab: &Vocab,
    notes: &[GridNote],
    meters: &[(u64, (u8, u8))],
    options: &DecodeOptions,
) -> Piece {
    let (tpb, ticks_per_step, micros_per_beat) = output_resolution(config, options);
    let mut piece = Piece::new(tpb);
    piece.tempos.push(TempoChange { tick: 0, micros_per_beat });
    if meters.is_empty() {
        if let Some((numerator, denominator)) = options.time_signature {
            piece.time_signatures.push(TimeSignature { tick: 0, numerator, denominator });
        }
    }
    for &(step, (numerator, denominator)) in meters {
        let tick = step.saturating_mul(ticks_per_step);
        piece.time_signatures.push(TimeSignature { tick, numerator, denominator });
    }

    let mut parts: Vec<(u64, Part)> = Vec::new();
    for n in notes {
        match parts.iter_mut().find(|(_, p)| *p == n.part) {
            Some(entry) => entry.0 = entry.0.min(n.start),
            None => parts.push((n.start, n.part)),
        }
    }
    parts.sort_unstable();

    let mut pitched = 0usize;
    for &(_, part) in &parts {
        let (program, channel, is_drum, name) = match part {
            Part::Drums(_) => (0, DRUM_CHANNEL, true, gm_names::DRUMS_NAME),
            Part::Program(p, _) => {
                let ch = PITCHED_CHANNELS[pitched % PITCHED_CHANNELS.len()];
                pitched += 1;
                (p, ch, false, gm_names::program_name(p))
            }
        };
        let name = match part.instance() {
            0 => name.to_string(),
            i => format!("{name} {}", u16::from(i) + 1),
        };
        let notes = notes
            .iter()
            .filter(|n| n.part == part)
            .map(|n| Note {
                start: n.start.saturating_mul(ticks_per_step),
                end: n.end.saturating_mul(ticks_per_step),
                pitch: n.pitch,
                velocity: vocab.bin_velocity(n.bin),
            })
            .collect();
        piece.instruments.push(Instrument { program, channel, is_drum, name, notes });
    }
    piece.normalize();
    piece
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gn(pitch: u8, start: u64, end: u64, bin: u8) -> GridNote {
        GridNote { part: Part::program(0), pitch, start, end, bin }
    }

    #[test]
    fn nested_notes_are_repaired_fifo_and_identical_notes_merge() {
        // (0,36) contains (12,24): FIFO pairs start 0 with end 24 and start 12 with end 36.
        let out = canonicalize(vec![gn(60, 0, 36, 5), gn(60, 12, 24, 9), gn(61, 1, 2, 0)], 1000);
        assert_eq!(out, vec![gn(60, 0, 24, 5), gn(60, 12, 36, 9), gn(61, 1, 2, 0)]);
        // With the inner note doubled: ONs at 0, 12, 12 and OFFs at 24, 24, 36 close in turn.
        let out = canonicalize(vec![gn(60, 0, 36, 5), gn(60, 12, 24, 9), gn(60, 12, 24, 9)], 1000);
        assert_eq!(out, vec![gn(60, 0, 24, 5), gn(60, 12, 24, 9), gn(60, 12, 36, 9)]);
        let dup = canonicalize(vec![gn(60, 0, 4, 3), gn(60, 0, 4, 7)], 1000);
        assert_eq!(dup, vec![gn(60, 0, 4, 7)]);
    }

    #[test]
    fn long_notes_are_cut_and_then_merged() {
        let out = canonicalize(vec![gn(60, 0, 100, 1), gn(60, 0, 50, 2), gn(61, 3, 4, 0)], 10);
        assert_eq!(out, vec![gn(60, 0, 10, 2), gn(61, 3, 4, 0)]);
    }

    #[test]
    fn output_resolution_is_exact() {
        let opts = DecodeOptions::default();
        let beats =
            |spb| TokenizerConfig { time: TimeMode::Beats { steps_per_beat: spb }, ..Default::default() };
        assert_eq!(output_resolution(&beats(12), &opts), (480, 40, 500_000));
        assert_eq!(output_resolution(&beats(4), &opts), (480, 120, 500_000));
        assert_eq!(output_resolution(&beats(7), &opts), (483, 69, 500_000));
        assert_eq!(output_resolution(&beats(960), &opts), (960, 1, 500_000));
        let secs = TokenizerConfig::performance_rnn();
        assert_eq!(output_resolution(&secs, &opts), (500, 10, 500_000));
        let slow = DecodeOptions { micros_per_beat: 600_400, ..Default::default() };
        assert_eq!(output_resolution(&secs, &slow), (600, 10, 600_000));
    }
}
