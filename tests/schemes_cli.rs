//! End-to-end: the tokenization schemes through the binary. `--tokenizer` on `tokens`,
//! `corpus stats` and `train`; every model trains, scores (bits per note) and generates under
//! TSD and REMI with nothing dropped; `compare` ranks models of different tokenizers; the
//! committed checkpoints written before schemes existed load as `midi-like` and score as they
//! did when they were trained; bad scheme input gives one line.

mod common;

use std::path::Path;

use cadenza::tokens::{Scheme, Tokenizer, TokenizerConfig};
use common::{cadenza, distinct_corpus, eval_json, json, tiny_corpus, train};

#[test]
fn every_scheme_trains_scores_and_generates_with_nothing_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 24, false);
    let mut notes = Vec::new();
    for scheme in ["midi-like", "tsd", "remi"] {
        for model in ["markov", "hmm"] {
            let extra: &[&str] =
                if model == "hmm" { &["--states", "8", "--max-iters", "5"] } else { &["--order", "6"] };
            let ckpt = train(tmp.path(), &corpus, model, &[&["--tokenizer", scheme][..], extra].concat());
            let renamed = tmp.path().join(format!("{scheme}.{model}"));
            std::fs::rename(&ckpt, &renamed).unwrap();
            let v = eval_json(tmp.path(), &renamed, &corpus, "train");
            assert_eq!(v["tokenizer"], scheme, "{v}");
            let (bits, tokens, n) = (
                v["bits_per_token"].as_f64().unwrap(),
                v["tokens"].as_f64().unwrap(),
                v["notes"].as_f64().unwrap(),
            );
            // bits/note is the total over the notes.
            assert!((v["bits_per_note"].as_f64().unwrap() - bits * tokens / n).abs() < 1e-9, "{v}");
            notes.push(v["notes"].as_u64().unwrap());

            let out = tmp.path().join(format!("gen-{scheme}-{model}"));
            let seed = corpus.join("piece01.mid");
            cadenza(tmp.path())
                .args(["generate", renamed.to_str().unwrap(), "--out", out.to_str().unwrap()])
                .args([
                    "--seed",
                    seed.to_str().unwrap(),
                    "--seed-beats",
                    "4",
                    "--count",
                    "2",
                    "--length",
                    "150",
                ])
                .args(["--temperature", "1.5", "--max-polyphony", "3"])
                .assert()
                .success();
            let t = Tokenizer::new(TokenizerConfig { scheme: scheme.parse().unwrap(), ..Default::default() })
                .unwrap();
            for f in std::fs::read_dir(&out).unwrap() {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                let p = cadenza::midi::read_bytes(&bytes, Path::new("gen.mid"), &Default::default()).unwrap();
                assert!(p.note_count() > 0, "{scheme} {model}: an empty piece");
                // Re-encoded, the written file is well formed for its scheme.
                assert_eq!(t.dropped_tokens(&t.encode(&p)), 0);
            }
        }
    }
    // One corpus, the same notes under every scheme: the denominator of bits/note agrees.
    assert!(notes.iter().all(|&n| n == notes[0]), "{notes:?}");
}

