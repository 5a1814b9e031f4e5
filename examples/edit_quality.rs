//! How good infill and harmonization are, on the held-out pieces of a corpus.
//!
//! `cargo run --release --example edit_quality -- --corpus corpora/bach [--pieces N] [--beats 4]
//! [--candidates 16] [--voices 3] [--seed 1] [--json OUT.json] [--fim] [--infill-only] CHECKPOINT...`
//!
//! For each checkpoint, on the test split it was trained with (the first N pieces by path):
//!
//! - **infill**: the `beats` quarter notes around the middle of each piece (pieces shorter than
//!   beats + 8 are skipped) are regenerated, and the real music of the 8 beats after the region
//!   is scored given the fill, in bits per note pooled over pieces. The ceiling scores it given
//!   the real region; the floor is one candidate (a plain constrained continuation); then the
//!   best of `candidates` by the joint likelihood and by the likelihood of the kept music (the
//!   music after: the default). With the notes per fill against the real region's (a fill can
//!   win the joint likelihood by being sparse), the mean overlapped area of compare's 11 scalar
//!   statistics between the fills and the real regions, and seconds per call.
//! - **harmonization**: the instrument with the highest mean pitch is the melody, and `voices`
//!   voices are written under it with 1 candidate and with `candidates` (ranked by the melody's
//!   likelihood, the default, and by the joint likelihood). Per beat, the pitch classes sounding
//!   against the original's (share equal, mean Jaccard index); parallel fifths and octaves per
//!   100 beats, for the results and for the original pieces; the statistics' overlap with the
//!   originals.
//!
//! Each candidate samples with seed `seed + piece index`, temperature 1. A piece that fails is
//! named on stderr and left out of every condition. `--fim`: a checkpoint trained to fill in
//! the middle reads the music after the region too (`infill --fim`); `--infill-only` skips the
//! harmonization; `--probe-only` only reads the real regions (FIM against left to right, in
//! all and by where in the region a token lies: its first 4 tokens, the next 8, the rest).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cadenza::corpus::{Corpus, LoadOptions, Split};
use cadenza::edit::{self, EditOptions, Edited, Rerank};
use cadenza::metrics::distance::overlapped_area;
use cadenza::metrics::Features;
use cadenza::models::{saved, Generator};
use cadenza::sampler::Sampler;
use cadenza::tokens::TokenId;
use cadenza::{Instrument, Piece, Result as Res, Tokenizer};
use serde_json::{json, Value};

const USAGE: &str =
    "usage: edit_quality --corpus DIR [--pieces N] [--beats 4] [--candidates 16] [--voices 3] \
     [--seed 1] [--json OUT.json] [--fim] [--infill-only] CHECKPOINT...";

/// Totals of one condition over pieces.
#[derive(Default)]
struct Tally {
    pieces: usize,
    /// Infill: nats of the music after the region, and its notes.
    after_nats: f64,
    after_notes: usize,
    new_notes: usize,
    /// Infill: notes of the real region.
    real_notes: usize,
    seconds: f64,
    missed_locked: usize,
    /// Harmonization: beats compared, beats with equal pitch-class sets, sum of Jaccard indices.
    beats: usize,
    equal: usize,
    jaccard: f64,
    fifths: usize,
    octaves: usize,
    /// Musical statistics (compare's) of each fill's notes, or of each harmonized piece.
    features: Vec<Features>,
}

/// The mean, over compare's 11 scalar statistics, of the overlapped area between their
/// distributions over `ours` and over `real` (1: the same distribution).
fn mean_overlap(ours: &[Features], real: &[Features]) -> Option<f64> {
    let column =
        |fs: &[Features], k: usize| -> Vec<f64> { fs.iter().filter_map(|f| f.scalars()[k].1).collect() };
    let areas: Vec<f64> =
        (0..11).filter_map(|k| overlapped_area(&column(ours, k), &column(real, k))).collect();
    (!areas.is_empty()).then(|| areas.iter().sum::<f64>() / areas.len() as f64)
}

