//! The two schemes whose notes carry their length, `tsd` and `remi`: one note is
//! `PITCH_p VELOCITY_b DURATION_d` (after `PROGRAM_q` / `DRUMS` when its instrument differs
//! from the current one), so a note's end is decided when it starts. They differ only in how
//! time moves:
//!
//! - `tsd` (time shift, duration): `SHIFT_n` between onsets, the longest first when a gap is
//!   longer than `max_shift_steps`, as in `midi-like`;
//! - `remi`: `BAR` at each bar line (the first at step 0), `TIMESIG_n_d` right after the first
//!   bar's `BAR` and after each bar line where the meter changes (see [`super::bars`]), and
//!   `POSITION_k` (steps from the bar line) before the first note of each onset.
//!
//! **Encoding.** Notes are written in order of (onset, instrument, pitch, end); a duration is
//! `end - start` steps, at most `max_note_steps` (longer notes were cut to that by the
//! canonical form, rule 5 of the `tokens` module doc). The velocity bin is written for every
//! note. A REMI bar with no onset is a lone `BAR`.
//!
//! **Decoding** (total; every token it cannot use is counted as dropped):
//!
//! - a note is exactly the three tokens `PITCH VELOCITY DURATION` in a row; a PITCH or
//!   VELOCITY not completed so, and a VELOCITY or DURATION out of place, are dropped;
//! - `SHIFT_n` advances time; `PROGRAM`/`DRUMS` set the instrument (before any: program 0);
//! - `BAR` starts the next bar (the first one at step 0, in 4/4 unless a TIMESIG follows);
//!   `TIMESIG` is read only right after a `BAR` and sets the meter from that bar on;
//!   `POSITION_k` moves to step `k` of the current bar, and is dropped before the first `BAR`,
//!   past the end of the bar or going back in it; in `remi` a PITCH before any POSITION of the
//!   current bar is dropped;
//! - `PAD`/`BOS` are skipped, everything after the first `EOS` is ignored, unknown ids are
//!   dropped;
//! - the decoded piece has a time signature for the first bar and each meter change, up to the
//!   bar of its last onset.
//!
//! **Guard** ([`Guard`]): only what the decoder reads in full may be sampled (PITCH, then a
//! VELOCITY, then a DURATION; in `remi` a POSITION before the notes of a bar, going forward;
//! TIMESIG only after a BAR; no instrument token that changes nothing), no second note of one
//! pitch and instrument at one onset (a duplicate the decoder would merge), and with a
//! polyphony limit no PITCH while that many notes sound (no POSITION at a step where they do).

use super::bars::{self, BarLines};
use super::config::{ProgramMode, Scheme, TimeMode, TokenizerConfig};
use super::constraint::{Cursor, Effect};
use super::decode::{canonical_bin, Decoded};
use super::grid::{GridNote, Part};
use super::guard::{keep_allowed, NoteRules};
use super::vocab::{Event, Vocab};
use super::{TokenId, BOS};

/// How an encoder moves time to the next onset.
enum Clock {
    Shifts { now: u64, max_shift: u64 },
    Bars { lines: BarLines, started: bool, position: Option<u64> },
}

