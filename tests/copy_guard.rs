//! The copy limit through the sampling seam (issue 24): a Markov chain of order 32 on a tiny
//! corpus copies whole pieces when sampled freely; with the limit, no sample of any tokenizer
//! holds a copy longer than N notes of the training pieces, by a brute-force count of the
//! definition on the decoded samples, and sampling still writes music (it never stalls).

use std::sync::Arc;

use cadenza::copies::{note_keys, steps, CopyIndex, NoteKey};
use cadenza::midi::{Instrument, Note, Piece};
use cadenza::models::markov::{MarkovConfig, MarkovModel};
use cadenza::models::Generator;
use cadenza::sampler::Sampler;
use cadenza::tokens::{CopyLimit, NoteRules, Scheme, TokenId, Tokenizer, TokenizerConfig, BOS, EOS};
use common::Lcg;

mod common;

/// A two-part piece on 480 ticks per beat: a melody over chords, on the grid.
fn piece(seed: u64, beats: u64) -> Piece {
    let mut r = Lcg(seed);
    let mut p = Piece::new(480);
    for (program, low, voices) in [(0u8, 48u8, 3u64), (40, 64, 1)] {
        let mut notes = Vec::new();
        let mut t = 0;
        while t < beats * 480 {
            let len = [240, 480, 960][r.next(3) as usize];
            for _ in 0..voices.min(1 + r.next(voices)) {
                let pitch = low + r.next(16) as u8;
                notes.push(Note { start: t, end: t + len, pitch, velocity: 80 });
            }
            t += [240, 480][r.next(2) as usize];
        }
        p.instruments.push(Instrument {
            program,
            channel: p.instruments.len() as u8,
            notes,
            ..Default::default()
        });
    }
    p.normalize();
    p
}

/// The longest copy in `sample` of any of `training`, in notes, by the definition: the longest
/// run of equal steps, compared position by position.
fn longest_copy(training: &[Vec<NoteKey>], sample: &[NoteKey]) -> usize {
    let q = steps(sample);
    let mut best = 0;
    for t in training.iter().map(|k| steps(k)) {
        for i in 0..q.len() {
            for j in 0..t.len() {
                let mut l = 0;
                while i + l < q.len() && j + l < t.len() && q[i + l] == t[j + l] {
                    l += 1;
                }
                best = best.max(l);
            }
        }
    }
    if sample.is_empty() {
        0
    } else {
        best + 1
    }
}

fn sample(model: &MarkovModel, rules: Option<NoteRules>, seed: u64) -> Vec<Vec<TokenId>> {
    let sampler = Sampler { notes: rules, ..Sampler::default() };
    model.generate_batch(&vec![vec![BOS]; 3], 700, &sampler, seed).unwrap()
}

/// The four training pieces of these tests, their note keys, and their copy index.
fn training_pieces() -> (Vec<Piece>, Vec<Vec<NoteKey>>, Arc<CopyIndex>) {
    let pieces: Vec<Piece> = (0..4).map(|i| piece(10 + i, 32)).collect();
    let keys: Vec<Vec<NoteKey>> = pieces.iter().map(note_keys).collect();
    let mut index = CopyIndex::new();
    for (i, k) in keys.iter().enumerate() {
        index.add_piece(format!("piece {i}"), k.clone());
    }
    (pieces, keys, Arc::new(index))
}

#[test]
fn no_guarded_sample_copies_more_than_the_limit_for_any_tokenizer() {
    let (pieces, keys, index) = training_pieces();
    for scheme in [Scheme::MidiLike, Scheme::Tsd, Scheme::Remi] {
        let tok = Tokenizer::new(TokenizerConfig { scheme, ..TokenizerConfig::default() }).unwrap();
        let data: Vec<Vec<TokenId>> = pieces.iter().map(|p| tok.encode(p)).collect();
        let config = MarkovConfig { order: 32, ..MarkovConfig::default() };
        let model = MarkovModel::fit(&config, tok.vocab_size(), &data, None).unwrap();
        let decode = |t: &[TokenId]| {
            let mut all = vec![BOS];
            all.extend_from_slice(t);
            note_keys(&tok.decode(&all))
        };
        // Free sampling memorizes: long copies.
        let free: Vec<usize> = sample(&model, Some(NoteRules::new(&tok)), 1)
            .iter()
            .map(|s| longest_copy(&keys, &decode(s)))
            .collect();
        assert!(free.iter().any(|&l| l >= 40), "{scheme:?}: free sampling copies only {free:?} notes");
        for max in [8, 12] {
            let rules = NoteRules::new(&tok).with_copy_limit(Some(CopyLimit::new(index.clone(), max)));
            let mut total = 0;
            for seed in 0..3 {
                for s in sample(&model, Some(rules.clone()), seed) {
                    let notes = decode(&s);
                    let longest = longest_copy(&keys, &notes);
                    assert!(longest <= max, "{scheme:?}, N = {max}, seed {seed}: a copy of {longest} notes");
                    total += notes.len();
                    // Never a dead end: after every token, something besides EOS is allowed.
                    let mut guard = rules.guard(&[BOS]);
                    for (i, &t) in s.iter().enumerate() {
                        let mut p = vec![1.0; tok.vocab_size()];
                        guard.mask(&mut p);
                        let others =
                            p.iter().enumerate().filter(|&(id, &w)| w > 0.0 && id != EOS as usize).count();
                        assert!(others > 0, "{scheme:?}, N = {max}: only EOS allowed at token {i}");
                        guard.push(t);
                    }
                }
            }
            // The samples still hold music (9 samples; the training pieces have about 100 notes).
            assert!(total >= 9 * 25, "{scheme:?}, N = {max}: {total} notes in 9 samples");
        }
    }
}