/// The notes of `piece` starting in `from..to` (ticks), as a piece of their own.
fn notes_in(piece: &Piece, from: u64, to: u64) -> Piece {
    let mut p = piece.clone();
    for i in &mut p.instruments {
        i.notes.retain(|n| (from..to).contains(&n.start));
    }
    p
}

impl Tally {
    fn mean(&self, x: f64) -> f64 {
        x / self.pieces.max(1) as f64
    }
    fn bits_per_note(&self) -> f64 {
        -self.after_nats / std::f64::consts::LN_2 / self.after_notes.max(1) as f64
    }
    fn per_100(&self, n: usize) -> f64 {
        100.0 * n as f64 / self.beats.max(1) as f64
    }
    fn add_edit(&mut self, e: &Edited, seconds: f64) {
        self.after_nats += e.kept_log_prob;
        self.after_notes += e.after_notes;
        self.new_notes += e.new_notes;
        self.missed_locked += e.missed_locked;
        self.seconds += seconds;
    }
    fn add_harmony(&mut self, result: &Piece, original: &Piece, beats: u64) {
        self.beats += beats as usize;
        for b in 0..beats {
            let (x, y) = (pitch_classes(result, b), pitch_classes(original, b));
            self.equal += usize::from(x == y);
            let union = x.union(&y).count();
            self.jaccard += if union == 0 { 1.0 } else { x.intersection(&y).count() as f64 / union as f64 };
        }
        let (f, o) = parallels(result, beats);
        self.fifths += f;
        self.octaves += o;
    }
    fn infill_json(&self, name: &str) -> Value {
        json!({
            "condition": name, "pieces": self.pieces, "after_notes": self.after_notes,
            "bits_per_note": self.bits_per_note(), "new_notes_per_fill": self.mean(self.new_notes as f64),
            "real_notes_per_region": self.mean(self.real_notes as f64),
            "seconds_per_call": self.mean(self.seconds), "missed_locked": self.missed_locked,
        })
    }
    fn harmony_json(&self, name: &str) -> Value {
        json!({
            "condition": name, "pieces": self.pieces, "beats": self.beats,
            "pc_equal_share": self.equal as f64 / self.beats.max(1) as f64,
            "pc_jaccard": self.jaccard / self.beats.max(1) as f64,
            "parallel_fifths_per_100_beats": self.per_100(self.fifths),
            "parallel_octaves_per_100_beats": self.per_100(self.octaves),
            "new_notes_per_piece": self.mean(self.new_notes as f64),
            "seconds_per_call": self.mean(self.seconds), "missed_locked": self.missed_locked,
        })
    }
}

/// Pitches sounding at whole beat `b` (start <= t < end, all instruments), high to low.
fn sounding(piece: &Piece, b: u64) -> Vec<u8> {
    let t = b * u64::from(piece.ticks_per_beat.max(1));
    let mut p: Vec<u8> = piece
        .instruments
        .iter()
        .filter(|i| !i.is_drum)
        .flat_map(|i| i.notes.iter())
        .filter(|n| n.start <= t && t < n.end)
        .map(|n| n.pitch)
        .collect();
    p.sort_unstable_by(|a, b| b.cmp(a));
    p
}

fn pitch_classes(piece: &Piece, b: u64) -> BTreeSet<u8> {
    sounding(piece, b).into_iter().map(|p| p % 12).collect()
}

/// Parallel (fifths, octaves or unisons) between consecutive beats of `0..beats` with the same
/// number (>= 2) of sounding notes: pairs of positions a fifth (or octave) apart mod 12 at both
/// beats, both moving the same way.
fn parallels(piece: &Piece, beats: u64) -> (usize, usize) {
    let (mut fifths, mut octaves) = (0, 0);
    let mut prev = sounding(piece, 0);
    for b in 1..beats {
        let next = sounding(piece, b);
        if prev.len() == next.len() && prev.len() >= 2 {
            for i in 0..prev.len() {
                for j in i + 1..prev.len() {
                    let step = |k: usize| i16::from(next[k]) - i16::from(prev[k]);
                    let (di, dj) = (step(i), step(j));
                    if !((di > 0 && dj > 0) || (di < 0 && dj < 0)) {
                        continue;
                    }
                    let (a, z) = ((prev[i] - prev[j]) % 12, (next[i] - next[j]) % 12);
                    fifths += usize::from(a == 7 && z == 7);
                    octaves += usize::from(a == 0 && z == 0);
                }
            }
        }
        prev = next;
    }
    (fifths, octaves)
}

