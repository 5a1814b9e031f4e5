//! `cadenza._native`: cadenza's library, without libtorch, for Python. Tokenizers (the same ids
//! as `cadenza tokens --ids`), the token store (its index and shards, which `cadenza/store.py`
//! maps with numpy), the training windows `cadenza train` draws at each step, the training and
//! network configurations with their defaults, and the checkpoint framing (read and write).
//!
//! Every library error becomes a `cadenza.CadenzaError` whose message is the command line's
//! one line (`error: ...` less the prefix); nothing here panics on bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cadenza::checkpoint::{self, ModelKind};
use cadenza::corpus::{Pieces, Split};
use cadenza::models::lstm::LstmConfig;
use cadenza::models::neural::weights::{self, NamedArray, Written};
use cadenza::models::neural::windows::Windows;
use cadenza::models::neural::{NetConfig, TrainConfig};
use cadenza::models::transformer::TransformerConfig;
use cadenza::tokens::{Bpe, Grid, Scheme, TokenId, TokenizerSettings};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rayon::prelude::*;

create_exception!(
    _native,
    CadenzaError,
    PyException,
    "An error from cadenza's library: one line naming the file and the reason."
);

/// A library error as a Python exception, worded as the command line words it.
fn py_err(e: cadenza::Error) -> PyErr {
    CadenzaError::new_err(cadenza::error::one_line(&e))
}

fn json_err(what: &str, e: serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("{what}: {e}"))
}

/// A tokenizer: MIDI files to token ids and back.
#[pyclass(module = "cadenza._native", frozen)]
struct Tokenizer {
    inner: cadenza::tokens::Tokenizer,
}

impl Tokenizer {
    fn encode_path(&self, path: &Path) -> cadenza::Result<Vec<TokenId>> {
        let piece = cadenza::midi::read_file(path, &self.inner.read_options())?;
        Ok(cadenza::controls::encode(&self.inner, &piece))
    }
}

