//! Editing through the library: infill keeps every note outside its region exactly and writes
//! only inside it, harmonize keeps the melody on top, for every scheme and model kind; the
//! reranking keeps the candidate with the highest joint likelihood, recomputed independently.

use std::path::Path;

use cadenza::edit::{self, EditOptions, Rerank};
use cadenza::midi::{Instrument, Note, Piece, TempoChange};
use cadenza::models::hmm::{HmmConfig, HmmModel};
use cadenza::models::markov::{MarkovConfig, MarkovModel};
use cadenza::models::{Generator, TokenStream};
use cadenza::sampler::Sampler;
use cadenza::tokens::{Scheme, TokenId, Tokenizer, TokenizerConfig};
use common::Lcg;

mod common;

/// A polyphonic piece on 480 ticks per beat: two instruments (piano, strings), chords, held
/// notes across beats, some notes off the grid; 3/4 from bar 3 on.
fn piece(seed: u64, beats: u64) -> Piece {
    let mut r = Lcg(seed);
    let mut p = Piece::new(480);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 600_000 });
    p.time_signatures.push(cadenza::midi::TimeSignature { tick: 0, numerator: 4, denominator: 4 });
    p.time_signatures.push(cadenza::midi::TimeSignature { tick: 8 * 480, numerator: 3, denominator: 4 });
    for (program, low) in [(0u8, 48u8), (48, 60)] {
        let mut notes = Vec::new();
        let mut t = 0;
        while t < beats * 480 {
            let len = [120, 240, 480, 960][r.next(4) as usize];
            for _ in 0..1 + r.next(3) {
                let pitch = low + r.next(19) as u8;
                let start = t + if r.next(5) == 0 { 7 } else { 0 };
                notes.push(Note { start, end: start + len, pitch, velocity: 30 + r.next(90) as u8 });
            }
            t += [120, 240, 480][r.next(3) as usize];
        }
        let name = format!("part {program}");
        p.instruments.push(Instrument {
            program,
            channel: p.instruments.len() as u8,
            is_drum: false,
            name,
            notes,
        });
    }
    p.normalize();
    p
}

fn tokenizer(scheme: Scheme) -> Tokenizer {
    Tokenizer::new(TokenizerConfig { scheme, ..TokenizerConfig::default() }).unwrap()
}

fn training(t: &Tokenizer) -> Vec<Vec<TokenId>> {
    (0..10).map(|i| t.encode(&piece(100 + i, 24))).collect()
}

fn markov(t: &Tokenizer) -> MarkovModel {
    MarkovModel::fit(
        &MarkovConfig { order: 4, ..MarkovConfig::default() },
        t.vocab_size(),
        &training(t),
        None,
    )
    .unwrap()
}

fn hmm(t: &Tokenizer) -> HmmModel {
    let config = HmmConfig { states: 6, max_iters: 3, ..HmmConfig::default() };
    HmmModel::fit(&config, t.vocab_size(), &training(t), None).unwrap().0
}

fn options(candidates: usize, seed: u64) -> EditOptions {
    EditOptions { count: 2, candidates, length: 1500, rng_seed: seed, ..EditOptions::default() }
}

/// Every note of `piece` as (program, is_drum, start, end, pitch, velocity), sorted.
fn notes_of(piece: &Piece, keep: impl Fn(&Note) -> bool) -> Vec<(u8, bool, u64, u64, u8, u8)> {
    let mut v: Vec<_> = piece
        .instruments
        .iter()
        .flat_map(|i| {
            i.notes
                .iter()
                .filter(|n| keep(n))
                .map(move |n| (i.program, i.is_drum, n.start, n.end, n.pitch, n.velocity))
        })
        .collect();
    v.sort();
    v
}

