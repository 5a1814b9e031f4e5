//! Control tokens end to end (issue 25): a Markov chain trained with `--controls key` on a
//! two-key corpus keeps the asked key hundreds of tokens into a piece, where a chain without
//! controls mixes the keys; the checkpoint records its controls; a checkpoint without them
//! refuses a key in one line; generation states the seed's controls by default.

mod common;

use std::path::{Path, PathBuf};

use cadenza::midi::{write_file, Instrument, Note, Piece, TempoChange};
use common::{cadenza, generate6, pieces_in, train, Lcg};

/// The tonics of the two keys: C major and G major differ in one pitch class (F against F#).
const C_MAJOR: u8 = 60;
const G_MAJOR: u8 = 55;

/// A stepwise random walk of 480 eighth notes over the major scale of `tonic`, over two
/// octaves, every fourth note on a note of the tonic triad, so that the key is clear.
fn walk(tonic: u8, seed: u64) -> Piece {
    let mut rng = Lcg(seed);
    let mut piece = Piece::new(480);
    piece.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    // Degrees over two octaves.
    let mut degree: i64 = 7;
    let mut notes = Vec::new();
    for i in 0..480u64 {
        degree = (degree + rng.next(5) as i64 - 2).clamp(0, 13);
        if i % 4 == 0 {
            degree -= [0, 1, 0, 1, 0, 2, 1][(degree % 7) as usize];
        }
        let pitch = tonic + 12 * (degree / 7) as u8 + [0, 2, 4, 5, 7, 9, 11][(degree % 7) as usize];
        notes.push(Note { start: i * 240, end: i * 240 + 240, pitch, velocity: 80 });
    }
    piece.instruments.push(Instrument { program: 0, notes, ..Instrument::default() });
    piece
}

/// 40 walks, half in C major, half in G major.
fn two_key_corpus(dir: &Path) -> PathBuf {
    let root = dir.join("corpus");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..40u64 {
        let (tonic, name) = if i % 2 == 0 { (C_MAJOR, "c") } else { (G_MAJOR, "g") };
        let piece = walk(tonic, 7 + i * 13);
        let key = cadenza::key::key_of_piece(&piece, None, cadenza::key::Profile::default()).unwrap().key;
        assert_eq!(key.to_string(), if i % 2 == 0 { "C major" } else { "G major" }, "piece {i}");
        write_file(&piece, &root.join(format!("{i:02}-{name}.mid"))).unwrap();
    }
    root
}

/// Of the F and F# notes after the first `skip` notes of each piece, the share that is F#; for
/// the pieces with at least `skip + 100` notes (a chain may end a piece early: EOS follows the
/// last note of a training piece), of which there must be three.
fn sharp_shares(pieces: &[Piece], skip: usize) -> Vec<f64> {
    let long: Vec<&Piece> = pieces.iter().filter(|p| p.note_count() >= skip + 100).collect();
    assert!(long.len() >= 3, "only {} of {} pieces are long enough", long.len(), pieces.len());
    long.iter()
        .map(|p| {
            let mut notes: Vec<&Note> = p.instruments.iter().flat_map(|i| &i.notes).collect();
            notes.sort_by_key(|n| (n.start, n.pitch));
            let later = notes.iter().skip(skip);
            let (f, fs) = later.fold((0, 0), |(f, fs), n| match n.pitch % 12 {
                5 => (f + 1, fs),
                6 => (f, fs + 1),
                _ => (f, fs),
            });
            assert!(f + fs >= 5, "too few F/F# notes after note {skip} to tell: {f} F, {fs} F#");
            fs as f64 / (f + fs) as f64
        })
        .collect()
}