#[pymethods]
impl Tokenizer {
    /// A tokenizer with `cadenza tokens`'s settings (the same names, `_` for `-`, and defaults).
    #[new]
    #[pyo3(signature = (
        scheme = "tsd", *, grid = "beats", steps_per_beat = 12, step_ms = 10, max_shift = None,
        velocity_bins = 32, merge_piano = false, tracks = 1, sustain = true,
        transpose_to_key = false, controls = None, bpe = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        scheme: &str,
        grid: &str,
        steps_per_beat: u16,
        step_ms: u16,
        max_shift: Option<u16>,
        velocity_bins: u8,
        merge_piano: bool,
        tracks: u8,
        sustain: bool,
        transpose_to_key: bool,
        controls: Option<&str>,
        bpe: Option<PathBuf>,
    ) -> PyResult<Self> {
        let scheme: Scheme = scheme.parse().map_err(py_err)?;
        let grid = match grid {
            "beats" => Grid::Beats,
            "seconds" => Grid::Seconds,
            other => return Err(PyValueError::new_err(format!("grid {other:?}: expected beats or seconds"))),
        };
        let controls = match controls {
            Some(c) => c.parse().map_err(py_err)?,
            None => Default::default(),
        };
        let settings = TokenizerSettings {
            scheme,
            grid,
            steps_per_beat,
            step_ms,
            max_shift,
            velocity_bins,
            merge_piano,
            tracks,
            sustain,
            transpose_to_key,
            controls,
        };
        let mut inner = cadenza::tokens::Tokenizer::new(settings.config()).map_err(py_err)?;
        if let Some(path) = bpe {
            inner = inner.with_bpe(Bpe::load(&path).map_err(py_err)?).map_err(py_err)?;
        }
        Ok(Tokenizer { inner })
    }

    /// The tokenizer a checkpoint (of any model kind) was trained with.
    #[staticmethod]
    fn from_checkpoint(path: PathBuf) -> PyResult<Self> {
        let header = checkpoint::load_header(&path).map_err(py_err)?;
        Ok(Tokenizer { inner: header.tokenizer().map_err(py_err)? })
    }

    /// The scheme's name (`tsd`, `remi`, `midi-like`).
    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.scheme().name()
    }

    /// A digest of the settings and merges: equal digests, equal ids.
    #[getter]
    fn digest(&self) -> String {
        self.inner.digest()
    }

    /// The configuration as JSON (as recorded in checkpoints and stores).
    #[getter]
    fn config(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.config()).map_err(|e| json_err("tokenizer configuration", e))
    }

    /// Every token's name, by id.
    #[getter]
    fn vocab(&self) -> Vec<String> {
        (0..self.inner.vocab_size()).map(|t| self.inner.name(t as TokenId)).collect()
    }

    fn __len__(&self) -> usize {
        self.inner.vocab_size()
    }

    fn __repr__(&self) -> String {
        format!(
            "Tokenizer({}, {} tokens, digest {})",
            self.inner.scheme(),
            self.inner.vocab_size(),
            self.inner.digest()
        )
    }

    /// The ids of a MIDI file (a path) or of its bytes, as a numpy `uint16` array.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        source: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u16>>> {
        let ids = if let Ok(bytes) = source.cast::<PyBytes>() {
            let bytes = bytes.as_bytes().to_vec();
            py.detach(|| -> cadenza::Result<Vec<TokenId>> {
                let piece =
                    cadenza::midi::read_bytes(&bytes, Path::new("<bytes>"), &self.inner.read_options())?;
                Ok(cadenza::controls::encode(&self.inner, &piece))
            })
        } else {
            let path: PathBuf = source.extract()?;
            py.detach(|| self.encode_path(&path))
        }
        .map_err(py_err)?;
        Ok(ids.into_pyarray(py))
    }

    /// The ids of many files, in order, on `threads` threads with the GIL released. The first
    /// file that cannot be read raises, naming it.
    #[pyo3(signature = (paths, threads = 1))]
    fn encode_many<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        threads: usize,
    ) -> PyResult<Vec<Bound<'py, PyArray1<u16>>>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| PyValueError::new_err(format!("threads: {e}")))?;
        let all = py
            .detach(|| {
                pool.install(|| {
                    paths.par_iter().map(|p| self.encode_path(p)).collect::<cadenza::Result<Vec<_>>>()
                })
            })
            .map_err(py_err)?;
        Ok(all.into_iter().map(|ids| ids.into_pyarray(py)).collect())
    }

    /// Write the piece the ids stand for to the MIDI file `path` (a temporary file, then a
    /// rename). Ids past the vocabulary raise.
    fn decode(&self, py: Python<'_>, ids: Vec<i64>, path: PathBuf) -> PyResult<()> {
        let vocab = self.inner.vocab_size();
        let tokens = ids
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                TokenId::try_from(t).ok().filter(|&t| usize::from(t) < vocab).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "id {t} at index {i} is not in the vocabulary of {vocab} tokens"
                    ))
                })
            })
            .collect::<PyResult<Vec<TokenId>>>()?;
        py.detach(|| cadenza::midi::write_file(&self.inner.decode(&tokens), &path)).map_err(py_err)
    }
}

/// A complete token store (`cadenza corpus build`), opened and checked.
#[pyclass(module = "cadenza._native", frozen)]
struct TokenStore {
    inner: Arc<cadenza::store::TokenStore>,
}

fn split_of(name: &str) -> PyResult<Split> {
    name.parse().map_err(py_err)
}

