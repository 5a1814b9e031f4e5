//! Editing a piece with any model, not only continuing it: **infill** regenerates the notes that
//! start in a region and keeps every other note exactly; **harmonize** locks a melody as the top
//! voice and writes the voices under it.
//!
//! Both sample through the one sampler with [`Constraints`] on the note guard
//! ([`crate::tokens::constraint`]): the model writes left to right, but only where notes may
//! start, landing exactly on the region's end, and writing every locked note at its time. Each
//! output is the best of `candidates` samples by the joint likelihood of the fill and what
//! follows it, `log p(fill | before) + log p(after | before, fill)`: the sample is re-encoded
//! with the real music after the region and scored by the model, so a left-to-right model sees
//! the future by reranking.
//!
//! The result is assembled on notes, not tokens: the kept notes are the original piece's own
//! (pitch, onset, duration, velocity, instrument, in its own ticks), and the new notes come from
//! the decoded sample (on the tokenizer's grid, converted to the piece's ticks). Infill puts
//! each new note in the instrument of its program whose nearest note before the region is
//! closest in pitch; harmonize writes the new voices as instruments of their own.
//!
//! [`run`] is the whole job behind `cadenza infill` and `cadenza harmonize`; [`infill`] and
//! [`harmonize`] are its core on a model already in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::error::{EditError, Error, Result};
use crate::generate::Sample;
use crate::midi::{self, Instrument, Note, Piece};
use crate::models::{saved, Generator};
use crate::progress::Progress;
use crate::sampler::Sampler;
use crate::tokens::{
    Constraints, CopyLimit, DecodeOptions, NoteRules, ProgramMode, TokenId, Tokenizer, BOS, EOS,
};

/// How to edit: the sampling options and how many candidates each output is chosen from.
#[derive(Debug, Clone)]
pub struct EditOptions {
    /// How many outputs.
    pub count: usize,
    /// Candidates sampled per output; the one with the highest joint likelihood is kept.
    pub candidates: usize,
    /// Most new tokens per candidate (the constraints usually end it sooner).
    pub length: usize,
    /// Temperature, top-k, top-p (the note rules are set by the job).
    pub sampler: Sampler,
    pub rng_seed: u64,
    /// Infill: how many beats after the region reranking scores (the real music's first notes
    /// after the fill).
    pub horizon_beats: f64,
    /// Start no note while this many sound (all notes, kept ones included).
    pub max_polyphony: Option<usize>,
    /// What the candidates are ranked by.
    pub rerank: Rerank,
    /// Infill with a model trained to fill in the middle: let it read the music after the
    /// region too (`PREFIX before SUFFIX after GAP gap MIDDLE`, the gap the region's time), not only through the reranking. Off by
    /// default: on the Bach test split the FIM Transformer's fills join worse this way than
    /// left to right with reranking (`docs/benchmarks.md`).
    pub fim: bool,
    /// No new note may end a copy of more than this many notes of the training music (kept
    /// notes are walked but not checked; see [`crate::tokens::constraint`]).
    pub copy_limit: Option<CopyLimit>,
    /// The key the new notes are asked for, stated as a key token (checkpoints trained with
    /// `--controls key` and not key-relative); by default the piece's own key is stated.
    pub key: Option<crate::key::Key>,
}

/// What an edit's candidates are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Rerank {
    /// How likely the kept music is given the new notes: infill, `log p(after | before, fill)`
    /// (the music after the region, over the horizon); harmonize, the log-likelihood of the
    /// melody's own tokens in the harmonized piece. The candidates are drawn from the model
    /// given what comes before, so this is each one's importance weight under the model given
    /// the kept music too. It keeps the density of the music (measured: `docs/benchmarks.md`).
    #[default]
    Kept,
    /// `log p(fill | before) + log p(after | before, fill)` (harmonize: the whole piece): the
    /// most likely edited piece. It favours candidates with fewer new notes (every note costs
    /// probability): on the Bach test split its fills have about 11 notes where the real
    /// music has 17, and LSTM harmonizations a seventh of Bach's notes.
    Joint,
}

impl Rerank {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Rerank::Kept => "kept",
            Rerank::Joint => "joint",
        }
    }
}

