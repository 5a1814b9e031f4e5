//! Sampling under constraints: what a sampled sequence must respect beyond its scheme's
//! grammar. This is the one seam through which editing (infill, harmonization) steers every
//! model, and through which later controls are meant to plug in.
//!
//! A [`Constraints`] says, in grid steps and scheme-neutral terms:
//!
//! - **locked notes** that must appear exactly (instrument, pitch, start, end, velocity bin):
//!   time may not move past a locked note's start before it is written, and under `midi-like`
//!   not past its end before its NOTE_OFF; its velocity and duration must be its own;
//! - a **free region** `[start, end)`: the only steps at which a note that is not locked may
//!   start;
//! - a **stop**: the step at which the sequence is complete. Time may not jump over it (the
//!   fill's time adds up to the region exactly), and once it is reached, every locked note is
//!   written and no free note is left sounding, only EOS may follow;
//! - optionally a **top line** (no free note sounds at or above a locked note sounding at the
//!   same time: the locked notes are the melody) and a limit on how many free notes sound at
//!   once (the voices).
//!
//! Each scheme's guard describes what a token would do in the same neutral terms (an
//! [`Effect`] at a [`Cursor`]: time moves to step n, a note of pitch p starts, the note under
//! way ends at step e, ...), so the rules here know no scheme's events. [`super::NoteGuard`]
//! runs a [`Follow`] (the per-sequence state) beside the grammar: its mask first applies the
//! grammar, then these rules.
//!
//! **Pitch classes**: free notes only of some pitch classes ([`Constraints::in_scale`]), or only
//! of some within a window of steps ([`Constraints::in_classes_between`]: a live answer opens and
//! closes on its key's tonic chord). One rule is soft: [`Constraints::favour_classes`] forbids
//! nothing but multiplies the model's probability of free notes of some pitch classes (the
//! guard's mask weighs what the rules allow).
//!
//! An **instrument list** ([`Constraints::only_instruments`]) keeps free notes to some parts: the
//! sample may switch only to them and starts no free note in another (generation continuing a
//! multitrack seed keeps to the seed's instruments this way).
//!
//! A [`CopyLimit`] rides on the same state: no note a sample writes may end a copy (see
//! [`crate::copies`]) of more than `max_notes` notes of the training music. The rule follows the
//! notes as the copy definition orders them: notes whose onset (on the copy grid) time has left
//! behind are final and their match is kept; the notes at the current onset form a chord whose
//! pitch order may still change, so a candidate note is checked by walking the index through the
//! chord with it in place. Primer notes are context: a copy is measured through them, but only a
//! copy ending at a sampled note counts (a primer quoting a piece is exempt inside itself, and
//! a continuation may not extend its quote past the limit); locked notes are exempt like primer
//! notes, and drums are not notes to the definition. Time moves and EOS are never refused by this
//! rule, so it cannot leave a sample without an allowed token: when every note the model wants
//! would copy, time moves on (or the sample ends).
//!
//! Progress is guaranteed: a run of [`STALL_LIMIT`] tokens that neither start nor end a note
//! nor move time (instrument switches, `midi-like` velocity tokens) narrows the choice to the
//! path towards the next locked note, and a locked note the sampler could not place (the model
//! gave the path no weight and the fallback picked another token) is counted as missed rather
//! than blocking time forever. Callers that need every locked note exactly (editing does) take
//! the locked notes from the original piece when they assemble the result.

use std::sync::Arc;

use super::grid::{GridNote, Part};
use super::Tokenizer;
use crate::copies::{onset_step, CopyIndex, Match, NoteKey, Step};
use crate::midi::Piece;

/// Consecutive tokens that neither start nor end a note nor move time after which only the way
/// to the next locked note (or a time move) is allowed.
pub const STALL_LIMIT: u32 = 8;

/// The bit set of pitch classes `classes` (bit `c` for pitch class `c`; any pitch taken mod 12).
fn class_mask(classes: &[u8]) -> u16 {
    classes.iter().fold(0u16, |m, &c| m | 1 << (c % 12))
}

/// What a sampled sequence must respect beyond the grammar (see the module doc). Times are grid
/// steps of the tokenizer the constraints were made for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraints {
    /// Sorted by (start, part, pitch).
    locked: Vec<GridNote>,
    /// The longest locked note (for overlap queries).
    longest: u64,
    free: Option<(u64, u64)>,
    stop: Option<u64>,
    /// The first free note starts exactly here: time may not move past it before one has.
    opening: Option<u64>,
    /// The sequence ends (only EOS) once time reaches this step, however it got there.
    end_by: Option<u64>,
    top_line: bool,
    /// Free notes only below this pitch.
    below: Option<u8>,
    /// Free notes only of these pitch classes (bit `c` for pitch class `c`).
    scale: Option<u16>,
    /// Free notes starting at steps in `start..end` only of these pitch classes.
    classes_between: Vec<(u64, u64, u16)>,
    /// Free notes of these pitch classes weigh this many times the model's probability.
    favour: Option<(u16, f64)>,
    voices: Option<usize>,
    /// The only parts free notes may be written in (sorted); `None`: any.
    parts: Option<Vec<Part>>,
}

