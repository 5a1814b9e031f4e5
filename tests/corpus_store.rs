//! Token stores (`cadenza corpus build`): every piece comes back exactly as `Corpus::load` reads
//! it, in the same split; a build killed with SIGKILL resumes (or restarts) to the store an
//! uninterrupted build writes; incomplete and damaged stores are refused with one line naming
//! the file; training from a store equals training from the folder.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cadenza::corpus::{Corpus, LoadOptions, Pieces, Split, SplitKey};
use cadenza::error::{Error, StoreError};
use cadenza::midi::write_to_bytes;
use cadenza::progress::Silent;
use cadenza::store::{self, BuildOptions, TokenStore};
use cadenza::train::{self, ModelSpec, TrainRequest};
use cadenza::{Tokenizer, TokenizerConfig};

/// `n` tunes in nested folders, every fifth with a byte-different copy (same music), and one
/// file that is not MIDI.
fn corpus(dir: &Path, n: u64, notes: u64) -> PathBuf {
    let root = dir.join("corpus");
    for i in 0..n {
        let sub = root.join(format!("g{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let t = common::tune(480, i, notes);
        std::fs::write(sub.join(format!("t{i:04}.mid")), write_to_bytes(&t)).unwrap();
        if i % 5 == 0 {
            std::fs::write(sub.join(format!("t{i:04}-copy.mid")), common::with_unknown_chunk(&t, i)).unwrap();
        }
    }
    std::fs::write(root.join("broken.mid"), b"MThd not really").unwrap();
    root
}

fn tokenizer() -> Tokenizer {
    Tokenizer::new(TokenizerConfig::default()).unwrap()
}

fn load(root: &Path, split_key: SplitKey, dedup: bool) -> Corpus {
    let opts = LoadOptions { split_key, dedup, cache_dir: None, ..LoadOptions::default() };
    Corpus::load(root, &tokenizer(), &opts).unwrap()
}

fn build_opts(shard_tokens: u64, split_key: SplitKey, dedup: bool) -> BuildOptions {
    BuildOptions { shard_tokens, chunk_files: 7, split_key, dedup, ..BuildOptions::default() }
}

/// The store holds what `Corpus::load` reads: the same pieces, tokens, splits, summaries.
fn assert_same(store: &TokenStore, corpus: &Corpus) {
    let a: Vec<_> = store.pieces().collect();
    assert_eq!(a.len(), corpus.pieces.len());
    for (s, c) in a.iter().zip(&corpus.pieces) {
        assert_eq!(s.path, c.path.as_path());
        assert_eq!((s.hash, s.split, s.info), (&c.hash, c.split, &c.info), "{}", c.path.display());
        assert_eq!(s.tokens, c.tokens.as_slice(), "{}", c.path.display());
    }
    assert_eq!(store.skipped, corpus.skipped);
    assert_eq!(store.duplicates, corpus.duplicates);
    assert_eq!(Pieces::summary(store), corpus.summary());
    assert_eq!(store.manifest.totals.as_ref().unwrap().content_hash, corpus.content_hash());
}

#[test]
fn a_store_round_trips_every_piece_in_its_split() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 60, 40);
    for (key, dedup) in [(SplitKey::Music, false), (SplitKey::Music, true), (SplitKey::FileBytes, false)] {
        let out = dir.path().join(format!("store-{key}-{dedup}"));
        let built = store::build(&root, &tokenizer(), &out, &build_opts(1000, key, dedup), None).unwrap();
        assert!(
            built.manifest.complete && built.manifest.shards.len() > 5,
            "{:?}",
            built.manifest.shards.len()
        );
        let s = TokenStore::open(&out).unwrap();
        let c = load(&root, key, dedup);
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.duplicates.len(), if dedup { 12 } else { 0 });
        assert_same(&s, &c);
        // Every shard's tokens are one aligned slice, the pieces cut from it.
        let total: usize = s.shard_tokens().iter().map(|t| t.len()).sum();
        assert_eq!(total as u64, built.manifest.totals.as_ref().unwrap().tokens);
        // Building again with the same options does nothing.
        let again = store::build(&root, &tokenizer(), &out, &build_opts(1000, key, dedup), None).unwrap();
        assert!(again.already_complete);
    }
}

