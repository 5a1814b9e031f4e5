//! Pieces as token sequences, in one of three schemes ([`Scheme`]), each with a
//! lossless-up-to-the-grid encoder and decoder:
//!
//! - `midi-like` ([`midi_like`]): NOTE_ON, NOTE_OFF, SHIFT, VELOCITY, PROGRAM (Performance RNN);
//! - `tsd` and `remi` ([`durations`]): per note PITCH, VELOCITY, DURATION, with time as SHIFTs
//!   (TSD) or as BAR, TIMESIG and POSITION tokens (REMI, bars from the piece's time signatures;
//!   [`bars`]).
//!
//! The parts:
//!
//! - [`TokenizerConfig`] decides the scheme, the grid, the vocabulary and what is encoded.
//! - [`Vocab`] maps [`Event`]s to dense [`TokenId`]s and readable names (`NOTE_ON_60`).
//! - [`Tokenizer`] encodes a [`crate::Piece`] and decodes any token sequence back into one; it
//!   is the one face of the schemes: nothing outside this module matches on their events.
//! - [`transpose`] shifts pitched notes for data augmentation.
//! - [`gm_names`] names the General MIDI programs.
//! - [`NoteGuard`] keeps sampled sequences well formed under each scheme's grammar (no stray
//!   NOTE_OFFs, no note past the length cap, nothing the decoder would drop), and within
//!   [`Constraints`] (locked notes, a free region, a stop: [`constraint`]) when asked to.
//!
//! # What "lossless" means
//!
//! For every piece `p`, `tokenizer.decode(&tokenizer.encode(&p)) == tokenizer.quantize(&p)`,
//! where [`Tokenizer::quantize`] keeps exactly this of `p`:
//!
//! 1. **Grid.** Note starts and ends are rounded to the nearest step (beats mode:
//!    `round(tick * steps_per_beat / ticks_per_beat)`; seconds mode:
//!    `round(seconds(tick) * 1000 / step_ms)` through the piece's tempo map; halves round up).
//!    A note whose end does not come after its start is made one step long.
//! 2. **Range and parts.** Notes outside `pitch_min..=pitch_max` are dropped. With
//!    [`ProgramMode::Programs`] an instrument is its General MIDI program, or "drums" for a drum
//!    track whatever its program: instruments sharing one are merged, unless
//!    [`TokenizerConfig::tracks`] is N > 1: then the instruments of one program (with a note
//!    left by this rule) are its instances 1, 2, ..., ranked by their notes after rules 1 and 3-6
//!    applied to each alone (sorted by start, pitch, end, bin and compared as lists, so first by
//!    first onset); those past the N-th merge into the N-th, and the parts are then numbered
//!    again by the same ranking. With
//!    [`ProgramMode::MergePiano`] every pitched note goes to one piano part and drums are dropped.
//! 3. **Velocity.** Each velocity becomes its bin's centre ([`Vocab::bin_velocity`] of
//!    [`Vocab::velocity_bin`]).
//! 4. **Overlaps.** For each (instrument, pitch) the k-th earliest start is paired with the
//!    k-th earliest end, which is how a FIFO decoder reads overlapping notes of one pitch (it
//!    changes only a note nested inside a longer note of the same pitch: `0..36` and `12..24`
//!    become `0..24` and `12..36`). Each note keeps the velocity of its start.
//! 5. **Length.** Notes longer than `max_note_steps` are cut to it (so every note fits one
//!    DURATION token under TSD and REMI).
//! 6. **Duplicates.** Notes equal in instrument, pitch, start and end are merged into one (the
//!    loudest).
//! 7. **Layout.** The result has the decoder's resolution, one tempo event (120 bpm), no time or
//!    key signatures, instruments ordered by first note with fresh channels and GM names (with
//!    the instance's number after the first: "Violin 2"; see
//!    [`Tokenizer::decode_with`]). Tempo, signatures, channels and names of `p` are not encoded,
//!    except under REMI:
//! 8. **Bars (REMI only).** The time signatures become bar lines on the grid as [`bars`]
//!    describes; the result has a time signature at step 0 (the first bar's meter) and one at
//!    each bar line where the meter changes, up to the bar of the last note.
//!
//! Rules 1-6 are the same for every scheme, so one piece has the same notes under all three:
//! that is what makes bits per note comparable across schemes.
//!
//! Consequences, all tested: `quantize` is idempotent, `encode(&quantize(p)) == encode(p)`,
//! every decoded piece `d` has `quantize(&d) == d`, so `encode(decode(tokens))` is a fixed
//! point after one round trip.