impl Constraints {
    /// No constraint at all: notes may start anywhere, nothing is locked, no stop.
    pub fn new() -> Self {
        Constraints::default()
    }

    /// Lock every note of `piece` that `tokenizer` keeps (its canonical grid notes) and for
    /// which `keep(start, end)` (in steps) holds.
    pub fn lock_notes(
        mut self,
        tokenizer: &Tokenizer,
        piece: &Piece,
        keep: impl Fn(u64, u64) -> bool,
    ) -> Self {
        let notes = super::encode::canonical_notes(tokenizer, piece);
        self.locked.extend(notes.into_iter().filter(|n| keep(n.start, n.end)));
        self.locked.sort_by_key(|n| (n.start, n.part, n.pitch, n.end));
        self.locked.dedup_by_key(|n| (n.start, n.part, n.pitch));
        self.longest = self.locked.iter().map(|n| n.end - n.start).max().unwrap_or(0);
        self
    }

    /// New notes may start only at steps in `start..end`.
    pub fn free_between(self, start: u64, end: u64) -> Self {
        Constraints { free: Some((start, end)), ..self }
    }

    /// The sequence is complete at step `stop` (see the module doc).
    pub fn stop_at(self, stop: u64) -> Self {
        Constraints { stop: Some(stop), ..self }
    }

    /// The first free note starts exactly at step `step` (a live answer opens on the beat):
    /// time may not move past it before a free note has started.
    pub fn open_at(self, step: u64) -> Self {
        Constraints { opening: Some(step), ..self }
    }

    /// The sequence ends as soon as time reaches step `step`: unlike a stop, time may jump past
    /// it (the model writes its own rhythm; the notes still sounding are closed by the sampler)
    /// and notes may still be sounding. A live answer cuts its sample there.
    pub fn end_by(self, step: u64) -> Self {
        Constraints { end_by: Some(step), ..self }
    }

    /// No free note sounds at or above a locked note sounding at the same time.
    pub fn below_locked(self) -> Self {
        Constraints { top_line: true, ..self }
    }

    /// Free notes only below `pitch` (an accompaniment under a player).
    pub fn below_pitch(self, pitch: u8) -> Self {
        Constraints { below: Some(pitch), ..self }
    }

    /// Free notes only of the pitch classes `classes` (0 = C .. 11 = B): a live answer keeps to
    /// its phrase's key.
    pub fn in_scale(self, classes: &[u8]) -> Self {
        Constraints { scale: Some(class_mask(classes)), ..self }
    }

    /// Free notes starting at steps in `start..end` only of the pitch classes `classes` (on top
    /// of [`Constraints::in_scale`]): a live answer opens and closes on its key's tonic chord.
    pub fn in_classes_between(mut self, start: u64, end: u64, classes: &[u8]) -> Self {
        self.classes_between.push((start, end, class_mask(classes)));
        self
    }

    /// Free notes of the pitch classes `classes` weigh `weight` times the model's probability
    /// (a soft rule, unlike the others: nothing is forbidden; `weight` 1 is none): a live answer
    /// leans on its key's tonic chord.
    pub fn favour_classes(self, classes: &[u8], weight: f64) -> Self {
        let favour =
            (weight.is_finite() && weight > 0.0 && weight != 1.0).then_some((class_mask(classes), weight));
        Constraints { favour, ..self }
    }

    /// Whether a free note of `pitch` may start at `step` by the pitch-class rules.
    fn class_allowed(&self, pitch: u8, step: u64) -> bool {
        let class = pitch % 12;
        self.scale.is_none_or(|m| m >> class & 1 == 1)
            && self.classes_between.iter().all(|&(a, b, m)| !(a..b).contains(&step) || m >> class & 1 == 1)
    }

    /// At most as many free notes sound at once as the notes of `piece` ever do on
    /// `tokenizer`'s grid (drums aside; at least 1): a fill no denser than its piece.
    pub fn voices_as_in(self, tokenizer: &Tokenizer, piece: &Piece) -> Self {
        let mut events: Vec<(u64, i32)> = super::encode::canonical_notes(tokenizer, piece)
            .iter()
            .filter(|n| !n.part.is_drums())
            .flat_map(|n| [(n.start, 1), (n.end, -1)])
            .collect();
        // Ends before starts at one step, as `free_sounding` counts.
        events.sort();
        let most = events
            .iter()
            .scan(0i32, |now, &(_, d)| {
                Some({
                    *now += d;
                    *now
                })
            })
            .max()
            .unwrap_or(1);
        self.with_voices(most.max(1) as usize)
    }

    /// At most `voices` free notes sound at once.
    pub fn with_voices(self, voices: usize) -> Self {
        Constraints { voices: Some(voices.max(1)), ..self }
    }

