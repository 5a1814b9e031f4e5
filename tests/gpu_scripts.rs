//! The GPU run's scripts (issue 16) cannot rot: `scripts/gpu_pack.sh --from-target` packs the
//! already built debug binaries with three tiny corpora (Bach, folk and a base), and
//! `scripts/gpu_run.sh --dry-run` runs every step of the GPU run on the CPU with tiny sizes. The
//! summary and the result files are checked, and so is a failing step (reported, exit 1), a pack
//! without the base corpus (its steps said not run, not failed) and a pack over its size limit.
//!
//! Needs what the rest of the suite needs: `.libtorch` (or `$CADENZA_TORCH_LIB`) and the PyTorch
//! Python of `scripts/setup.sh` for `scripts/bench_torch.py`. Nothing here skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The folder cargo built this test's binaries into (target/debug).
fn target_dir() -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("cadenza");
    bin.parent().unwrap().to_path_buf()
}

/// Build what `gpu_pack.sh --from-target` copies (after `cargo test --all-targets` both calls
/// return at once; run alone, this test would otherwise pack stale examples).
fn ensure_built() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(&cargo)
        .current_dir(REPO)
        .args(["build", "--example", "net_bench", "--example", "transformer_bench"])
        .status()
        .unwrap();
    assert!(st.success(), "cargo build --example net_bench --example transformer_bench");
    let st = Command::new(&cargo).current_dir(REPO).args(["test", "--no-run", "--lib"]).status().unwrap();
    assert!(st.success(), "cargo test --no-run --lib");
}

/// `gpu_pack.sh --from-target`; the base corpus `base`, or `--no-base`.
fn pack(
    target: &Path,
    bach: &Path,
    folk: &Path,
    base: Option<&Path>,
    out: &Path,
    limit: Option<&str>,
) -> std::process::Output {
    let mut c = Command::new("bash");
    c.current_dir(REPO)
        .arg("scripts/gpu_pack.sh")
        .arg("--from-target")
        .arg(target)
        .arg("--out")
        .arg(out)
        .env("CADENZA_GPU_BACH", bach)
        .env("CADENZA_GPU_FOLK", folk);
    match base {
        Some(b) => c.env("CADENZA_GPU_BASE", b),
        None => c.arg("--no-base").env_remove("CADENZA_GPU_BASE"),
    };
    if let Some(l) = limit {
        c.env("CADENZA_PACK_LIMIT", l);
    }
    c.output().unwrap()
}

