//! Scoring a checkpoint on a corpus split: the one entry point behind `cadenza eval`.
//!
//! [`run`] loads the checkpoint and the corpus with the checkpoint's tokenizer, checks that the
//! two agree ([`crate::checkpoint::check_tokenizer`]), and returns the held-out [`Score`]
//! (bits per token, per note, per second) and, for an HMM, the most likely hidden-state paths of
//! the first pieces.

use std::path::PathBuf;

use crate::checkpoint::{self, Header};
use crate::corpus::{Corpus, LoadOptions, Pieces, Split};
use crate::error::{Error, ModelError, Result};
use crate::models::saved;
use crate::progress::Progress;
use crate::score::Score;
use crate::store::TokenStore;
use crate::tokens::Scheme;

/// An evaluation job.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    pub checkpoint: PathBuf,
    /// The corpus folder (read with the checkpoint's tokenizer).
    pub corpus: PathBuf,
    /// A token store to score on instead of reading `corpus`: its tokenizer must be the
    /// checkpoint's, and its split the one the checkpoint records.
    pub store: Option<PathBuf>,
    pub split: Split,
    pub load: LoadOptions,
    /// Device for libtorch models: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// HMM only: the hidden-state paths of the first this many pieces of the split.
    pub viterbi: Option<usize>,
}

/// What an evaluation measured.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub header: Header,
    pub scheme: Scheme,
    pub score: Score,
    /// `(piece path relative to the corpus, most likely state per scored token)`.
    pub viterbi: Vec<(PathBuf, Vec<usize>)>,
}

/// Score `request.checkpoint` on `request.split` of `request.corpus`.
///
/// ```no_run
/// use cadenza::corpus::{LoadOptions, Split};
/// use cadenza::eval::{run, EvalRequest};
/// use cadenza::progress::Silent;
///
/// let request = EvalRequest {
///     checkpoint: "checkpoints/bach.lstm".into(),
///     corpus: "corpora/bach".into(),
///     store: None,
///     split: Split::Test,
///     load: LoadOptions::default(),
///     device: "auto".into(),
///     viterbi: None,
/// };
/// let e = run(&request, &Silent)?;
/// println!("{:.4} bits/note on {} notes", e.score.bits_per_note(), e.score.notes);
/// # Ok::<(), cadenza::Error>(())
/// ```
pub fn run(request: &EvalRequest, progress: &dyn Progress) -> Result<Evaluation> {
    let loaded = saved::load(&request.checkpoint, &request.device)?;
    if request.viterbi.is_some() && loaded.model.as_hmm().is_none() {
        return Err(ModelError::NotAnHmm(loaded.header.kind.name()).into());
    }
    // Score on the held-out pieces of the checkpoint's own training run (its split key).
    let load = request.load.as_recorded(loaded.header.corpus.as_ref());
    let source: Box<dyn Pieces> = match &request.store {
        Some(dir) => {
            let store = TokenStore::open(dir)?;
            store.require_split(&request.checkpoint, &load)?;
            Box::new(store)
        }
        None => Box::new(Corpus::load_with(&request.corpus, &loaded.tokenizer, &load, Some(progress))?),
    };
    let corpus = source.as_ref();
    checkpoint::check_tokenizer(&request.checkpoint, &loaded.header, corpus.tokenizer())?;
    let seqs = corpus.require_slices(request.split)?;
    let score = Score::of(&loaded.model, corpus.tokenizer(), &seqs, corpus.split_seconds(request.split))?;
    let viterbi = match (request.viterbi, loaded.model.as_hmm()) {
        (Some(n), Some(hmm)) => corpus
            .of_split(request.split)
            .zip(&seqs)
            .take(n)
            .map(|(piece, seq)| (piece.path.to_path_buf(), hmm.viterbi(seq)))
            .collect(),
        (Some(_), None) => return Err(Error::Model(ModelError::NotAnHmm(loaded.header.kind.name()))),
        (None, _) => Vec::new(),
    };
    Ok(Evaluation { scheme: loaded.tokenizer.scheme(), header: loaded.header, score, viterbi })
}