/// `BOS` and the notes of canonical `notes` that start strictly before step `cut`, with the
/// time tokens of the scheme (`bars`: REMI's bar lines, `None` for TSD). Under REMI the bar
/// lines before the cut are written too when a later note needs them, so the result is
/// always a prefix of the full encoding.
pub(super) fn encode(
    config: &TokenizerConfig,
    vocab: &Vocab,
    notes: &[GridNote],
    bars: Option<BarLines>,
    cut: f64,
) -> Vec<TokenId> {
    let order = onset_order(notes);
    let programs = config.programs == ProgramMode::Programs;
    let mut out = Vec::with_capacity(notes.len() * 4 + 2);
    out.push(BOS);
    let push = |out: &mut Vec<TokenId>, event: Event| {
        // Every event built here exists in the vocabulary; `None` would be a bug, not bad input.
        debug_assert!(vocab.id(event).is_some(), "{event:?} not in vocabulary");
        out.extend(vocab.id(event));
    };
    let mut clock = match bars {
        None => Clock::Shifts { now: 0, max_shift: u64::from(config.max_shift_steps.max(1)) },
        Some(lines) => Clock::Bars { lines, started: false, position: None },
    };
    let mut part: Option<Part> = None;
    for n in order {
        if n.start as f64 >= cut {
            // The bar lines before the cut (this note needs them in the full encoding).
            if let Clock::Bars { lines, started, position } = &mut clock {
                if !*started && cut > 0.0 {
                    push(&mut out, Event::Bar);
                    push(&mut out, Event::TimeSig(lines.meter.0, lines.meter.1));
                    *started = true;
                }
                while *started && (lines.end() as f64) < cut {
                    bar_line(&mut out, lines, &push);
                    *position = None;
                }
            }
            break;
        }
        match &mut clock {
            Clock::Shifts { now, max_shift } => {
                for shift in super::time_shifts(n.start - *now, *max_shift) {
                    push(&mut out, shift);
                }
                *now = n.start;
            }
            Clock::Bars { lines, started, position } => {
                if !*started {
                    push(&mut out, Event::Bar);
                    push(&mut out, Event::TimeSig(lines.meter.0, lines.meter.1));
                    *started = true;
                }
                while lines.end() <= n.start {
                    bar_line(&mut out, lines, &push);
                    *position = None;
                }
                let k = n.start - lines.start;
                if *position != Some(k) {
                    push(&mut out, Event::Position(k as u16));
                    *position = Some(k);
                }
            }
        }
        if programs && part != Some(n.part) {
            push(&mut out, n.part.event());
            part = Some(n.part);
        }
        push(&mut out, Event::Pitch(n.pitch));
        push(&mut out, Event::Velocity(n.bin));
        push(&mut out, Event::Duration((n.end - n.start) as u16));
    }
    out
}

/// Canonical `notes` (sorted by instrument, pitch, start, end) in writing order: by onset,
/// instrument, pitch and end.
fn onset_order(notes: &[GridNote]) -> Vec<&GridNote> {
    // Fast path (every real piece): one u64 per note holding onset, instrument, pitch and the
    // note's index; among notes equal in the first three, the index orders them by end, as
    // the canonical order does.
    if notes.len() < 1 << 17 && notes.iter().all(|n| n.start < 1 << 28) {
        let mut keys: Vec<u64> = notes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.start << 36 | u64::from(n.part.code()) << 24 | u64::from(n.pitch & 0x7F) << 17 | i as u64
            })
            .collect();
        keys.sort_unstable();
        return keys.iter().map(|&k| &notes[(k & 0x1FFFF) as usize]).collect();
    }
    let mut order: Vec<&GridNote> = notes.iter().collect();
    order.sort_unstable_by_key(|n| (n.start, n.part.code(), n.pitch, n.end));
    order
}

/// Move `lines` to the next bar and write its `BAR` (and `TIMESIG` if the meter changed).
fn bar_line(out: &mut Vec<TokenId>, lines: &mut BarLines, push: &impl Fn(&mut Vec<TokenId>, Event)) {
    let changed = lines.advance();
    push(out, Event::Bar);
    if changed {
        push(out, Event::TimeSig(lines.meter.0, lines.meter.1));
    }
}

/// The meters a REMI encoding of canonical `notes` writes: the first bar's at step 0, then one
/// at each bar line where the meter changes, up to the bar of the last onset (none without
/// notes). This is what [`super::Tokenizer::quantize`] keeps of the time signatures.
pub(super) fn bar_meters(mut lines: BarLines, notes: &[GridNote]) -> Vec<(u64, (u8, u8))> {
    let Some(last) = notes.iter().map(|n| n.start).max() else { return Vec::new() };
    let mut out = vec![(0, lines.meter)];
    while lines.end() <= last {
        if lines.advance() {
            out.push((lines.start, lines.meter));
        }
    }
    out
}

/// Steps per beat of a beats grid (1 otherwise: only REMI uses it, and REMI needs beats).
fn steps_per_beat(config: &TokenizerConfig) -> u16 {
    match config.time {
        TimeMode::Beats { steps_per_beat } => steps_per_beat,
        TimeMode::Seconds { .. } => 1,
    }
}