impl Default for EditOptions {
    fn default() -> Self {
        EditOptions {
            count: 1,
            candidates: 16,
            length: 4096,
            sampler: Sampler::default(),
            rng_seed: 0,
            horizon_beats: 8.0,
            max_polyphony: None,
            rerank: Rerank::Kept,
            fim: false,
            copy_limit: None,
            key: None,
        }
    }
}

impl EditOptions {
    /// Check the options (and, as every sampling job does, the model against the tokenizer).
    fn validate(&self, model: &dyn Generator, tokenizer: &Tokenizer) -> Result<()> {
        crate::generate::check_sampling(model, tokenizer, &self.sampler, self.count, self.length)?;
        if !(1..=1024).contains(&self.candidates) {
            return Err(Error::setting("candidates", self.candidates, "between 1 and 1024"));
        }
        if !(self.horizon_beats.is_finite() && self.horizon_beats >= 0.0) {
            return Err(Error::setting("horizon", self.horizon_beats, "a number of beats >= 0"));
        }
        let config = tokenizer.config();
        if let (Some(key), false) =
            (self.key, config.controls.has(crate::tokens::Control::Key) && !config.key_relative)
        {
            return Err(Error::setting(
                "key",
                key,
                "a checkpoint trained with --controls key and without --transpose-to-key (an edit states the key as a token)",
            ));
        }
        Ok(())
    }
}

/// A region of a piece, as the user says it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Region {
    /// Quarter notes from the start, `start..end` (0-based, end exclusive).
    Beats(f64, f64),
    /// Bars `first..=last`, 1-based, following the piece's time signatures.
    Bars(u32, u32),
}

impl Region {
    /// The region in quarter notes of `piece` (bars through its time signatures); an error
    /// naming `path` when it is empty or starts after the piece's last note ends.
    pub fn beats(&self, piece: &Piece, path: &Path) -> Result<(f64, f64)> {
        let bad = |problem| Error::Edit { path: path.to_path_buf(), problem };
        let tpb = f64::from(piece.ticks_per_beat.max(1));
        let piece_end = piece.end_tick() as f64 / tpb;
        match *self {
            Region::Beats(a, b) => {
                if !(a.is_finite() && b.is_finite() && a >= 0.0 && b > a) {
                    return Err(bad(EditError::EmptyRegion { start: a, end: b, unit: "beats" }));
                }
                if a >= piece_end {
                    return Err(bad(EditError::RegionOutside {
                        start: a,
                        end: b,
                        unit: "beats",
                        unit_end: piece_end,
                    }));
                }
                Ok((a, b))
            }
            Region::Bars(first, last) => {
                if first == 0 {
                    return Err(bad(EditError::NoSuchBar { bar: 0 }));
                }
                if last < first {
                    let (start, end) = (f64::from(first), f64::from(last));
                    return Err(bad(EditError::EmptyRegion { start, end, unit: "bars" }));
                }
                let (a, b) = (bar_start_beat(piece, first), bar_start_beat(piece, last.saturating_add(1)));
                if a >= piece_end {
                    return Err(bad(EditError::RegionOutside {
                        start: f64::from(first),
                        end: f64::from(last),
                        unit: "bars",
                        unit_end: f64::from(bar_of_beat(piece, (piece_end - 1e-6).max(0.0))),
                    }));
                }
                Ok((a, b))
            }
        }
    }
}

/// The meter (quarter notes per bar) in force at each bar line, from the piece's time
/// signatures (4/4 before the first).
fn bar_lines(piece: &Piece) -> impl Iterator<Item = f64> + '_ {
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let sigs: Vec<(f64, f64)> = piece
        .time_signatures
        .iter()
        .map(|t| (t.tick as f64 / tpb, f64::from(t.numerator.max(1)) * 4.0 / f64::from(t.denominator.max(1))))
        .collect();
    let mut at = 0.0;
    std::iter::from_fn(move || {
        let here = at;
        let len = sigs.iter().rev().find(|&&(b, _)| b <= here + 1e-9).map_or(4.0, |&(_, l)| l);
        // A time signature that starts inside this bar starts a new bar there.
        let next_sig = sigs.iter().map(|&(b, _)| b).find(|&b| b > here + 1e-9);
        at = match next_sig {
            Some(b) if b < here + len - 1e-9 => b,
            _ => here + len,
        };
        Some(here)
    })
}

