//! Checkpoints: one file per model, a JSON header followed by the model's weights.
//!
//! Layout (little-endian, in the framing of [`crate::binio`]):
//!
//! ```text
//! "CDZCKPT\0" | u32 format version | u64 header length | header (JSON)
//!             | u64 payload length | payload | u32 CRC32 of everything before it
//! ```
//!
//! The header records the model kind, the tokenizer configuration and vocabulary, the
//! hyperparameters, a summary of the training corpus with its content hash, train/valid metrics
//! and the creation time. The payload is the model's own encoding (safetensors for tensors, a
//! compact binary for Markov counts). Files are written atomically ([`crate::atomic`]); loading
//! a truncated, corrupted, wrong-kind or future-version file fails with one clear line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::binio::{Format, Reader, Writer};
pub use crate::corpus::CorpusSummary;
use crate::error::{CheckpointError, Error, Result};
use crate::tokens::{Bpe, BpeSpec, Tokenizer, TokenizerConfig};

/// The checkpoint format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: Format = Format { name: "checkpoint", magic: b"CDZCKPT\0", version: FORMAT_VERSION };
/// Headers larger than this are refused (a corrupted length must not allocate gigabytes).
const MAX_HEADER: u64 = 64 << 20;

/// Which model a checkpoint holds: one of the generators, or a style classifier
/// (`cadenza::classify`, not a generator, so not in [`ModelKind::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Markov,
    Hmm,
    Lstm,
    Transformer,
    Classifier,
}

impl std::str::FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::setting("model", format!("`{s}`"), "markov, hmm, lstm or transformer"))
    }
}

impl ModelKind {
    /// Every kind, in the order the command line lists them.
    pub const ALL: [ModelKind; 4] =
        [ModelKind::Markov, ModelKind::Hmm, ModelKind::Lstm, ModelKind::Transformer];

    /// Whether training or running this kind takes libtorch (the LSTM, the Transformer and the
    /// style classifier do; the Markov chain and the HMM are plain Rust).
    pub fn needs_libtorch(self) -> bool {
        matches!(self, ModelKind::Lstm | ModelKind::Transformer | ModelKind::Classifier)
    }

    /// Lower-case name, as on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Markov => "markov",
            ModelKind::Hmm => "hmm",
            ModelKind::Lstm => "lstm",
            ModelKind::Classifier => "classifier",
            ModelKind::Transformer => "transformer",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The JSON header of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    pub kind: ModelKind,
    pub cadenza_version: String,
    /// UTC, RFC 3339.
    pub created: String,
    pub tokenizer: TokenizerConfig,
    /// BPE merges over `tokenizer`, when the model speaks merged tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpe: Option<BpeSpec>,
    /// Token names, index = token id.
    pub vocab: Vec<String>,
    pub hyperparameters: serde_json::Value,
    pub corpus: Option<CorpusSummary>,
    /// E.g. `train_bits_per_token`, `valid_bits_per_token`.
    pub metrics: BTreeMap<String, f64>,
    /// How the payload is encoded (e.g. `markov-v1`, `safetensors`).
    pub payload_format: String,
    /// Model-specific state that is not weights (e.g. training step for `--resume`).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl Header {
    /// A header for a `kind` model over `tokenizer`, created now.
    pub fn new(
        kind: ModelKind,
        tokenizer: &Tokenizer,
        hyperparameters: serde_json::Value,
        payload_format: &str,
    ) -> Header {
        Header {
            format_version: FORMAT_VERSION,
            kind,
            cadenza_version: env!("CARGO_PKG_VERSION").to_string(),
            created: rfc3339_now(),
            tokenizer: *tokenizer.config(),
            bpe: tokenizer.bpe().map(|b| b.spec()),
            vocab: (0..tokenizer.vocab_size()).map(|i| tokenizer.name(i as u16)).collect(),
            hyperparameters,
            corpus: None,
            metrics: BTreeMap::new(),
            payload_format: payload_format.to_string(),
            extra: serde_json::Value::Null,
        }
    }

    /// The tokenizer this checkpoint's model speaks.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        let t = Tokenizer::new(self.tokenizer)?;
        match &self.bpe {
            None => Ok(t),
            Some(spec) => t.with_bpe(Bpe::from_spec(spec)?),
        }
    }
}