/// A note begun but not yet complete: its PITCH, and its VELOCITY bin once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Pitch(u8),
    PitchVelocity(u8, u8),
}

impl Pending {
    fn tokens(self) -> usize {
        match self {
            Pending::Pitch(_) => 1,
            Pending::PitchVelocity(..) => 2,
        }
    }
}

/// Where the reader is in time: the state both the decoder and the guard keep.
#[derive(Debug, Clone)]
struct Reader {
    remi: bool,
    steps_per_beat: u16,
    now: u64,
    part: Part,
    /// REMI: start step and meter of the current bar (`None` before the first BAR).
    bar: Option<(u64, (u8, u8))>,
    /// REMI: the position last moved to in the current bar.
    position: Option<u64>,
    /// REMI: the last token was a BAR (a TIMESIG may follow).
    after_bar: bool,
    pending: Option<Pending>,
    /// REMI: the meter of the first bar and each change.
    meters: Vec<(u64, (u8, u8))>,
}

/// What one token did to a [`Reader`].
enum Read {
    /// The token was used (or is skipped by design: PAD, BOS).
    Used,
    /// A note is complete: (part, pitch, start, duration, bin).
    Note(Part, u8, u64, u16, u8),
    /// This many tokens were dropped.
    Dropped(usize),
    /// An EOS.
    End,
}

impl Reader {
    fn new(config: &TokenizerConfig) -> Self {
        Reader {
            remi: config.scheme == Scheme::Remi,
            steps_per_beat: steps_per_beat(config),
            now: 0,
            part: Part::program(0),
            bar: None,
            position: None,
            after_bar: false,
            pending: None,
            meters: Vec::new(),
        }
    }

    fn bar_len(&self) -> Option<u64> {
        self.bar.map(|(_, m)| bars::bar_steps(m, self.steps_per_beat))
    }