pub mod bars;
pub mod bpe;
mod config;
pub mod constraint;
pub mod controls;
mod decode;
pub mod durations;
mod encode;
pub mod gm_names;
mod grid;
mod guard;
pub mod midi_like;
pub mod settings;

/// A move of time by `steps` grid steps as the encoders write it: SHIFTs of at most
/// `max_shift` steps, the longest first (`SHIFT_48 SHIFT_48 SHIFT_4` for 100 steps).
pub(super) fn time_shifts(steps: u64, max_shift: u64) -> impl Iterator<Item = Event> {
    let max_shift = max_shift.max(1);
    let mut left = steps;
    std::iter::from_fn(move || {
        let s = left.min(max_shift);
        left -= s;
        (s > 0).then_some(Event::TimeShift(s as u16))
    })
}

#[cfg(test)]
mod testing;
pub mod transpose;
mod vocab;

pub use bpe::{Bpe, BpeSpec};
pub use config::{ProgramMode, Scheme, TimeMode, TokenizerConfig, MAX_DURATION_STEPS, MAX_TRACKS};
pub use constraint::{Constraints, CopyLimit};
pub use controls::{Control, ControlSet, ControlValues};
pub use grid::DecodeOptions;
pub use guard::{NoteGuard, NoteRules};
pub use settings::{Grid, TokenizerSettings};
pub use vocab::{Event, Vocab};

use crate::error::{Result, TokenizerError};
use crate::midi::Piece;

/// A token: an index into the vocabulary.
pub type TokenId = u16;

/// Padding (never produced by the encoder, never sampled).
pub const PAD: TokenId = 0;
/// Beginning of a sequence.
pub const BOS: TokenId = 1;
/// End of a sequence.
pub const EOS: TokenId = 2;

/// Encodes pieces into tokens and decodes tokens into pieces under one configuration, with
/// optional BPE merges on top ([`bpe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    config: TokenizerConfig,
    vocab: Vocab,
    bpe: Option<std::sync::Arc<Bpe>>,
}

impl Tokenizer {
    /// A tokenizer for `config` (validated).
    pub fn new(config: TokenizerConfig) -> Result<Self> {
        config.validate()?;
        let vocab = Vocab::new(&config);
        Ok(Tokenizer { config, vocab, bpe: None })
    }

    /// This tokenizer with BPE merges on top; an error when they were learned on another base
    /// configuration.
    pub fn with_bpe(self, bpe: Bpe) -> Result<Self> {
        if bpe.base() != &self.config {
            return Err(TokenizerError::BpeBase {
                learned_scheme: bpe.base().scheme.name(),
                learned: bpe.base().digest(),
                scheme: self.config.scheme.name(),
                ours: self.config.digest(),
            }
            .into());
        }
        Ok(Tokenizer { bpe: Some(std::sync::Arc::new(bpe)), ..self })
    }

    /// The BPE merges, if any.
    pub fn bpe(&self) -> Option<&Bpe> {
        self.bpe.as_deref()
    }

    /// A digest of everything that decides the tokens (configuration and merges): the key of
    /// token caches. Equal to [`TokenizerConfig::digest`] without BPE.
    pub fn digest(&self) -> String {
        match &self.bpe {
            None => self.config.digest(),
            Some(b) => {
                let json = serde_json::to_vec(&b.spec()).expect("a BPE spec serializes");
                blake3::hash(&json).to_hex()[..16].to_string()
            }
        }
    }