fn generated(tmp: &Path, ckpt: &Path, out: &str, extra: &[&str]) -> Vec<Piece> {
    let mut args = vec!["--length", "1600", "--rng-seed", "5", "--candidates", "1"];
    args.extend_from_slice(extra);
    let run = generate6(tmp, ckpt, out, &args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    pieces_in(&tmp.join(out))
}

#[test]
fn a_markov_chain_with_key_tokens_keeps_the_asked_key_far_into_a_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = two_key_corpus(tmp.path());
    // Order 4 under TSD is about one note of context: alone, it cannot remember a key.
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "4", "--controls", "key"]);
    let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
    assert_eq!(header.tokenizer.controls.to_string(), "key", "the checkpoint records its controls");

    // 1,600 tokens are about 400 notes: look at the notes from the 100th on, far past the
    // prefix and out of any context that holds it.
    let c = sharp_shares(&generated(tmp.path(), &ckpt, "c", &["--key", "C major"]), 100);
    let g = sharp_shares(&generated(tmp.path(), &ckpt, "g", &["--key", "G major"]), 100);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(c.iter().all(|&s| s < 0.25) && mean(&c) < 0.1, "asked for C major, F# shares {c:?}");
    assert!(g.iter().all(|&s| s > 0.75) && mean(&g) > 0.9, "asked for G major, F# shares {g:?}");

    // The same chain without controls mixes the two keys within a piece: what the conditions
    // prevent.
    let plain_dir = tmp.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let plain = train(&plain_dir, &corpus, "markov", &["--order", "4"]);
    let mixed = sharp_shares(&generated(tmp.path(), &plain, "mixed", &[]), 100);
    let minority: Vec<f64> = mixed.iter().map(|&s| s.min(1.0 - s)).collect();
    assert!(mean(&minority) > 0.2, "an order-4 chain without controls should mix keys: {mixed:?}");

    // It refuses a key in one line that names the options it needs.
    let out = generate6(tmp.path(), &plain, "refused", &["--key", "C major"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--controls key") && err.trim().lines().count() == 1, "{err}");
}

#[test]
fn an_hmm_with_key_tokens_keeps_the_asked_key_far_into_a_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = two_key_corpus(tmp.path());
    let hmm = &["--states", "8", "--max-iters", "10"];
    let ckpt = train(tmp.path(), &corpus, "hmm", &[&hmm[..], &["--controls", "key"]].concat());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let c = sharp_shares(&generated(tmp.path(), &ckpt, "c", &["--key", "C major"]), 100);
    let g = sharp_shares(&generated(tmp.path(), &ckpt, "g", &["--key", "G major"]), 100);
    assert!(mean(&c) < 0.15, "asked for C major, F# shares {c:?}");
    assert!(mean(&g) > 0.85, "asked for G major, F# shares {g:?}");
    // Eight states trained without controls do not keep a key.
    let plain_dir = tmp.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let plain = train(&plain_dir, &corpus, "hmm", hmm);
    let mixed = sharp_shares(&generated(tmp.path(), &plain, "mixed", &[]), 100);
    let minority: Vec<f64> = mixed.iter().map(|&s| s.min(1.0 - s)).collect();
    assert!(mean(&minority) > 0.2, "an HMM without controls should mix keys: {mixed:?}");
    // Its conditions are saved with it: eval scores it as it was trained.
    let out = cadenza(tmp.path())
        .args(["eval", ckpt.to_str().unwrap(), "--corpus", corpus.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Notes per beat of each file under `dir` (its notes over the beats up to its last note's end).
fn densities(dir: &Path) -> Vec<f64> {
    pieces_in(dir).iter().map(|p| cadenza::density::notes_per_beat(p, 0)).collect()
}

#[test]
fn density_tokens_make_the_asked_density_without_choosing_among_candidates() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    std::fs::create_dir_all(&root).unwrap();
    // Walks of one, two and four notes a beat.
    for i in 0..30u64 {
        let mut piece = walk(C_MAJOR, 100 + i);
        let per_beat = [1u64, 2, 4][(i % 3) as usize];
        let step = 480 / per_beat;
        for (j, n) in piece.instruments[0].notes.iter_mut().enumerate() {
            (n.start, n.end) = (j as u64 * step, (j as u64 + 1) * step);
        }
        write_file(&piece, &root.join(format!("{i:02}.mid"))).unwrap();
    }
    let ckpt = train(tmp.path(), &root, "markov", &["--order", "4", "--controls", "density"]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut at = Vec::new();
    for level in ["low", "medium", "high"] {
        let run = generate6(
            tmp.path(),
            &ckpt,
            level,
            &["--length", "400", "--candidates", "1", "--density", level],
        );
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        at.push(mean(&densities(&tmp.path().join(level))));
    }
    // (Weight 1/2 tempers the tokens: about 1.7, 2.2 and 3.1 notes a beat, not 1, 2 and 4.)
    assert!(at[0] < at[1] && at[1] < at[2] && at[2] > 1.5 * at[0], "low, medium, high: {at:?}");
}

#[test]
fn a_seed_states_its_own_controls_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = two_key_corpus(tmp.path());
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "4", "--controls", "key,density"]);
    // A G major seed, continued without --key: the continuation stays in G major.
    let seed = tmp.path().join("seed.mid");
    write_file(&walk(G_MAJOR, 999), &seed).unwrap();
    let pieces =
        generated(tmp.path(), &ckpt, "seeded", &["--seed", seed.to_str().unwrap(), "--seed-beats", "8"]);
    let shares = sharp_shares(&pieces, 100);
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    assert!(shares.iter().all(|&s| s > 0.75) && mean > 0.9, "a G major seed, F# shares {shares:?}");
    // The tokens command shows the prefix a piece is read with.
    let out = cadenza(tmp.path())
        .args(["tokens", seed.to_str().unwrap(), "--controls", "key,density"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BOS KEY_G_MAJOR DENSITY_"), "{text}");
    // A control name the tokenizer does not know is one clear line.
    let out = cadenza(tmp.path())
        .args(["tokens", seed.to_str().unwrap(), "--controls", "key,mood"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mood"));
}

#[test]
fn the_committed_control_hmm_writes_in_the_asked_key() {
    let ckpt = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/bach-control.hmm");
    let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
    assert_eq!(header.tokenizer.controls.to_string(), "key");
    assert!(header.tokenizer.key_relative);
    let tmp = tempfile::tempdir().unwrap();
    let run = generate6(tmp.path(), &ckpt, "e", &["--key", "E minor", "--length", "300", "--rng-seed", "2"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let want: cadenza::key::Key = "E minor".parse().unwrap();
    let found: Vec<_> = pieces_in(&tmp.path().join("e"))
        .iter()
        .map(|p| cadenza::key::key_of_notes(p, None, cadenza::key::Profile::default()).unwrap().key)
        .collect();
    assert!(found.iter().filter(|&&k| k == want).count() >= 5, "asked for E minor: {found:?}");
}

#[test]
fn infill_and_harmonize_read_the_piece_with_its_controls() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = two_key_corpus(tmp.path());
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "4", "--controls", "key"]);
    let piece_path = tmp.path().join("g.mid");
    let piece = walk(G_MAJOR, 4242);
    write_file(&piece, &piece_path).unwrap();
    let plain_dir = tmp.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let plain = train(&plain_dir, &corpus, "markov", &["--order", "4"]);
    // The regenerated notes (beats 16 to 80) of three fills of each.
    let region = |p: &Piece| {
        let mut q = p.clone();
        for i in &mut q.instruments {
            i.notes.retain(|n| (16 * 480..80 * 480).contains(&n.start));
        }
        q
    };
    let fills = |ckpt: &Path, out: &str, extra: &[&str]| {
        let run = cadenza(tmp.path())
            .args([
                "infill",
                ckpt.to_str().unwrap(),
                "--piece",
                piece_path.to_str().unwrap(),
                "--beats",
                "16-80",
            ])
            .args(["--count", "3", "--rng-seed", "4", "--out"])
            .arg(tmp.path().join(out))
            .args(extra)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let pieces: Vec<Piece> = pieces_in(&tmp.path().join(out)).iter().map(region).collect();
        let shares = sharp_shares(&pieces, 0);
        (shares.iter().sum::<f64>() / shares.len() as f64, shares)
    };
    let (with, shares) = fills(&ckpt, "filled", &[]);
    let (without, plain_shares) = fills(&plain, "plain-filled", &[]);
    // Asked for C major instead, the fills turn to F natural.
    let (asked, asked_shares) = fills(&ckpt, "filled-c", &["--key", "C major"]);
    assert!(asked < 0.3, "asked for C major, F# shares {asked_shares:?}");
    let refused = cadenza(tmp.path())
        .args([
            "infill",
            plain.to_str().unwrap(),
            "--piece",
            piece_path.to_str().unwrap(),
            "--beats",
            "16-80",
        ])
        .args(["--key", "C major"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--controls key") && err.trim().lines().count() == 1, "{err}");
    // In the piece's key, G major, more than the same chain without the key token manages.
    assert!(
        with > 0.8 && with > without + 0.1,
        "F# shares of the fills: {shares:?}, without controls {plain_shares:?}"
    );
    let out = cadenza(tmp.path())
        .args([
            "harmonize",
            ckpt.to_str().unwrap(),
            "--melody",
            piece_path.to_str().unwrap(),
            "--voices",
            "1",
        ])
        .args(["--count", "1", "--out"])
        .arg(tmp.path().join("harmonized"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