    /// Read one (known) event; the dropped count covers a pending note it breaks off.
    fn read(&mut self, event: Event) -> Read {
        match (self.pending, event) {
            (Some(Pending::Pitch(p)), Event::Velocity(b)) => {
                self.pending = Some(Pending::PitchVelocity(p, b));
                return Read::Used;
            }
            (Some(Pending::PitchVelocity(p, b)), Event::Duration(d)) => {
                self.pending = None;
                return Read::Note(self.part, p, self.now, d, b);
            }
            _ => {}
        }
        let broken = self.pending.take().map_or(0, Pending::tokens);
        let after_bar = std::mem::replace(&mut self.after_bar, false);
        let used = match event {
            Event::Pad | Event::Bos => true,
            Event::Eos => return Read::End,
            Event::Pitch(p) => {
                let placed = !self.remi || self.position.is_some();
                if placed {
                    self.pending = Some(Pending::Pitch(p));
                }
                placed
            }
            Event::TimeShift(s) if !self.remi => {
                self.now = self.now.saturating_add(u64::from(s));
                true
            }
            e @ (Event::Program(..) | Event::Drums(_)) => {
                self.part = Part::of_event(e).unwrap_or(self.part);
                true
            }
            Event::Bar if self.remi => {
                let bar = match self.bar {
                    None => (0, bars::DEFAULT_METER),
                    Some((start, m)) => (start.saturating_add(bars::bar_steps(m, self.steps_per_beat)), m),
                };
                if self.meters.is_empty() {
                    self.meters.push(bar);
                }
                self.bar = Some(bar);
                self.now = bar.0;
                self.position = None;
                self.after_bar = true;
                true
            }
            Event::TimeSig(n, d) if after_bar => {
                if let Some((start, m)) = &mut self.bar {
                    if *m != (n, d) {
                        *m = (n, d);
                        match self.meters.last_mut() {
                            Some(last) if last.0 == *start => last.1 = (n, d),
                            _ => self.meters.push((*start, (n, d))),
                        }
                    }
                }
                true
            }
            Event::Position(k) => match (self.bar, self.bar_len()) {
                (Some((start, _)), Some(len))
                    if u64::from(k) < len && self.position.is_none_or(|p| u64::from(k) >= p) =>
                {
                    self.position = Some(u64::from(k));
                    self.now = start + u64::from(k);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        let dropped = broken + usize::from(!used);
        if dropped > 0 {
            Read::Dropped(dropped)
        } else {
            Read::Used
        }
    }
}

/// The canonical grid notes that `tokens` describe under TSD or REMI, and the tokens dropped.
pub(super) fn decode(config: &TokenizerConfig, vocab: &Vocab, tokens: &[TokenId]) -> Decoded {
    let mut reader = Reader::new(config);
    let mut notes = Vec::new();
    let mut dropped = 0usize;
    for &token in tokens {
        if usize::from(token) >= vocab.len() {
            dropped += 1;
            continue;
        }
        match reader.read(vocab.event(token)) {
            Read::Used => {}
            Read::Note(part, pitch, start, d, b) => notes.push(GridNote {
                part,
                pitch,
                start,
                end: start.saturating_add(u64::from(d.max(1))),
                bin: canonical_bin(vocab, b),
            }),
            Read::Dropped(n) => dropped += n,
            Read::End => break,
        }
    }
    dropped += reader.pending.map_or(0, Pending::tokens);
    // Meters count up to the bar of the last onset (as the encoder writes them): bar lines
    // after the music are not part of it.
    let last_onset = notes.iter().map(|n| n.start).max();
    let mut meters = reader.meters;
    meters.retain(|&(step, _)| last_onset.is_some_and(|last| step <= last));
    let end = reader.now;
    Decoded::new(notes, config.max_note_steps, dropped, meters, end)
}

/// What the guard allows next, given where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between notes.
    Free,
    /// After an instrument token: a PITCH must follow.
    Instrument,
    /// After a PITCH: its VELOCITY.
    Pitch,
    /// After a VELOCITY: its DURATION.
    Velocity,
}

/// The TSD / REMI grammar guard: the decoder's state, the ends of the notes started so far and
/// the notes started at the current onset.
#[derive(Debug, Clone)]
pub(super) struct Guard {
    rules: NoteRules,
    programs: bool,
    reader: Reader,
    phase: Phase,
    /// End steps of the notes that may still sound.
    ends: Vec<u64>,
    /// (instrument, pitch) of the notes started at `onset`.
    here: Vec<(Part, u8)>,
    onset: u64,
    ended: bool,
}

impl Guard {
    /// A guard at the start of a sequence.
    pub fn new(rules: NoteRules) -> Self {
        let config = rules.config;
        Guard {
            rules,
            programs: config.programs == ProgramMode::Programs,
            reader: Reader::new(&config),
            phase: Phase::Free,
            ends: Vec::new(),
            here: Vec::new(),
            onset: 0,
            ended: false,
        }
    }

    /// Read one token (as the decoder would).
    pub fn push(&mut self, token: TokenId) {
        if self.ended || usize::from(token) >= self.rules.vocab.len() {
            return;
        }
        let event = self.rules.vocab.event(token);
        match self.reader.read(event) {
            Read::End => self.ended = true,
            Read::Note(part, pitch, start, d, _) => {
                if start != self.onset {
                    self.onset = start;
                    self.here.clear();
                }
                self.here.push((part, pitch));
                self.ends.push(start.saturating_add(u64::from(d)));
            }
            Read::Used | Read::Dropped(_) => {}
        }
        let now = self.reader.now;
        self.ends.retain(|&e| e > now);
        self.phase = match self.reader.pending {
            Some(Pending::Pitch(_)) => Phase::Pitch,
            Some(Pending::PitchVelocity(..)) => Phase::Velocity,
            None if matches!(event, Event::Program(..) | Event::Drums(_)) => Phase::Instrument,
            None => Phase::Free,
        };
    }

    /// Where the sequence is, for the constraints.
    pub fn cursor(&self) -> Cursor {
        let vocab = &self.rules.vocab;
        let pending = match self.reader.pending {
            None => None,
            Some(Pending::Pitch(p)) => Some((p, None)),
            Some(Pending::PitchVelocity(p, b)) => Some((p, Some(canonical_bin(vocab, b)))),
        };
        Cursor { now: self.reader.now, part: self.reader.part, velocity: None, pending }
    }

    /// What `token` (a base token the grammar allows) would do, for the constraints.
    pub fn effect(&self, token: TokenId) -> Effect {
        let r = &self.reader;
        match self.rules.vocab.event(token) {
            Event::Pitch(p) => Effect::NoteStart { pitch: p, bin: None },
            Event::Velocity(b) => Effect::NoteVelocity(canonical_bin(&self.rules.vocab, b)),
            Event::Duration(d) => Effect::NoteEnd(r.now.saturating_add(u64::from(d.max(1)))),
            Event::TimeShift(s) => Effect::Time(r.now.saturating_add(u64::from(s))),
            Event::Bar => Effect::Time(match r.bar {
                None => 0,
                Some((start, m)) => start.saturating_add(bars::bar_steps(m, r.steps_per_beat)),
            }),
            Event::Position(k) => match r.bar {
                Some((start, _)) => Effect::Time(start + u64::from(k)),
                None => Effect::Other,
            },
            e @ (Event::Program(..) | Event::Drums(_)) => {
                Part::of_event(e).map_or(Effect::Other, Effect::Part)
            }
            Event::Eos => Effect::End,
            _ => Effect::Other,
        }
    }

    /// Notes sounding at step `at` (of those started so far).
    fn sounding_at(&self, at: u64) -> usize {
        self.ends.iter().filter(|&&e| e > at).count()
    }

    /// Number of sounding notes.
    pub fn sounding(&self) -> usize {
        self.sounding_at(self.reader.now)
    }

    fn full_at(&self, at: u64) -> bool {
        self.rules.max_polyphony.is_some_and(|m| self.sounding_at(at) >= m)
    }

    /// Whether a note of `pitch` may start now in the current instrument.
    fn pitch_ok(&self, pitch: u8, full: bool) -> bool {
        let now = self.reader.now;
        let repeated = self.onset == now && self.here.contains(&(self.reader.part, pitch));
        !full && !repeated
    }

    /// Whether the grammar allows `token` next; a base token.
    pub fn allows(&self, token: TokenId) -> bool {
        if self.ended {
            return true;
        }
        let r = &self.reader;
        let full = self.full_at(r.now);
        // REMI: notes need a position in the current bar; TSD: always placed.
        let placed = !r.remi || r.position.is_some();
        let switch_ok = |part: Part| self.programs && part != r.part && placed && !full;
        match (self.phase, self.rules.vocab.event(token)) {
            (Phase::Pitch, Event::Velocity(_)) => true,
            (Phase::Velocity, Event::Duration(_)) => true,
            (Phase::Instrument, Event::Pitch(p)) => self.pitch_ok(p, full),
            (Phase::Free, event) => match event {
                Event::Eos => true,
                Event::Pitch(p) => placed && self.pitch_ok(p, full),
                e @ (Event::Program(..) | Event::Drums(_)) => Part::of_event(e).is_some_and(switch_ok),
                Event::TimeShift(_) => !r.remi,
                Event::Bar => r.remi,
                Event::TimeSig(..) => r.after_bar,
                Event::Position(k) => match (r.bar, r.bar_len()) {
                    (Some((start, _)), Some(len)) => {
                        let k = u64::from(k);
                        k < len && r.position.is_none_or(|p| k > p) && !self.full_at(start + k)
                    }
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        }
    }

    /// Set to zero the probability of every token the grammar forbids next.
    pub fn mask(&self, probs: &mut [f64]) {
        if self.ended {
            return;
        }
        keep_allowed(probs, self.rules.vocab.len(), |t| self.allows(t));
    }

    /// Base tokens to remove from the end of a finished sequence: those of a note it left
    /// incomplete (which the decoder would drop); the notes themselves need no closing.
    pub fn incomplete_tail(&self) -> usize {
        self.reader.pending.map_or(0, Pending::tokens)
    }
}

#[cfg(test)]
mod tests {
    use crate::midi::{Instrument, Note, Piece, TimeSignature};
    use crate::tokens::{ProgramMode, Scheme, Tokenizer, TokenizerConfig};

    use crate::tokens::testing::{names, split};

    fn tok(scheme: Scheme) -> Tokenizer {
        Tokenizer::new(TokenizerConfig { scheme, ..TokenizerConfig::default() }).expect("valid config")
    }

    use crate::tokens::testing::ids;

    /// A chord C-E-G of a half note (24 steps) with G held a whole note, then a rest, then D for
    /// an eighth (6 steps) at 5 beats; velocity 100 (bin 24) and 1 (bin 0); 480 ticks per beat.
    fn piece() -> Piece {
        let mut p = Piece::new(480);
        let n = |pitch, start, end, velocity| Note { start, end, pitch, velocity };
        p.instruments.push(Instrument {
            program: 0,
            channel: 0,
            is_drum: false,
            name: String::new(),
            notes: vec![n(60, 0, 960, 100), n(64, 0, 960, 100), n(67, 0, 1920, 100), n(62, 2400, 2640, 1)],
        });
        p
    }

    #[test]
    fn tsd_writes_shifts_between_onsets_and_a_duration_per_note() {
        let t = tok(Scheme::Tsd);
        let expected = split(
            "BOS PROGRAM_0 PITCH_60 VELOCITY_24 DURATION_24 PITCH_64 VELOCITY_24 DURATION_24 \
             PITCH_67 VELOCITY_24 DURATION_48 SHIFT_48 SHIFT_12 PITCH_62 VELOCITY_0 DURATION_6 EOS",
        );
        let tokens = t.encode(&piece());
        assert_eq!(names(&t, &tokens), expected);
        assert_eq!(t.dropped_tokens(&tokens), 0);
        assert_eq!(t.decode(&tokens), t.quantize(&piece()));
    }

    #[test]
    fn remi_writes_bars_positions_and_meters() {
        let t = tok(Scheme::Remi);
        // 3/4 from the start: bars of 36 steps; D at step 60 is position 24 of bar 1.
        let mut p = piece();
        p.time_signatures.push(TimeSignature { tick: 0, numerator: 3, denominator: 4 });
        let expected = split(
            "BOS BAR TIMESIG_3_4 POSITION_0 PROGRAM_0 PITCH_60 VELOCITY_24 DURATION_24 PITCH_64 VELOCITY_24 \
             DURATION_24 PITCH_67 VELOCITY_24 DURATION_48 BAR POSITION_24 PITCH_62 VELOCITY_0 DURATION_6 EOS",
        );
        let tokens = t.encode(&p);
        assert_eq!(names(&t, &tokens), expected);
        let d = t.decode(&tokens);
        assert_eq!(d, t.quantize(&p));
        assert_eq!(
            d.time_signatures.iter().map(|s| (s.tick, s.numerator, s.denominator)).collect::<Vec<_>>(),
            [(0, 3, 4)]
        );
        // Without a signature: 4/4, bars of 48 steps; empty bars are lone BARs.
        let mut q = piece();
        q.instruments[0].notes[3].start += 480 * 8;
        q.instruments[0].notes[3].end += 480 * 8;
        let tokens = t.encode(&q);
        let tail: Vec<String> = names(&t, &tokens).into_iter().skip(14).collect();
        assert_eq!(tail, split("BAR BAR BAR POSITION_12 PITCH_62 VELOCITY_0 DURATION_6 EOS"));
        assert_eq!(t.decode(&tokens), t.quantize(&q));
    }

    #[test]
    fn a_meter_change_is_written_at_its_bar_line() {
        let t = tok(Scheme::Remi);
        let mut p = piece();
        // 2/4 from beat 4 (step 48, the second 4/4 bar line).
        p.time_signatures.push(TimeSignature { tick: 1920, numerator: 2, denominator: 4 });
        let n = |start| Note { start, end: start + 240, pitch: 72, velocity: 100 };
        p.instruments[0].notes.extend([n(2880), n(3840)]); // steps 72 and 96
        let tokens = t.encode(&p);
        let names = names(&t, &tokens).join(" ");
        assert!(names.starts_with("BOS BAR TIMESIG_4_4 POSITION_0"), "{names}");
        // Bar 1 (2/4, steps 48..72) holds D at 60; bars 2 and 3 start at 72 and 96.
        assert!(names.contains("BAR TIMESIG_2_4 POSITION_12 PITCH_62"), "{names}");
        assert!(
            names.contains("DURATION_6 BAR POSITION_0 PITCH_72 VELOCITY_24 DURATION_6 BAR POSITION_0"),
            "{names}"
        );
        let d = t.decode(&tokens);
        assert_eq!(d, t.quantize(&p));
        let sigs: Vec<_> =
            d.time_signatures.iter().map(|s| (s.tick / 40, s.numerator, s.denominator)).collect();
        assert_eq!(sigs, [(0, 4, 4), (48, 2, 4)]);
    }

    #[test]
    fn prefixes_are_prefixes_and_stop_before_the_cut() {
        for scheme in [Scheme::Tsd, Scheme::Remi] {
            let t = tok(scheme);
            let full = t.encode(&piece());
            for beats in [0.0, 0.5, 2.0, 4.0, 4.5, 5.0, 5.01, 100.0] {
                let pre = t.encode_prefix(&piece(), Some(beats), None);
                assert_eq!(pre[..], full[..pre.len()], "{scheme} at {beats} beats");
                let notes = t.note_count(&pre);
                let expected = if beats == 0.0 {
                    0
                } else if beats <= 5.0 {
                    3
                } else {
                    4
                };
                assert_eq!(notes, expected, "{scheme} at {beats} beats");
            }
            // REMI: the bar line at beat 4 is in a primer cut after it.
            if scheme == Scheme::Remi {
                let pre = t.encode_prefix(&piece(), Some(4.5), None);
                assert_eq!(names(&t, &pre).last().map(String::as_str), Some("BAR"));
            }
        }
    }

    #[test]
    fn the_decoders_drop_what_they_cannot_read_and_count_it() {
        let t = tok(Scheme::Tsd);
        // A velocity alone, a pitch broken off by a shift, a duration alone, an unknown id, then
        // one good note and a dangling pitch.
        let mut seq = ids(&t, "BOS VELOCITY_3 PITCH_60 SHIFT_2 DURATION_4");
        seq.push(60_000);
        seq.extend(ids(&t, "PITCH_62 VELOCITY_3 DURATION_4 PITCH_64 VELOCITY_1"));
        assert_eq!(t.dropped_tokens(&seq), 1 + 1 + 1 + 1 + 2);
        assert_eq!(t.note_count(&seq), 1);
        let p = t.decode(&seq);
        assert_eq!(p.instruments[0].notes[0].start, 2 * 40);
        let r = tok(Scheme::Remi);
        // A position before any bar, a pitch before any position, a TIMESIG not after a BAR, a
        // position going back, one past the 4/4 bar's 48 steps.
        let seq = ids(
            &r,
            "BOS POSITION_3 BAR PITCH_60 VELOCITY_1 DURATION_1 POSITION_5 TIMESIG_3_4 POSITION_4 POSITION_48 \
             PITCH_62 VELOCITY_1 DURATION_2 EOS PITCH_61",
        );
        assert_eq!(r.dropped_tokens(&seq), 1 + 3 + 1 + 1 + 1);
        let p = r.decode(&seq);
        assert_eq!(p.instruments[0].notes.len(), 1);
        assert_eq!((p.instruments[0].notes[0].start, p.instruments[0].notes[0].pitch), (5 * 40, 62));
    }

    #[test]
    fn merge_piano_writes_no_instrument_tokens() {
        let cfg =
            TokenizerConfig { scheme: Scheme::Tsd, programs: ProgramMode::MergePiano, ..Default::default() };
        let t = Tokenizer::new(cfg).expect("valid config");
        let names = names(&t, &t.encode(&piece()));
        assert!(!names.iter().any(|n| n.starts_with("PROGRAM")), "{names:?}");
        assert_eq!(names[1], "PITCH_60");
    }
}