#[test]
fn tokens_and_corpus_stats_take_the_scheme() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 6, false);
    let piece = corpus.join("piece01.mid");
    let out = cadenza(tmp.path())
        .args(["tokens", piece.to_str().unwrap(), "--tokenizer", "remi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BOS BAR TIMESIG_4_4 POSITION_0 PROGRAM_0 PITCH_"), "{text}");
    let back = tmp.path().join("back.mid");
    cadenza(tmp.path())
        .args([
            "tokens",
            piece.to_str().unwrap(),
            "--tokenizer",
            "tsd",
            "--roundtrip",
            back.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(back.exists());
    let stats = cadenza(tmp.path())
        .args(["corpus", "stats", corpus.to_str().unwrap(), "--tokenizer", "tsd", "--json"])
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let v = json(&stats.stdout);
    assert_eq!(v["tokenizer"], "tsd", "{v}");
}

#[test]
fn compare_ranks_models_of_different_tokenizers_by_bits_per_note() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = distinct_corpus(tmp.path(), 30);
    let a = train(tmp.path(), &corpus, "markov", &["--order", "4", "--tokenizer", "tsd"]);
    let tsd = tmp.path().join("a-tsd.markov");
    std::fs::rename(&a, &tsd).unwrap();
    let b = train(tmp.path(), &corpus, "markov", &["--order", "4", "--tokenizer", "midi-like"]);
    let out = tmp.path().join("cmp");
    let run = cadenza(tmp.path())
        .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", tsd.to_str().unwrap()])
        .args([b.to_str().unwrap(), "--samples", "3", "--length", "100", "--no-audio", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let r = json(&std::fs::read(out.join("report.json")).unwrap());
    let models = r["models"].as_array().unwrap();
    assert_eq!(models[0]["tokenizer"], "tsd");
    assert_eq!(models[1]["tokenizer"], "midi-like");
    // Same notes scored under both tokenizers; bits/note = total bits / notes for each.
    assert_eq!(models[0]["scored_notes"], models[1]["scored_notes"]);
    for m in models {
        let bpn = m["bits_per_note"].as_f64().unwrap();
        let total = m["bits_per_token"].as_f64().unwrap() * m["scored_tokens"].as_f64().unwrap();
        assert!((bpn - total / m["scored_notes"].as_f64().unwrap()).abs() < 1e-9);
        for s in m["samples"].as_array().unwrap() {
            assert_eq!(s["dropped_tokens"], 0, "{s}");
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("bits/note") && md.contains("(tsd)") && md.contains("(midi-like)"), "{md}");
}

#[test]
fn bad_scheme_input_gives_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 4, false);
    let out = cadenza(tmp.path())
        .args(["tokens", corpus.join("piece01.mid").to_str().unwrap(), "--tokenizer", "abc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown tokenization scheme `abc`"), "{err}");
    // REMI needs bars: the seconds grid is refused in one line.
    let out = cadenza(tmp.path())
        .args([
            "tokens",
            corpus.join("piece01.mid").to_str().unwrap(),
            "--tokenizer",
            "remi",
            "--grid",
            "seconds",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remi") && err.contains("beats grid") && err.trim().lines().count() == 1, "{err}");

    // A checkpoint whose header names an unknown scheme: one line naming the file.
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "2", "--tokenizer", "tsd"]);
    let (header, payload) = cadenza::checkpoint::load(&ckpt).unwrap();
    // The container as written today round-trips through this test's own writer.
    let same = tmp.path().join("same.markov");
    std::fs::write(&same, checkpoint_bytes(&serde_json::to_vec(&header).unwrap(), &payload)).unwrap();
    assert_eq!(cadenza::checkpoint::load_header(&same).unwrap().tokenizer, header.tokenizer);
    let text = serde_json::to_string(&header).unwrap().replace("\"scheme\":\"tsd\"", "\"scheme\":\"abc\"");
    assert!(text.contains("\"abc\""), "{text}");
    let bad = tmp.path().join("bad.markov");
    std::fs::write(&bad, checkpoint_bytes(text.as_bytes(), &payload)).unwrap();
    let out =
        cadenza(tmp.path()).args(["eval", bad.to_str().unwrap(), "--corpus"]).arg(&corpus).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.markov") && err.contains("abc") && err.trim().lines().count() == 1, "{err}");
}

/// A checkpoint file around a header given as JSON text (the container's layout: magic,
/// version, header length and header, payload length and payload, CRC32 of all that).
fn checkpoint_bytes(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut b = b"CDZCKPT\0".to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(header.len() as u64).to_le_bytes());
    b.extend_from_slice(header);
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(payload);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// The committed checkpoints predate schemes: they load as `midi-like` with an unchanged
/// configuration digest and score on the valid split what training measured then.
#[test]
fn committed_checkpoints_load_as_midi_like_and_score_as_before() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("corpora/bach");
    if !corpus.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must have corpora/bach (scripts/setup.sh)");
        eprintln!("skipping: no corpora/bach (run scripts/setup.sh)");
        return;
    }
    let ckpt = root.join("checkpoints/bach.lstm");
    let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
    assert_eq!(header.tokenizer.scheme, Scheme::MidiLike);
    assert_eq!(header.tokenizer, TokenizerConfig::default());
    assert!(!serde_json::to_string(&header.tokenizer).unwrap().contains("scheme"));
    let tmp = tempfile::tempdir().unwrap();
    let v = eval_json(tmp.path(), &ckpt, &corpus, "valid");
    let then = header.metrics["best_valid_bits_per_token"];
    let now = v["bits_per_token"].as_f64().unwrap();
    // Training scored in float32 batches, eval one piece at a time: equal to float precision.
    assert!((now - then).abs() < 1e-6, "valid bits/token {now} now, {then} when trained");
}