/// The quarter note at which 1-based bar `bar` starts.
fn bar_start_beat(piece: &Piece, bar: u32) -> f64 {
    bar_lines(piece).nth(bar.saturating_sub(1) as usize).unwrap_or(f64::INFINITY)
}

/// The 1-based bar that holds quarter note `beat`.
fn bar_of_beat(piece: &Piece, beat: f64) -> u32 {
    bar_lines(piece).take_while(|&b| b <= beat + 1e-9).count().max(1) as u32
}

/// One edited piece.
#[derive(Debug, Clone)]
pub struct Edited {
    pub piece: Piece,
    /// The chosen candidate's joint log-likelihood (nats) of the fill and the scored music after
    /// it, given the music before (harmonize: of the whole piece).
    pub joint_log_prob: f64,
    /// Of which the kept music (see [`Rerank::Kept`]): the music after the region, or the
    /// melody's tokens.
    pub kept_log_prob: f64,
    /// How many notes the kept music scored has (infill: after the region, within the
    /// horizon; harmonize: the melody's).
    pub after_notes: usize,
    /// Every candidate's score (by [`EditOptions::rerank`]), in sampling order.
    pub candidates: Vec<f64>,
    /// Which candidate was kept.
    pub chosen: usize,
    /// Notes the model wrote into the result.
    pub new_notes: usize,
    /// Locked notes the sampler could not place (0 when it kept to them; the result has them
    /// all the same).
    pub missed_locked: usize,
}

/// A candidate before it is chosen.
struct Candidate {
    piece: Piece,
    tokens_scored: Vec<TokenId>,
    /// Scored tokens before this index are the shared music before the edit.
    shared: usize,
    /// Which scored tokens write kept music (their log-probabilities make [`Rerank::Kept`]).
    kept: Vec<bool>,
    after_notes: usize,
    new_notes: usize,
    missed: usize,
}

/// The decoded sample's notes with a grid step in `keep`: (is_drum, program, note in steps).
fn sampled_notes(
    tokenizer: &Tokenizer,
    tokens: &[TokenId],
    keep: impl Fn(bool, u8, u8, u64) -> bool,
) -> Vec<(bool, u8, Note)> {
    let piece = tokenizer.decode_with(tokens, &DecodeOptions::default());
    let (_, tps) = tokenizer.decoded_resolution(&DecodeOptions::default());
    let tps = tps.max(1);
    let mut out = Vec::new();
    for inst in &piece.instruments {
        for n in &inst.notes {
            let (start, end) = (n.start / tps, n.end / tps);
            if keep(inst.is_drum, inst.program, n.pitch, start) {
                out.push((
                    inst.is_drum,
                    inst.program,
                    Note { start, end, pitch: n.pitch, velocity: n.velocity },
                ));
            }
        }
    }
    out
}

/// Grid step to a tick of `piece`.
fn tick_of(step: u64, piece: &Piece, steps_per_beat: u16) -> u64 {
    let (tpb, spb) = (u64::from(piece.ticks_per_beat.max(1)), u64::from(steps_per_beat.max(1)));
    (step * tpb + spb / 2) / spb
}

fn steps_per_beat(tokenizer: &Tokenizer, path: &Path) -> Result<u16> {
    tokenizer
        .steps_per_beat()
        .ok_or_else(|| Error::Edit { path: path.to_path_buf(), problem: EditError::SecondsGrid })
}

/// The rules every candidate samples under.
fn rules(tokenizer: &Tokenizer, constraints: Constraints, opts: &EditOptions) -> NoteRules {
    NoteRules::new(tokenizer)
        .with_max_polyphony(opts.max_polyphony)
        .with_constraints(Some(Arc::new(constraints)))
        .with_copy_limit(opts.copy_limit.clone())
}