fn run(pack: &Path, out: &Path, only: Option<&str>) -> std::process::Output {
    let mut c = Command::new("bash");
    c.current_dir(REPO).arg("scripts/gpu_run.sh").arg("--dry-run").arg(pack).env("OUT", out);
    if let Some(o) = only {
        c.env("GPU_RUN_ONLY", o);
    }
    c.output().unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(out: &Path) -> serde_json::Value {
    common::json(&std::fs::read(out.join("summary.json")).expect("summary.json in OUT"))
}

/// The files in OUT: at most 8, each at most 16 MiB, and the ones the summary lists.
fn check_files(out: &Path, s: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(out).unwrap() {
        let e = e.unwrap();
        let len = e.metadata().unwrap().len();
        assert!(e.file_type().unwrap().is_file(), "{:?} is not a plain file", e.path());
        assert!(len <= 16 << 20, "{:?} is {len} bytes, over 16 MiB", e.path());
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    assert!(names.len() <= 8, "{} files in OUT: {names:?}", names.len());
    let mut listed: Vec<String> =
        s["files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    listed.sort();
    assert_eq!(names, listed, "files in OUT against summary.json");
    names
}

#[test]
fn dry_run_packs_runs_every_step_and_reports_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let target = target_dir();
    ensure_built();
    let bach = common::distinct_corpus(&tmp.path().join("b"), 40);
    // The same 40 distinct pieces twice: with these, every split (test included) has pieces.
    let folk = common::distinct_corpus(&tmp.path().join("f"), 40);
    let base = common::distinct_corpus(&tmp.path().join("base"), 24);

    // Pack: the binaries, the three corpora and the scripts, well under 64 MiB.
    let pack_dir = tmp.path().join("pack");
    let o = pack(&target, &bach, &folk, Some(&base), &pack_dir, None);
    assert!(o.status.success(), "gpu_pack.sh failed\n{}", text(&o));
    let printed = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or_default().to_string();
    assert_eq!(Path::new(&printed), pack_dir.canonicalize().unwrap(), "the pack's path, printed last");
    for f in [
        "bin/cadenza",
        "bin/net_bench",
        "bin/transformer_bench",
        "bin/cadenza-lib-tests",
        "bach.tar.gz",
        "folk.tar.gz",
        "base.tar.gz",
        "bench_torch.py",
        "gpu_run.sh",
        "manifest.json",
        "py/cadenza/__init__.py",
        "py/cadenza/train.py",
        "py/cadenza/_native.abi3.so",
    ] {
        assert!(pack_dir.join(f).is_file(), "{f} missing from the pack\n{}", text(&o));
    }
    let manifest = common::json(&std::fs::read(pack_dir.join("manifest.json")).unwrap());
    assert_eq!(manifest["corpora"]["bach"]["midi_files"], 40, "{manifest}");
    assert_eq!(manifest["corpora"]["folk"]["midi_files"], 40, "{manifest}");
    assert_eq!(manifest["corpora"]["base"]["midi_files"], 24, "{manifest}");

    // The dry run: every step on the CPU, all of them ok.
    let out = tmp.path().join("out");
    let t = std::time::Instant::now();
    let o = run(&pack_dir, &out, None);
    eprintln!("dry run: {:.1} s", t.elapsed().as_secs_f64());
    assert!(o.status.success(), "gpu_run.sh --dry-run failed\n{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["ok"], true, "{s:#}");
    let steps: Vec<(String, String)> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["name"].as_str().unwrap().to_string(), st["status"].as_str().unwrap().to_string()))
        .collect();
    let mut want: Vec<String> = [
        "doctor",
        "cuda_tests",
        "bench_lstm_f32",
        "bench_lstm_bf16",
        "bench_transformer_f32",
        "bench_transformer_bf16",
        "bench_kv_cache",
        "store_bach",
        "ddp_transformer_bach",
        "eval_ddp_transformer_bach",
        "pretrain_base",
        "eval_base_bach",
        "eval_base_folk",
        "finetune_base_bach",
        "eval_finetune_bach",
    ]
    .map(String::from)
    .to_vec();
    for c in ["bach", "folk"] {
        for m in ["lstm", "transformer"] {
            want.extend(["train", "eval"].map(|stage| format!("{stage}_{m}_{c}")));
        }
    }
    assert_eq!(steps.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), want, "{s:#}");
    assert!(steps.iter().all(|s| s.1 == "ok"), "{steps:?}");
    assert!(!s["needs_cuda_not_run"].as_array().unwrap().is_empty(), "the dry run says what it could not do");
    let r = &s["results"];
    assert!(r["doctor"]["cuda_available"].is_boolean(), "doctor's JSON: {s:#}");
    for b in ["bench_lstm_f32", "bench_lstm_bf16", "bench_transformer_f32", "bench_transformer_bf16"] {
        for side in ["cadenza", "pytorch"] {
            for k in ["train_tokens_per_s", "sample_tokens_per_s_batch1", "sample_tokens_per_s_batch256"] {
                assert!(r[b][side][k].as_f64().is_some_and(|v| v > 0.0), "{b}.{side}.{k}: {s:#}");
            }
        }
        // The host's share of a sampling step, measured apart (what bounds batched sampling).
        let host = &r[b]["cadenza"]["host_pick_tokens_per_s_batch256"];
        assert!(host.as_f64().is_some_and(|v| v > 0.0), "{b}: {s:#}");
        assert!(r[b]["cadenza"]["rayon_threads"].as_u64().is_some_and(|n| n >= 1), "{b}: {s:#}");
        for k in ["sample_read_share_batch256", "sample_draw_share_batch256"] {
            let v = &r[b]["cadenza"][k];
            assert!(v.as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{b}.{k}: {s:#}");
        }
    }
    assert!(r["bench_kv_cache"]["kv_cache_ms_per_token"].as_f64().is_some(), "{s:#}");
    for c in ["bach", "folk"] {
        for m in ["lstm", "transformer"] {
            let e = &r[format!("eval_{m}_{c}")];
            assert_eq!(e["split"], "test", "{e}");
            assert!(e["pieces"].as_u64().is_some_and(|n| n > 0), "{m} on {c}: empty test split: {e}");
            assert!(e["bits_per_token"].as_f64().is_some_and(f64::is_finite), "{e}");
        }
    }
    // The base model scored as it is on both test splits, then fine-tuned on Bach; both come
    // back first.
    for (name, corpus) in
        [("eval_base_bach", "bach"), ("eval_base_folk", "folk"), ("eval_finetune_bach", "bach")]
    {
        let e = &r[name];
        assert_eq!(e["split"], "test", "{name}: {e}");
        assert!(e["pieces"].as_u64().is_some_and(|n| n > 0), "{name}: empty test split of {corpus}: {e}");
        assert!(e["bits_per_token"].as_f64().is_some_and(f64::is_finite), "{name}: {e}");
    }
    // The Python trainer's checkpoint (torchrun, gloo here) is a cadenza checkpoint.
    let e = &r["eval_ddp_transformer_bach"];
    assert!(e["bits_per_token"].as_f64().is_some_and(f64::is_finite), "{e}");
    // Seven checkpoints, room for six: the base and its fine-tune first, the last by name stays
    // out and the summary says why.
    let ckpts = s["checkpoints"].as_object().unwrap();
    assert_eq!(ckpts.len(), 7, "{s:#}");
    let left: Vec<_> =
        ckpts.iter().filter(|(_, v)| v["returned"] != true).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(left.len(), 1, "{s:#}");
    assert_eq!(left[0].0, "folk.transformer", "{s:#}");
    assert_eq!(left[0].1["why"], "already 8 files", "{s:#}");
    let names = check_files(&out, &s);
    for f in [
        "summary.json",
        "logs.tar.gz",
        "base.transformer",
        "bach-tuned.transformer",
        "bach.lstm",
        "bach-ddp.transformer",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} not in OUT: {names:?}");
    }

    // A failing step is reported, and the run exits 1: the pack lost a binary. A pack without
    // the base corpus says its steps were not run, which is not a failure.
    std::fs::remove_file(pack_dir.join("bin/transformer_bench")).unwrap();
    std::fs::remove_file(pack_dir.join("base.tar.gz")).unwrap();
    let out2 = tmp.path().join("out2");
    let o = run(&pack_dir, &out2, Some("^(doctor|bench_kv_cache)$"));
    assert_eq!(o.status.code(), Some(1), "a failed step must fail the run\n{}", text(&o));
    let s = summary(&out2);
    assert_eq!(s["ok"], false);
    assert_eq!(s["failed_steps"], serde_json::json!(["bench_kv_cache"]), "{s:#}");
    assert_eq!(
        s["not_packed"],
        serde_json::json!([
            "pretrain_base",
            "eval_base_bach",
            "eval_base_folk",
            "finetune_base_bach",
            "eval_finetune_bach"
        ]),
        "{s:#}"
    );
    check_files(&out2, &s);

    // A pack over its size limit is an error that says so; --no-base leaves the base out.
    let pack2 = tmp.path().join("pack2");
    let o = pack(&target, &bach, &folk, None, &pack2, Some("1000"));
    assert!(!o.status.success(), "a pack over the limit must fail\n{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("over the carry limit"), "{}", text(&o));
    assert!(!pack2.join("base.tar.gz").exists(), "--no-base packed the base corpus");
    let manifest = common::json(&std::fs::read(pack2.join("manifest.json")).unwrap());
    assert!(manifest["corpora"]["base"].is_null(), "{manifest}");
}