/// The piece with only its instrument of the highest mean pitch.
fn melody_of(piece: &Piece) -> Option<Piece> {
    let mean =
        |i: &Instrument| i.notes.iter().map(|n| f64::from(n.pitch)).sum::<f64>() / i.notes.len() as f64;
    let top = piece
        .instruments
        .iter()
        .filter(|i| !i.is_drum && !i.notes.is_empty())
        .max_by(|a, b| mean(a).total_cmp(&mean(b)))?;
    Some(Piece { instruments: vec![top.clone()], ..piece.clone() })
}

/// Bits of the real music after `end` (within 8 beats) given the real music before, as nats and
/// notes; and the real notes with onsets in `start..end`.
fn ceiling(
    m: &dyn Generator,
    t: &Tokenizer,
    p: &Piece,
    (start, end): (f64, f64),
) -> Res<(f64, usize, usize)> {
    let all = t.encode_prefix(p, Some(end + 8.0), None);
    let before = t.encode_prefix(p, Some(end), None);
    let lp = m.log_probs(&all)?;
    let nats = lp.iter().skip(before.len().saturating_sub(1)).sum();
    let region = t.note_count(&before) - t.note_count(&t.encode_prefix(p, Some(start), None));
    Ok((nats, t.note_count(&all) - t.note_count(&before), region))
}

/// Where in the middle the probe splits its tokens: the first 4, the next 8, the rest.
const MIDDLE_SPANS: [(usize, usize); 3] = [(0, 4), (4, 12), (12, usize::MAX)];

/// What [`fim_probe`] read of one region.
struct Probe {
    /// Nats of the region's tokens: left to right, FIM from the stream, FIM as infill builds
    /// it, left to right after the FIM primer's cut of the music before.
    nats: [f64; 4],
    notes: usize,
    /// Per [`MIDDLE_SPANS`] span of the middle's tokens: nats FIM (from the stream), nats left
    /// to right (the FIM cut), tokens.
    spans: [(f64, f64, usize); 3],
}

