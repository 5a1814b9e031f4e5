//! Keeping sampled token sequences well formed: a [`NoteGuard`] follows a sequence as it is
//! sampled and rules out the tokens that would be wasted or would leave notes hanging. Each
//! scheme has its grammar ([`super::midi_like::Guard`], [`super::durations::Guard`]); this
//! module is the one face they share. Under every scheme a guarded sequence decodes with no
//! dropped token ([`super::Tokenizer::dropped_tokens`]).
//!
//! # `midi-like`
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
//! - every NOTE_OFF of a (current instrument, pitch) with no sounding note, or whose oldest
//!   sounding note started at this step (the decoder would stretch it to one step);
//! - every TIME_SHIFT that would carry a sounding note past `max_note_steps` (the note's
//!   NOTE_OFF, or a PROGRAM/DRUMS token that reaches its instrument, must come first);
//! - while a note is due, everything but what closes it: the NOTE_OFFs of due notes of the
//!   current instrument, else the instrument tokens of instruments with due notes;
//! - every NOTE_ON of a (current instrument, pitch) that already started at this step (a
//!   duplicate the decoder would merge);
//! - optionally ([`NoteRules::with_max_polyphony`]), every NOTE_ON while that many notes sound.
//!
//! The sampler renormalises what is left, so within the allowed tokens the model's preferences
//! are kept. When the sequence ends (EOS or the length limit) [`NoteGuard::closing`] gives the
//! NOTE_OFFs (and instrument switches) that end every note still sounding at that moment
//! (`crate::sampler::Sampler::finished` adds them before the sequence is decoded). The
//! guard mirrors the decoder's state machine (see [`super::midi_like`]): the same default
//! instrument, FIFO pairing and length cap, so what it allows is what the decoder reads.
//!
//! # `tsd` and `remi`
//!
//! Notes carry their duration (at most `max_note_steps`, so the length cap holds by
//! construction) and nothing is left hanging. The guard allows only what the decoder reads in
//! full: see [`super::durations`]. The polyphony limit holds back PITCH tokens (and REMI
//! positions) while that many notes sound; [`NoteGuard::close`] removes a note left incomplete
//! at the end.

use std::sync::Arc;

use super::config::Scheme;
use super::constraint::{Constraints, CopyLimit, Cursor, Effect, Follow};
use super::controls::{self, ControlGate};
use super::vocab::Vocab;
use super::{durations, midi_like, Bpe, TokenId, Tokenizer, TokenizerConfig, EOS};

/// What a [`NoteGuard`] needs to know about the tokenizer (its configuration, vocabulary,
/// note-length cap and BPE merges), and an optional limit on simultaneous notes.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteRules {
    pub(super) config: TokenizerConfig,
    pub(super) vocab: Vocab,
    pub(super) max_note_steps: u64,
    pub(super) max_polyphony: Option<usize>,
    /// With BPE, a merged token is allowed when each of its base tokens is, in turn.
    bpe: Option<Arc<Bpe>>,
    /// What sampling must respect beyond the grammar (see [`super::constraint`]).
    constraints: Option<Arc<Constraints>>,
    /// The most notes a sample may copy from the training music (see [`super::constraint`]).
    copy_limit: Option<CopyLimit>,
}

impl NoteRules {
    /// The rules for sequences of `tokenizer`.
    pub fn new(tokenizer: &Tokenizer) -> Self {
        NoteRules {
            config: *tokenizer.config(),
            vocab: *tokenizer.vocab(),
            max_note_steps: u64::from(tokenizer.config().max_note_steps.max(1)),
            max_polyphony: None,
            bpe: tokenizer.bpe.clone(),
            constraints: None,
            copy_limit: None,
        }
    }

    /// These rules, also keeping every sequence within `constraints` (locked notes, a free
    /// region, a stop: see [`super::constraint`]); `None` removes them.
    pub fn with_constraints(self, constraints: Option<Arc<Constraints>>) -> Self {
        NoteRules { constraints, ..self }
    }

    /// These rules, also letting no sampled note end a copy longer than the limit's (see
    /// [`super::constraint`]); `None` removes the limit. Independent of the other constraints.
    pub fn with_copy_limit(self, copy_limit: Option<CopyLimit>) -> Self {
        NoteRules { copy_limit, ..self }
    }

    /// The copy limit, if any.
    pub fn copy_limit(&self) -> Option<&CopyLimit> {
        self.copy_limit.as_ref()
    }