/// `generate`'s output and the longest copy it reports for each piece.
fn longest_copies(o: &std::process::Output) -> (String, Vec<usize>) {
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let longest = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("longest copy of the training split: "))
        .map(|l| l.trim_end_matches(" notes").parse().unwrap())
        .collect();
    (text, longest)
}

/// `cadenza generate --max-copy N`: samples of a memorizing Markov chain stay within N copied
/// notes (as the command reports them); bad input is one clear error: N = 0, and a checkpoint
/// whose training corpus is gone without `--corpus` (given, it works again).
#[test]
fn generate_max_copy_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::distinct_corpus(tmp.path(), 24);
    let ckpt = common::train(tmp.path(), &corpus, "markov", &["--order", "24"]);
    let out = tmp.path().join("out");
    let run = |extra: &[&str]| {
        // The token cache in a folder of its own (`cache/corpus`, not the corpus's path).
        common::cadenza(&tmp.path().join("cache"))
            .current_dir(tmp.path())
            .args(["generate", ckpt.to_str().unwrap(), "--count", "3", "--length", "300"])
            .args(["--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--max-copy", "6"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (text, longest) = longest_copies(&o);
    assert_eq!(longest.len(), 3, "{text}");
    assert!(longest.iter().all(|&n| (1..=6).contains(&n)), "{text}");

    let o = run(&["--max-copy", "0"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("max-copy"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let moved = tmp.path().join("moved");
    std::fs::rename(&corpus, &moved).unwrap();
    let o = run(&["--max-copy", "6"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("not found") && err.contains("--corpus"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let o = run(&["--max-copy", "6", "--corpus", moved.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A checkpoint from another machine: `corpora/<the recorded folder's name>` here serves
    // when it holds the recorded pieces, and only then.
    let local = tmp.path().join("corpora").join("corpus");
    std::fs::create_dir_all(&local).unwrap();
    for f in std::fs::read_dir(&moved).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, local.join(f.file_name().unwrap())).unwrap();
    }
    let o = run(&["--max-copy", "6"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (text, longest) = longest_copies(&o);
    assert!(longest.len() == 3 && longest.iter().all(|&n| (1..=6).contains(&n)), "{text}");
    std::fs::remove_file(local.join("piece01.mid")).unwrap();
    let o = run(&["--max-copy", "6"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("holds other pieces") && err.contains("--corpus"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // A token store of the corpus serves as well: the same limit holds.
    let store = tmp.path().join("store");
    let b = common::cadenza(tmp.path())
        .args(["corpus", "build", moved.to_str().unwrap(), "--out", store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let o = run(&["--max-copy", "5", "--corpus", store.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (text, longest) = longest_copies(&o);
    assert_eq!(longest.len(), 3, "{text}");
    assert!(longest.iter().all(|&n| (1..=5).contains(&n)), "{text}");
    assert!(longest.iter().any(|&n| n >= 4), "the store holds the training music: {text}");
}

/// Infill and harmonize under the copy limit: no new note ends a copy of more than N notes of
/// the training pieces (kept notes are not checked), by the index's matches on the result, for
/// a memorizing Markov chain asked to rewrite (or harmonize) one of its own training pieces.
#[test]
fn edits_keep_new_notes_within_the_copy_limit() {
    use cadenza::edit::{self, EditOptions};
    use std::path::Path;

    let (pieces, _, index) = training_pieces();
    let tok = Tokenizer::new(TokenizerConfig::default()).unwrap();
    let data: Vec<Vec<TokenId>> = pieces.iter().map(|p| tok.encode(p)).collect();
    let model = MarkovModel::fit(
        &MarkovConfig { order: 32, ..MarkovConfig::default() },
        tok.vocab_size(),
        &data,
        None,
    )
    .unwrap();
    let max = 8;
    let opts = |limit: bool| EditOptions {
        count: 2,
        candidates: 2,
        length: 1500,
        copy_limit: limit.then(|| CopyLimit::new(index.clone(), max)),
        ..EditOptions::default()
    };
    // The longest copy ending at a note that `new` says is new.
    let longest_new = |p: &Piece, new: &dyn Fn(&NoteKey) -> bool| {
        let k = note_keys(p);
        index
            .matches(&k)
            .iter()
            .zip(&k)
            .filter(|(_, key)| new(key))
            .map(|(m, _)| m.notes())
            .max()
            .unwrap_or(0)
    };
    let (a, b) = (8.0, 24.0);
    let in_region = |k: &NoteKey| (a..b).contains(&k.beat());
    let free = edit::infill(&model, &tok, &pieces[0], Path::new("p0.mid"), (a, b), &opts(false)).unwrap();
    assert!(
        free.iter().any(|e| longest_new(&e.piece, &in_region) > 2 * max),
        "unguarded infill copies little"
    );
    for e in edit::infill(&model, &tok, &pieces[0], Path::new("p0.mid"), (a, b), &opts(true)).unwrap() {
        assert!(e.new_notes > 0, "the guarded infill wrote nothing");
        let l = longest_new(&e.piece, &in_region);
        assert!(l <= max, "infill: a new note ends a copy of {l} notes");
    }
    let mut melody = pieces[1].clone();
    melody.instruments.retain(|i| i.program == 40);
    let tune: std::collections::HashSet<NoteKey> = note_keys(&melody).into_iter().collect();
    let not_melody = |k: &NoteKey| !tune.contains(k);
    for e in edit::harmonize(&model, &tok, &melody, Path::new("m.mid"), 3, &opts(true)).unwrap() {
        let l = longest_new(&e.piece, &not_melody);
        assert!(l <= max, "harmonize: a new note ends a copy of {l} notes");
    }
}