#[test]
fn training_from_a_store_equals_training_from_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 60, 40);
    let out = dir.path().join("store");
    store::build(&root, &tokenizer(), &out, &build_opts(2000, SplitKey::Music, false), None).unwrap();
    let request = |store: Option<PathBuf>, name: &str| TrainRequest {
        corpus: root.clone(),
        store,
        tokenizer: tokenizer(),
        load: LoadOptions { cache_dir: None, ..LoadOptions::default() },
        model: ModelSpec::Markov { orders: vec![2, 4] },
        out: dir.path().join(name),
        seed: 0,
    };
    let a = train::run(&request(None, "dir.markov"), &Silent).unwrap();
    let b = train::run(&request(Some(out.clone()), "store.markov"), &Silent).unwrap();
    assert!(a.header.metrics.contains_key("valid_bits_per_token"), "{:?}", a.header.metrics);
    assert_eq!(a.header.metrics, b.header.metrics);
    assert_eq!(a.header.corpus, b.header.corpus);
    assert_eq!(a.header.hyperparameters, b.header.hyperparameters);
    assert_eq!(a.train_pieces, b.train_pieces);
    // The same through the command line, and `eval --store` scores as `eval --corpus` does.
    let bin = assert_cmd::cargo::cargo_bin("cadenza");
    let run = |args: &[&str]| {
        let o =
            Command::new(&bin).args(args).env("CADENZA_CACHE", dir.path().join("cache")).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // (`corpus build` and `train` take the same tokenizer defaults.)
    let ckpt = dir.path().join("cli.markov");
    let cli_store = dir.path().join("cli-store");
    let (r, o, c) = (root.to_str().unwrap(), cli_store.to_str().unwrap(), ckpt.to_str().unwrap());
    run(&["corpus", "build", r, "--out", o, "--shard-tokens", "3000"]);
    let via_store = run(&["train", "--model", "markov", "--order", "3", "--store", o, "--out", c]);
    let via_dir = run(&["train", "--model", "markov", "--order", "3", "--corpus", r, "--out", c]);
    assert_eq!(via_store.lines().take(2).collect::<Vec<_>>(), via_dir.lines().take(2).collect::<Vec<_>>());
    let e_store = run(&["eval", c, "--store", o, "--json"]);
    let e_dir = run(&["eval", c, "--corpus", r, "--json"]);
    let field = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        (v["bits_per_token"].as_f64().unwrap(), v["tokens"].as_u64().unwrap())
    };
    assert_eq!(field(&e_store), field(&e_dir));
    // `compare --store` scores on the store's test split as `compare --corpus` does.
    let report = |flag: &str, path: &str, name: &str| -> serde_json::Value {
        let dir_out = dir.path().join(name);
        let d = dir_out.to_str().unwrap();
        run(&[
            "compare",
            flag,
            path,
            "--models",
            c,
            "--samples",
            "1",
            "--length",
            "16",
            "--no-audio",
            "--out",
            d,
        ]);
        serde_json::from_slice(&std::fs::read(dir_out.join("report.json")).unwrap()).unwrap()
    };
    let (a, b) = (report("--store", o, "cmp-store"), report("--corpus", r, "cmp-dir"));
    assert_eq!(a["test_tokens"], b["test_tokens"]);
    assert!(a["test_tokens"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["models"][0]["bits_per_token"], b["models"][0]["bits_per_token"], "{a}");
}

/// The store's files and their bytes, in name order.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn manifest(dir: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(dir.join("manifest.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn build_cmd(root: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("cadenza"));
    c.args(["corpus", "build"]).arg(root).arg("--out").arg(out);
    c.args(["--shard-tokens", "1500", "--chunk-files", "1"]).args(extra);
    c
}

