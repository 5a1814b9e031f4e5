//! A network's weights as plain named `f32` arrays, and the checkpoint they make, without
//! libtorch: the seam that libtorch's payload ([`super::payload`]) and the Python trainer
//! (`python/`, which builds the library without libtorch) share.
//!
//! A neural checkpoint is the usual framing (`src/checkpoint.rs`) whose header names the
//! network's kind, the tokenizer, `hyperparameters` (`{"model": <network config>, "train":
//! TrainConfig}`), the corpus summary, metrics and the training state, and whose payload is
//! safetensors of `f32` tensors under the network's names (`embed.weight`, `blocks.0.ln1.weight`,
//! ...). Whoever writes those (cadenza's trainer, or PyTorch through the Python package)
//! writes the same file, checked the same way on load.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::config::TrainConfig;
use super::NetConfig;
use crate::checkpoint::{self, CorpusSummary, Header, ModelKind};
use crate::error::{CheckpointError, Error, ModelError, Result};
use crate::models::saved::{self, Record};
use crate::tokens::Tokenizer;

/// The payload format name written into checkpoint headers.
pub const PAYLOAD_FORMAT: &str = "safetensors";

/// One tensor: its checkpoint name, shape and values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

fn tensor_error(name: &str, problem: impl std::fmt::Display) -> Error {
    ModelError::Tensor { name: name.into(), problem: problem.to_string() }.into()
}

/// Serialize `arrays` to safetensors bytes (`F32`, little-endian).
pub fn encode(arrays: &[NamedArray]) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(arrays.len());
    for a in arrays {
        if a.shape.iter().product::<usize>() != a.values.len() {
            let problem = format!("{} values for shape {:?}", a.values.len(), a.shape);
            return Err(tensor_error(&a.name, problem));
        }
        bytes.push(a.values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    }
    let mut views = Vec::with_capacity(arrays.len());
    for (a, b) in arrays.iter().zip(&bytes) {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, a.shape.clone(), b)
            .map_err(|e| tensor_error(&a.name, format!("{e:?}")))?;
        views.push((a.name.as_str(), view));
    }
    safetensors::serialize(views, None).map_err(|e| tensor_error("(all)", format!("{e:?}")))
}

/// Parse safetensors bytes of `F32` tensors, in the file's order.
pub fn decode(bytes: &[u8]) -> Result<Vec<NamedArray>> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| tensor_error("(all)", format!("unreadable: {e:?}")))?;
    let mut out = Vec::new();
    for (name, view) in st.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(tensor_error(name, format!("{:?} where F32 is expected", view.dtype())));
        }
        let values =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.push(NamedArray { name: name.to_string(), shape: view.shape().to_vec(), values });
    }
    Ok(out)
}

/// The checkpoint's `hyperparameters`: `{"model": <network config>, "train": TrainConfig}`.
pub fn hyperparameters<C: serde::Serialize>(model: &C, train: Option<&TrainConfig>) -> serde_json::Value {
    serde_json::json!({ "model": model, "train": train })
}

/// Read back [`hyperparameters`].
pub fn parse_hyperparameters<C: NetConfig>(
    v: &serde_json::Value,
) -> std::result::Result<(C, Option<TrainConfig>), CheckpointError> {
    let bad = CheckpointError::Hyperparameters;
    let model = v.get("model").ok_or_else(|| bad("they lack the model configuration".into()))?;
    let model: C =
        serde_json::from_value(model.clone()).map_err(|e| bad(format!("model configuration: {e}")))?;
    model.validate().map_err(|e| bad(e.to_string()))?;
    let train = match v.get("train") {
        None | Some(serde_json::Value::Null) => None,
        Some(t) => {
            Some(serde_json::from_value(t.clone()).map_err(|e| bad(format!("training configuration: {e}")))?)
        }
    };
    Ok((model, train))
}

/// What a neural checkpoint records besides its weights.
#[derive(Debug, Clone)]
pub struct Written<'a> {
    pub kind: ModelKind,
    pub tokenizer: &'a Tokenizer,
    /// [`hyperparameters`] of the network's and training's configurations.
    pub hyperparameters: serde_json::Value,
    pub corpus: Option<CorpusSummary>,
    pub metrics: BTreeMap<String, f64>,
    /// The training state (`super::TrainState` as JSON), or null.
    pub extra: serde_json::Value,
}

/// The header of a neural checkpoint.
pub fn header(w: Written<'_>) -> Header {
    let record =
        Record { hyperparameters: w.hyperparameters, corpus: w.corpus, metrics: w.metrics, extra: w.extra };
    saved::header(w.kind, w.tokenizer, PAYLOAD_FORMAT, record)
}

/// Write a neural checkpoint of `arrays` to `path` atomically (a temporary file, then a rename).
pub fn save(path: &Path, w: Written<'_>, arrays: &[NamedArray]) -> Result<Header> {
    let h = header(w);
    checkpoint::save(path, &h, &encode(arrays)?)?;
    Ok(h)
}

/// The header and weights of the neural checkpoint at `path` (of any neural kind).
pub fn load(path: &Path) -> Result<(Header, Vec<NamedArray>)> {
    let (header, bytes) = checkpoint::load(path)?;
    if !matches!(header.kind, ModelKind::Lstm | ModelKind::Transformer) {
        let problem =
            CheckpointError::WrongKind { found: header.kind.name(), expected: "lstm or transformer" };
        return Err(Error::checkpoint(path, problem));
    }
    if header.payload_format != PAYLOAD_FORMAT {
        let found = header.payload_format.clone();
        return Err(Error::checkpoint(
            path,
            CheckpointError::PayloadFormat { found, expected: PAYLOAD_FORMAT },
        ));
    }
    let arrays = decode(&bytes).map_err(|e| {
        Error::checkpoint(path, CheckpointError::Payload { format: PAYLOAD_FORMAT, source: Box::new(e) })
    })?;
    Ok((header, arrays))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_exactly_as_safetensors() {
        let a = NamedArray {
            name: "a".into(),
            shape: vec![2, 3],
            values: vec![1.5, -2.0, 3.25, f32::MIN_POSITIVE, 1e30, -0.0],
        };
        let b = NamedArray { name: "b.c".into(), shape: vec![1], values: vec![7.0] };
        let bytes = encode(&[a.clone(), b.clone()]).unwrap();
        // The safetensors layout: u64 header length, JSON header, data.
        let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let head: serde_json::Value = serde_json::from_slice(&bytes[8..8 + hlen]).unwrap();
        assert_eq!(head["a"]["dtype"], "F32");
        assert_eq!(head["a"]["shape"], serde_json::json!([2, 3]));
        let mut back = decode(&bytes).unwrap();
        back.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(
            back[0].values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            a.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!((&back[0].shape, &back[1]), (&a.shape, &b));
    }

    #[test]
    fn bad_shapes_and_garbage_are_errors() {
        let wrong = NamedArray { name: "w".into(), shape: vec![2, 2], values: vec![0.0; 3] };
        assert!(encode(&[wrong]).unwrap_err().to_string().contains("3 values for shape [2, 2]"));
        assert!(decode(b"not safetensors at all").is_err());
    }
}