    /// Free notes only in these instruments, `(program, is_drum)` (the program of drums is
    /// ignored): the model may switch only to their parts, and writes no free note in another
    /// part it is left in (a primer's, or the first part before any instrument token).
    pub fn only_instruments(self, instruments: &[(u8, bool)]) -> Self {
        let mut parts: Vec<Part> = instruments
            .iter()
            .map(|&(p, drum)| if drum { Part::DRUMS } else { Part::program(p & 0x7f) })
            .collect();
        parts.sort();
        parts.dedup();
        Constraints { parts: Some(parts), ..self }
    }

    /// Whether free notes may be written in part `q`.
    fn part_allowed(&self, q: Part) -> bool {
        self.parts.as_ref().is_none_or(|ps| ps.binary_search(&q.with_instance(0)).is_ok())
    }

    /// The constraints of an infill of `start..end` (steps) in `piece`: notes may start only in
    /// the region, the notes sounding into it from before are locked (their ends kept), and the
    /// sequence is complete at `end`. The primer is the piece encoded up to `start`.
    pub fn infill(tokenizer: &Tokenizer, piece: &Piece, start: u64, end: u64) -> Self {
        Constraints::new()
            .lock_notes(tokenizer, piece, |s, e| s < start && e > start)
            .free_between(start, end)
            .stop_at(end)
    }

    /// The constraints of a harmonization of `melody`: its notes are locked, `voices` free notes
    /// at most sound under it at once, none at or above the melody note sounding, and the
    /// sequence is complete when the last melody note ends. The primer is BOS alone.
    pub fn harmonize(tokenizer: &Tokenizer, melody: &Piece, voices: usize) -> Self {
        let c = Constraints::new().lock_notes(tokenizer, melody, |_, _| true);
        let end = c.locked.iter().map(|n| n.end).max().unwrap_or(0);
        c.free_between(0, end).stop_at(end).below_locked().with_voices(voices)
    }

    /// How many notes are locked.
    pub fn locked_count(&self) -> usize {
        self.locked.len()
    }

    /// Whether a locked note has this program (128 for drums; any instance), pitch and start
    /// step.
    pub fn is_locked(&self, program: u8, pitch: u8, start: u64) -> bool {
        let from = self.locked.partition_point(|n| n.start < start);
        self.locked[from..]
            .iter()
            .take_while(|n| n.start == start)
            .any(|n| n.part.program_code() == program && n.pitch == pitch)
    }

    /// Index range of the locked notes that may sound somewhere in `from..to`.
    fn overlapping(&self, from: u64, to: u64) -> impl Iterator<Item = &GridNote> {
        let lo = self.locked.partition_point(|n| n.start + self.longest <= from);
        let hi = self.locked.partition_point(|n| n.start < to);
        self.locked[lo..hi.max(lo)].iter().filter(move |n| n.end > from && n.start < to)
    }

    /// The lowest pitch of the locked notes sounding somewhere in `from..to` (256 if none).
    fn ceiling(&self, from: u64, to: u64) -> u16 {
        self.overlapping(from, to).map(|n| u16::from(n.pitch)).min().unwrap_or(256)
    }
}

/// No sampled note may end a copy of more than `max_notes` notes of `index` (see the module
/// doc).
#[derive(Clone)]
pub struct CopyLimit {
    pub index: Arc<CopyIndex>,
    pub max_notes: usize,
}

impl CopyLimit {
    /// At most `max_notes` copied notes (at least 1: a single note is no copy) from `index`.
    pub fn new(index: Arc<CopyIndex>, max_notes: usize) -> Self {
        CopyLimit { index, max_notes: max_notes.max(1) }
    }
}

impl PartialEq for CopyLimit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.index, &other.index) && self.max_notes == other.max_notes
    }
}

impl std::fmt::Debug for CopyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyLimit")
            .field("max_notes", &self.max_notes)
            .field("pieces", &self.index.pieces())
            .field("notes", &self.index.notes())
            .finish()
    }
}

/// The copy limit's state along one sequence: the match after the final notes, and the chord at
/// the current onset (see the module doc).
#[derive(Debug, Clone)]
struct CopyFollow {
    limit: CopyLimit,
    /// Decoded ticks per grid step and per beat: the copy grid's onset of a step.
    ticks_per_step: u64,
    ticks_per_beat: u16,
    /// The match after the notes before `onset`, and the last of them.
    done: Match,
    last: Option<NoteKey>,
    /// The current onset on the copy grid and its notes so far: (pitch, checked), where primer
    /// and locked notes are not checked.
    onset: u64,
    chord: Vec<(u8, bool)>,
}

impl CopyFollow {
    fn new(limit: CopyLimit, ticks_per_step: u64, ticks_per_beat: u16) -> Self {
        let done = limit.index.start();
        CopyFollow { limit, ticks_per_step, ticks_per_beat, done, last: None, onset: 0, chord: Vec::new() }
    }

    fn onset_of(&self, step: u64) -> u64 {
        onset_step(step.saturating_mul(self.ticks_per_step), self.ticks_per_beat)
    }

