//! Keeping sampled token sequences well formed: a [`NoteGuard`] follows a sequence as it is
//! sampled and rules out the tokens that would be wasted or would leave notes hanging.
//!
//! A model trained on performance events puts some probability on events that make no sense
//! where they land, and the decoder quietly repairs them: a NOTE_OFF of a pitch that is not
//! sounding is ignored, and a note that is never turned off rings until the tokenizer's
//! `max_note_steps` cap. Sampling such tokens freely turns a small modelling error into music
//! whose notes all ring for the full cap (sampled freely from the Bach Markov chain and HMM,
//! 42-46% of NOTE_OFFs close nothing and the median note lasts 13 beats, against under one in
//! the chorales; see `examples/note_guard_stats.rs`).
//! The guard, given the distribution of the next token, sets to zero:
//!
//! - every NOTE_OFF of a (current instrument, pitch) with no sounding note;
//! - every TIME_SHIFT that would carry a sounding note past `max_note_steps` (the note's
//!   NOTE_OFF, or a PROGRAM/DRUMS token that reaches its instrument, must come first);
//! - while a note is due, everything but what closes it: the NOTE_OFFs of due notes of the
//!   current instrument, else the instrument tokens of instruments with due notes;
//! - optionally ([`NoteRules::with_max_polyphony`]), every NOTE_ON while that many notes sound.
//!
//! The sampler renormalises what is left, so within the allowed tokens the model's preferences
//! are kept. When the sequence ends (EOS or the length limit) [`NoteGuard::closing`] gives the
//! NOTE_OFFs (and instrument switches) that end every note still sounding at that moment
//! (`crate::sampler::Sampler::finished` adds them before the sequence is decoded). The
//! guard mirrors the decoder's state machine (see [`super::decode`]): the same default
//! instrument, FIFO pairing and length cap, so what it allows is what the decoder reads.

use std::collections::{BTreeMap, VecDeque};

use super::grid::Part;
use super::vocab::{Event, Vocab};
use super::{TokenId, Tokenizer, EOS};

/// What a [`NoteGuard`] needs to know about the vocabulary (its layout and the note-length
/// cap), and an optional limit on simultaneous notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteRules {
    vocab: Vocab,
    max_note_steps: u64,
    max_polyphony: Option<usize>,
}

impl NoteRules {
    /// The rules for sequences of `tokenizer`.
    pub fn new(tokenizer: &Tokenizer) -> Self {
        NoteRules {
            vocab: *tokenizer.vocab(),
            max_note_steps: u64::from(tokenizer.config().max_note_steps.max(1)),
            max_polyphony: None,
        }
    }

    /// These rules, also allowing no NOTE_ON while `max` notes (of all instruments) sound;
    /// `None` (the default) sets no limit. A limit of 0 is read as 1.
    pub fn with_max_polyphony(self, max: Option<usize>) -> Self {
        NoteRules { max_polyphony: max.map(|m| m.max(1)), ..self }
    }

    /// The polyphony limit, if any.
    pub fn max_polyphony(&self) -> Option<usize> {
        self.max_polyphony
    }

    /// A guard that has read `primer`.
    pub fn guard(&self, primer: &[TokenId]) -> NoteGuard {
        let mut g =
            NoteGuard { rules: *self, now: 0, part: Part::Program(0), open: BTreeMap::new(), ended: false };
        for &t in primer {
            g.push(t);
        }
        g
    }
}

/// The state of one sequence as the decoder will read it: time, current instrument and the
/// start times of the sounding notes.
#[derive(Debug, Clone)]
pub struct NoteGuard {
    rules: NoteRules,
    now: u64,
    part: Part,
    /// Start steps of the sounding notes of each (instrument, pitch), oldest first.
    open: BTreeMap<(Part, u8), VecDeque<u64>>,
    /// An EOS was read: nothing after it counts.
    ended: bool,
}

impl NoteGuard {
    /// Read one token (as the decoder would).
    pub fn push(&mut self, token: TokenId) {
        if self.ended {
            return;
        }
        let max = self.rules.max_note_steps;
        match self.rules.vocab.event(token) {
            Event::Pad | Event::Bos | Event::Velocity(_) => {}
            Event::Eos => self.ended = true,
            Event::Program(p) => self.part = Part::Program(p),
            Event::Drums => self.part = Part::Drums,
            Event::NoteOn(p) => self.open.entry((self.part, p)).or_default().push_back(self.now),
            Event::NoteOff(p) => {
                if let Some(q) = self.open.get_mut(&(self.part, p)) {
                    q.pop_front();
                    if q.is_empty() {
                        self.open.remove(&(self.part, p));
                    }
                }
            }
            Event::TimeShift(s) => {
                self.now += u64::from(s);
                let now = self.now;
                // The decoder closes overdue notes at their cap; forget them likewise.
                self.open.retain(|_, q| {
                    while q.front().is_some_and(|&start| start + max < now) {
                        q.pop_front();
                    }
                    !q.is_empty()
                });
            }
        }
    }