#[pymethods]
impl TokenStore {
    #[new]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| cadenza::store::TokenStore::open(&path)).map_err(py_err)?;
        Ok(TokenStore { inner: Arc::new(inner) })
    }

    #[getter]
    fn dir(&self) -> PathBuf {
        self.inner.dir.clone()
    }

    #[getter]
    fn tokenizer(&self) -> Tokenizer {
        Tokenizer { inner: self.inner.tokenizer.clone() }
    }

    /// `manifest.json`, as JSON.
    #[getter]
    fn manifest(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.manifest).map_err(|e| json_err("manifest", e))
    }

    /// What a checkpoint records about the store's pieces (`cadenza corpus`'s figures), as JSON.
    #[getter]
    fn summary(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.summary()).map_err(|e| json_err("corpus summary", e))
    }

    /// `(file path, tokens)` of each shard: its tokens are `uint16` little-endian from byte 64.
    fn shards(&self) -> Vec<(PathBuf, u64)> {
        self.inner.manifest.shards.iter().map(|s| (self.inner.dir.join(&s.file), s.tokens)).collect()
    }

    /// `(shard, offset, length, split, path)` of each piece, in store order.
    fn pieces(&self) -> Vec<(usize, u64, u64, &'static str, PathBuf)> {
        self.inner.locations().map(|(s, e)| (s, e.offset, e.len, e.split.name(), e.path.clone())).collect()
    }

    /// Training targets the windows of `split` cover (what an epoch's steps are counted from).
    #[pyo3(signature = (split = "train"))]
    fn targets(&self, split: &str) -> PyResult<u64> {
        let seqs = self.inner.require_slices(split_of(split)?).map_err(py_err)?;
        Ok(Windows::new(&seqs, &self.inner.tokenizer).map_or(0, |w| w.targets()))
    }

    /// The `[batch, window + 1]` token windows (`int64`, PAD after a short piece's end) that
    /// `cadenza train` draws from `split` at `step` of a run seeded `seed`: the same rows,
    /// transpositions and fill-in-the-middle cuts (reordered in `fim_order`, `psm` or `spm`).
    #[pyo3(signature = (split, seed, step, batch, window, transpose = 0, fim_rate = 0.0, fim_order = "psm"))]
    #[allow(clippy::too_many_arguments)]
    fn windows<'py>(
        &self,
        py: Python<'py>,
        split: &str,
        seed: u64,
        step: u64,
        batch: usize,
        window: usize,
        transpose: u8,
        fim_rate: f64,
        fim_order: &str,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        if batch == 0 || window == 0 {
            return Err(PyValueError::new_err("batch and window must be positive"));
        }
        if !(0.0..=1.0).contains(&fim_rate) || transpose > 24 {
            return Err(PyValueError::new_err("fim_rate in [0, 1] and transpose at most 24"));
        }
        let order: cadenza::models::neural::fim::Order =
            fim_order.parse().map_err(|e: cadenza::Error| PyValueError::new_err(e.to_string()))?;
        let split = split_of(split)?;
        let rows = py
            .detach(|| -> cadenza::Result<Option<Vec<i64>>> {
                let seqs = self.inner.require_slices(split)?;
                Ok(Windows::new(&seqs, &self.inner.tokenizer)
                    .map(|w| w.with_fim(fim_rate).with_fim_order(order).batch(seed, step, batch, window, transpose)))
            })
            .map_err(py_err)?
            .ok_or_else(|| {
                CadenzaError::new_err(format!(
                    "{}: the {} split has no tokens",
                    self.inner.dir.display(),
                    split.name()
                ))
            })?;
        rows.into_pyarray(py).reshape([batch, window + 1])
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// The kind named `name` (`lstm` or `transformer`).
fn network_kind(name: &str) -> PyResult<ModelKind> {
    match name {
        "lstm" => Ok(ModelKind::Lstm),
        "transformer" => Ok(ModelKind::Transformer),
        other => Err(PyValueError::new_err(format!("model {other:?}: expected lstm or transformer"))),
    }
}

fn object(json: &str, what: &str) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(json).map_err(|e| json_err(what, e))? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(PyValueError::new_err(format!("{what}: expected a JSON object"))),
    }
}

/// `defaults` with the fields of `overrides` (a JSON object) replaced, read back as `T`.
fn overridden<T: serde::Serialize + serde::de::DeserializeOwned>(
    defaults: &T,
    overrides: &str,
    what: &str,
) -> PyResult<T> {
    let mut v = serde_json::to_value(defaults).map_err(|e| json_err(what, e))?;
    let map = v.as_object_mut().expect("configurations are objects");
    map.extend(object(overrides, what)?);
    serde_json::from_value(v).map_err(|e| json_err(what, e))
}

/// The training configuration `cadenza train` would use: its defaults with `overrides` (JSON),
/// checked. Returns JSON.
#[pyfunction]
#[pyo3(signature = (overrides = "{}"))]
fn train_config(overrides: &str) -> PyResult<String> {
    let cfg: TrainConfig = overridden(&TrainConfig::default(), overrides, "training configuration")?;
    cfg.validate().map_err(py_err)?;
    serde_json::to_string(&cfg).map_err(|e| json_err("training configuration", e))
}

/// The learning rate of the training configuration `config` (JSON) at `step` of `total`.
#[pyfunction]
fn lr_at(config: &str, step: u64, total: u64) -> PyResult<f64> {
    let cfg: TrainConfig = serde_json::from_str(config).map_err(|e| json_err("training configuration", e))?;
    Ok(cfg.lr_at(step, total))
}

/// Extra tokens (fill-in-the-middle sentinels) a network trained with `config` has past the
/// tokenizer's vocabulary.
#[pyfunction]
fn sentinels(config: &str) -> PyResult<usize> {
    let cfg: TrainConfig = serde_json::from_str(config).map_err(|e| json_err("training configuration", e))?;
    Ok(cfg.sentinels())
}

fn shaped<C: NetConfig>(defaults: C, overrides: &str, train: &TrainConfig) -> PyResult<String> {
    let mut cfg: C = overridden(&defaults, overrides, "model configuration")?;
    cfg.adapt_to(train);
    cfg.validate().map_err(py_err)?;
    serde_json::to_string(&cfg).map_err(|e| json_err("model configuration", e))
}