    /// Walk the index from the final notes through the chord at the current onset, with `extra`
    /// (a checked note) added: the match and last note after it, or `None` when `check` is set
    /// and a checked note ends a copy over the limit.
    fn walk(&self, extra: Option<u8>, check: bool) -> Option<(Match, Option<NoteKey>)> {
        let mut chord = self.chord.clone();
        chord.extend(extra.map(|p| (p, true)));
        chord.sort_unstable();
        let (mut m, mut last) = (self.done, self.last);
        for (pitch, checked) in chord {
            let k = NoteKey { onset: self.onset, pitch };
            m = match last {
                Some(l) => self.limit.index.advance(m, Step::between(l, k)),
                None => self.limit.index.start(),
            };
            if check && checked && m.notes() > self.limit.max_notes {
                return None;
            }
            last = Some(k);
        }
        Some((m, last))
    }

    /// Whether a checked note of `pitch` may start at grid step `now`.
    fn allows(&self, now: u64, pitch: u8) -> bool {
        let onset = self.onset_of(now);
        if onset == self.onset {
            return self.chord.iter().any(|&(p, _)| p == pitch) || self.walk(Some(pitch), true).is_some();
        }
        let mut next = self.clone();
        next.time(now);
        next.walk(Some(pitch), true).is_some()
    }

    /// Time is at grid step `now`: when that leaves the chord's onset, its notes become final.
    fn time(&mut self, now: u64) {
        let onset = self.onset_of(now);
        if onset != self.onset {
            let (done, last) = self.walk(None, false).expect("an unchecked walk never fails");
            self.done = done;
            self.last = last;
            self.chord.clear();
            self.onset = onset;
        }
    }

    /// A note of `pitch` starts at grid step `now` (`checked`: a sampled note).
    fn note(&mut self, now: u64, pitch: u8, checked: bool) {
        self.time(now);
        if !self.chord.iter().any(|&(p, _)| p == pitch) {
            self.chord.push((pitch, checked));
        }
    }
}

/// Where a sequence is, as its scheme's guard reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub now: u64,
    pub part: Part,
    /// `midi-like`: the velocity bin (canonical) the next NOTE_ON takes.
    pub velocity: Option<u8>,
    /// TSD / REMI: the note under way (pitch, and its canonical velocity bin once read).
    pub pending: Option<(u8, Option<u8>)>,
}

/// What one base token would do, in scheme-neutral terms (given by each scheme's guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Time moves to this step (possibly where it is).
    Time(u64),
    /// The current instrument becomes this one.
    Part(Part),
    /// `midi-like`: the velocity bin (canonical) of the notes that follow.
    RunningVelocity(u8),
    /// A note of `pitch` starts now in the current instrument (`midi-like`: with its velocity
    /// bin; TSD / REMI: the velocity and duration follow).
    NoteStart { pitch: u8, bin: Option<u8> },
    /// TSD / REMI: the velocity bin (canonical) of the note under way.
    NoteVelocity(u8),
    /// TSD / REMI: the note under way is complete and ends at this step.
    NoteEnd(u64),
    /// `midi-like`: the oldest sounding note of `pitch` in the current instrument ends now.
    NoteOff(u8),
    /// EOS.
    End,
    /// Nothing the constraints care about (a REMI TIMESIG, PAD, BOS).
    Other,
}

/// What a sounding note is to the constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Locked(usize),
    Free,
    /// A note of the primer that is not locked.
    Context,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    part: Part,
    pitch: u8,
    start: u64,
    kind: Kind,
}

/// The constraints' state along one sequence.
#[derive(Debug, Clone)]
pub(super) struct Follow {
    spec: Arc<Constraints>,
    /// The notes' length cap (the decoder closes `midi-like` notes there).
    cap: u64,
    /// Locked notes written (or missed) so far, and the first not yet written.
    done: Vec<bool>,
    first: usize,
    missed: usize,
    /// TSD / REMI: the note under way is this locked note.
    pending_locked: Option<usize>,
    /// `midi-like`: the sounding notes, oldest first.
    open: Vec<Open>,
    /// TSD / REMI: (end, pitch) of the free notes that may still sound.
    free_ends: Vec<(u64, u8)>,
    stall: u32,
    /// Notes sampled (not the primer's, not locked) so far.
    free_notes: usize,
    /// The copy limit's state, when there is one.
    copies: Option<CopyFollow>,
    /// Reading the primer: notes are context, nothing is checked.
    pub priming: bool,
}

impl Follow {
    pub fn new(spec: Arc<Constraints>, cap: u64) -> Self {
        let n = spec.locked.len();
        Follow {
            spec,
            cap,
            done: vec![false; n],
            first: 0,
            missed: 0,
            free_notes: 0,
            pending_locked: None,
            open: Vec::new(),
            free_ends: Vec::new(),
            stall: 0,
            copies: None,
            priming: true,
        }
    }