/// Sample `count × candidates` continuations of `primer` under `rules` (with `after` and a
/// gap, middles between `primer` and `after` lasting the gap, by a model that fills in the
/// middle), make each a candidate with `assemble`, score them and keep the best of each group.
fn sample_and_choose(
    model: &dyn Generator,
    primer: &[TokenId],
    after: Option<(&[TokenId], &[TokenId])>,
    rules: NoteRules,
    opts: &EditOptions,
    assemble: &(dyn Fn(&[TokenId], usize) -> Candidate + Sync),
) -> Result<Vec<Edited>> {
    let sampler = opts.sampler.clone().with_notes(Some(rules.clone()));
    let k = opts.candidates;
    let rows = opts.count * k;
    let outs = match after {
        Some((after, gap)) => {
            model.generate_middles(primer, after, gap, rows, opts.length, &sampler, opts.rng_seed)?
        }
        None => model.generate_batch(&vec![primer.to_vec(); rows], opts.length, &sampler, opts.rng_seed)?,
    };
    let candidates: Vec<Candidate> = outs
        .par_iter()
        .map(|out| {
            let mut guard = rules.guard(primer);
            out.iter().for_each(|&t| guard.push(t));
            let sample = Sample::new(&sampler, primer, out);
            assemble(&sample.tokens, guard.missed_locked())
        })
        .collect();
    // (joint, kept) log-likelihoods of each candidate (`lp[i]` scores token `i + 1`).
    let likelihoods: Vec<(f64, f64)> = candidates
        .par_iter()
        .map(|c| -> Result<(f64, f64)> {
            let lp = model.log_probs(&c.tokens_scored)?;
            let joint = lp.iter().skip(c.shared.saturating_sub(1)).sum();
            let kept = lp.iter().zip(&c.kept[1..]).filter(|(_, &k)| k).map(|(l, _)| l).sum();
            Ok((joint, kept))
        })
        .collect::<Result<_>>()?;
    let scores: Vec<f64> = likelihoods
        .iter()
        .map(|&(joint, kept)| match opts.rerank {
            Rerank::Joint => joint,
            Rerank::Kept => kept,
        })
        .collect();
    let mut candidates: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
    Ok((0..opts.count)
        .map(|i| {
            let group = &scores[i * k..(i + 1) * k];
            let chosen = best(group);
            let c = candidates[i * k + chosen].take().expect("each candidate is chosen once");
            let (joint, kept) = likelihoods[i * k + chosen];
            Edited {
                piece: c.piece,
                joint_log_prob: joint,
                kept_log_prob: kept,
                after_notes: c.after_notes,
                candidates: group.to_vec(),
                chosen,
                new_notes: c.new_notes,
                missed_locked: c.missed,
            }
        })
        .collect())
}

/// The index of the highest score (the first of equals).
pub fn best(scores: &[f64]) -> usize {
    let mut at = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[at] {
            at = i;
        }
    }
    at
}

/// The tokens of a sample up to its EOS (left out).
fn without_eos(tokens: &[TokenId]) -> &[TokenId] {
    match tokens.iter().position(|&t| t == EOS) {
        Some(i) => &tokens[..i],
        None => tokens,
    }
}

/// The grid steps `a..b` of a region of `beats` quarter notes (at least one step long).
fn region_steps(steps_per_beat: u16, beats: (f64, f64)) -> (u64, u64) {
    let spb = f64::from(steps_per_beat);
    let a = (beats.0 * spb).round() as u64;
    (a, ((beats.1 * spb).round() as u64).max(a + 1))
}

/// `piece` without the notes an infill of `beats` regenerates: those whose onset lies in the
/// region on `tokenizer`'s grid (what [`infill`] keeps, exactly).
pub fn kept_by_infill(tokenizer: &Tokenizer, piece: &Piece, beats: (f64, f64)) -> Piece {
    let (a, b) = region_steps(tokenizer.steps_per_beat().unwrap_or(1), beats);
    let mut kept = piece.clone();
    for inst in &mut kept.instruments {
        inst.notes.retain(|n| !(a..b).contains(&tokenizer.step_at(piece, n.start)));
    }
    kept
}