/// Write `header` and `payload` to `path` atomically.
pub fn save(path: &Path, header: &Header, payload: &[u8]) -> Result<()> {
    let json = serde_json::to_vec_pretty(header)
        .map_err(|source| Error::Json { what: "checkpoint header", source })?;
    let mut w = Writer::with_capacity(&FORMAT, json.len() + payload.len() + 24);
    w.section(&json);
    w.section(payload);
    let bytes = w.finish();
    crate::atomic::write(path, &bytes)
}

/// Read only the header of the checkpoint at `path` (the whole file is still checksummed).
pub fn load_header(path: &Path) -> Result<Header> {
    load(path).map(|(h, _)| h)
}

/// The kind of model in the file at `path` if it is a readable checkpoint, else `None` (without
/// reading more than its first bytes when it is not a checkpoint at all).
pub fn peek_kind(path: &Path) -> Option<ModelKind> {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path).ok()?.read_exact(&mut magic).ok()?;
    if magic[..] != FORMAT.magic[..] {
        return None;
    }
    load_header(path).ok().map(|h| h.kind)
}

/// Read and verify the checkpoint at `path`.
pub fn load(path: &Path) -> Result<(Header, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let format = |source| Error::Format { path: path.into(), source };
    let mut r = Reader::open(&FORMAT, &bytes).map_err(format)?;
    let json = r.section(MAX_HEADER).map_err(format)?;
    let payload = r.section(u64::MAX).map_err(format)?;
    r.finish().map_err(format)?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| Error::checkpoint(path, CheckpointError::Header(e)))?;
    Ok((header, payload.to_vec()))
}

/// Read the checkpoint at `path` and check that it holds a `kind` model.
pub fn load_kind(path: &Path, kind: ModelKind) -> Result<(Header, Vec<u8>)> {
    let (h, p) = load(path)?;
    if h.kind != kind {
        return Err(Error::checkpoint(
            path,
            CheckpointError::WrongKind { found: h.kind.name(), expected: kind.name() },
        ));
    }
    Ok((h, p))
}

/// The one compatibility check between a model and the tokens it is given: refuse to use the
/// checkpoint at `path` on a corpus tokenized differently (settings or BPE merges).
pub fn check_tokenizer(path: &Path, header: &Header, corpus: &Tokenizer) -> Result<()> {
    let ours = header.tokenizer().map_err(|e| Error::checkpoint(path, tokenizer_problem(e)))?;
    if ours.digest() != corpus.digest() {
        return Err(Error::checkpoint(
            path,
            CheckpointError::TokenizerDiffers {
                ours_scheme: ours.scheme().name(),
                ours: ours.digest(),
                theirs_scheme: corpus.scheme().name(),
                theirs: corpus.digest(),
            },
        ));
    }
    Ok(())
}

/// [`check_tokenizer`] for a checkpoint whose weights start another run (`train --init`): the
/// same tokens, though the pieces may have been read otherwise: a model trained on pieces in
/// every key can be fine-tuned on key-relative ones (`--transpose-to-key` changes what the
/// pieces are, not what the tokens mean), and back.
pub fn check_init_tokenizer(path: &Path, header: &Header, corpus: &Tokenizer) -> Result<()> {
    let ours = header.tokenizer().map_err(|e| Error::checkpoint(path, tokenizer_problem(e)))?;
    if ours.bpe().is_none() && corpus.bpe().is_none() {
        let config =
            crate::tokens::TokenizerConfig { key_relative: corpus.config().key_relative, ..*ours.config() };
        if config.digest() == corpus.digest() {
            return Ok(());
        }
    }
    check_tokenizer(path, header, corpus)
}

/// A header's tokenizer that cannot be built, as a checkpoint problem.
pub(crate) fn tokenizer_problem(e: Error) -> CheckpointError {
    match e {
        Error::Tokenizer(t) => CheckpointError::Tokenizer(t),
        other => CheckpointError::Payload { format: "tokenizer", source: Box::new(other) },
    }
}