    /// Number of sounding notes.
    pub fn sounding(&self) -> usize {
        self.open.values().map(VecDeque::len).sum()
    }

    /// The longest TIME_SHIFT (in steps) that keeps every sounding note within the cap.
    fn shift_room(&self) -> u64 {
        let max = self.rules.max_note_steps;
        self.open
            .values()
            .filter_map(|q| q.front())
            .map(|&start| (start + max).saturating_sub(self.now))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Set to zero the probability of every token the rules forbid next (see the module doc).
    /// `probs` is indexed by token id; entries past the vocabulary are left alone. If the
    /// model gives no weight to any allowed token, the first allowed one gets weight 1, so a
    /// sampler always finds one.
    pub fn mask(&self, probs: &mut [f64]) {
        if self.ended {
            return;
        }
        let room = self.shift_room();
        let full = self.rules.max_polyphony.is_some_and(|m| self.sounding() >= m);
        let due_here =
            room == 0 && self.open.keys().any(|&(part, pitch)| part == self.part && self.due(part, pitch));
        let v = &self.rules.vocab;
        let n = probs.len().min(v.len());
        let mut first_allowed = None;
        let mut any = false;
        for (id, p) in probs[..n].iter_mut().enumerate() {
            let t = id as TokenId;
            let ok =
                if room == 0 { self.closes_due(t, due_here) } else { self.allowed(v.event(t), room, full) };
            if ok {
                first_allowed.get_or_insert(id);
                any |= *p > 0.0;
            } else {
                *p = 0.0;
            }
        }
        if !any {
            if let Some(id) = first_allowed {
                probs[id] = 1.0;
            }
        }
    }

    /// Whether `event` may come next when no note is due (`room` > 0 steps of shift left;
    /// `full`: the polyphony limit is reached).
    fn allowed(&self, event: Event, room: u64, full: bool) -> bool {
        match event {
            Event::NoteOff(p) => self.open.contains_key(&(self.part, p)),
            Event::NoteOn(_) => !full,
            Event::TimeShift(s) => u64::from(s) <= room,
            Event::Pad | Event::Bos => false,
            _ => true,
        }
    }

    /// Whether the oldest sounding note of (`part`, `pitch`) is at its cap now.
    fn due(&self, part: Part, pitch: u8) -> bool {
        self.open
            .get(&(part, pitch))
            .and_then(|q| q.front())
            .is_some_and(|&s| s + self.rules.max_note_steps <= self.now)
    }

    /// Whether `token` helps close a due note; `due_here`: the current instrument has one.
    fn closes_due(&self, token: TokenId, due_here: bool) -> bool {
        let due_in = |p: Part| self.open.keys().any(|&(part, pitch)| part == p && self.due(part, pitch));
        match self.rules.vocab.event(token) {
            Event::NoteOff(p) => self.due(self.part, p),
            Event::Program(p) if !due_here => due_in(Part::Program(p)),
            Event::Drums if !due_here => due_in(Part::Drums),
            _ => false,
        }
    }

    /// The tokens that end every sounding note now: for each instrument with sounding notes
    /// (in order), its PROGRAM/DRUMS token when it is not the current one, then one NOTE_OFF per
    /// sounding note. Empty when nothing sounds. After an EOS these are the notes sounding when
    /// it came, which [`NoteGuard::close`] puts before it.
    pub fn closing(&self) -> Vec<TokenId> {
        let v = &self.rules.vocab;
        let mut out = Vec::new();
        let mut part = self.part;
        // The current instrument first, so the common one-instrument case needs no switch.
        let order = self
            .open
            .iter()
            .filter(|((p, _), _)| *p == self.part)
            .chain(self.open.iter().filter(|((p, _), _)| *p != self.part));
        for (&(p, pitch), q) in order {
            if p != part {
                let switch = match p {
                    Part::Program(n) => v.id(Event::Program(n)),
                    Part::Drums => v.id(Event::Drums),
                };
                out.extend(switch);
                part = p;
            }
            if let Some(off) = v.id(Event::NoteOff(pitch)) {
                out.extend(std::iter::repeat_n(off, q.len()));
            }
        }
        out
    }

    /// Append [`NoteGuard::closing`] to a finished continuation, before its EOS if it has one.
    pub fn close(&self, continuation: &mut Vec<TokenId>) {
        let eos = continuation.last() == Some(&EOS);
        if eos {
            continuation.pop();
        }
        continuation.extend(self.closing());
        if eos {
            continuation.push(EOS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{TokenizerConfig, BOS};

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { max_note_steps: 24, ..TokenizerConfig::default() }).unwrap()
    }

    fn ids(t: &Tokenizer, names: &str) -> Vec<TokenId> {
        names.split_whitespace().map(|n| t.vocab().parse(n).unwrap_or_else(|| panic!("{n}"))).collect()
    }

    fn allowed(t: &Tokenizer, g: &NoteGuard) -> Vec<String> {
        let mut p = vec![1.0; t.vocab_size()];
        g.mask(&mut p);
        p.iter().enumerate().filter(|(_, &x)| x > 0.0).map(|(i, _)| t.name(i as TokenId)).collect()
    }

    #[test]
    fn note_offs_only_for_sounding_pitches_of_the_current_instrument() {
        let t = tok();
        let rules = NoteRules::new(&t);
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 NOTE_ON_64 PROGRAM_40 NOTE_ON_67 SHIFT_6"));
        let offs: Vec<_> = allowed(&t, &g).into_iter().filter(|n| n.starts_with("NOTE_OFF")).collect();
        assert_eq!(offs, ["NOTE_OFF_67"]);
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 NOTE_ON_64 PROGRAM_40 NOTE_ON_67 SHIFT_6 PROGRAM_0"));
        let offs: Vec<_> = allowed(&t, &g).into_iter().filter(|n| n.starts_with("NOTE_OFF")).collect();
        assert_eq!(offs, ["NOTE_OFF_60", "NOTE_OFF_64"]);
        // Everything else stays: note-ons (also of sounding pitches), velocities, programs, EOS.
        let all = allowed(&t, &g);
        for name in ["EOS", "NOTE_ON_60", "NOTE_ON_61", "VELOCITY_3", "PROGRAM_7", "DRUMS", "SHIFT_1"] {
            assert!(all.iter().any(|n| n == name), "{name} missing");
        }
        assert!(!all.iter().any(|n| n == "PAD" || n == "BOS"));
    }

    #[test]
    fn shifts_stop_at_the_cap_and_a_due_note_must_be_closed() {
        let t = tok();
        let rules = NoteRules::new(&t);
        // Opened at step 0, now at 18: at most 6 more steps.
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 SHIFT_12 NOTE_ON_62 SHIFT_6"));
        let shifts: Vec<_> = allowed(&t, &g).into_iter().filter(|n| n.starts_with("SHIFT")).collect();
        assert_eq!(shifts, ["SHIFT_1", "SHIFT_2", "SHIFT_3", "SHIFT_4", "SHIFT_5", "SHIFT_6"]);
        // At 24 the note is due: only its NOTE_OFF may follow.
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 SHIFT_12 NOTE_ON_62 SHIFT_12"));
        assert_eq!(allowed(&t, &g), ["NOTE_OFF_60"]);
        // Due in another instrument: only the way there.
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 SHIFT_24"));
        assert_eq!(allowed(&t, &g), ["PROGRAM_0"]);
        let g = rules.guard(&ids(&t, "BOS DRUMS NOTE_ON_36 PROGRAM_5 SHIFT_24"));
        assert_eq!(allowed(&t, &g), ["DRUMS"]);
    }

    #[test]
    fn a_polyphony_limit_holds_back_note_ons_until_a_note_ends() {
        let t = tok();
        let rules = NoteRules::new(&t).with_max_polyphony(Some(2));
        let ons = |g: &NoteGuard| allowed(&t, g).into_iter().filter(|n| n.starts_with("NOTE_ON")).count();
        let pitches = t.vocab().pitch_range().1 - t.vocab().pitch_range().0 + 1;
        assert_eq!(ons(&rules.guard(&ids(&t, "BOS NOTE_ON_60"))), usize::from(pitches));
        // Two sounding (in two instruments): no NOTE_ON, but shifts and the NOTE_OFF remain.
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64"));
        assert_eq!(ons(&g), 0);
        let rest = allowed(&t, &g);
        assert!(rest.iter().any(|n| n == "NOTE_OFF_64") && rest.iter().any(|n| n == "SHIFT_1"));
        // One ends: NOTE_ONs are back. Without a limit there never was one.
        assert_eq!(
            ons(&rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64 NOTE_OFF_64"))),
            usize::from(pitches)
        );
        assert_eq!(
            ons(&NoteRules::new(&t).guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64"))),
            usize::from(pitches)
        );
    }

    #[test]
    fn the_guard_agrees_with_the_decoder_about_overdue_notes() {
        let t = tok();
        let rules = NoteRules::new(&t);
        // Unguarded, the decoder closed the note at its cap when time moved past it.
        let toks = ids(&t, "BOS NOTE_ON_60 SHIFT_30 NOTE_ON_64");
        let g = rules.guard(&toks);
        assert_eq!(g.sounding(), 1);
        assert_eq!(g.closing(), ids(&t, "NOTE_OFF_64"));
    }

    #[test]
    fn closing_ends_every_sounding_note_and_decodes_to_short_notes() {
        let t = tok();
        let rules = NoteRules::new(&t);
        let mut seq =
            ids(&t, "BOS NOTE_ON_60 NOTE_ON_60 PROGRAM_40 NOTE_ON_67 DRUMS NOTE_ON_36 PROGRAM_40 SHIFT_6");
        let g = rules.guard(&seq);
        assert_eq!(g.closing(), ids(&t, "NOTE_OFF_67 PROGRAM_0 NOTE_OFF_60 NOTE_OFF_60 DRUMS NOTE_OFF_36"));
        let mut cont = vec![EOS];
        g.close(&mut cont);
        assert_eq!(cont.last(), Some(&EOS));
        seq.extend(&cont);
        let piece = t.decode(&seq);
        // The two identical 60s are merged by the decoder, as every duplicate is.
        assert_eq!(piece.note_count(), 3);
        assert!(rules.guard(&seq).closing().is_empty(), "nothing is left open");
        // An EOS read by the guard (as the sampler does) still leaves its notes to close.
        let mut g = rules.guard(&ids(&t, "BOS NOTE_ON_60"));
        g.push(EOS);
        let mut cont = vec![EOS];
        g.close(&mut cont);
        assert_eq!(cont, ids(&t, "NOTE_OFF_60 EOS"));
        let longest = piece.instruments.iter().flat_map(|i| &i.notes).map(|n| n.duration()).max().unwrap();
        let shortest = piece.instruments.iter().flat_map(|i| &i.notes).map(|n| n.duration()).min().unwrap();
        assert_eq!(longest, shortest, "every note ends together, 6 steps after it started");
    }

    /// Uniform random sampling under the guard, checked by a naive simulation: every NOTE_OFF
    /// closes a sounding note, no note outlives the cap, nothing sounds after the closing.
    #[test]
    fn guarded_random_sequences_are_well_formed() {
        use rand::{Rng, SeedableRng};
        let t = tok();
        let v = *t.vocab();
        let rules = NoteRules::new(&t);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..40 {
            let mut seq = vec![BOS];
            let mut g = rules.guard(&seq);
            for _ in 0..400 {
                let mut p: Vec<f64> = (0..t.vocab_size()).map(|_| rng.random::<f64>()).collect();
                p[0] = 0.0;
                p[usize::from(BOS)] = 0.0;
                p[usize::from(EOS)] = 0.0;
                g.mask(&mut p);
                let total: f64 = p.iter().sum();
                let mut r = rng.random::<f64>() * total;
                let tok = p
                    .iter()
                    .position(|&x| {
                        r -= x;
                        r < 0.0
                    })
                    .unwrap_or(p.len() - 1) as TokenId;
                g.push(tok);
                seq.push(tok);
            }
            g.close(&mut seq);
            // Naive replay: a list of (part, pitch, start).
            let (mut now, mut part, mut open) = (0u64, Part::Program(0), Vec::<(Part, u8, u64)>::new());
            for &tok in &seq[1..] {
                match v.event(tok) {
                    Event::NoteOn(p) => open.push((part, p, now)),
                    Event::NoteOff(p) => {
                        let i = open.iter().position(|&(q, r, _)| q == part && r == p);
                        let i = i.unwrap_or_else(|| panic!("NOTE_OFF_{p} closes nothing"));
                        open.remove(i);
                    }
                    Event::TimeShift(s) => {
                        now += u64::from(s);
                        assert!(open.iter().all(|&(_, _, st)| now - st <= 24), "a note outlived the cap");
                    }
                    Event::Program(n) => part = Part::Program(n),
                    Event::Drums => part = Part::Drums,
                    _ => {}
                }
            }
            assert!(open.is_empty(), "{} notes left sounding", open.len());
        }
    }

    #[test]
    fn a_model_with_no_allowed_mass_still_gets_a_token() {
        let t = tok();
        let rules = NoteRules::new(&t);
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 SHIFT_24"));
        let mut p = vec![0.0; t.vocab_size()];
        p[usize::from(BOS)] = 1.0;
        p[usize::from(t.vocab().parse("SHIFT_1").unwrap())] = 1.0;
        g.mask(&mut p);
        let left: Vec<_> =
            p.iter().enumerate().filter(|(_, &x)| x > 0.0).map(|(i, _)| t.name(i as TokenId)).collect();
        assert_eq!(left, ["NOTE_OFF_60"]);
    }
}