/// Regenerate the notes of `piece` that start in `beats` (`start..end` quarter notes): every
/// other note is kept exactly. `path` names the piece in errors.
pub fn infill(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    piece: &Piece,
    path: &Path,
    beats: (f64, f64),
    opts: &EditOptions,
) -> Result<Vec<Edited>> {
    opts.validate(model, tokenizer)?;
    let spb = steps_per_beat(tokenizer, path)?;
    if tokenizer.note_count(&tokenizer.encode(piece)) == 0 {
        return Err(Error::Edit {
            path: path.to_path_buf(),
            problem: EditError::NothingToKeep { notes: piece.note_count(), why: keeps(tokenizer) },
        });
    }
    let (a, b) = region_steps(spb, beats);
    let cut_beats = a as f64 / f64::from(spb);
    let stated = stated_controls(tokenizer, piece, opts.key);
    let primer = stated(tokenizer.encode_prefix(piece, Some(cut_beats), None));
    // New notes keep to the piece's instruments, as a continuation keeps to its seed's: a
    // model that wanders into a part the piece does not have (a tiny chain's smoothing gives
    // every program some weight) writes into contexts it never learned.
    // And no more notes sound at once than anywhere in the piece: a model whose preferred time
    // step would overshoot the region's end otherwise stacks notes on one step instead of
    // taking the small step left (seen: 741 notes on one step of a tiny chain's fill).
    let mut constraints = Constraints::infill(tokenizer, piece, a, b).voices_as_in(tokenizer, piece);
    if let Some(list) = crate::generate::Instruments::Seed.resolve(tokenizer, Some(piece), true)? {
        constraints = constraints.only_instruments(&list);
    }
    let horizon_end = b as f64 / f64::from(spb) + opts.horizon_beats;
    let kept = kept_by_infill(tokenizer, piece, beats);
    let references = nearest_pitches(&kept, tick_of(a, piece, spb), tick_of(b, piece, spb));
    let assemble = |tokens: &[TokenId], missed: usize| {
        let fill = sampled_notes(tokenizer, without_eos(tokens), |_, _, _, s| (a..b).contains(&s));
        let mut out = kept.clone();
        let new_notes = fill.len();
        for (is_drum, program, n) in fill {
            let note = Note {
                start: tick_of(n.start, piece, spb),
                end: tick_of(n.end, piece, spb).max(tick_of(n.start, piece, spb) + 1),
                ..n
            };
            let at = instrument_for(&out, &references, tokenizer, is_drum, program, n.pitch);
            let at = at.unwrap_or_else(|| add_instrument(&mut out, is_drum, program, ""));
            out.instruments[at].notes.push(note);
        }
        out.normalize();
        let tokens_scored = stated(tokenizer.encode_prefix(&out, Some(horizon_end), None));
        let after_from = stated(tokenizer.encode_prefix(&out, Some(b as f64 / f64::from(spb)), None)).len();
        let after_notes = tokenizer
            .note_count(&tokens_scored)
            .saturating_sub(tokenizer.note_count(&tokens_scored[..after_from]));
        let kept = (0..tokens_scored.len()).map(|i| i >= after_from).collect();
        Candidate { piece: out, tokens_scored, shared: primer.len(), kept, after_notes, new_notes, missed }
    };
    // What a FIM network reads around the region: the music from its end on, and how long the
    // middle lasts (from the primer's last event to the region's end).
    let after = (opts.fim && model.fills_in_the_middle()).then(|| {
        let gap = tokenizer.shift_tokens(b.saturating_sub(tokenizer.end_step(&primer)));
        (tokenizer.encode_suffix(&kept, b), gap)
    });
    let around = after.as_ref().map(|(after, gap)| (after.as_slice(), gap.as_slice()));
    sample_and_choose(model, &primer, around, rules(tokenizer, constraints, opts), opts, &assemble)
}