    /// These rules, also allowing no new note while `max` notes (of all instruments) sound;
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
        let base = NoteRules { bpe: None, constraints: None, copy_limit: None, ..self.clone() };
        let mut g = NoteGuard {
            state: match self.config.scheme {
                Scheme::MidiLike => State::MidiLike(midi_like::Guard::new(base)),
                Scheme::Tsd | Scheme::Remi => State::Durations(durations::Guard::new(base)),
            },
            bpe: self.bpe.clone(),
            follow: self.follow(),
            lowest_pitch: self.vocab.pitch_range().0,
            controls: self.vocab.has_controls().then(|| (self.vocab, ControlGate::default())),
        };
        for &t in primer {
            g.push(t);
        }
        if let Some(f) = &mut g.follow {
            f.priming = false;
        }
        g
    }
}

impl NoteRules {
    /// The constraints' state at the start of a sequence, when there are constraints or a copy
    /// limit.
    fn follow(&self) -> Option<Follow> {
        if self.constraints.is_none() && self.copy_limit.is_none() {
            return None;
        }
        let spec = self.constraints.clone().unwrap_or_default();
        let follow = Follow::new(spec, self.max_note_steps);
        Some(match &self.copy_limit {
            None => follow,
            Some(limit) => {
                let (tpb, ticks_per_step, _) =
                    super::grid::output_resolution(&self.config, &super::DecodeOptions::default());
                follow.with_copy_limit(limit.clone(), ticks_per_step, tpb)
            }
        })
    }
}

/// The grammar state of one sequence, as its scheme's decoder will read it.
#[derive(Debug, Clone)]
pub struct NoteGuard {
    state: State,
    bpe: Option<Arc<Bpe>>,
    /// The constraints' state, when the rules have constraints.
    follow: Option<Follow>,
    lowest_pitch: u8,
    /// With control tokens: the vocabulary and where the sequence stands with its prefix
    /// (control tokens are allowed only there, and are no music for the grammar).
    controls: Option<(Vocab, ControlGate)>,
}

#[derive(Debug, Clone)]
enum State {
    MidiLike(midi_like::Guard),
    Durations(durations::Guard),
}

impl State {
    fn push(&mut self, token: TokenId) {
        match self {
            State::MidiLike(g) => g.push(token),
            State::Durations(g) => g.push(token),
        }
    }

    fn allows(&self, token: TokenId) -> bool {
        match self {
            State::MidiLike(g) => g.allows(token),
            State::Durations(g) => g.allows(token),
        }
    }

    fn cursor(&self) -> Cursor {
        match self {
            State::MidiLike(g) => g.cursor(),
            State::Durations(g) => g.cursor(),
        }
    }

    fn effect(&self, token: TokenId) -> Effect {
        match self {
            State::MidiLike(g) => g.effect(token),
            State::Durations(g) => g.effect(token),
        }
    }
}

impl NoteGuard {
    /// Read one token (as the decoder would; a merged token as its base tokens).
    pub fn push(&mut self, token: TokenId) {
        if let Some((vocab, gate)) = &mut self.controls {
            gate.push(vocab, token);
            if controls::control_of(vocab, token).is_some() {
                return;
            }
        }
        let NoteGuard { state, bpe, follow, .. } = self;
        match bpe.as_ref().and_then(|b| b.expansion(token)) {
            Some(e) => e.iter().for_each(|&t| push_base(state, follow, t)),
            None => push_base(state, follow, token),
        }
    }

    /// `check(guard, base)` for each base token of `token` in turn, each read by the guard
    /// before the next is checked (a token that is not merged is its own base token); whether
    /// every check (`all`) or some check (`!all`) holds.
    fn per_base(&self, token: TokenId, all: bool, check: impl Fn(&NoteGuard, TokenId) -> bool) -> bool {
        match self.bpe.as_ref().and_then(|b| b.expansion(token)) {
            None => check(self, token),
            Some(e) => {
                let mut g = self.clone();
                let mut seen = e.iter().map(|&b| {
                    let ok = check(&g, b);
                    push_base(&mut g.state, &mut g.follow, b);
                    ok
                });
                if all {
                    seen.all(|ok| ok)
                } else {
                    seen.any(|ok| ok)
                }
            }
        }
    }

    /// With constraints: whether `token` (read next) writes part of a locked note (a merged
    /// token: any of its base tokens).
    pub fn writes_locked(&self, token: TokenId) -> bool {
        self.follow.is_some()
            && self.per_base(token, false, |g, b| {
                g.follow.as_ref().is_some_and(|f| f.writes_locked(&g.state.cursor(), g.state.effect(b)))
            })
    }