/// How well a FIM network reads the real region of `p` (`start..end` beats), against reading it
/// left to right: nats of the region's real tokens (from the end of the music before it to its
/// NOTE_OFFs at `end`) and their notes, (1) left to right after all the music before, (2) FIM
/// with the after cut from the piece's own token stream (a cut as training makes them; the gap
/// the region's own SHIFTs), (3) FIM as `infill --fim` builds its primer (the kept notes' suffix
/// from `end`, the gap from the primer's end to `end`), (4) left to right after only the music
/// before that the FIM primer keeps. `None` when the region has no notes or
/// cuts no boundary at `end` (a SHIFT across it).
fn fim_probe(
    m: &dyn Generator,
    t: &Tokenizer,
    p: &Piece,
    (start, end): (f64, f64),
    (window, order): (usize, cadenza::models::neural::fim::Order),
) -> Res<Option<Probe>> {
    use cadenza::models::neural::fim;
    use cadenza::tokens::Event;
    let spb = u64::from(t.steps_per_beat().unwrap_or(1));
    let b = (end * spb as f64).round() as u64;
    let whole = t.encode(p);
    let i = t.encode_prefix(p, Some(start), None).len();
    // From the tokens before `end`, on through the SHIFTs to it and its NOTE_OFFs (an instrument
    // switch too, when NOTE_OFFs follow it).
    let mut j = t.encode_prefix(p, Some(end), None).len();
    let mut now = t.end_step(&whole[..j]);
    while j < whole.len() {
        match t.vocab().event(whole[j]) {
            Event::TimeShift(n) if now + u64::from(n) <= b => now += u64::from(n),
            Event::NoteOff(_) if now == b => {}
            Event::Program(..) | Event::Drums(_)
                if now == b
                    && whole.get(j + 1).is_some_and(|&x| matches!(t.vocab().event(x), Event::NoteOff(_))) => {
            }
            _ => break,
        }
        j += 1;
    }
    let notes = t.note_count(&whole[..j]) - t.note_count(&whole[..i]);
    if now != b || notes == 0 {
        return Ok(None);
    }
    let middle = &whole[i..j];
    // The log-probabilities of the tokens of `seq` from `from` on.
    let per_token = |seq: &[TokenId], from: usize| -> Res<Vec<f64>> {
        Ok(m.log_probs(seq)?.into_iter().skip(from.saturating_sub(1)).collect())
    };
    let scored = |seq: &[TokenId], from: usize| -> Res<f64> { Ok(per_token(seq, from)?.iter().sum()) };
    let left_to_right = scored(&whole[..j], i)?;
    let vocab = t.vocab_size();
    let fim_tokens = |before: &[TokenId], after: &[TokenId], gap: &[TokenId]| -> Res<Vec<f64>> {
        let mut seq = fim::fitted_primer(before, after, Some(gap), window, vocab, order);
        let from = seq.len();
        seq.extend_from_slice(middle);
        per_token(&seq, from)
    };
    let own_gap = t.shift_tokens(t.shifted_steps(middle));
    let stream_tokens = fim_tokens(&whole[..i], &whole[j..], &own_gap)?;
    let stream = stream_tokens.iter().sum();
    let kept = Piece {
        instruments: p
            .instruments
            .iter()
            .map(|inst| Instrument {
                notes: inst
                    .notes
                    .iter()
                    .filter(|n| {
                        let beat = n.start as f64 / f64::from(p.ticks_per_beat.max(1));
                        !(start..end).contains(&beat)
                    })
                    .copied()
                    .collect(),
                ..inst.clone()
            })
            .collect(),
        ..p.clone()
    };
    let infill_gap = t.shift_tokens(b.saturating_sub(t.end_step(&whole[..i])));
    let built = fim_tokens(&whole[..i], &t.encode_suffix(&kept, b), &infill_gap)?.iter().sum();
    // Left to right after only as much of the music before as the FIM primer keeps.
    let (near_before, _) = fim::fit(&whole[..i], &whole[j..], window, fim::SENTINELS + own_gap.len());
    let near_tokens = per_token(&[near_before, middle].concat(), near_before.len())?;
    let near = near_tokens.iter().sum();
    let spans = MIDDLE_SPANS.map(|(a, b)| {
        let (b, a) = (b.min(middle.len()), a.min(middle.len()));
        (stream_tokens[a..b].iter().sum(), near_tokens[a..b].iter().sum(), b - a)
    });
    Ok(Some(Probe { nats: [left_to_right, stream, built, near], notes, spans }))
}

/// A markdown table's head row and rule, from `a | b | c`.
fn header(columns: &str) {
    println!("| {columns} |\n|{}", " --- |".repeat(columns.split('|').count()));
}

fn options(candidates: usize, seed: u64, rerank: Rerank, fim: bool) -> EditOptions {
    EditOptions {
        fim,
        count: 1,
        candidates,
        length: 4096,
        sampler: Sampler::default(),
        rng_seed: seed,
        horizon_beats: 8.0,
        max_polyphony: None,
        rerank,
        // Any other option (one added later) as the command line has it by default.
        ..EditOptions::default()
    }
}

/// One edit and its seconds.
fn timed(f: impl FnOnce() -> Res<Vec<Edited>>) -> Res<(Edited, f64)> {
    let t0 = Instant::now();
    // One output was asked for (count 1).
    let e = f()?.remove(0);
    Ok((e, t0.elapsed().as_secs_f64()))
}

