//! End-to-end: `cadenza compare` on a tiny corpus with a Markov chain and an HMM.

mod common;

use common::{cadenza, distinct_corpus as tiny_corpus, eval_json, json, train};
#[cfg(feature = "lstm")]
use serde_json::Value;

/// How many notes starting at or after tick `from` start while another note sounds (a note
/// ending at a tick no longer sounds there).
fn crowded_starts(piece: &cadenza::midi::Piece, from: u64) -> usize {
    let notes: Vec<_> = piece.instruments.iter().flat_map(|i| &i.notes).collect();
    notes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.start >= from)
        .filter(|&(i, n)| {
            notes.iter().enumerate().any(|(j, m)| j != i && m.start <= n.start && n.start < m.end)
        })
        .count()
}

#[test]
fn compare_reports_eval_bits_and_writes_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 24);
    let markov = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let hmm = train(tmp.path(), &corpus, "hmm", &["--states", "4", "--max-iters", "3"]);
    let out_dir = tmp.path().join("report");
    let out = cadenza(tmp.path())
        .args([
            "compare",
            "--corpus",
            corpus.to_str().unwrap(),
            "--models",
            markov.to_str().unwrap(),
            hmm.to_str().unwrap(),
        ])
        .args([
            "--samples",
            "3",
            "--length",
            "64",
            "--max-polyphony",
            "1",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("tiny.markov") && table.contains("tiny.hmm"), "{table}");
    // Copies on notes: the models' and the test pieces' (the reference row), token n-grams beside.
    for column in
        ["token 8-grams in train", "longest copy (notes)", "copied ≥8 notes", "test pieces (reference)"]
    {
        assert!(table.contains(column), "{column}: {table}");
    }
    assert!(!table.contains("copied n-grams"), "{table}");
    for f in ["report.json", "report.md", "report.html"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let report = json(&std::fs::read(out_dir.join("report.json")).unwrap());
    assert_eq!(report["note_guard"], true);
    assert_eq!(report["max_polyphony"], 1);
    assert_eq!(report["copy_min"], 8);
    let reference = &report["reference_copies"];
    assert_eq!(reference["pieces"], report["test_pieces"], "{reference}");
    assert!(reference["pieces"].as_u64().unwrap() > 0);
    assert!(reference["mean_longest"].as_f64().unwrap() >= 1.0, "{reference}");
    assert_eq!(reference["min"], 8);
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for (m, ckpt) in models.iter().zip([&markov, &hmm]) {
        let e = eval_json(tmp.path(), ckpt, &corpus, "test");
        assert_eq!(
            m["bits_per_token"].as_f64().unwrap(),
            e["bits_per_token"].as_f64().unwrap(),
            "{}",
            m["name"]
        );
        assert_eq!(m["scored_tokens"], e["tokens"]);
        let samples = m["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3);
        for s in samples {
            let file = out_dir.join(s["file"].as_str().unwrap());
            let piece = cadenza::midi::read_file(&file, &Default::default()).unwrap();
            assert!(piece.note_count() > 0, "{}", file.display());
            // With at most one note sounding, no new note starts over another (the 4-beat primer
            // is the test piece's own, two voices).
            let crowded = crowded_starts(&piece, 4 * u64::from(piece.ticks_per_beat));
            assert_eq!(crowded, 0, "{}", file.display());
            assert!(s["new_tokens"].as_u64().unwrap() <= 64);
            if let Some(w) = s["wav"].as_str() {
                assert!(out_dir.join(w).is_file());
            }
        }
        let mut longest = Vec::new();
        for s in samples {
            let c = &s["note_copy"];
            assert_eq!(c["file"], s["file"]);
            let notes = c["longest_notes"].as_u64().unwrap();
            assert!(notes >= 1, "{c}");
            assert!((0.0..=1.0).contains(&c["copied_share"].as_f64().unwrap()), "{c}");
            // A source exactly when two notes or more are copied.
            assert_eq!(c["source"].is_string(), notes >= 2, "{c}");
            longest.push(notes);
        }
        let stats = &m["note_copies"];
        assert_eq!((stats["pieces"].as_u64(), stats["min"].as_u64()), (Some(3), Some(8)), "{stats}");
        assert_eq!(stats["max_longest"].as_u64(), longest.iter().max().copied());
        let mean = longest.iter().sum::<u64>() as f64 / 3.0;
        assert!((stats["mean_longest"].as_f64().unwrap() - mean).abs() < 1e-9, "{stats}");
        assert!((0.0..=1.0).contains(&stats["mean_copied_share"].as_f64().unwrap()));
        let share = m["originality"]["mean_copied_share"].as_f64();
        assert!(share.is_none_or(|x| (0.0..=1.0).contains(&x)));
        let oa = m["mean_overlap"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&oa));
    }
    // The same primers for every model: the first sample of each starts from the same test piece.
    assert_eq!(models[0]["samples"][0]["primer_source"], models[1]["samples"][0]["primer_source"]);
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("tiny.hmm") && !html.contains("<script"));
    assert!(html.contains("samples/tiny.markov/000.mid"));
    assert!(html.contains("test pieces (reference)") && html.contains("longest copy (notes)"));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("| test pieces (reference) |") && md.contains("tokenizer-specific"), "{md}");
    let listed = md.lines().filter(|l| l.starts_with("- [samples/"));
    assert!(
        listed.clone().count() == 6
            && listed.clone().all(|l| l.contains("longest copy ") || l.ends_with("no copy")),
        "{md}"
    );

    // A copy of one note is no copy: refused before anything is loaded, naming the option.
    let out = cadenza(tmp.path())
        .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", markov.to_str().unwrap()])
        .args(["--copy-min", "1", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("copy-min") && err.contains("at least 2"), "{err}");
}