    /// With constraints: how many locked notes time passed before they were written (0 when
    /// sampling kept to them; see [`super::constraint`]).
    pub fn missed_locked(&self) -> usize {
        self.follow.as_ref().map_or(0, Follow::missed)
    }

    /// Whether the constraints allow the base token `token` next.
    fn constraint_allows(&self, token: TokenId) -> bool {
        match &self.follow {
            None => true,
            Some(f) => f.allows(&self.state.cursor(), self.state.effect(token), self.lowest_pitch),
        }
    }

    /// Whether grammar and constraints allow `token` (merged: each base token in turn).
    fn allows_all(&self, token: TokenId) -> bool {
        self.per_base(token, true, |g, b| g.state.allows(b) && g.constraint_allows(b))
    }

    /// Number of sounding notes.
    pub fn sounding(&self) -> usize {
        match &self.state {
            State::MidiLike(g) => g.sounding(),
            State::Durations(g) => g.sounding(),
        }
    }

    /// Set to zero the probability of every token the rules forbid next (see the module doc), and
    /// weigh the others as the constraints' soft rules ask ([`super::Constraints::favour_classes`]).
    /// `probs` is indexed by token id; entries past the vocabulary are left alone. If the
    /// model gives no weight to any allowed token, the first allowed one gets weight 1, so a
    /// sampler always finds one. With BPE, a merged token is allowed when the rules allow each
    /// of its base tokens in turn.
    pub fn mask(&self, probs: &mut [f64]) {
        let Some((vocab, gate)) = &self.controls else {
            self.mask_grammar(probs);
            if let Some(f) = &self.follow {
                self.mask_constraints(f, probs);
            }
            return;
        };
        // Control tokens: the model's weight where the gate allows them, else none.
        let n = probs.len().min(vocab.len());
        let stated: Vec<(usize, f64)> = (0..n)
            .filter_map(|id| {
                let c = controls::control_of(vocab, id as TokenId)?;
                gate.allows(c, id as TokenId).then_some((id, probs[id]))
            })
            .filter(|&(_, p)| p > 0.0)
            .collect();
        self.mask_grammar(probs);
        if let Some(f) = &self.follow {
            self.mask_constraints(f, probs);
        }
        for (id, p) in stated {
            probs[id] = p;
        }
    }

    /// The constraints' part of [`NoteGuard::mask`], after the grammar's: when the sequence is
    /// complete only EOS is left; else every token the constraints forbid is zeroed and every
    /// other weighed by them ([`super::constraint::Follow::weight`]; a BPE merge is not). If that
    /// leaves no weight, the first allowed token gets weight 1; if nothing is allowed at all
    /// (a dead end), EOS.
    fn mask_constraints(&self, f: &Follow, probs: &mut [f64]) {
        let eos = usize::from(EOS);
        let cursor = self.state.cursor();
        if f.complete(&cursor) {
            probs.iter_mut().for_each(|p| *p = 0.0);
            if eos < probs.len() {
                probs[eos] = 1.0;
            }
            return;
        }
        let mut any = false;
        for (id, p) in probs.iter_mut().enumerate() {
            if *p <= 0.0 {
                continue;
            }
            let token = id as TokenId;
            let ok = match self.bpe.as_ref().and_then(|b| b.expansion(token)) {
                None => {
                    let effect = self.state.effect(token);
                    let ok = f.allows(&cursor, effect, self.lowest_pitch);
                    if ok {
                        *p *= f.weight(&cursor, effect);
                    }
                    ok
                }
                Some(_) => self.allows_all(token),
            };
            if ok {
                any = true;
            } else {
                *p = 0.0;
            }
        }
        if !any {
            // The model's weight was all on forbidden tokens: the first token both allow.
            let n = probs.len().min(self.bpe.as_ref().map_or(usize::MAX, |b| b.len()));
            match (0..n).find(|&id| id != eos && self.allows_all(id as TokenId)) {
                Some(id) => probs[id] = 1.0,
                None if eos < probs.len() => probs[eos] = 1.0,
                None => {}
            }
        }
    }