    /// These rules with `limit` on copies too; decoded pieces have `ticks_per_beat` and
    /// `ticks_per_step` ticks a grid step (the copy grid is in beats).
    pub fn with_copy_limit(self, limit: CopyLimit, ticks_per_step: u64, ticks_per_beat: u16) -> Self {
        Follow { copies: Some(CopyFollow::new(limit, ticks_per_step, ticks_per_beat)), ..self }
    }

    /// Whether the copy limit (if any) lets a sampled note of `pitch` start at the cursor.
    fn copy_allows(&self, c: &Cursor, pitch: u8) -> bool {
        c.part.is_drums() || self.copies.as_ref().is_none_or(|cf| cf.allows(c.now, pitch))
    }

    /// Locked notes that time passed before they were written.
    pub fn missed(&self) -> usize {
        self.missed
    }

    fn locked(&self, i: usize) -> &GridNote {
        &self.spec.locked[i]
    }

    /// The unwritten locked note of (`part`, `pitch`) starting at `now`.
    fn locked_at(&self, part: Part, pitch: u8, now: u64) -> Option<usize> {
        (self.first..self.spec.locked.len()).take_while(|&i| self.locked(i).start <= now).find(|&i| {
            !self.done[i]
                && self.locked(i).start == now
                && self.locked(i).part == part
                && self.locked(i).pitch == pitch
        })
    }

    /// The unwritten locked notes starting at `now`.
    fn due_at(&self, now: u64) -> impl Iterator<Item = &GridNote> {
        (self.first..self.spec.locked.len())
            .take_while(move |&i| self.locked(i).start <= now)
            .filter(move |&i| !self.done[i] && self.locked(i).start == now)
            .map(|i| self.locked(i))
    }

    fn next_start(&self) -> Option<u64> {
        self.spec.locked.get(self.first).map(|n| n.start)
    }

    /// Free notes sounding at `now`.
    fn free_sounding(&self, now: u64) -> usize {
        self.open.iter().filter(|o| o.kind == Kind::Free).count()
            + self.free_ends.iter().filter(|&&(end, _)| end > now).count()
    }

    /// Whether a free note may start at the cursor (before its pitch is known).
    fn free_possible(&self, c: &Cursor, lowest_pitch: u8) -> bool {
        let s = &*self.spec;
        s.free.is_none_or(|(a, b)| a <= c.now && c.now < b)
            && s.stop.is_none_or(|stop| c.now < stop)
            && s.voices.is_none_or(|v| self.free_sounding(c.now) < v)
            && (!s.top_line || s.ceiling(c.now, c.now + 1) > u16::from(lowest_pitch))
            && s.below.is_none_or(|b| b > lowest_pitch)
    }

    /// Every locked note written, no note under way, no free note sounding, the stop reached:
    /// only EOS may follow; or time has reached the end of an [`Constraints::end_by`]. Never
    /// true without either.
    pub fn complete(&self, c: &Cursor) -> bool {
        if self.spec.end_by.is_some_and(|end| c.now >= end && c.pending.is_none()) {
            return true;
        }
        self.spec.stop.is_some_and(|stop| c.now >= stop)
            && self.first >= self.spec.locked.len()
            && c.pending.is_none()
            && !self.open.iter().any(|o| o.kind == Kind::Free)
    }