/// Lock `melody` (a single line) as the top voice and let the model write at most `voices`
/// voices under it. `path` names the melody in errors.
pub fn harmonize(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    melody: &Piece,
    path: &Path,
    voices: usize,
    opts: &EditOptions,
) -> Result<Vec<Edited>> {
    opts.validate(model, tokenizer)?;
    if voices == 0 {
        return Err(Error::setting("voices", 0, "at least 1 voice"));
    }
    let spb = steps_per_beat(tokenizer, path)?;
    check_melody(tokenizer, melody, path)?;
    let constraints = Constraints::harmonize(tokenizer, melody, voices);
    let locked = constraints.clone();
    let stated = stated_controls(tokenizer, melody, opts.key);
    let primer = stated(vec![BOS]);
    let melody_rules = rules(tokenizer, constraints.clone(), opts);
    let assemble = |tokens: &[TokenId], missed: usize| {
        let new = sampled_notes(tokenizer, without_eos(tokens), |drum, program, pitch, start| {
            let code = if drum { 128 } else { program };
            !locked.is_locked(code, pitch, start)
        });
        let mut out = melody.clone();
        let first_new = out.instruments.len();
        let new_notes = new.len();
        for (is_drum, program, n) in new {
            let note = Note {
                start: tick_of(n.start, melody, spb),
                end: tick_of(n.end, melody, spb).max(tick_of(n.start, melody, spb) + 1),
                ..n
            };
            let at = (first_new..out.instruments.len())
                .find(|&i| out.instruments[i].is_drum == is_drum && out.instruments[i].program == program)
                .unwrap_or_else(|| add_instrument(&mut out, is_drum, program, "Harmony"));
            out.instruments[at].notes.push(note);
        }
        out.normalize();
        let tokens_scored = stated(tokenizer.encode(&out));
        // The melody's own tokens, told by the constraints that locked them.
        let mut guard = melody_rules.guard(&[BOS]);
        let kept = std::iter::once(false)
            .chain(tokens_scored[1..].iter().map(|&t| {
                let locked = guard.writes_locked(t);
                guard.push(t);
                locked
            }))
            .collect();
        let after_notes = locked.locked_count();
        Candidate { piece: out, tokens_scored, shared: primer.len(), kept, after_notes, new_notes, missed }
    };
    sample_and_choose(model, &primer, None, rules(tokenizer, constraints, opts), opts, &assemble)
}

/// For a checkpoint with control tokens, what puts the control prefix of `piece` (its measured
/// values: key, tempo, density, instruments; `key` instead of its key when asked) after the BOS
/// of a sequence, so an edit is sampled and scored as the model learned pieces; the identity
/// otherwise.
fn stated_controls<'a>(
    tokenizer: &'a Tokenizer,
    piece: &Piece,
    key: Option<crate::key::Key>,
) -> impl Fn(Vec<TokenId>) -> Vec<TokenId> + 'a {
    let set = tokenizer.config().controls;
    let asked = crate::controls::Asked { key, ..crate::controls::Asked::default() };
    let values = (!set.is_empty()).then(|| asked.apply(set, crate::controls::measure(piece, set)));
    move |tokens| match &values {
        Some(v) => v.prefix(tokenizer.vocab(), &tokens),
        None => tokens,
    }
}

/// What the tokenizer keeps of a piece, in words (for errors).
fn keeps(tokenizer: &Tokenizer) -> String {
    let c = tokenizer.config();
    let drums = match c.programs {
        ProgramMode::MergePiano => ", drums dropped",
        ProgramMode::Programs => "",
    };
    format!("pitches {}-{}{drums}", c.pitch_min, c.pitch_max)
}

/// A melody must have notes the tokenizer keeps, all in its pitch range, pitched, and no two
/// starting together.
fn check_melody(tokenizer: &Tokenizer, melody: &Piece, path: &Path) -> Result<()> {
    let bad = |problem| Error::Edit { path: path.to_path_buf(), problem };
    let tpb = f64::from(melody.ticks_per_beat.max(1));
    let c = tokenizer.config();
    let mut notes: Vec<(u64, u8, f64)> = Vec::new();
    for inst in melody.instruments.iter().filter(|i| !i.is_drum) {
        for n in &inst.notes {
            let beat = n.start as f64 / tpb;
            if n.pitch < c.pitch_min || n.pitch > c.pitch_max {
                return Err(bad(EditError::MelodyOutOfRange {
                    note: pitch_name(n.pitch),
                    beat,
                    low: pitch_name(c.pitch_min),
                    high: pitch_name(c.pitch_max),
                }));
            }
            notes.push((tokenizer.step_at(melody, n.start), n.pitch, beat));
        }
    }
    if notes.is_empty() {
        return Err(bad(EditError::EmptyMelody { notes: melody.note_count() }));
    }
    notes.sort_by_key(|&(s, p, _)| (s, p));
    for w in notes.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(bad(EditError::Chord {
                beat: w[0].2,
                first: pitch_name(w[0].1),
                second: pitch_name(w[1].1),
            }));
        }
    }
    Ok(())
}

/// Scientific pitch name: 60 is C4.
pub fn pitch_name(pitch: u8) -> String {
    const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    format!("{}{}", NAMES[usize::from(pitch % 12)], i32::from(pitch / 12) - 1)
}