    /// The grammar's part of [`NoteGuard::mask`].
    fn mask_grammar(&self, probs: &mut [f64]) {
        match &self.bpe {
            None => match &self.state {
                State::MidiLike(g) => g.mask(probs),
                State::Durations(g) => g.mask(probs),
            },
            Some(bpe) => {
                let base_len = bpe.base_len();
                keep_allowed(probs, bpe.len(), |t| match bpe.expansion(t) {
                    None => usize::from(t) < base_len && self.state.allows(t),
                    Some(e) => {
                        let mut s = self.state.clone();
                        e.iter().all(|&b| {
                            let ok = s.allows(b);
                            s.push(b);
                            ok
                        })
                    }
                });
            }
        }
    }

    /// `midi-like`: the tokens that end every sounding note now (see
    /// [`super::midi_like::Guard::closing`]); empty under the duration schemes, whose notes
    /// end by themselves.
    pub fn closing(&self) -> Vec<TokenId> {
        match &self.state {
            State::MidiLike(g) => g.closing(),
            State::Durations(_) => Vec::new(),
        }
    }

    /// Make a finished sequence (that this guard has read) decode with nothing dropped or left
    /// sounding: `midi-like` adds [`NoteGuard::closing`] before its EOS (if any); TSD and REMI
    /// remove the tokens of a note left incomplete at its end (expanding a merged last token
    /// when only part of it goes).
    pub fn close(&self, sequence: &mut Vec<TokenId>) {
        match &self.state {
            State::MidiLike(g) => g.close(sequence),
            State::Durations(g) => {
                if sequence.last() == Some(&EOS) {
                    return;
                }
                let mut drop = g.incomplete_tail();
                while drop > 0 {
                    let Some(last) = sequence.pop() else { break };
                    match self.bpe.as_ref().and_then(|b| b.expansion(last)) {
                        Some(e) if e.len() > drop => {
                            sequence.extend_from_slice(&e[..e.len() - drop]);
                            drop = 0;
                        }
                        Some(e) => drop -= e.len(),
                        None => drop -= 1,
                    }
                }
            }
        }
    }
}

/// Read one base token into the grammar's state and the constraints' (which see it first, as
/// the grammar stood before it).
fn push_base(state: &mut State, follow: &mut Option<Follow>, token: TokenId) {
    if let Some(f) = follow {
        f.push(&state.cursor(), state.effect(token));
    }
    state.push(token);
}