    /// Whether a token with effect `e` may come next at `c` (the grammar allows it already);
    /// `lowest_pitch` is the vocabulary's lowest pitch.
    pub fn allows(&self, c: &Cursor, e: Effect, lowest_pitch: u8) -> bool {
        let s = &*self.spec;
        let stalled = self.stall >= STALL_LIMIT;
        match e {
            // Asked for instruments, a sample ends only once it has played a note (a model whose
            // way of starting is ruled out otherwise often ends at once).
            // An opening must be played before the end.
            Effect::End => {
                s.stop.is_none()
                    && self.first >= s.locked.len()
                    && ((s.parts.is_none() && s.opening.is_none()) || self.free_notes > 0)
            }
            Effect::Time(n) if n <= c.now => true,
            Effect::Time(n) => {
                if s.stop.is_some_and(|stop| c.now < stop && n > stop) {
                    return false;
                }
                if self.next_start().is_some_and(|start| start < n) {
                    return false;
                }
                if s.opening.is_some_and(|open| open < n && self.free_notes == 0 && !self.priming) {
                    return false;
                }
                let locked_overdue = self.open.iter().any(|o| match o.kind {
                    Kind::Locked(i) => self.locked(i).end < n,
                    _ => false,
                });
                if locked_overdue {
                    return false;
                }
                if s.top_line {
                    let top = self.open.iter().filter(|o| o.kind == Kind::Free).map(|o| o.pitch).max();
                    if top.is_some_and(|p| s.ceiling(c.now, n) <= u16::from(p)) {
                        return false;
                    }
                }
                // Past the stop, time moves only to close free notes.
                !(s.stop.is_some_and(|stop| c.now >= stop) && !self.open.iter().any(|o| o.kind == Kind::Free))
            }
            // Restating the part moves nothing: a stall ends it too (a model can otherwise loop
            // on it when what it wants is refused).
            Effect::Part(q) if q == c.part => !stalled || self.due_at(c.now).any(|n| n.part == q),
            Effect::Part(q) => {
                self.due_at(c.now).any(|n| n.part == q)
                    || (!stalled && s.part_allowed(q) && self.free_possible(c, lowest_pitch))
                    // Back to a part left out of the instrument list only to end its notes.
                    || (!stalled && !s.part_allowed(q) && self.open.iter().any(|o| o.part == q))
            }
            Effect::RunningVelocity(v) => {
                !stalled || self.due_at(c.now).any(|n| n.part == c.part && n.bin == v)
            }
            Effect::NoteStart { pitch, bin } => match self.locked_at(c.part, pitch, c.now) {
                Some(i) => bin.is_none_or(|b| b == self.locked(i).bin),
                None => {
                    s.part_allowed(c.part)
                        && self.free_possible(c, lowest_pitch)
                        && (!s.top_line || u16::from(pitch) < s.ceiling(c.now, c.now + 1))
                        && s.below.is_none_or(|b| pitch < b)
                        && s.class_allowed(pitch, c.now)
                        && self.copy_allows(c, pitch)
                }
            },
            Effect::NoteVelocity(b) => self.pending_locked.is_none_or(|i| self.locked(i).bin == b),
            Effect::NoteEnd(end) => match self.pending_locked {
                Some(i) => end == self.locked(i).end,
                None => !s.top_line || c.pending.is_none_or(|(p, _)| s.ceiling(c.now, end) > u16::from(p)),
            },
            Effect::NoteOff(pitch) => {
                match self.open.iter().find(|o| o.part == c.part && o.pitch == pitch).map(|o| o.kind) {
                    Some(Kind::Locked(i)) => self.locked(i).end == c.now,
                    _ => true,
                }
            }
            Effect::Other => !stalled,
        }
    }

    /// What the model's probability of a token with effect `e` at `c` (one the rules allow) is
    /// multiplied by: [`Constraints::favour_classes`]'s weight for a free note of a favoured
    /// pitch class, else 1.
    pub fn weight(&self, c: &Cursor, e: Effect) -> f64 {
        match (self.spec.favour, e) {
            (Some((mask, w)), Effect::NoteStart { pitch, .. })
                if !self.priming
                    && mask >> (pitch % 12) & 1 == 1
                    && self.locked_at(c.part, pitch, c.now).is_none() =>
            {
                w
            }
            _ => 1.0,
        }
    }

    /// Whether a token with effect `e` at `c` writes part of a locked note (its start, velocity,
    /// duration or end).
    pub fn writes_locked(&self, c: &Cursor, e: Effect) -> bool {
        match e {
            Effect::NoteStart { pitch, .. } => self.locked_at(c.part, pitch, c.now).is_some(),
            Effect::NoteVelocity(_) | Effect::NoteEnd(_) => self.pending_locked.is_some(),
            Effect::NoteOff(pitch) => matches!(
                self.open.iter().find(|o| o.part == c.part && o.pitch == pitch).map(|o| o.kind),
                Some(Kind::Locked(_))
            ),
            _ => false,
        }
    }