    /// `tokens` as base tokens of the scheme (merged tokens expanded; unchanged without BPE).
    pub fn base_tokens<'a>(&self, tokens: &'a [TokenId]) -> std::borrow::Cow<'a, [TokenId]> {
        match &self.bpe {
            None => std::borrow::Cow::Borrowed(tokens),
            Some(b) => std::borrow::Cow::Owned(b.expand(tokens)),
        }
    }

    /// Base tokens with the BPE merges applied (unchanged without BPE).
    fn merged(&self, tokens: Vec<TokenId>) -> Vec<TokenId> {
        match &self.bpe {
            None => tokens,
            Some(b) => b.encode(&tokens),
        }
    }

    /// How MIDI files are read for this tokenizer (the sustain pedal applied or not).
    pub fn read_options(&self) -> crate::midi::ReadOptions {
        crate::midi::ReadOptions { apply_sustain: self.config.sustain }
    }

    /// The configuration this tokenizer was made from.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// The vocabulary of the scheme's base tokens (without BPE merges).
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of distinct tokens, BPE merges included.
    pub fn vocab_size(&self) -> usize {
        self.bpe.as_ref().map_or(self.vocab.len(), |b| b.len())
    }

    /// The readable name of `token` (`NOTE_ON_60`, `SHIFT_3`, ...; a merged token joins its
    /// base tokens' names with `+`: `PITCH_60+VELOCITY_22`).
    pub fn name(&self, token: TokenId) -> String {
        match self.bpe.as_ref().and_then(|b| b.expansion(token)) {
            Some(e) => e.iter().map(|&t| self.vocab.name(t)).collect::<Vec<_>>().join("+"),
            None => self.vocab.name(token),
        }
    }

    /// `tokens` transposed by `semitones` (see [`transpose`]), merged tokens included (expanded,
    /// transposed, merged again: the result may be shorter or longer). `context` holds the
    /// tokens before `tokens` in their sequence: the last instrument token among them decides
    /// whether the first notes are drums.
    pub fn transpose(&self, context: &[TokenId], tokens: &[TokenId], semitones: i8) -> Vec<TokenId> {
        let before = self.base_tokens(context);
        let instrument = before.iter().rev().copied().find(|&t| self.vocab.is_instrument(t));
        let mut input: Vec<TokenId> = instrument.into_iter().collect();
        input.extend_from_slice(&self.base_tokens(tokens));
        let mut moved = transpose::transpose_tokens(&self.vocab, &input, semitones);
        if instrument.is_some() {
            moved.remove(0);
        }
        match &self.bpe {
            None => moved,
            Some(b) => b.encode(&moved),
        }
    }

    /// The scheme of this tokenizer.
    pub fn scheme(&self) -> Scheme {
        self.config.scheme
    }

    /// `BOS, events..., EOS` for `piece` (event order: see the scheme's module).
    pub fn encode(&self, piece: &Piece) -> Vec<TokenId> {
        self.merged(encode::encode(self, piece))
    }

    /// A primer: `BOS` and the events of `piece` that happen before the cut, without `EOS`.
    ///
    /// The cut is `beats` quarter notes and/or `seconds` seconds into the piece (through its
    /// tempo map); with both, the earlier one; with neither, the whole piece. Negative or NaN
    /// cuts count as 0. Events exactly at the cut are excluded and no TIME_SHIFT up to the cut
    /// is written. Under `midi-like`, notes that start before the cut and end at or after it
    /// are left open (their NOTE_OFFs are not emitted): the model that continues the primer
    /// closes them; under TSD and REMI they are complete (their DURATION holds their end), and
    /// REMI writes the bar lines before the cut. Without BPE the result is always a prefix of
    /// [`Tokenizer::encode`]'s output; with BPE its base tokens are a prefix of the full
    /// encoding's base tokens, merged on their own.
    pub fn encode_prefix(&self, piece: &Piece, beats: Option<f64>, seconds: Option<f64>) -> Vec<TokenId> {
        let cut = grid::cut_position(&self.config, piece, beats, seconds);
        self.merged(encode::encode_prefix(self, piece, cut))
    }

    /// The tokens that follow, in `piece`, a sequence that stands at grid step `from` (a fill
    /// that ends exactly there): the notes starting at or after `from`, with EOS, without BOS.
    /// TSD and `midi-like`: encoded as if time started at `from` (a leading SHIFT to the first
    /// of them; notes sounding across `from` are left out, their NOTE_OFFs too); REMI: the rest
    /// of the whole encoding (bar lines and positions are absolute). With BPE, merged on their
    /// own. What a fill-in-the-middle network reads as the suffix.
    pub fn encode_suffix(&self, piece: &Piece, from: u64) -> Vec<TokenId> {
        self.merged(encode::encode_suffix(self, piece, from))
    }

    /// A piece from any token sequence, at 120 bpm (see [`Tokenizer::decode_with`]).
    pub fn decode(&self, tokens: &[TokenId]) -> Piece {
        self.decode_with(tokens, &DecodeOptions::default())
    }

    /// A piece from any token sequence (the decoder's rules are in `decode.rs`); never fails,
    /// and every note of the result has `end > start`.
    ///
    /// Layout of the result: beats mode has `ticks_per_beat` = the smallest multiple of
    /// `steps_per_beat` that is at least 480 (12 → 480, so a step is 40 ticks); seconds mode has
    /// one tick per millisecond (`ticks_per_beat` = the tempo in whole milliseconds, 500 at 120
    /// bpm). One tempo event at tick 0 (`options.micros_per_beat`), the time signature of
    /// `options` if any. One instrument per program (and one for drums), ordered by first note
    /// (ties: by program, drums last); pitched instruments take channels 0, 1, ... skipping 9,
    /// drums channel 9; names are the General MIDI program names or "Drums".
    pub fn decode_with(&self, tokens: &[TokenId], options: &DecodeOptions) -> Piece {
        decode::decode(self, &self.base_tokens(tokens), options)
    }

    /// What `decode(encode(piece))` gives: `piece` on the grid, as the module doc's definition
    /// of "lossless" describes, at 120 bpm.
    pub fn quantize(&self, piece: &Piece) -> Piece {
        self.quantize_with(piece, &DecodeOptions::default())
    }

    /// What `decode_with(encode(piece), options)` gives.
    pub fn quantize_with(&self, piece: &Piece, options: &DecodeOptions) -> Piece {
        let notes = encode::canonical_notes(self, piece);
        let meters = match self.config.scheme {
            Scheme::Remi => durations::bar_meters(bars::BarLines::for_piece(&self.config, piece), &notes),
            Scheme::MidiLike | Scheme::Tsd => Vec::new(),
        };
        grid::to_piece(&self.config, &self.vocab, &notes, &meters, options)
    }

    /// How many tokens of `tokens` the decoder cannot use and skips (by the scheme's rules: a
    /// NOTE_OFF with no sounding note, a PITCH with no DURATION, a POSITION going back, an
    /// unknown id...), counting each note merged away as a duplicate as one. Zero for every
    /// encoded piece and for every sequence sampled under the note guard.
    pub fn dropped_tokens(&self, tokens: &[TokenId]) -> usize {
        decode::decode_notes(self, &self.base_tokens(tokens)).dropped
    }

    /// The number of notes `tokens` decode to. The same for a piece under every scheme of one
    /// grid (see the module doc), so it is the denominator of bits per note.
    pub fn note_count(&self, tokens: &[TokenId]) -> usize {
        decode::decode_notes(self, &self.base_tokens(tokens)).notes.len()
    }

    /// The first index at or after `at` where a token that moves time stands (a SHIFT; a BAR or
    /// POSITION under REMI; a merged token whose first base token is one), so that a cut there
    /// falls between events rather than inside a note's tokens; `tokens.len()` when none.
    pub fn time_boundary(&self, tokens: &[TokenId], at: usize) -> usize {
        let moves = |t: TokenId| {
            let first = self.bpe.as_ref().and_then(|b| b.expansion(t)).map_or(t, |e| e[0]);
            matches!(self.vocab.event(first), Event::TimeShift(_) | Event::Bar | Event::Position(_))
        };
        (at.min(tokens.len())..tokens.len()).find(|&i| moves(tokens[i])).unwrap_or(tokens.len())
    }

    /// The tokens that move time by `steps` as the encoder writes such a move: SHIFTs, the
    /// longest first. Empty under REMI (its bars and positions state time absolutely) and for 0.
    pub fn shift_tokens(&self, steps: u64) -> Vec<TokenId> {
        if self.config.scheme == Scheme::Remi {
            return Vec::new();
        }
        time_shifts(steps, u64::from(self.config.max_shift_steps)).filter_map(|e| self.vocab.id(e)).collect()
    }

    /// How far the SHIFTs among `tokens` move time, in grid steps (merged tokens expanded); a
    /// window read from anywhere in a sequence. 0 under REMI (see [`Tokenizer::shift_tokens`]).
    pub fn shifted_steps(&self, tokens: &[TokenId]) -> u64 {
        if self.config.scheme == Scheme::Remi {
            return 0;
        }
        let v = &self.vocab;
        self.base_tokens(tokens)
            .iter()
            .map(|&t| match v.event(t) {
                Event::TimeShift(s) => u64::from(s),
                _ => 0,
            })
            .sum()
    }

    /// The decoder's time, in grid steps, after reading `tokens` (up to an EOS): how far the
    /// time tokens (SHIFTs; REMI's bars and positions) have moved.
    pub fn end_step(&self, tokens: &[TokenId]) -> u64 {
        decode::decode_notes(self, &self.base_tokens(tokens)).end
    }

    /// A continuation decodable on its own: `BOS`, the tokens that restore the state in force
    /// at the end of `primer`, then `continuation`. `midi-like`: the primer's last instrument
    /// and velocity tokens (NOTE_OFFs of notes the primer left open then find no open note and
    /// are dropped by the decoder). TSD: its last instrument. REMI: a bar line in the primer's
    /// last meter (the continuation's own first bar line, if it starts with one), the primer's
    /// last position when the continuation goes on at it, and its last instrument; the
    /// continuation's bar then starts at step 0.
    pub fn strip_primer(&self, primer: &[TokenId], continuation: &[TokenId]) -> Vec<TokenId> {
        let (primer, continuation) = (&*self.base_tokens(primer), &*self.base_tokens(continuation));
        let v = &self.vocab;
        let last = |pred: &dyn Fn(Event) -> bool| primer.iter().rev().copied().find(|&t| pred(v.event(t)));
        let instrument = last(&|e| matches!(e, Event::Program(..) | Event::Drums(_)));
        let mut out = vec![BOS];
        let mut rest = continuation;
        match self.config.scheme {
            Scheme::MidiLike => {
                out.extend(instrument);
                out.extend(last(&|e| matches!(e, Event::Velocity(_))));
            }
            Scheme::Tsd => out.extend(instrument),
            Scheme::Remi => {
                let bar = v.id(Event::Bar).unwrap_or(PAD);
                let starts_bar = rest.first() == Some(&bar);
                if starts_bar {
                    rest = &rest[1..];
                }
                out.push(bar);
                match rest.first() {
                    Some(&t) if matches!(v.event(t), Event::TimeSig(..)) => {
                        out.push(t);
                        rest = &rest[1..];
                    }
                    _ => out.extend(last(&|e| matches!(e, Event::TimeSig(..)))),
                }
                // Notes at the primer's last position need it (there is none after a bar line).
                let since_bar = primer.iter().rposition(|&t| t == bar).map_or(primer, |i| &primer[i..]);
                let position =
                    since_bar.iter().rev().copied().find(|&t| matches!(v.event(t), Event::Position(_)));
                let first_time = rest
                    .iter()
                    .map(|&t| v.event(t))
                    .find(|e| !matches!(e, Event::Program(..) | Event::Drums(_)));
                if !starts_bar && matches!(first_time, Some(Event::Pitch(_))) {
                    out.extend(position);
                }
                out.extend(instrument);
            }
        }
        out.extend_from_slice(rest);
        out
    }

    /// The grid step of `tick` in `piece` (rounded as the encoder rounds note times).
    pub fn step_at(&self, piece: &Piece, tick: u64) -> u64 {
        grid::StepClock::new(&self.config, piece).step(tick)
    }

    /// Grid steps per quarter note, when the grid is in beats (`None` in seconds mode).
    pub fn steps_per_beat(&self) -> Option<u16> {
        match self.config.time {
            TimeMode::Beats { steps_per_beat } => Some(steps_per_beat),
            TimeMode::Seconds { .. } => None,
        }
    }

    /// `ticks_per_beat` of decoded pieces and how many of their ticks one grid step lasts, for
    /// `options` (see [`Tokenizer::decode_with`]).
    pub fn decoded_resolution(&self, options: &DecodeOptions) -> (u16, u64) {
        let (tpb, ticks_per_step, _) = grid::output_resolution(&self.config, options);
        (tpb, ticks_per_step)
    }
}