/// Infill with `model` on random pieces and regions: notes outside the region identical, new
/// notes inside it, conductor data unchanged.
fn check_infill(model: &dyn Generator, t: &Tokenizer, what: &str) {
    let mut r = Lcg(7);
    let mut new_notes = 0;
    for case in 0..4 {
        let p = piece(case, 20);
        let a = r.next(14) as f64 + [0.0, 0.5][r.next(2) as usize];
        let b = a + 1.0 + r.next(5) as f64;
        let spb = t.steps_per_beat().unwrap();
        let (sa, sb) = ((a * f64::from(spb)).round() as u64, (b * f64::from(spb)).round() as u64);
        let inside = |n: &Note| (sa..sb).contains(&t.step_at(&p, n.start));
        let edited = edit::infill(model, t, &p, Path::new("case.mid"), (a, b), &options(3, case)).unwrap();
        assert_eq!(edited.len(), 2);
        for e in edited {
            let out = &e.piece;
            assert_eq!(
                notes_of(out, |n| !(sa..sb).contains(&t.step_at(out, n.start))),
                notes_of(&p, |n| !inside(n)),
                "{what}: case {case}, region {a}-{b}: a note outside the region changed"
            );
            let fresh = notes_of(out, |n| (sa..sb).contains(&t.step_at(out, n.start)));
            assert_eq!(fresh.len(), e.new_notes, "{what}: new notes counted");
            assert!(fresh.iter().all(|n| n.3 > n.2), "{what}: a new note without length");
            // New notes stay in the piece's instruments.
            if t.config().programs == cadenza::tokens::ProgramMode::Programs {
                let programs: Vec<u8> = p.instruments.iter().map(|i| i.program).collect();
                assert!(
                    fresh.iter().all(|n| programs.contains(&n.0)),
                    "{what}: a new note in another instrument"
                );
            }

            assert_eq!(
                (out.ticks_per_beat, &out.tempos, &out.time_signatures),
                (p.ticks_per_beat, &p.tempos, &p.time_signatures)
            );
            assert_eq!(e.missed_locked, 0, "{what}: case {case}: locked notes missed");
            assert_eq!(e.candidates.len(), 3);
            assert!(e.joint_log_prob.is_finite() && e.joint_log_prob <= 0.0);
            new_notes += e.new_notes;
        }
    }
    assert!(new_notes > 10, "{what}: only {new_notes} new notes in 8 fills");
}

/// A single line on the grid: quarter and half notes, 60-79.
fn melody(seed: u64) -> Piece {
    let mut r = Lcg(seed);
    let mut p = Piece::new(480);
    let mut notes = Vec::new();
    let mut t = 0;
    for _ in 0..14 {
        let len = [240, 480, 960][r.next(3) as usize];
        notes.push(Note { start: t, end: t + len, pitch: 60 + r.next(20) as u8, velocity: 80 });
        t += len + [0, 0, 240][r.next(3) as usize];
    }
    p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "melody".into(), notes });
    p
}

fn check_harmonize(model: &dyn Generator, t: &Tokenizer, what: &str) {
    let mut new_notes = 0;
    for case in 0..3 {
        let m = melody(case + 40);
        let voices = 1 + case as usize;
        let edited = edit::harmonize(model, t, &m, Path::new("m.mid"), voices, &options(2, case)).unwrap();
        for e in edited {
            let out = &e.piece;
            assert_eq!(out.instruments[0], m.instruments[0], "{what}: the melody changed");
            assert_eq!(e.missed_locked, 0, "{what}: melody notes missed");
            let melody = &m.instruments[0].notes;
            let new: Vec<&Note> = out.instruments[1..].iter().flat_map(|i| &i.notes).collect();
            assert_eq!(new.len(), e.new_notes);
            for n in &new {
                for mn in melody.iter().filter(|mn| mn.start < n.end && n.start < mn.end) {
                    assert!(n.pitch < mn.pitch, "{what}: {n:?} sounds at or above melody note {mn:?}");
                }
                let at_once = new.iter().filter(|o| o.start <= n.start && o.end > n.start).count();
                assert!(at_once <= voices, "{what}: {at_once} voices at {}, limit {voices}", n.start);
            }
            new_notes += new.len();
        }
    }
    assert!(new_notes > 10, "{what}: only {new_notes} notes written under the melodies");
}

#[test]
fn infill_keeps_everything_outside_the_region_for_every_scheme_and_counting_model() {
    for scheme in Scheme::ALL {
        let t = tokenizer(scheme);
        check_infill(&markov(&t), &t, &format!("markov {scheme}"));
        check_infill(&hmm(&t), &t, &format!("hmm {scheme}"));
    }
}

