//! The GPU run's scripts (issue 16) cannot rot: `scripts/gpu_pack.sh --from-target` packs the
//! already built debug binaries with two tiny corpora, and `scripts/gpu_run.sh --dry-run` runs
//! every step of the GPU run on the CPU with tiny sizes. The summary and the result files are
//! checked, and so is a failing step (reported, exit 1) and a pack over its size limit.
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

/// Build what `gpu_pack.sh --from-target` copies when this test runs without the rest of the
/// suite (`cargo test --all-targets` has built them already; then both calls return at once).
fn ensure_built(target: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let examples = ["net_bench", "transformer_bench"];
    if examples.iter().any(|e| !target.join("examples").join(e).exists()) {
        let st = Command::new(&cargo)
            .current_dir(REPO)
            .args(["build", "--example", "net_bench", "--example", "transformer_bench"])
            .status()
            .unwrap();
        assert!(st.success(), "cargo build --example net_bench --example transformer_bench");
    }
    let st = Command::new(&cargo).current_dir(REPO).args(["test", "--no-run", "--lib"]).status().unwrap();
    assert!(st.success(), "cargo test --no-run --lib");
}

fn pack(target: &Path, bach: &Path, folk: &Path, out: &Path, limit: Option<&str>) -> std::process::Output {
    let mut c = Command::new("bash");
    c.current_dir(REPO)
        .arg("scripts/gpu_pack.sh")
        .arg("--from-target")
        .arg(target)
        .arg("--out")
        .arg(out)
        .env("CADENZA_GPU_BACH", bach)
        .env("CADENZA_GPU_FOLK", folk);
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
    ensure_built(&target);
    let bach = common::distinct_corpus(&tmp.path().join("b"), 40);
    // The same 40 distinct pieces twice: with these, every split (test included) has pieces.
    let folk = common::distinct_corpus(&tmp.path().join("f"), 40);

    // Pack: the binaries, both corpora and the scripts, well under 64 MiB.
    let pack_dir = tmp.path().join("pack");
    let o = pack(&target, &bach, &folk, &pack_dir, None);
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
    ]
    .map(String::from)
    .to_vec();
    for c in ["bach", "folk"] {
        for m in ["lstm", "transformer"] {
            want.extend(["train", "eval"].map(|stage| format!("{stage}_{m}_{c}")));
        }
    }
    want.extend(["store_bach", "ddp_transformer_bach", "eval_ddp_transformer_bach"].map(String::from));
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
    }
    assert!(r["bench_kv_cache"]["kv_cache_ms_per_token"].as_f64().is_some(), "{s:#}");
    for c in ["bach", "folk"] {
        for m in ["lstm", "transformer"] {
            let e = &r[format!("eval_{m}_{c}")];
            assert_eq!(e["split"], "test", "{e}");
            assert!(e["pieces"].as_u64().is_some_and(|n| n > 0), "{m} on {c}: empty test split: {e}");
            assert!(e["bits_per_token"].as_f64().is_some_and(f64::is_finite), "{e}");
            assert_eq!(s["checkpoints"][format!("{c}.{m}")]["returned"], true, "{s:#}");
        }
    }
    // The Python trainer's checkpoint (torchrun, gloo here) is a cadenza checkpoint.
    let e = &r["eval_ddp_transformer_bach"];
    assert!(e["bits_per_token"].as_f64().is_some_and(f64::is_finite), "{e}");
    assert_eq!(s["checkpoints"]["bach-ddp.transformer"]["returned"], true, "{s:#}");
    let names = check_files(&out, &s);
    for f in ["summary.json", "logs.tar.gz", "bach.lstm", "folk.transformer", "bach-ddp.transformer"] {
        assert!(names.iter().any(|n| n == f), "{f} not in OUT: {names:?}");
    }

    // A failing step is reported, and the run exits 1: the pack lost a binary.
    std::fs::remove_file(pack_dir.join("bin/transformer_bench")).unwrap();
    let out2 = tmp.path().join("out2");
    let o = run(&pack_dir, &out2, Some("^(doctor|bench_kv_cache)$"));
    assert_eq!(o.status.code(), Some(1), "a failed step must fail the run\n{}", text(&o));
    let s = summary(&out2);
    assert_eq!(s["ok"], false);
    assert_eq!(s["failed_steps"], serde_json::json!(["bench_kv_cache"]), "{s:#}");
    check_files(&out2, &s);

    // A pack over its size limit is an error that says so.
    let o = pack(&target, &bach, &folk, &tmp.path().join("pack2"), Some("1000"));
    assert!(!o.status.success(), "a pack over the limit must fail\n{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("over the carry limit"), "{}", text(&o));
}