#[derive(Default)]
struct Args {
    corpus: PathBuf,
    pieces: Option<usize>,
    beats: f64,
    candidates: usize,
    voices: usize,
    seed: u64,
    json: Option<PathBuf>,
    fim: bool,
    infill_only: bool,
    probe_only: bool,
    checkpoints: Vec<PathBuf>,
}

fn parse() -> Result<Args, Box<dyn std::error::Error>> {
    let mut a = Args { beats: 4.0, candidates: 16, voices: 3, seed: 1, ..Args::default() };
    let mut args = std::env::args().skip(1);
    while let Some(s) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{s} needs a value"));
        match s.as_str() {
            "--corpus" => a.corpus = value()?.into(),
            "--pieces" => a.pieces = Some(value()?.parse()?),
            "--beats" => a.beats = value()?.parse()?,
            "--candidates" => a.candidates = value()?.parse()?,
            "--voices" => a.voices = value()?.parse()?,
            "--seed" => a.seed = value()?.parse()?,
            "--json" => a.json = Some(value()?.into()),
            "--fim" => a.fim = true,
            "--infill-only" => a.infill_only = true,
            "--probe-only" => (a.fim, a.infill_only, a.probe_only) = (true, true, true),
            _ => a.checkpoints.push(s.into()),
        }
    }
    if a.corpus.as_os_str().is_empty() || a.checkpoints.is_empty() {
        return Err(USAGE.into());
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse()?;
    let k = a.candidates;
    let mut report = Vec::new();
    for path in &a.checkpoints {
        let m = saved::load(path, "cpu")?;
        let (model, t): (&dyn Generator, &Tokenizer) = (&m.model, &m.tokenizer);
        let corpus =
            Corpus::load(&a.corpus, t, &LoadOptions::default().as_recorded(m.header.corpus.as_ref()))?;
        let mut tests: Vec<&Path> = corpus.split(Split::Test).map(|p| p.path.as_path()).collect();
        tests.sort();
        tests.truncate(a.pieces.unwrap_or(usize::MAX));
        let infill_names =
            ["real music (ceiling)".to_string(), "K=1".into(), format!("K={k} joint"), format!("K={k} kept")];
        let harmony_names =
            ["Bach (original)".to_string(), "K=1".into(), format!("K={k} kept"), format!("K={k} joint")];
        let mut fill: Vec<Tally> = infill_names.iter().map(|_| Tally::default()).collect();
        let mut harm: Vec<Tally> = harmony_names.iter().map(|_| Tally::default()).collect();
        let (mut short, mut failed, started) = (0, 0, Instant::now());
        // With --fim: the real regions read left to right, FIM from the token stream, FIM as
        // infill builds it (nats), and their notes.
        let window = m.header.hyperparameters["train"]["window"].as_u64().unwrap_or(256) as usize;
        let order = m.header.hyperparameters["train"]["fim_order"].as_str().unwrap_or("psm").parse()?;
        let (mut probe, mut probe_notes, mut probed) = ([0.0f64; 4], 0usize, 0usize);
        let mut spans = [(0.0f64, 0.0f64, 0usize); 3];
        for (i, rel) in tests.iter().enumerate() {
            let file = a.corpus.join(rel);
            let seed = a.seed + i as u64;
            let piece = match cadenza::midi::read_file(&file, &t.read_options()) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    failed += 1;
                    continue;
                }
            };
            let tpb = f64::from(piece.ticks_per_beat.max(1));
            // Infill around the middle.
            let end_beat = piece.end_tick() as f64 / tpb;
            if end_beat < a.beats + 8.0 {
                short += 1;
            } else {
                let start = (end_beat / 2.0 - a.beats / 2.0).floor();
                let region = (start, start + a.beats);
                let run = |c, r| {
                    timed(|| edit::infill(model, t, &piece, &file, region, &options(c, seed, r, a.fim)))
                };
                if a.fim && model.fills_in_the_middle() {
                    match fim_probe(model, t, &piece, region, (window, order)) {
                        Ok(Some(got)) => {
                            probe.iter_mut().zip(got.nats).for_each(|(sum, x)| *sum += x);
                            for (sum, x) in spans.iter_mut().zip(got.spans) {
                                (sum.0, sum.1, sum.2) = (sum.0 + x.0, sum.1 + x.1, sum.2 + x.2);
                            }
                            probe_notes += got.notes;
                            probed += 1;
                        }
                        Ok(None) => {}
                        Err(e) => eprintln!("{} (FIM probe): {e}", file.display()),
                    }
                }
                if a.probe_only {
                    continue;
                }
                let got = (|| -> Res<_> {
                    let c = ceiling(model, t, &piece, region)?;
                    Ok((c, [run(1, Rerank::Joint)?, run(k, Rerank::Joint)?, run(k, Rerank::Kept)?]))
                })();
                match got {
                    Ok(((nats, notes, real), edits)) => {
                        let ticks = (region.0 * tpb) as u64..(region.1 * tpb) as u64;
                        let c = &mut fill[0];
                        c.after_nats += nats;
                        c.after_notes += notes;
                        c.new_notes += real;
                        c.features.push(Features::of(&notes_in(&piece, ticks.start, ticks.end)));
                        for (tally, (e, _)) in fill[1..].iter_mut().zip(&edits) {
                            tally.features.push(Features::of(&notes_in(&e.piece, ticks.start, ticks.end)));
                        }
                        for tally in fill.iter_mut() {
                            tally.pieces += 1;
                            tally.real_notes += real;
                        }
                        for (tally, (e, s)) in fill[1..].iter_mut().zip(&edits) {
                            tally.add_edit(e, *s);
                        }
                    }
                    Err(e) => {
                        eprintln!("{} (infill): {e}", file.display());
                        failed += 1;
                    }
                }
            }
            // Harmonization under the top line.
            let Some(melody) = melody_of(&piece).filter(|_| !a.infill_only) else { continue };
            let beats = (melody.end_tick() as f64 / tpb).ceil() as u64;
            let run = |c, r| {
                timed(|| edit::harmonize(model, t, &melody, &file, a.voices, &options(c, seed, r, a.fim)))
            };
            let runs = (|| -> Res<_> {
                Ok([run(1, Rerank::Kept)?, run(k, Rerank::Kept)?, run(k, Rerank::Joint)?])
            })();
            match runs {
                Ok(runs) => {
                    let bach = &mut harm[0];
                    bach.pieces += 1;
                    bach.new_notes += piece.note_count() - melody.note_count();
                    bach.add_harmony(&piece, &piece, beats);
                    bach.features.push(Features::of(&piece));
                    for (tally, (e, s)) in harm[1..].iter_mut().zip(runs) {
                        tally.pieces += 1;
                        tally.add_edit(&e, s);
                        tally.add_harmony(&e.piece, &piece, beats);
                        tally.features.push(Features::of(&e.piece));
                    }
                }
                Err(e) => {
                    eprintln!("{} (harmonize): {e}", file.display());
                    failed += 1;
                }
            }
            let secs = started.elapsed().as_secs_f64();
            eprintln!("[{}/{}] {} done, {secs:.0} s in", i + 1, tests.len(), file.display());
        }
        let (p, n) = (path.display(), tests.len());
        println!("\n## {p} ({n} test pieces, {short} too short to infill, {failed} failures)\n");
        println!("Infill of {} beats mid-piece; the real music of the 8 beats after it, scored:\n", a.beats);
        header("condition | pieces | after notes | bits/note after | notes per fill | real notes per region | stats overlap | s/call | missed locked");
        for (i, (n, c)) in infill_names.iter().zip(&fill).enumerate() {
            let overlap =
                mean_overlap(&c.features, &fill[0].features).map_or("-".into(), |o| format!("{o:.3}"));
            // The real music took no sampling.
            let ours = |s: String| if i == 0 { "-".to_string() } else { s };
            let (notes, real) = (c.mean(c.new_notes as f64), c.mean(c.real_notes as f64));
            let (seconds, missed) =
                (ours(format!("{:.3}", c.mean(c.seconds))), ours(c.missed_locked.to_string()));
            let bits = c.bits_per_note();
            println!(
                "| {n} | {} | {} | {bits:.3} | {notes:.2} | {real:.2} | {overlap} | {seconds} | {missed} |",
                c.pieces, c.after_notes
            );
        }
        if probed > 0 {
            println!("\nThe real regions' notes ({probed} regions, {probe_notes} notes), read:\n");
            header("reading | bits/note of the region");
            let names = [
                "left to right (all the music before)",
                "FIM, the after cut from the piece's token stream",
                "FIM, the primer as `infill --fim` builds it",
                "left to right, the music before cut as the FIM primer cuts it",
            ];
            for (n, nats) in names.iter().zip(probe) {
                println!("| {n} | {:.3} |", -nats / std::f64::consts::LN_2 / probe_notes as f64);
            }
            println!("\nWhere in the region FIM loses (bits/token, FIM from the stream against left to right after the FIM cut):\n");
            header("tokens of the region | tokens | FIM | left to right | difference");
            for ((a, b), (fim, l2r, n)) in MIDDLE_SPANS.iter().zip(spans) {
                let bits = |nats: f64| -nats / std::f64::consts::LN_2 / n.max(1) as f64;
                let span =
                    if *b == usize::MAX { format!("{}th on", a + 1) } else { format!("{}-{}", a + 1, b) };
                println!(
                    "| {span} | {n} | {:.3} | {:.3} | {:+.3} |",
                    bits(fim),
                    bits(l2r),
                    bits(fim) - bits(l2r)
                );
            }
        }
        if !a.infill_only {
            println!("\nHarmonization, {} voices under the top line:\n", a.voices);
            header("condition | pieces | beats | pc sets equal | pc Jaccard | par. 5ths /100 beats | par. 8ves /100 beats | new notes/piece | stats overlap | s/call | missed locked");
        }
        for (i, (n, c)) in harmony_names.iter().zip(&harm).enumerate().filter(|_| !a.infill_only) {
            let overlap =
                mean_overlap(&c.features, &harm[0].features).map_or("-".into(), |o| format!("{o:.3}"));
            // The original against itself agrees trivially and took no time.
            let ours = |s: String| if i == 0 { "-".to_string() } else { s };
            let beats = c.beats.max(1) as f64;
            let equal = ours(format!("{:.1}%", 100.0 * c.equal as f64 / beats));
            let jaccard = ours(format!("{:.3}", c.jaccard / beats));
            let (fifths, octaves, notes) =
                (c.per_100(c.fifths), c.per_100(c.octaves), c.mean(c.new_notes as f64));
            let (seconds, missed) =
                (ours(format!("{:.3}", c.mean(c.seconds))), ours(c.missed_locked.to_string()));
            println!(
                "| {n} | {} | {} | {equal} | {jaccard} | {fifths:.2} | {octaves:.2} | {notes:.1} | {overlap} | {seconds} | {missed} |",
                c.pieces, c.beats
            );
        }
        report.push(json!({
            "checkpoint": path.display().to_string(), "test_pieces": tests.len(),
            "too_short": short, "failures": failed,
            "infill": infill_names.iter().zip(&fill).map(|(n, c)| {
                let mut j = c.infill_json(n);
                j["stats_overlap"] = json!(mean_overlap(&c.features, &fill[0].features));
                j
            }).collect::<Vec<_>>(),
            "harmonize": harmony_names.iter().zip(&harm).map(|(n, c)| {
                let mut j = c.harmony_json(n);
                j["stats_overlap"] = json!(mean_overlap(&c.features, &harm[0].features));
                j
            }).collect::<Vec<_>>(),
        }));
    }
    if let Some(out) = &a.json {
        let settings = json!({
            "corpus": a.corpus.display().to_string(), "pieces": a.pieces, "beats": a.beats,
            "candidates": a.candidates, "voices": a.voices, "seed": a.seed, "horizon_beats": 8.0,
        });
        let all = json!({ "settings": settings, "checkpoints": report });
        std::fs::write(out, serde_json::to_string_pretty(&all)?)?;
    }
    Ok(())
}