#[test]
fn bpe_is_learned_applied_carried_in_checkpoints_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = distinct_corpus(tmp.path(), 24);
    let bpe = tmp.path().join("tsd.bpe");
    let out = cadenza(tmp.path())
        .args(["tokens", "learn-bpe", "--corpus", corpus.to_str().unwrap(), "--tokenizer", "tsd"])
        .args(["--vocab", "560", "--out", bpe.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("shorter"));
    // corpus stats reports the reduction.
    let stats = cadenza(tmp.path())
        .args([
            "corpus",
            "stats",
            corpus.to_str().unwrap(),
            "--tokenizer",
            "tsd",
            "--bpe",
            bpe.to_str().unwrap(),
        ])
        .args(["--json"])
        .output()
        .unwrap();
    let v = json(&stats.stdout);
    let (tokens, base) = (v["total"]["tokens"].as_u64().unwrap(), v["base_tokens"].as_u64().unwrap());
    assert!(base > tokens * 3 / 2, "{tokens} BPE tokens, {base} base tokens");

    // Train with the merges: the checkpoint carries them; eval and generate need no --bpe.
    let ckpt = train(
        tmp.path(),
        &corpus,
        "markov",
        &["--order", "4", "--tokenizer", "tsd", "--bpe", bpe.to_str().unwrap()],
    );
    let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
    let merges = header.bpe.as_ref().map(|b| b.merges.len()).unwrap();
    let base_len =
        Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, ..Default::default() }).unwrap().vocab_size();
    assert_eq!(header.vocab.len(), base_len + merges);
    assert!(header.vocab.iter().any(|n| n.contains('+')), "merged tokens are named by their parts");
    let v = eval_json(tmp.path(), &ckpt, &corpus, "train");
    let base_ckpt = train(tmp.path(), &corpus, "markov", &["--order", "4", "--tokenizer", "tsd"]);
    let w = eval_json(tmp.path(), &base_ckpt, &corpus, "train");
    assert_eq!(v["notes"], w["notes"], "BPE keeps every note");
    assert!(v["tokens"].as_u64().unwrap() < w["tokens"].as_u64().unwrap());
    let gen = tmp.path().join("gen");
    cadenza(tmp.path())
        .args([
            "generate",
            ckpt.to_str().unwrap(),
            "--out",
            gen.to_str().unwrap(),
            "--count",
            "2",
            "--length",
            "80",
        ])
        .args(["--seed", corpus.join("piece03.mid").to_str().unwrap(), "--seed-beats", "4"])
        .assert()
        .success();
    let t = header.tokenizer().unwrap();
    for f in std::fs::read_dir(&gen).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let p = cadenza::midi::read_bytes(&bytes, Path::new("gen.mid"), &Default::default()).unwrap();
        assert!(p.note_count() > 0);
        assert_eq!(t.dropped_tokens(&t.encode(&p)), 0);
    }

    // Merges learned for TSD are refused for midi-like, in one line naming the file.
    let out = cadenza(tmp.path())
        .args(["tokens", corpus.join("piece01.mid").to_str().unwrap(), "--tokenizer", "midi-like", "--bpe"])
        .arg(&bpe)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tsd.bpe")
            && err.contains("learned for the tsd tokenizer")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    std::fs::write(&bpe, b"{\"format\": 3}").unwrap();
    let out = cadenza(tmp.path())
        .args(["tokens", corpus.join("piece01.mid").to_str().unwrap(), "--tokenizer", "tsd", "--bpe"])
        .arg(&bpe)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not a cadenza BPE file"), "{err}");
}

/// BPE is the identity on the Bach training split: every sequence expands back to its base
/// tokens and decodes to the same piece.
#[test]
fn bpe_round_trips_the_bach_training_split() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora/bach");
    if !root.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must have corpora/bach (scripts/setup.sh)");
        eprintln!("skipping: no corpora/bach (run scripts/setup.sh)");
        return;
    }
    let base = Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() }).unwrap();
    let opts = cadenza::corpus::LoadOptions { cache_dir: None, ..Default::default() };
    let corpus = cadenza::corpus::Corpus::load(&root, &base, &opts).unwrap();
    let train = corpus.sequences(cadenza::corpus::Split::Train);
    let bpe = cadenza::tokens::Bpe::learn(&base, &train, 900, |_| {}).unwrap();
    let merged = base.clone().with_bpe(bpe.clone()).unwrap();
    let (mut before, mut after) = (0, 0);
    for s in &train {
        let enc = bpe.encode(s);
        assert_eq!(&bpe.expand(&enc), s);
        assert_eq!(merged.decode(&enc), base.decode(s));
        before += s.len();
        after += enc.len();
    }
    assert!(before > 3 * after, "{before} base tokens, {after} with BPE");
}