/// For each instrument, the pitch of its last note starting before `from` (else its first
/// starting at or after `to`).
fn nearest_pitches(piece: &Piece, from: u64, to: u64) -> Vec<Option<u8>> {
    piece
        .instruments
        .iter()
        .map(|inst| {
            let before = inst.notes.iter().filter(|n| n.start < from).max_by_key(|n| (n.start, n.pitch));
            let after = inst.notes.iter().filter(|n| n.start >= to).min_by_key(|n| n.start);
            before.or(after).map(|n| n.pitch)
        })
        .collect()
}

/// The instrument a new note of (`is_drum`, `program`, `pitch`) joins: of those the tokenizer
/// reads as its part, the one whose nearest note (see [`nearest_pitches`]) is closest in pitch.
fn instrument_for(
    piece: &Piece,
    references: &[Option<u8>],
    tokenizer: &Tokenizer,
    is_drum: bool,
    program: u8,
    pitch: u8,
) -> Option<usize> {
    let merged = tokenizer.config().programs == ProgramMode::MergePiano;
    piece
        .instruments
        .iter()
        .enumerate()
        .filter(|(_, inst)| inst.is_drum == is_drum && (merged || is_drum || inst.program == program))
        .min_by_key(|&(i, _)| {
            references.get(i).copied().flatten().map_or(u16::MAX, |r| u16::from(r.abs_diff(pitch)))
        })
        .map(|(i, _)| i)
}

/// Append an instrument on the next free channel; its index.
fn add_instrument(piece: &mut Piece, is_drum: bool, program: u8, name: &str) -> usize {
    let used: Vec<u8> = piece.instruments.iter().map(|i| i.channel).collect();
    let channel = if is_drum {
        midi::DRUM_CHANNEL
    } else {
        (0..16u8).find(|c| *c != midi::DRUM_CHANNEL && !used.contains(c)).unwrap_or(0)
    };
    let name = if name.is_empty() {
        crate::tokens::gm_names::program_name(program).to_string()
    } else {
        name.to_string()
    };
    piece.instruments.push(Instrument { program, channel, is_drum, name, notes: Vec::new() });
    piece.instruments.len() - 1
}

/// What to edit.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Regenerate the notes starting in the region.
    Infill { region: Region },
    /// Write at most `voices` voices under the piece's melody.
    Harmonize { voices: usize },
}

/// An edit job: a checkpoint, a MIDI file and what to do with it.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub checkpoint: PathBuf,
    /// Device for libtorch models: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// The piece to infill, or the melody to harmonize.
    pub piece: PathBuf,
    pub edit: Edit,
    pub options: EditOptions,
    /// No new note may end a copy of more than this many notes of the model's training split
    /// (sets `options.copy_limit`, from `copy_corpus` or the corpus the checkpoint records).
    pub max_copy: Option<usize>,
    pub copy_corpus: Option<PathBuf>,
    /// The folder for the files, named `<checkpoint stem>-NNN.mid`.
    pub out: PathBuf,
}

/// What an edit job wrote.
#[derive(Debug, Clone)]
pub struct EditOutcome {
    pub pieces: Vec<(PathBuf, Edited)>,
    /// Sampling and reranking time (loading and writing left out).
    pub seconds: f64,
    /// The region in quarter notes (infill).
    pub region_beats: Option<(f64, f64)>,
}

/// Load the checkpoint and the piece, edit, and write the outputs.
pub fn run(request: &EditRequest, progress: &dyn Progress) -> Result<EditOutcome> {
    let loaded = saved::load(&request.checkpoint, &request.device)?;
    let piece = midi::read_file(&request.piece, &loaded.tokenizer.read_options())?;
    progress.update(0, request.options.count as u64, "sampling");
    let t0 = Instant::now();
    let mut options = request.options.clone();
    if let Some(max) = request.max_copy {
        if max == 0 {
            return Err(Error::setting("max-copy", 0, "at least 1 note"));
        }
        let index = crate::generate::training_copies(&loaded, request.copy_corpus.as_deref(), progress)?;
        options.copy_limit = Some(CopyLimit::new(Arc::new(index), max));
    }
    let (edited, region_beats) = edit_loaded(&loaded, &piece, &request.piece, &request.edit, &options)?;
    let seconds = t0.elapsed().as_secs_f64();
    progress.update(request.options.count as u64, request.options.count as u64, "sampling");
    let paths =
        crate::generate::write_pieces(&request.out, &request.checkpoint, edited.iter().map(|e| &e.piece))?;
    Ok(EditOutcome { pieces: paths.into_iter().zip(edited).collect(), seconds, region_beats })
}