#[test]
fn a_build_killed_mid_way_resumes_or_restarts_to_the_uninterrupted_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 500, 150);
    let whole = dir.path().join("whole");
    assert!(build_cmd(&root, &whole, &[]).status().unwrap().success());
    let expected = snapshot(&whole);
    assert!(expected.len() > 20, "{} files", expected.len());

    for rerun in [&[][..], &["--restart"][..]] {
        let out = dir.path().join(format!("killed{}", rerun.len()));
        let mut child =
            build_cmd(&root, &out, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Kill -9 once a shard is finalized and before the build completes.
        let start = Instant::now();
        let shards = loop {
            let m = manifest(&out);
            let n = m.as_ref().map_or(0, |m| m["shards"].as_array().unwrap().len());
            if n >= 1 {
                assert_eq!(m.unwrap()["complete"], false, "the build finished before it could be killed");
                break n;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no shard finalized in a minute");
            assert!(child.try_wait().unwrap().is_none(), "the build ended before a shard showed up");
            std::thread::sleep(Duration::from_millis(2));
        };
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Refused as it is, naming the manifest.
        match TokenStore::open(&out) {
            Err(Error::Store { path, problem: StoreError::Incomplete { shards: s, .. } }) => {
                assert!(s >= shards && path.ends_with("manifest.json"), "{s} {}", path.display())
            }
            other => panic!("an incomplete store opened: {other:?}"),
        }
        let o = build_cmd(&root, &out, rerun).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(rerun.is_empty(), said.contains("resumed after"), "{said}");
        assert!(snapshot(&out) == expected, "the {rerun:?} store differs from the uninterrupted one");
        TokenStore::open(&out).unwrap();
    }
}

/// `cadenza train --store` on a damaged store: exit status 1 and one line of error.
fn train_error(store: &Path) -> String {
    let o = Command::new(assert_cmd::cargo::cargo_bin("cadenza"))
        .args(["train", "--model", "markov", "--order", "2", "--store"])
        .arg(store)
        .arg("--out")
        .arg(store.join("x.markov"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!store.join("x.markov").exists());
    err
}

#[test]
fn incomplete_and_damaged_stores_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 30, 40);
    let good = dir.path().join("good");
    store::build(&root, &tokenizer(), &good, &build_opts(1000, SplitKey::Music, false), None).unwrap();
    let copy = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (f, b) in snapshot(&good) {
            std::fs::write(d.join(f), b).unwrap();
        }
        d
    };
    let shard = "shard-00001.cdzs";

    let flipped = copy("flipped");
    let mut b = std::fs::read(flipped.join(shard)).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    std::fs::write(flipped.join(shard), b).unwrap();
    let e = train_error(&flipped);
    assert!(e.contains(shard) && e.contains("checksum mismatch"), "{e}");

    // A damaged trailer: the shard's CRC32 is not the one the manifest lists.
    let trailer = copy("trailer");
    let mut b = std::fs::read(trailer.join(shard)).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x01;
    std::fs::write(trailer.join(shard), b).unwrap();
    let e = train_error(&trailer);
    assert!(e.contains(shard) && e.contains("CRC32") && e.contains("the manifest says"), "{e}");

    let cut = copy("truncated");
    let b = std::fs::read(cut.join(shard)).unwrap();
    std::fs::write(cut.join(shard), &b[..b.len() - 10]).unwrap();
    let e = train_error(&cut);
    assert!(e.contains(shard) && e.contains("bytes, the manifest says"), "{e}");

    let missing = copy("missing");
    std::fs::remove_file(missing.join(shard)).unwrap();
    let e = train_error(&missing);
    assert!(e.contains(shard), "{e}");

    let incomplete = copy("incomplete");
    let mut m = manifest(&incomplete).unwrap();
    m["complete"] = false.into();
    std::fs::write(incomplete.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let e = train_error(&incomplete);
    assert!(e.contains("manifest.json") && e.contains("incomplete token store"), "{e}");

    let e = train_error(&root);
    assert!(e.contains("not a token store"), "{e}");
}