/// Merged tokens are allowed only when each of their base tokens is.
#[test]
fn infill_and_harmonize_with_bpe() {
    for scheme in [Scheme::Tsd, Scheme::MidiLike] {
        let base = tokenizer(scheme);
        let bpe =
            cadenza::tokens::Bpe::learn(&base, &training(&base), base.vocab_size() + 60, |_| {}).unwrap();
        let t = base.with_bpe(bpe).unwrap();
        check_infill(&markov(&t), &t, &format!("markov {scheme} bpe"));
        check_harmonize(&markov(&t), &t, &format!("markov {scheme} bpe"));
    }
}

#[test]
fn harmonize_keeps_the_melody_on_top_for_every_scheme_and_counting_model() {
    for scheme in Scheme::ALL {
        let t = tokenizer(scheme);
        check_harmonize(&markov(&t), &t, &format!("markov {scheme}"));
        check_harmonize(&hmm(&t), &t, &format!("hmm {scheme}"));
    }
}

/// Untrained networks propose every token: the constraints must hold all the same.
#[test]
fn neural_models_edit_under_the_same_constraints() {
    use cadenza::models::lstm::{LstmConfig, LstmModel};
    use cadenza::models::transformer::{TransformerConfig, TransformerModel};
    tch::manual_seed(3);
    for scheme in [Scheme::Tsd, Scheme::MidiLike] {
        let t = tokenizer(scheme);
        let lstm_config = LstmConfig { embed: 16, hidden: 24, layers: 1, dropout: 0.0, tie_weights: false };
        let lstm = LstmModel::new(lstm_config, t.vocab_size(), tch::Device::Cpu).unwrap();
        check_infill(&lstm, &t, &format!("lstm {scheme}"));
        check_harmonize(&lstm, &t, &format!("lstm {scheme}"));
        let tf_config = TransformerConfig { layers: 1, heads: 2, dim: 16, ff: 32, dropout: 0.0, context: 64 };
        let transformer = TransformerModel::new(tf_config, t.vocab_size(), tch::Device::Cpu).unwrap();
        check_infill(&transformer, &t, &format!("transformer {scheme}"));
    }
}

/// A model that proposes tokens uniformly and scores a sequence by how many of its tokens are
/// `PITCH_60`-like favourites: its likelihood is known by hand.
struct Favourite {
    vocab: usize,
    favourite: TokenId,
}

struct Uniform(usize);

impl TokenStream for Uniform {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.0, 1.0 / self.0 as f64);
    }
    fn push(&mut self, _: TokenId) -> cadenza::Result<()> {
        Ok(())
    }
}

impl Generator for Favourite {
    fn kind(&self) -> cadenza::models::ModelKind {
        cadenza::models::ModelKind::Markov
    }
    fn vocab_size(&self) -> usize {
        self.vocab
    }
    fn log_probs(&self, tokens: &[TokenId]) -> cadenza::Result<Vec<f64>> {
        Ok(tokens[1..].iter().map(|&t| if t == self.favourite { -0.1 } else { -2.0 }).collect())
    }
    fn stream(&self, _: &[TokenId]) -> cadenza::Result<Box<dyn TokenStream + '_>> {
        Ok(Box::new(Uniform(self.vocab)))
    }
}

/// Two candidates: the kept one has the higher joint likelihood, recomputed here from the
/// re-encoded pieces (fill and the music after it, given the music before).
#[test]
fn reranking_keeps_the_candidate_with_the_higher_joint_likelihood() {
    let t = tokenizer(Scheme::Tsd);
    let favourite = t.vocab().parse("PITCH_62").unwrap();
    let model = Favourite { vocab: t.vocab_size(), favourite };
    let p = piece(5, 16);
    let (a, b) = (4.0, 8.0);
    let joint = |out: &Piece| {
        let scored = t.encode_prefix(out, Some(b + 8.0), None);
        let primer = t.encode_prefix(&p, Some(a), None);
        model.log_probs(&scored).unwrap()[primer.len() - 1..].iter().sum::<f64>()
    };
    let mut differed = 0;
    for seed in 0..6 {
        for rerank in [Rerank::Joint, Rerank::Kept] {
            let opts = EditOptions {
                count: 1,
                candidates: 2,
                rng_seed: seed,
                rerank,
                sampler: Sampler::default(),
                ..EditOptions::default()
            };
            let e = edit::infill(&model, &t, &p, Path::new("p.mid"), (a, b), &opts).unwrap().remove(0);
            assert!((joint(&e.piece) - e.joint_log_prob).abs() < 1e-9, "joint recomputed");
            assert_eq!(e.chosen, if e.candidates[1] > e.candidates[0] { 1 } else { 0 });
            if rerank == Rerank::Joint {
                assert_eq!(e.candidates[e.chosen], e.joint_log_prob);
                // The other candidate, sampled alone with K = 1 and its own stream, scores lower.
                differed += usize::from(e.candidates[0] != e.candidates[1]);
            } else {
                assert_eq!(e.candidates[e.chosen], e.kept_log_prob);
            }
        }
    }
    assert!(differed >= 3, "the two candidates differed only {differed} times in 6");
}

