//! `train --init CKPT` (issue 26): an LSTM and a Transformer trained on one folder, then
//! fine-tuned on another of the same kind of music from their weights, score the second folder
//! better than their bases
//! and better than as many steps from scratch; the fine-tuned checkpoint records its base; a
//! base of another kind, tokenizer or shape is refused in one line naming the file.

mod common;

use std::path::Path;

use common::{cadenza, distinct_corpus, eval_json, tiny_corpus};

fn shape(model: &str) -> Vec<&'static str> {
    match model {
        "lstm" => vec!["--embed", "8", "--hidden", "16", "--layers", "1"],
        _ => vec!["--layers", "1", "--dim", "16", "--heads", "2", "--ff", "32"],
    }
}

/// `cadenza train --model MODEL` on `corpus` into `out` with `extra`; its output.
fn train(tmp: &Path, corpus: &Path, model: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    cadenza(tmp)
        .args([
            "train",
            "--model",
            model,
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--batch", "4", "--window", "16", "--rng-seed", "1", "--device", "cpu", "--warmup", "5"])
        .args(if extra.contains(&"--tokenizer") { &[][..] } else { &["--tokenizer", "midi-like"][..] })
        .args(extra)
        .output()
        .unwrap()
}

fn valid_bits(tmp: &Path, ckpt: &Path, corpus: &Path) -> f64 {
    eval_json(tmp, ckpt, corpus, "valid")["bits_per_token"].as_f64().unwrap()
}

#[test]
fn fine_tuning_starts_from_the_base_weights_and_records_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tiny_corpus(tmp.path(), 12, false);
    // The new folder: other melodies of the same kind (moved up, with a closing low note).
    std::fs::create_dir_all(tmp.path().join("new")).unwrap();
    let second = distinct_corpus(&tmp.path().join("new"), 24);
    for model in ["lstm", "transformer"] {
        let base = tmp.path().join(format!("base.{model}"));
        let mut args = shape(model);
        args.extend(["--steps", "60"]);
        let out = train(tmp.path(), &first, model, &base, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        let tuned = tmp.path().join(format!("tuned.{model}"));
        let init = ["--init", base.to_str().unwrap(), "--steps", "15", "--lr", "0.003"];
        let out = train(tmp.path(), &second, model, &tuned, &init);
        assert!(out.status.success(), "{model}: {}", String::from_utf8_lossy(&out.stderr));
        let scratch = tmp.path().join(format!("scratch.{model}"));
        let mut args = shape(model);
        args.extend(["--steps", "15", "--lr", "0.003"]);
        let out = train(tmp.path(), &second, model, &scratch, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        let (b, t, s) = (
            valid_bits(tmp.path(), &base, &second),
            valid_bits(tmp.path(), &tuned, &second),
            valid_bits(tmp.path(), &scratch, &second),
        );
        assert!(t < b, "{model}: fine-tuned {t} against its base {b} on the new folder");
        assert!(t < s, "{model}: fine-tuned {t} against 15 steps from scratch {s}");
        let header = cadenza::checkpoint::load_header(&tuned).unwrap();
        assert_eq!(header.extra["base"]["path"], base.to_str().unwrap(), "{}", header.extra);
        assert_eq!(header.extra["base"]["steps"], 60);
    }

    // Refusals, one line each naming the base: another kind, another tokenizer, another shape.
    let lstm = tmp.path().join("base.lstm");
    let refused = |model: &str, extra: &[&str], want: &str| {
        let mut args = vec!["--init", lstm.to_str().unwrap(), "--steps", "2"];
        args.extend_from_slice(extra);
        let out = train(tmp.path(), &second, model, &tmp.path().join("x.ckpt"), &args);
        assert_eq!(out.status.code(), Some(1), "{model} {extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    };
    refused("transformer", &[], "base.lstm");
    refused("lstm", &["--tokenizer", "tsd"], "base.lstm");
    refused("lstm", &["--hidden", "32"], "--init");
    refused("markov", &[], "--init");
}

#[test]
fn finetune_is_one_command_from_a_folder_to_a_model() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tiny_corpus(tmp.path(), 12, false);
    std::fs::create_dir_all(tmp.path().join("new")).unwrap();
    let second = distinct_corpus(&tmp.path().join("new"), 24);
    let base = tmp.path().join("base.lstm");
    let mut args = shape("lstm");
    args.extend(["--steps", "40"]);
    let out = train(tmp.path(), &first, "lstm", &base, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let finetune = |extra: &[&str]| {
        cadenza(tmp.path())
            .current_dir(tmp.path())
            .args([
                "finetune",
                second.to_str().unwrap(),
                "--out",
                "tuned.lstm",
                "--steps",
                "12",
                "--device",
                "cpu",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // The base's kind, shape and tokenizer (midi-like) with no tokenizer flag given.
    let out = finetune(&["--base", base.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tuned = tmp.path().join("tuned.lstm");
    let header = cadenza::checkpoint::load_header(&tuned).unwrap();
    assert_eq!(header.tokenizer, cadenza::checkpoint::load_header(&base).unwrap().tokenizer);
    assert_eq!(header.extra["base"]["path"], base.to_str().unwrap());
    assert!(valid_bits(tmp.path(), &tuned, &second) < valid_bits(tmp.path(), &base, &second));

    // No base model at the default path, and a base of a kind that cannot be fine-tuned.
    let out = finetune(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("checkpoints/base.transformer") && err.contains("--base"), "{err}");
    let markov = common::train(tmp.path(), &first, "markov", &["--order", "2"]);
    let out = finetune(&["--base", markov.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("markov"), "{err}");
}

#[test]
fn a_fine_tune_is_reproducible_and_resumes_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tiny_corpus(tmp.path(), 12, false);
    std::fs::create_dir_all(tmp.path().join("new")).unwrap();
    let second = distinct_corpus(&tmp.path().join("new"), 24);
    let base = tmp.path().join("base.transformer");
    let mut args = shape("transformer");
    args.extend(["--steps", "30"]);
    let out = train(tmp.path(), &first, "transformer", &base, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let finetune = |name: &str, extra: &[&str]| {
        let out = cadenza(tmp.path())
            .current_dir(tmp.path())
            .args(["finetune", second.to_str().unwrap(), "--base", base.to_str().unwrap(), "--out", name])
            .args(["--steps", "24", "--batch", "4", "--window", "16", "--patience", "100", "--device", "cpu"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        tmp.path().join(name)
    };
    let payload = |path: &Path| cadenza::checkpoint::load(path).unwrap().1;
    let step = |path: &Path| cadenza::checkpoint::load_header(path).unwrap().extra["step"].as_u64();

    // Stopped before its first step, the fine-tune holds exactly the base's weights: the same
    // scores to the last bit.
    finetune("zero.transformer", &["--rng-seed", "5", "--stop-after", "0"]);
    let zero = tmp.path().join("zero.transformer.last");
    assert_eq!(step(&zero), Some(0));
    assert_eq!(valid_bits(tmp.path(), &zero, &second), valid_bits(tmp.path(), &base, &second));

    let a = finetune("a.transformer", &["--rng-seed", "5"]);
    assert_ne!(valid_bits(tmp.path(), &a, &second), valid_bits(tmp.path(), &base, &second));
    let again = finetune("again.transformer", &["--rng-seed", "5"]);
    let other = finetune("other.transformer", &["--rng-seed", "6"]);
    assert_eq!(payload(&a), payload(&again), "the same seed gave other weights");
    assert_ne!(payload(&a), payload(&other), "another seed gave the same weights");

    // Stopped after 9 of 24 steps as Ctrl-C stops it, then resumed: the uninterrupted result.
    let stopped = finetune("b.transformer", &["--rng-seed", "5", "--stop-after", "9"]);
    let last = tmp.path().join("b.transformer.last");
    assert_eq!(step(&last), Some(9));
    let resumed = finetune("b.transformer", &["--rng-seed", "5", "--resume", last.to_str().unwrap()]);
    assert_eq!(stopped, resumed);
    assert_eq!(step(&last), Some(24));
    assert_eq!(payload(&resumed), payload(&a), "the resumed fine-tune differs from the straight one");
    assert_eq!(payload(&last), payload(&tmp.path().join("a.transformer.last")));
    let header = cadenza::checkpoint::load_header(&resumed).unwrap();
    assert_eq!(header.extra["base"]["path"], base.to_str().unwrap(), "{}", header.extra);
}