#[test]
fn a_build_refuses_other_options_and_foreign_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 20, 30);
    let out = dir.path().join("store");
    let t = tokenizer();
    store::build(&root, &t, &out, &build_opts(1000, SplitKey::Music, false), None).unwrap();
    let e = store::build(&root, &t, &out, &build_opts(1000, SplitKey::Music, true), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--dedup") && e.contains("--restart"), "{e}");
    let other = Tokenizer::new(TokenizerConfig { velocity_bins: 8, ..TokenizerConfig::default() }).unwrap();
    let e = store::build(&root, &other, &out, &build_opts(1000, SplitKey::Music, false), None).unwrap_err();
    assert!(e.to_string().contains("tokenizer"), "{e}");
    let restart = BuildOptions { restart: true, ..build_opts(1000, SplitKey::Music, true) };
    let built = store::build(&root, &t, &out, &restart, None).unwrap();
    assert!(built.manifest.build.dedup && !built.already_complete);
    assert_same(&TokenStore::open(&out).unwrap(), &load(&root, SplitKey::Music, true));
    // A folder that holds other files is not overwritten.
    let e = store::build(&root, &t, &root, &build_opts(1000, SplitKey::Music, false), None).unwrap_err();
    assert!(e.to_string().contains("is not a token store"), "{e}");
    let s = TokenStore::open(&out).unwrap();
    assert!(s.require_slices(Split::Train).is_ok());
    // A checkpoint trained on another split is not scored on the store's.
    let ckpt = dir.path().join("bytes.markov");
    let request = TrainRequest {
        corpus: root.clone(),
        store: None,
        tokenizer: t.clone(),
        load: LoadOptions { split_key: SplitKey::FileBytes, cache_dir: None, ..LoadOptions::default() },
        model: ModelSpec::Markov { orders: vec![2] },
        out: ckpt.clone(),
        seed: 0,
    };
    train::run(&request, &Silent).unwrap();
    let eval = cadenza::eval::EvalRequest {
        checkpoint: ckpt,
        corpus: root.clone(),
        store: Some(out.clone()),
        split: Split::Train,
        load: LoadOptions { cache_dir: None, ..LoadOptions::default() },
        device: "cpu".into(),
        viterbi: None,
    };
    let e = cadenza::eval::run(&eval, &Silent).unwrap_err().to_string();
    assert!(
        e.contains("bytes.markov") && e.contains("by file-bytes") && e.contains("by music with --dedup"),
        "{e}"
    );
}

/// A build stopped after its first shard, as the manifest then says (the rest removed).
fn interrupted_copy(whole: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let mut m = manifest(whole).unwrap();
    let first = m["shards"][0].clone();
    m["shards"] = serde_json::Value::Array(vec![first.clone()]);
    m["complete"] = false.into();
    m["totals"] = serde_json::Value::Null;
    std::fs::write(to.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let name = first["file"].as_str().unwrap();
    std::fs::copy(whole.join(name), to.join(name)).unwrap();
}

#[test]
fn a_resumed_build_notices_a_file_rewritten_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus(dir.path(), 60, 40);
    let t = tokenizer();
    let opts = build_opts(1000, SplitKey::Music, false);
    let whole = dir.path().join("whole");
    store::build(&root, &t, &whole, &opts, None).unwrap();
    let m = manifest(&whole).unwrap();
    assert!(m["shards"].as_array().unwrap().len() > 2, "{m}");
    assert!(m["build"]["files_stat_digest"].is_string(), "{m}");

    // Untouched, the interrupted build resumes to the whole store.
    let resumed = dir.path().join("resumed");
    interrupted_copy(&whole, &resumed);
    let built = store::build(&root, &t, &resumed, &opts, None).unwrap();
    assert_eq!(built.resumed_shards, 1);
    assert!(snapshot(&resumed) == snapshot(&whole));

    // A file the first shard holds, rewritten with other music under the same name: the shard
    // has its old tokens, so resuming is refused (and nothing is removed) until --restart.
    let changed = dir.path().join("changed");
    interrupted_copy(&whole, &changed);
    let before = snapshot(&changed);
    let victim = root.join("g0").join("t0000.mid");
    std::fs::write(&victim, write_to_bytes(&common::tune(480, 9999, 40))).unwrap();
    let e = store::build(&root, &t, &changed, &opts, None).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("was modified") && e.contains("--restart"), "{e}");
    assert!(snapshot(&changed) == before, "a refused resume changed the store");
    let restart = BuildOptions { restart: true, ..opts.clone() };
    store::build(&root, &t, &changed, &restart, None).unwrap();
    assert_same(&TokenStore::open(&changed).unwrap(), &load(&root, SplitKey::Music, false));

    // The same bytes with a new modification time count as modified too (no file is re-read
    // to tell): the complete store says so on a rerun.
    let f = std::fs::File::options().write(true).open(&victim).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)).unwrap();
    drop(f);
    let e = store::build(&root, &t, &changed, &opts, None).unwrap_err().to_string();
    assert!(e.contains("was modified"), "{e}");

    // A manifest written before sizes and times were recorded resumes on the paths alone.
    let old = dir.path().join("old");
    interrupted_copy(&whole, &old);
    let mut m = manifest(&old).unwrap();
    m["build"].as_object_mut().unwrap().remove("files_stat_digest");
    std::fs::write(old.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(store::build(&root, &t, &old, &opts, None).unwrap().resumed_shards, 1);
}