/// Zero every entry of `probs` (below `vocab_len`) whose token `allowed` rejects; if no allowed
/// token keeps any weight, give the first allowed one weight 1.
pub(super) fn keep_allowed(probs: &mut [f64], vocab_len: usize, allowed: impl Fn(TokenId) -> bool) {
    let n = probs.len().min(vocab_len);
    let mut first_allowed = None;
    let mut any = false;
    for (id, p) in probs[..n].iter_mut().enumerate() {
        if allowed(id as TokenId) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::grid::Part;
    use crate::tokens::{Event, Scheme, TokenizerConfig, BOS, EOS};

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { max_note_steps: 24, ..TokenizerConfig::default() }).unwrap()
    }

    use crate::tokens::testing::ids;

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
    fn a_soft_rule_weighs_what_it_favours_and_forbids_nothing() {
        let t = tok();
        let favour = Arc::new(Constraints::new().favour_classes(&[0, 4, 7], 3.0));
        let g = NoteRules::new(&t).with_constraints(Some(favour)).guard(&ids(&t, "BOS NOTE_ON_60 SHIFT_6"));
        let mut p = vec![1.0; t.vocab_size()];
        g.mask(&mut p);
        let at = |name: &str| p[ids(&t, name)[0] as usize];
        assert_eq!((at("NOTE_ON_64"), at("NOTE_ON_67"), at("NOTE_ON_72")), (3.0, 3.0, 3.0));
        assert_eq!((at("NOTE_ON_62"), at("NOTE_ON_61"), at("SHIFT_1"), at("EOS")), (1.0, 1.0, 1.0, 1.0));
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
        assert_eq!(ons(&rules.guard(&ids(&t, "BOS NOTE_ON_60 SHIFT_1"))), usize::from(pitches));
        // At the step it started, a pitch cannot start again (the decoder would merge the two).
        assert_eq!(ons(&rules.guard(&ids(&t, "BOS NOTE_ON_60"))), usize::from(pitches) - 1);
        // Two sounding (in two instruments): no NOTE_ON, but shifts and the NOTE_OFF remain.
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64 SHIFT_1"));
        assert_eq!(ons(&g), 0);
        let rest = allowed(&t, &g);
        assert!(rest.iter().any(|n| n == "NOTE_OFF_64") && rest.iter().any(|n| n == "SHIFT_1"));
        // A note cannot end at the step it started (the decoder would stretch it to one step).
        let g = rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64"));
        assert!(!allowed(&t, &g).iter().any(|n| n == "NOTE_OFF_64"));
        // One ends: NOTE_ONs are back. Without a limit there never was one.
        assert_eq!(
            ons(&rules.guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64 SHIFT_1 NOTE_OFF_64"))),
            usize::from(pitches)
        );
        assert_eq!(
            ons(&NoteRules::new(&t).guard(&ids(&t, "BOS NOTE_ON_60 PROGRAM_40 NOTE_ON_64 SHIFT_1"))),
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
            let (mut now, mut part, mut open) = (0u64, Part::program(0), Vec::<(Part, u8, u64)>::new());
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
                    e @ (Event::Program(..) | Event::Drums(_)) => part = Part::of_event(e).unwrap(),
                    _ => {}
                }
            }
            assert!(open.is_empty(), "{} notes left sounding", open.len());
        }
    }

    /// Draw a token from `p` (unnormalized) with `rng`.
    fn draw(p: &[f64], rng: &mut impl rand::Rng) -> TokenId {
        let total: f64 = p.iter().sum();
        let mut r = rng.random::<f64>() * total;
        p.iter()
            .position(|&x| {
                r -= x;
                r < 0.0
            })
            .unwrap_or(p.len() - 1) as TokenId
    }

    /// Uniform random sampling under each scheme's guard (with and without a polyphony limit)
    /// always decodes with no dropped token, no note past the cap and, with a limit, never more
    /// notes sounding at once than it allows.
    #[test]
    fn guarded_random_sequences_of_every_scheme_decode_with_nothing_dropped() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for scheme in Scheme::ALL {
            for programs in [crate::tokens::ProgramMode::Programs, crate::tokens::ProgramMode::MergePiano] {
                let cfg =
                    TokenizerConfig { scheme, programs, max_note_steps: 24, ..TokenizerConfig::default() };
                let t = Tokenizer::new(cfg).unwrap();
                for limit in [None, Some(3)] {
                    let rules = NoteRules::new(&t).with_max_polyphony(limit);
                    let mut notes = 0;
                    for _ in 0..25 {
                        let mut seq = vec![BOS];
                        let mut g = rules.guard(&seq);
                        for _ in 0..300 {
                            let mut p: Vec<f64> = (0..t.vocab_size()).map(|_| rng.random::<f64>()).collect();
                            p[usize::from(EOS)] = 0.0;
                            g.mask(&mut p);
                            let tok = draw(&p, &mut rng);
                            g.push(tok);
                            seq.push(tok);
                        }
                        g.close(&mut seq);
                        assert_eq!(t.dropped_tokens(&seq), 0, "{scheme} {programs:?} {limit:?}");
                        let piece = t.decode(&seq);
                        let all: Vec<_> = piece.instruments.iter().flat_map(|i| &i.notes).collect();
                        notes += all.len();
                        assert!(all.iter().all(|n| n.duration() <= 24 * 40), "{scheme}: a note past the cap");
                        if let Some(m) = limit {
                            for n in &all {
                                let at = all.iter().filter(|o| o.start <= n.start && o.end > n.start).count();
                                assert!(at <= m, "{scheme}: {at} notes sound at once, limit {m}");
                            }
                        }
                    }
                    assert!(notes > 100, "{scheme} {programs:?}: only {notes} notes sampled");
                }
            }
        }
    }

    /// Under BPE a merged token is allowed only when its base tokens are, in turn: uniform
    /// sampling over base and merged tokens still decodes with nothing dropped.
    #[test]
    fn guarded_sampling_with_bpe_drops_nothing() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        for scheme in Scheme::ALL {
            let cfg = TokenizerConfig { scheme, max_note_steps: 24, ..TokenizerConfig::default() };
            let base = Tokenizer::new(cfg).unwrap();
            // Merges learned on guarded random sequences of the base tokens.
            let rules = NoteRules::new(&base);
            let mut corpus = Vec::new();
            for _ in 0..20 {
                let mut seq = vec![BOS];
                let mut g = rules.guard(&seq);
                for _ in 0..200 {
                    let mut p: Vec<f64> =
                        (0..base.vocab_size()).map(|_| rng.random::<f64>().powi(8)).collect();
                    p[usize::from(EOS)] = 0.0;
                    g.mask(&mut p);
                    let t = draw(&p, &mut rng);
                    g.push(t);
                    seq.push(t);
                }
                corpus.push(seq);
            }
            let bpe = crate::tokens::Bpe::learn(&base, &corpus, base.vocab_size() + 200, |_| {}).unwrap();
            assert!(bpe.merges().len() > 50, "{scheme}: {} merges", bpe.merges().len());
            let t = base.clone().with_bpe(bpe).unwrap();
            let rules = NoteRules::new(&t).with_max_polyphony(Some(4));
            let mut merged_drawn = 0;
            for _ in 0..20 {
                let mut seq = vec![BOS];
                let mut g = rules.guard(&seq);
                for _ in 0..150 {
                    let mut p: Vec<f64> = (0..t.vocab_size()).map(|_| rng.random::<f64>()).collect();
                    p[usize::from(EOS)] = 0.0;
                    g.mask(&mut p);
                    let tok = draw(&p, &mut rng);
                    merged_drawn += usize::from(usize::from(tok) >= base.vocab_size());
                    g.push(tok);
                    seq.push(tok);
                }
                g.close(&mut seq);
                assert_eq!(t.dropped_tokens(&seq), 0, "{scheme} with BPE");
                assert_eq!(t.note_count(&seq), base.note_count(&t.base_tokens(&seq)));
            }
            assert!(merged_drawn > 100, "{scheme}: only {merged_drawn} merged tokens drawn");
        }
    }

    #[test]
    fn duration_schemes_allow_only_whole_notes_in_order() {
        let tsd =
            Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() }).unwrap();
        let rules = NoteRules::new(&tsd);
        let kinds = |t: &Tokenizer, g: &NoteGuard| {
            let mut names: Vec<String> = allowed(t, g)
                .into_iter()
                .map(|n| n.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_').to_string())
                .collect();
            names.dedup();
            names
        };
        assert_eq!(
            kinds(&tsd, &rules.guard(&ids(&tsd, "BOS"))),
            ["EOS", "PITCH", "SHIFT", "PROGRAM", "DRUMS"]
        );
        assert_eq!(kinds(&tsd, &rules.guard(&ids(&tsd, "BOS PITCH_60"))), ["VELOCITY"]);
        assert_eq!(kinds(&tsd, &rules.guard(&ids(&tsd, "BOS PITCH_60 VELOCITY_3"))), ["DURATION"]);
        assert_eq!(kinds(&tsd, &rules.guard(&ids(&tsd, "BOS PROGRAM_5"))), ["PITCH"]);
        // No second note of a pitch at one onset, and no switch to the current instrument.
        let g = rules.guard(&ids(&tsd, "BOS PROGRAM_5 PITCH_60 VELOCITY_3 DURATION_4"));
        let a = allowed(&tsd, &g);
        assert!(!a.contains(&"PITCH_60".to_string()) && a.contains(&"PITCH_61".to_string()));
        assert!(!a.contains(&"PROGRAM_5".to_string()) && a.contains(&"PROGRAM_6".to_string()));
        // A note left incomplete is removed at the end; a finished one stays.
        let mut seq = ids(&tsd, "BOS PITCH_60 VELOCITY_3 DURATION_4 PITCH_62 VELOCITY_3");
        rules.guard(&seq).close(&mut seq);
        assert_eq!(seq, ids(&tsd, "BOS PITCH_60 VELOCITY_3 DURATION_4"));

        let remi =
            Tokenizer::new(TokenizerConfig { scheme: Scheme::Remi, ..TokenizerConfig::default() }).unwrap();
        let rules = NoteRules::new(&remi).with_max_polyphony(Some(1));
        assert_eq!(kinds(&remi, &rules.guard(&ids(&remi, "BOS"))), ["EOS", "BAR"]);
        assert_eq!(kinds(&remi, &rules.guard(&ids(&remi, "BOS BAR"))), ["EOS", "BAR", "TIMESIG", "POSITION"]);
        let g = rules.guard(&ids(&remi, "BOS BAR TIMESIG_3_4 POSITION_5 PITCH_60 VELOCITY_1 DURATION_12"));
        // One note sounds until step 17 (limit 1): no new pitch, positions only from 17 to 35.
        let a = allowed(&remi, &g);
        let positions: Vec<_> = a.iter().filter(|n| n.starts_with("POSITION")).collect();
        assert_eq!(positions.first().map(|s| s.as_str()), Some("POSITION_17"));
        assert_eq!(positions.last().map(|s| s.as_str()), Some("POSITION_35"));
        assert!(!a.iter().any(|n| n.starts_with("PITCH") || n.starts_with("TIMESIG")));
        assert!(a.contains(&"BAR".to_string()));
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