/// What a fill-in-the-middle model reads after the gap: under TSD and midi-like the notes from
/// the cut on, as if time started there; under REMI the rest of the whole encoding.
#[test]
fn the_suffix_is_the_music_from_the_cut_on() {
    for scheme in Scheme::ALL {
        let t = tokenizer(scheme);
        let p = piece(9, 16);
        let (_, tps) = t.decoded_resolution(&cadenza::tokens::DecodeOptions::default());
        for from in [0u64, 30, 48, 77] {
            let suffix = t.encode_suffix(&p, from);
            assert_eq!(suffix.last(), Some(&cadenza::tokens::EOS));
            if scheme == Scheme::Remi {
                let mut joined = t.encode_prefix(&p, Some(from as f64 / 12.0), None);
                joined.extend(&suffix);
                assert_eq!(joined, t.encode(&p), "{scheme} from {from}");
                continue;
            }
            let decoded = t.decode(&[&[cadenza::tokens::BOS][..], &suffix].concat());
            let expected: Vec<(u64, u64, u8)> = {
                let q = t.quantize(&p);
                let mut v: Vec<_> = q
                    .instruments
                    .iter()
                    .flat_map(|i| i.notes.iter())
                    .filter(|n| n.start >= from * tps)
                    .map(|n| (n.start - from * tps, n.end - from * tps, n.pitch))
                    .collect();
                v.sort();
                v
            };
            let mut got: Vec<_> = decoded
                .instruments
                .iter()
                .flat_map(|i| i.notes.iter())
                .map(|n| (n.start, n.end, n.pitch))
                .collect();
            got.sort();
            assert_eq!(got, expected, "{scheme} from {from}");
            assert!(!got.is_empty());
        }
    }
}

/// Harmonize ranks by the melody's own tokens: recomputed here by walking the TSD tokens
/// (time by SHIFTs; a melody note is its PITCH at its onset, then VELOCITY and DURATION).
#[test]
fn harmonize_ranks_by_the_likelihood_of_the_melody_tokens() {
    use cadenza::tokens::Event;
    let t = tokenizer(Scheme::Tsd);
    let favourite = t.vocab().parse("DURATION_12").unwrap();
    let model = Favourite { vocab: t.vocab_size(), favourite };
    let m = melody(3);
    let onsets: Vec<(u64, u8)> = m.instruments[0].notes.iter().map(|n| (n.start / 40, n.pitch)).collect();
    for seed in 0..4 {
        let opts = EditOptions { count: 1, candidates: 3, rng_seed: seed, ..EditOptions::default() };
        let e = edit::harmonize(&model, &t, &m, Path::new("m.mid"), 2, &opts).unwrap().remove(0);
        let tokens = t.encode(&e.piece);
        let lp = model.log_probs(&tokens).unwrap();
        let (mut now, mut left, mut sum, mut marked) = (0u64, 0, 0.0, 0);
        for (i, &tok) in tokens.iter().enumerate().skip(1) {
            match t.vocab().event(tok) {
                Event::TimeShift(s) => now += u64::from(s),
                Event::Pitch(p) if onsets.contains(&(now, p)) => left = 3,
                _ => {}
            }
            if left > 0 {
                sum += lp[i - 1];
                marked += 1;
                left -= 1;
            }
        }
        assert_eq!(marked, 3 * onsets.len(), "every melody note found");
        assert!((sum - e.kept_log_prob).abs() < 1e-9, "{sum} against {}", e.kept_log_prob);
        assert_eq!(e.candidates[e.chosen], e.kept_log_prob);
        assert!(e.candidates.iter().all(|&c| c <= e.kept_log_prob));
    }
}
