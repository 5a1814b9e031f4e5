//! The library's job entry points, called as a program other than the command line would call
//! them (the studio does): train → eval → generate → compare on a tiny corpus, progress reported
//! through `Progress`, and every failure a typed error.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cadenza::compare::{self, CompareOptions, CompareRequest};
use cadenza::corpus::{LoadOptions, Split};
use cadenza::error::{CheckpointError, CorpusError, Error, ModelError};
use cadenza::eval::{self, EvalRequest};
use cadenza::generate::{self, GenerateOptions, GenerateRequest};
use cadenza::models::hmm::HmmConfig;
use cadenza::models::ModelKind;
use cadenza::progress::{Progress, Silent};
use cadenza::sampler::{Guard, Sampler};
use cadenza::train::{self, ModelSpec, TrainRequest};
use cadenza::{Tokenizer, TokenizerConfig};

/// Records every report.
#[derive(Default)]
struct Log {
    updates: Mutex<Vec<(u64, u64, String)>>,
    messages: Mutex<Vec<String>>,
}

impl Progress for Log {
    fn update(&self, done: u64, total: u64, note: &str) {
        self.updates.lock().unwrap().push((done, total, note.to_string()));
    }
    fn message(&self, line: &str) {
        self.messages.lock().unwrap().push(line.to_string());
    }
}

fn no_cache() -> LoadOptions {
    LoadOptions { cache_dir: None, ..LoadOptions::default() }
}

fn train_request(corpus: &Path, out: PathBuf, model: ModelSpec) -> TrainRequest {
    TrainRequest {
        corpus: corpus.to_path_buf(),
        store: None,
        tokenizer: Tokenizer::new(TokenizerConfig::default()).unwrap(),
        load: no_cache(),
        model,
        out,
        seed: 3,
    }
}

fn eval_request(checkpoint: &Path, corpus: &Path) -> EvalRequest {
    EvalRequest {
        checkpoint: checkpoint.to_path_buf(),
        corpus: corpus.to_path_buf(),
        store: None,
        split: Split::Test,
        load: no_cache(),
        device: "cpu".into(),
        viterbi: None,
    }
}