/// The network shape `cadenza train --model kind` would build (the CPU preset, as the command
/// line's default) with `overrides`, adapted to the training configuration `train`. JSON.
#[pyfunction]
#[pyo3(signature = (kind, overrides = "{}", train = None))]
fn model_config(kind: &str, overrides: &str, train: Option<&str>) -> PyResult<String> {
    let train: TrainConfig = match train {
        Some(t) => serde_json::from_str(t).map_err(|e| json_err("training configuration", e))?,
        None => TrainConfig::default(),
    };
    match network_kind(kind)? {
        ModelKind::Lstm => shaped(LstmConfig::default(), overrides, &train),
        _ => shaped(TransformerConfig::cpu(), overrides, &train),
    }
}

/// The header (JSON) and the weights (name to `float32` array) of a network checkpoint.
#[pyfunction]
fn read_checkpoint<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(String, Bound<'py, PyDict>)> {
    let (header, arrays) = py.detach(|| weights::load(&path)).map_err(py_err)?;
    let json = serde_json::to_string(&header).map_err(|e| json_err("header", e))?;
    let out = PyDict::new(py);
    for a in arrays {
        let arr = a.values.into_pyarray(py).reshape(a.shape)?;
        out.set_item(a.name, arr)?;
    }
    Ok((json, out))
}

/// Write a cadenza checkpoint of a `kind` network (`lstm` or `transformer`): its shape `model`
/// and training configuration `train` (JSON, checked as `cadenza` checks them on load), the
/// tokenizer, the store's corpus summary (so that `cadenza eval` scores the same held-out
/// split), `metrics` and the training state `extra` (JSON), and the weights (name to `float32`
/// array), atomically. A file `cadenza eval`, `generate`, `compare` and the studio use as is.
#[pyfunction]
#[pyo3(signature = (path, kind, tokenizer, model, train, tensors, store = None, metrics = "{}", extra = "null"))]
#[allow(clippy::too_many_arguments)]
fn write_checkpoint(
    py: Python<'_>,
    path: PathBuf,
    kind: &str,
    tokenizer: &Tokenizer,
    model: &str,
    train: &str,
    tensors: Vec<(String, PyReadonlyArrayDyn<'_, f32>)>,
    store: Option<&TokenStore>,
    metrics: &str,
    extra: &str,
) -> PyResult<()> {
    let kind = network_kind(kind)?;
    let model: serde_json::Value =
        serde_json::from_str(model).map_err(|e| json_err("model configuration", e))?;
    let train_cfg: TrainConfig =
        serde_json::from_str(train).map_err(|e| json_err("training configuration", e))?;
    train_cfg.validate().map_err(py_err)?;
    let hyperparameters = weights::hyperparameters(&model, Some(&train_cfg));
    let check = match kind {
        ModelKind::Lstm => weights::parse_hyperparameters::<LstmConfig>(&hyperparameters).map(|_| ()),
        _ => weights::parse_hyperparameters::<TransformerConfig>(&hyperparameters).map(|_| ()),
    };
    check.map_err(|e| PyValueError::new_err(e.to_string()))?;
    let metrics: BTreeMap<String, f64> = serde_json::from_str(metrics).map_err(|e| json_err("metrics", e))?;
    let extra: serde_json::Value = serde_json::from_str(extra).map_err(|e| json_err("extra", e))?;
    let mut arrays = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let shape = t.shape().to_vec();
        let values = t.as_array().iter().copied().collect();
        arrays.push(NamedArray { name, shape, values });
    }
    let corpus = store.map(|s| s.inner.summary());
    let written = Written { kind, tokenizer: &tokenizer.inner, hyperparameters, corpus, metrics, extra };
    py.detach(|| weights::save(&path, written, &arrays)).map(|_| ()).map_err(py_err)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CadenzaError", m.py().get_type::<CadenzaError>())?;
    m.add_class::<Tokenizer>()?;
    m.add_class::<TokenStore>()?;
    m.add_function(wrap_pyfunction!(train_config, m)?)?;
    m.add_function(wrap_pyfunction!(lr_at, m)?)?;
    m.add_function(wrap_pyfunction!(sentinels, m)?)?;
    m.add_function(wrap_pyfunction!(model_config, m)?)?;
    m.add_function(wrap_pyfunction!(read_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(write_checkpoint, m)?)?;
    Ok(())
}