/// [`run`]'s edit on a checkpoint already loaded and a piece already read (the studio keeps
/// models loaded); returns the edits and, for an infill, the region in quarter notes.
pub fn edit_loaded(
    loaded: &saved::LoadedModel,
    piece: &Piece,
    path: &Path,
    edit: &Edit,
    options: &EditOptions,
) -> Result<(Vec<Edited>, Option<(f64, f64)>)> {
    // A key-relative model reads the piece in its reference key; the results go back to the
    // piece's key, where the kept notes are exactly the originals again.
    let plan = crate::key::KeyPlan::new(loaded.tokenizer.config(), Some(piece), None)?;
    let moved = plan.seed(piece);
    let (edited, beats) = match edit {
        Edit::Infill { region } => {
            let beats = region.beats(piece, path)?;
            (infill(&loaded.model, &loaded.tokenizer, &moved, path, beats, options)?, Some(beats))
        }
        Edit::Harmonize { voices } => {
            (harmonize(&loaded.model, &loaded.tokenizer, &moved, path, *voices, options)?, None)
        }
    };
    let edited = edited.into_iter().map(|e| Edited { piece: plan.output(e.piece), ..e }).collect();
    Ok((edited, beats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::TimeSignature;

    fn piece_with(sigs: &[(u64, u8, u8)], end_beats: u64) -> Piece {
        let mut p = Piece::new(480);
        p.time_signatures = sigs
            .iter()
            .map(|&(b, n, d)| TimeSignature { tick: b * 480, numerator: n, denominator: d })
            .collect();
        p.instruments.push(Instrument {
            notes: vec![Note { start: 0, end: end_beats * 480, pitch: 60, velocity: 80 }],
            ..Instrument::default()
        });
        p
    }

    #[test]
    fn bars_follow_the_time_signatures() {
        // 4/4 for two bars, then 3/4, then 6/8 (3 quarter notes) from beat 14.
        let p = piece_with(&[(0, 4, 4), (8, 3, 4), (14, 6, 8)], 40);
        let starts: Vec<f64> = bar_lines(&p).take(6).collect();
        assert_eq!(starts, [0.0, 4.0, 8.0, 11.0, 14.0, 17.0]);
        assert_eq!(Region::Bars(2, 3).beats(&p, Path::new("x")).unwrap(), (4.0, 11.0));
        assert_eq!(bar_of_beat(&p, 12.0), 4);
        // No time signature: 4/4.
        let p = piece_with(&[], 40);
        assert_eq!(Region::Bars(1, 1).beats(&p, Path::new("x")).unwrap(), (0.0, 4.0));
    }

    #[test]
    fn bad_regions_are_named() {
        let p = piece_with(&[], 16);
        let err = |r: Region| Region::beats(&r, &p, Path::new("tune.mid")).unwrap_err().to_string();
        assert!(
            err(Region::Beats(4.0, 4.0)).contains("must end after it starts"),
            "{}",
            err(Region::Beats(4.0, 4.0))
        );
        assert!(err(Region::Beats(20.0, 24.0)).contains("outside the piece, which ends at 16 beats"));
        assert!(err(Region::Bars(9, 10)).contains("outside the piece"), "{}", err(Region::Bars(9, 10)));
        assert!(err(Region::Bars(0, 1)).contains("bar 0"));
        assert!(err(Region::Bars(3, 2)).contains("must end after it starts"));
        assert!(err(Region::Beats(4.0, 4.0)).starts_with("tune.mid: "));
    }

    #[test]
    fn the_best_candidate_is_the_most_likely_and_the_first_of_equals() {
        assert_eq!(best(&[-3.0, -1.0, -2.0]), 1);
        assert_eq!(best(&[-1.0, -1.0]), 0);
        assert_eq!(pitch_name(60), "C4");
        assert_eq!(pitch_name(73), "C#5");
    }
}