#[test]
fn train_eval_generate_compare_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = common::distinct_corpus(dir.path(), 40);

    // Train: the order search reports each order as a message, the header records the valid
    // score it returns.
    let log = Log::default();
    let markov_path = dir.path().join("m.markov");
    let req = train_request(&corpus, markov_path.clone(), ModelSpec::Markov { orders: vec![2, 3] });
    let markov = train::run(&req, &log).unwrap();
    assert_eq!(markov.kind, ModelKind::Markov);
    assert!(markov_path.exists());
    let messages = log.messages.lock().unwrap().clone();
    assert!(messages.iter().any(|m| m.contains("order  2")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("order  3")), "{messages:?}");
    assert!(log.updates.lock().unwrap().iter().any(|(_, _, n)| n == "reading MIDI"));
    let valid_note = markov.valid_bits_per_note.expect("a valid split");
    assert_eq!(markov.header.metrics["valid_bits_per_note"], valid_note);

    let hmm_path = dir.path().join("m.hmm");
    let hmm_spec = ModelSpec::Hmm(HmmConfig { states: 4, max_iters: 5, ..HmmConfig::default() });
    let hmm = train::run(&train_request(&corpus, hmm_path.clone(), hmm_spec), &Silent).unwrap();
    assert_eq!(hmm.header.kind, ModelKind::Hmm);
    assert_eq!(hmm.header.hyperparameters["seed"], 3, "the request's seed is the HMM's");

    // Eval: the same split scored twice gives the same figures; Viterbi paths only for the HMM.
    let e = eval::run(&eval_request(&markov_path, &corpus), &Silent).unwrap();
    assert!(e.score.tokens > 0 && e.score.bits_per_note() > 0.0);
    let again = eval::run(&eval_request(&markov_path, &corpus), &Silent).unwrap();
    assert_eq!(e.score.log_prob, again.score.log_prob);
    let with_paths = EvalRequest { viterbi: Some(2), ..eval_request(&hmm_path, &corpus) };
    let h = eval::run(&with_paths, &Silent).unwrap();
    assert_eq!(h.viterbi.len(), 2);
    let (piece, states) = &h.viterbi[0];
    assert!(corpus.join(piece).exists(), "{}", piece.display());
    assert!(!states.is_empty() && states.iter().all(|&s| s < 4), "{states:?}");
    let not_hmm = EvalRequest { viterbi: Some(1), ..eval_request(&markov_path, &corpus) };
    assert!(matches!(eval::run(&not_hmm, &Silent), Err(Error::Model(ModelError::NotAnHmm("markov")))));

    // Generate: files written where asked, the same seed giving the same bytes.
    let gen = |out: &str| GenerateRequest {
        checkpoint: markov_path.clone(),
        device: "cpu".into(),
        seed_file: Some(corpus.join("piece00.mid")),
        options: GenerateOptions {
            count: 2,
            length: 64,
            sampler: Sampler::default(),
            rng_seed: 9,
            seed_beats: Some(2.0),
            seed_seconds: None,
            strip_primer: false,
            key: None,
            candidates: 1,
            density: None,
            instruments: Default::default(),
            tempo: None,
        },
        copy_corpus: None,
        guard: Guard::default(),
        out: dir.path().join(out),
    };
    let a = generate::run(&gen("a"), &Silent).unwrap();
    let b = generate::run(&gen("b"), &Silent).unwrap();
    assert_eq!(a.pieces.len(), 2);
    for ((pa, _), (pb, _)) in a.pieces.iter().zip(&b.pieces) {
        assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
    }

    // Compare: both models, ranked, every phase reported.
    let log = Log::default();
    let request = CompareRequest {
        corpus: corpus.clone(),
        store: None,
        models: vec![markov_path.clone(), hmm_path.clone()],
        load: no_cache(),
        device: "cpu".into(),
        options: CompareOptions { samples: 2, length: 48, ..CompareOptions::default() },
        guard: Guard::default(),
        judge: None,
    };
    let mut outcome = compare::run(&request, &log).unwrap();
    assert_eq!(outcome.report.models.len(), 2);
    let m = &outcome.report.models[0];
    assert!((m.bits_per_token - e.score.bits_per_token()).abs() < 1e-9, "compare scores as eval does");
    assert!(log.messages.lock().unwrap().iter().any(|m| m.contains("scoring the test split")));
    let out = dir.path().join("report");
    compare::write(&mut outcome, &out, None).unwrap();
    assert!(out.join("report.html").exists() && out.join("report.json").exists());
}

#[test]
fn bad_requests_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let req = train_request(&empty, dir.path().join("x.markov"), ModelSpec::Markov { orders: vec![2] });
    match train::run(&req, &Silent) {
        Err(Error::Corpus { path, problem: CorpusError::NoMidiFiles }) => assert_eq!(path, empty),
        other => panic!("{:?}", other.map(|t| t.path)),
    }
    assert!(!dir.path().join("x.markov").exists(), "nothing written on failure");

    let missing = dir.path().join("nope.markov");
    assert!(matches!(eval::run(&eval_request(&missing, &empty), &Silent), Err(Error::Io { .. })));

    // A checkpoint of one tokenizer refused on a corpus of another.
    let corpus = common::distinct_corpus(dir.path(), 20);
    let path = dir.path().join("m.markov");
    train::run(&train_request(&corpus, path.clone(), ModelSpec::Markov { orders: vec![2] }), &Silent)
        .unwrap();
    let (header, payload) = cadenza::checkpoint::load(&path).unwrap();
    let mut other = header.clone();
    other.tokenizer.velocity_bins = 8;
    let tokenizer = other.tokenizer().unwrap();
    let theirs = Tokenizer::new(TokenizerConfig { velocity_bins: 8, ..TokenizerConfig::default() }).unwrap();
    assert_eq!(tokenizer, theirs);
    let e = cadenza::checkpoint::check_tokenizer(&path, &header, &theirs).unwrap_err();
    assert!(matches!(e, Error::Checkpoint { problem: CheckpointError::TokenizerDiffers { .. }, .. }), "{e}");
    // A damaged file names the file and the reason in one line.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let e = eval::run(&eval_request(&path, &corpus), &Silent).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    let line = e.to_string();
    assert!(line.contains("m.markov") && line.contains("checksum") && !line.contains('\n'), "{line}");
    drop(payload);
}