/// The current time as RFC 3339 UTC (`2026-11-22T19:50:00Z`).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        let t = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let mut h = Header::new(ModelKind::Markov, &t, serde_json::json!({"order": 4}), "markov-v1");
        h.metrics.insert("valid_bits_per_token".into(), 2.5);
        h
    }

    #[test]
    fn a_base_read_in_every_key_may_start_a_key_relative_run_but_not_another_tokenizer() {
        let h = header();
        let path = Path::new("base.ckpt");
        let keyed =
            Tokenizer::new(TokenizerConfig { key_relative: true, ..TokenizerConfig::default() }).unwrap();
        assert!(check_tokenizer(path, &h, &keyed).is_err(), "resume and eval stay strict");
        assert!(check_init_tokenizer(path, &h, &keyed).is_ok());
        let tsd = TokenizerConfig { scheme: crate::tokens::Scheme::Tsd, ..TokenizerConfig::default() };
        let err = check_init_tokenizer(path, &h, &Tokenizer::new(tsd).unwrap()).unwrap_err().to_string();
        assert!(err.contains("base.ckpt"), "{err}");
        let controlled = TokenizerConfig { controls: "key".parse().unwrap(), ..TokenizerConfig::default() };
        assert!(
            check_init_tokenizer(path, &h, &Tokenizer::new(controlled).unwrap()).is_err(),
            "other tokens"
        );
    }

    fn saved(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("m.ckpt");
        save(&p, &header(), b"weights").unwrap();
        p
    }

    #[test]
    fn save_load_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let (h, payload) = load(&saved(d.path())).unwrap();
        assert_eq!(h, header_with_time(&h));
        assert_eq!(payload, b"weights");
        assert_eq!(h.vocab.len(), Tokenizer::new(h.tokenizer).unwrap().vocab_size());
    }

    fn header_with_time(h: &Header) -> Header {
        Header { created: h.created.clone(), ..header() }
    }

    #[test]
    fn every_truncation_is_rejected_with_a_reason() {
        let d = tempfile::tempdir().unwrap();
        let p = saved(d.path());
        let bytes = std::fs::read(&p).unwrap();
        for cut in (0..bytes.len()).step_by(13).chain([bytes.len() - 1]) {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains("m.ckpt") && e.contains("bad checkpoint"), "cut {cut}: {e}");
        }
    }

    #[test]
    fn bit_flips_are_caught_by_the_checksum() {
        let d = tempfile::tempdir().unwrap();
        let p = saved(d.path());
        let bytes = std::fs::read(&p).unwrap();
        for i in (8..bytes.len()).step_by(5) {
            let mut b = bytes.clone();
            b[i] ^= 0x04;
            std::fs::write(&p, &b).unwrap();
            assert!(load(&p).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn future_versions_and_wrong_kinds_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = saved(d.path());
        let mut b = std::fs::read(&p).unwrap();
        b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("newer cadenza"));
        let p = saved(d.path());
        let e = load_kind(&p, ModelKind::Hmm).unwrap_err().to_string();
        assert!(e.contains("holds a markov model, expected hmm"), "{e}");
        std::fs::write(&p, b"MThd\0\0\0\x06").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("not a cadenza checkpoint"));
    }

    #[test]
    fn tokenizer_mismatch_is_refused() {
        let h = header();
        let same = h.tokenizer().unwrap();
        let other = Tokenizer::new(TokenizerConfig { velocity_bins: 8, ..h.tokenizer }).unwrap();
        assert!(check_tokenizer(Path::new("x"), &h, &same).is_ok());
        assert!(check_tokenizer(Path::new("x"), &h, &other).unwrap_err().to_string().contains("differs"));
        // The same settings with BPE merges on top are another tokenizer.
        let merged = same.clone().with_bpe(Bpe::new(h.tokenizer, vec![[10, 11]]).unwrap()).unwrap();
        assert!(check_tokenizer(Path::new("x"), &h, &merged).is_err());
        let hb = Header::new(ModelKind::Markov, &merged, serde_json::Value::Null, "x");
        assert_eq!(hb.tokenizer().unwrap(), merged, "the merges travel in the header");
        assert!(check_tokenizer(Path::new("x"), &hb, &merged).is_ok());
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_376_096), "2026-11-22T19:34:56Z");
    }
}