/// The committed style classifier, which every build with libtorch can load.
#[cfg(feature = "lstm")]
fn styles_classifier() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/styles.classifier")
}

#[cfg(feature = "lstm")]
#[test]
fn compare_judges_the_samples_with_a_style_classifier_and_a_discriminator() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 24);
    let markov = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let out_dir = tmp.path().join("judged");
    let run = |label: Option<&str>| {
        let mut cmd = cadenza(tmp.path());
        cmd.args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", markov.to_str().unwrap()])
            .args(["--samples", "6", "--length", "64", "--out", out_dir.to_str().unwrap()])
            .args(["--judge", styles_classifier().to_str().unwrap()]);
        if let Some(l) = label {
            cmd.args(["--judge-label", l]);
        }
        cmd.output().unwrap()
    };
    let out = run(Some("bach"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("discr. acc") && table.contains("judge share"), "{table}");
    let report = json(&std::fs::read(out_dir.join("report.json")).unwrap());
    let judge = &report["judge"];
    assert_eq!(judge["label"], "bach");
    assert_eq!(judge["rule"], "given");
    let labels: Vec<&str> = judge["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(labels.len(), 6, "{labels:?}");
    let test_pieces = report["test_pieces"].as_u64().unwrap();
    let attributed: u64 =
        judge["real_attributions"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(attributed, test_pieces, "every test piece (all have notes) is attributed");
    assert!((0.0..=1.0).contains(&judge["real_share"].as_f64().unwrap()));
    let m = &report["models"][0];
    let mj = &m["judge"];
    let counted: u64 = mj["attributions"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(counted + mj["empty"].as_u64().unwrap(), 6);
    let bach = mj["attributions"].get("bach").and_then(Value::as_u64).unwrap_or(0);
    assert_eq!(mj["share"].as_f64().unwrap(), bach as f64 / 6.0);
    let d = &m["discriminator"];
    assert_eq!(d["generated"], 6);
    assert_eq!(d["real"].as_u64().unwrap(), test_pieces);
    assert!(d["folds"].as_u64().unwrap() >= 2);
    let acc = d["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    assert_eq!(d["telling"].as_array().unwrap().len(), 3);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("Style judge") && md.contains("**bach**"), "{md}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Style judge") && html.contains("discr. acc"));

    // Without a label, the judged label is the test pieces' most attributed one.
    let out = run(None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&std::fs::read(out_dir.join("report.json")).unwrap());
    let judge = &report["judge"];
    assert_eq!(judge["rule"], "most_test_pieces");
    let most = judge["real_attributions"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).max();
    assert_eq!(judge["real_attributions"][judge["label"].as_str().unwrap()].as_u64(), most);

    // A label the classifier does not know: one line naming it and the known ones, exit code 1.
    let out = run(Some("mozart"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("`mozart`") && err.contains("styles.classifier") && err.contains("palestrina"),
        "{err}"
    );
    // A generator given as the judge: refused by kind.
    let mut cmd = cadenza(tmp.path());
    let out = cmd
        .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", markov.to_str().unwrap()])
        .args(["--samples", "2", "--out", out_dir.to_str().unwrap(), "--judge", markov.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tiny.markov"));
}