    /// Read a token with effect `e` at `c`.
    pub fn push(&mut self, c: &Cursor, e: Effect) {
        let progress = match e {
            Effect::Time(n) => {
                if n > c.now {
                    if let Some(cf) = &mut self.copies {
                        cf.time(n);
                    }
                    let cap = self.cap;
                    self.open.retain(|o| o.start.saturating_add(cap) >= n);
                    self.free_ends.retain(|&(end, _)| end > n);
                    // A locked note time has passed unwritten is missed, not waited for.
                    for i in self.first..self.spec.locked.len() {
                        if self.spec.locked[i].start >= n {
                            break;
                        }
                        if !self.done[i] {
                            self.done[i] = true;
                            self.missed += usize::from(!self.priming);
                        }
                    }
                }
                n > c.now
            }
            Effect::NoteStart { pitch, bin } => {
                let locked = self.locked_at(c.part, pitch, c.now);
                self.free_notes += usize::from(!self.priming && locked.is_none());
                if let Some(cf) = self.copies.as_mut().filter(|_| !c.part.is_drums()) {
                    cf.note(c.now, pitch, !self.priming && locked.is_none());
                }
                match bin {
                    // midi-like: the note sounds from now on.
                    Some(_) => {
                        let kind = match locked {
                            Some(i) => {
                                self.done[i] = true;
                                Kind::Locked(i)
                            }
                            None if self.priming => Kind::Context,
                            None => Kind::Free,
                        };
                        self.open.push(Open { part: c.part, pitch, start: c.now, kind });
                    }
                    // TSD / REMI: complete at its DURATION.
                    None => self.pending_locked = locked,
                }
                true
            }
            Effect::NoteVelocity(_) => true,
            Effect::NoteEnd(end) => {
                match self.pending_locked.take() {
                    Some(i) => self.done[i] = true,
                    None if self.priming => {}
                    None => {
                        if let Some((p, _)) = c.pending {
                            self.free_ends.push((end, p));
                        }
                    }
                }
                true
            }
            Effect::NoteOff(pitch) => {
                if let Some(k) = self.open.iter().position(|o| o.part == c.part && o.pitch == pitch) {
                    self.open.remove(k);
                }
                true
            }
            Effect::Part(_) | Effect::RunningVelocity(_) | Effect::Other | Effect::End => false,
        };
        while self.first < self.done.len() && self.done[self.first] {
            self.first += 1;
        }
        self.stall = if progress || self.priming { 0 } else { self.stall + 1 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, start: u64, end: u64) -> GridNote {
        GridNote { part: Part::program(0), pitch, start, end, bin: 10 }
    }

    fn spec(locked: Vec<GridNote>) -> Constraints {
        let longest = locked.iter().map(|n| n.end - n.start).max().unwrap_or(0);
        Constraints { locked, longest, ..Constraints::default() }
    }

    fn at(now: u64) -> Cursor {
        Cursor { now, part: Part::program(0), velocity: Some(10), pending: None }
    }

    #[test]
    fn the_ceiling_is_the_lowest_locked_note_sounding_in_a_span() {
        let s = spec(vec![note(72, 0, 12), note(67, 12, 24), note(76, 24, 60)]);
        assert_eq!(s.ceiling(0, 1), 72);
        assert_eq!(s.ceiling(11, 13), 67);
        assert_eq!(s.ceiling(30, 31), 76);
        assert_eq!(s.ceiling(60, 70), 256);
        let brute = |a: u64, b: u64| {
            s.locked
                .iter()
                .filter(|n| n.start < b && n.end > a)
                .map(|n| u16::from(n.pitch))
                .min()
                .unwrap_or(256)
        };
        for a in 0..70 {
            for b in a + 1..75 {
                assert_eq!(s.ceiling(a, b), brute(a, b), "{a}..{b}");
            }
        }
    }

    #[test]
    fn time_waits_for_locked_notes_and_lands_on_the_stop() {
        let s = Arc::new(spec(vec![note(60, 6, 12)]).stop_at(24));
        let mut f = Follow::new(s, 48);
        f.priming = false;
        assert!(f.allows(&at(0), Effect::Time(6), 21));
        assert!(!f.allows(&at(0), Effect::Time(7), 21), "skips the locked note");
        assert!(!f.allows(&at(6), Effect::NoteStart { pitch: 60, bin: Some(3) }, 21), "wrong velocity");
        assert!(f.allows(&at(6), Effect::NoteStart { pitch: 60, bin: Some(10) }, 21));
        f.push(&at(6), Effect::NoteStart { pitch: 60, bin: Some(10) });
        assert!(!f.allows(&at(6), Effect::Time(13), 21), "past the locked note's end");
        assert!(f.allows(&at(6), Effect::Time(12), 21));
        assert!(!f.allows(&at(8), Effect::NoteOff(60), 21), "a locked note ends at its end only");
        assert!(f.allows(&at(12), Effect::NoteOff(60), 21));
        f.push(&at(12), Effect::NoteOff(60));
        assert!(!f.allows(&at(12), Effect::Time(25), 21), "jumps over the stop");
        assert!(f.allows(&at(12), Effect::Time(24), 21));
        assert!(!f.complete(&at(12)) && f.complete(&at(24)));
    }

    #[test]
    fn free_notes_start_only_in_the_region_and_under_the_top_line() {
        let s = Arc::new(
            spec(vec![note(67, 0, 24)]).free_between(0, 12).stop_at(24).below_locked().with_voices(1),
        );
        let mut f = Follow::new(s, 48);
        f.priming = false;
        let start = |p| Effect::NoteStart { pitch: p, bin: Some(10) };
        assert!(f.allows(&at(0), start(60), 21));
        assert!(f.allows(&at(0), start(67), 21), "the melody note itself");
        assert!(!f.allows(&at(0), start(68), 21) && !f.allows(&at(0), start(70), 21), "above the melody");
        let other = Cursor { part: Part::program(40), ..at(0) };
        assert!(!f.allows(&other, start(67), 21), "the melody's pitch in another voice");
        assert!(!f.allows(&at(12), start(60), 21), "outside the region");
        f.push(&at(0), start(60));
        assert!(!f.allows(&at(0), start(55), 21), "one voice");
        assert!(!f.complete(&at(24)), "a free note still sounds");
    }

    #[test]
    fn an_accompaniment_stays_below_its_pitch_and_an_answer_on_its_scale() {
        let s = Arc::new(Constraints::new().free_between(0, 16).open_at(0).end_by(16).below_pitch(64));
        let mut f = Follow::new(s, 48);
        f.priming = false;
        let start = |p| Effect::NoteStart { pitch: p, bin: Some(10) };
        assert!(f.allows(&at(0), start(63), 21) && f.allows(&at(0), start(36), 21));
        assert!(!f.allows(&at(0), start(64), 21) && !f.allows(&at(0), start(80), 21), "at or above it");
        let c_major = Arc::new(Constraints::new().in_scale(&[0, 2, 4, 5, 7, 9, 11]));
        let f = Follow::new(c_major, 48);
        assert!(f.allows(&at(0), start(60), 21) && f.allows(&at(0), start(71), 21));
        assert!(!f.allows(&at(0), start(61), 21) && !f.allows(&at(0), start(66), 21), "off the scale");
        let none = Arc::new(Constraints::new().below_pitch(21));
        assert!(!Follow::new(none, 48).free_possible(&at(0), 21), "nothing under the lowest pitch");
        // Opening and closing on the tonic chord: C E G in steps 0..1 and 12..16 only.
        let cadence = Arc::new(
            Constraints::new()
                .in_scale(&[0, 2, 4, 5, 7, 9, 11])
                .in_classes_between(0, 1, &[0, 4, 7])
                .in_classes_between(12, 16, &[0, 4, 7]),
        );
        let f = Follow::new(cadence, 48);
        assert!(f.allows(&at(0), start(64), 21) && !f.allows(&at(0), start(62), 21), "the opening");
        assert!(f.allows(&at(4), start(62), 21) && !f.allows(&at(4), start(61), 21), "the scale between");
        assert!(f.allows(&at(15), start(55), 21) && !f.allows(&at(12), start(65), 21), "the close");
        assert!(f.allows(&at(16), start(65), 21), "after the window");
        let mut f = Follow::new(Arc::new(Constraints::new().favour_classes(&[0, 4, 7], 3.0)), 48);
        assert_eq!(f.weight(&at(0), start(64)), 1.0, "the primer is not weighed");
        f.priming = false;
        assert_eq!((f.weight(&at(0), start(64)), f.weight(&at(0), start(67))), (3.0, 3.0));
        assert_eq!((f.weight(&at(0), start(62)), f.weight(&at(0), Effect::Time(4))), (1.0, 1.0));
        assert!(f.allows(&at(0), start(62), 21), "nothing is forbidden");
    }

    #[test]
    fn an_opening_holds_time_until_a_free_note_starts_there() {
        let s = Arc::new(Constraints::new().free_between(8, 24).stop_at(24).open_at(8));
        let mut f = Follow::new(s, 48);
        assert!(f.allows(&at(0), Effect::Time(12), 21), "the primer is not held");
        f.priming = false;
        assert!(f.allows(&at(0), Effect::Time(8), 21));
        assert!(!f.allows(&at(0), Effect::Time(9), 21), "past the opening before a note");
        assert!(!f.allows(&at(8), Effect::Time(10), 21));
        assert!(!f.allows(&at(8), Effect::End, 21), "no end before the opening note");
        let start = Effect::NoteStart { pitch: 60, bin: Some(10) };
        assert!(f.allows(&at(8), start, 21));
        f.push(&at(8), start);
        assert!(f.allows(&at(8), Effect::Time(16), 21), "free once the answer has begun");
        let open = Arc::new(Constraints::new().free_between(8, 24).open_at(8).end_by(24));
        let mut f = Follow::new(open, 48);
        f.priming = false;
        f.push(&at(8), start);
        assert!(f.allows(&at(8), Effect::Time(30), 21), "time may jump past the end");
        assert!(!f.complete(&at(23)) && f.complete(&at(24)) && f.complete(&at(30)), "then only EOS");
        assert!(!f.allows(&at(24), start, 21), "no note starts at the end");
    }

    #[test]
    fn a_stall_narrows_the_choice_to_the_locked_path() {
        let s = Arc::new(spec(vec![note(60, 0, 12)]).stop_at(12));
        let mut f = Follow::new(s, 48);
        f.priming = false;
        for _ in 0..STALL_LIMIT {
            assert!(f.allows(&at(0), Effect::RunningVelocity(3), 21));
            f.push(&at(0), Effect::RunningVelocity(3));
        }
        assert!(!f.allows(&at(0), Effect::RunningVelocity(3), 21));
        assert!(f.allows(&at(0), Effect::RunningVelocity(10), 21), "the locked note's velocity");
        assert!(!f.allows(&at(0), Effect::Part(Part::program(5)), 21));
        assert!(f.allows(&at(0), Effect::Part(Part::program(0)), 21), "the locked note's part");
        let free = Arc::new(Constraints::new().free_between(0, 12).open_at(0));
        let mut f = Follow::new(free, 48);
        f.priming = false;
        for _ in 0..STALL_LIMIT {
            assert!(f.allows(&at(0), Effect::Part(Part::program(0)), 21));
            f.push(&at(0), Effect::Part(Part::program(0)));
        }
        assert!(!f.allows(&at(0), Effect::Part(Part::program(0)), 21), "restating the part stalls too");
        assert!(f.allows(&at(0), Effect::NoteStart { pitch: 60, bin: Some(10) }, 21));
    }
}
