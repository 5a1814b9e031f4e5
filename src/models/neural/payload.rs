//! Named libtorch tensors to and from safetensors bytes (the checkpoint payload), in memory,
//! through [`super::weights`]'s plain arrays.
//!
//! Tensors are stored as f32 on the CPU whatever their device, so a checkpoint written on a GPU
//! loads on the CPU and the other way round.

use std::collections::HashMap;

use tch::{Device, Kind, Tensor};

use super::weights::{self, NamedArray};
use crate::error::{Error, ModelError, Result};

fn tensor_error(name: &str, problem: impl std::fmt::Display) -> Error {
    ModelError::Tensor { name: name.into(), problem: problem.to_string() }.into()
}

/// The f32 values of `t` (any device, any float kind), row-major.
pub fn to_f32_vec(t: &Tensor) -> std::result::Result<Vec<f32>, tch::TchError> {
    let flat = t.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?.f_reshape([-1])?;
    Vec::<f32>::try_from(&flat)
}

/// `tensors` (name, tensor) as plain `f32` arrays on the CPU.
pub fn arrays(tensors: &[(String, Tensor)]) -> Result<Vec<NamedArray>> {
    let mut arrays = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let values = to_f32_vec(t).map_err(|e| tensor_error(name, e))?;
        let shape = t.size().iter().map(|&d| d as usize).collect();
        arrays.push(NamedArray { name: name.clone(), shape, values });
    }
    Ok(arrays)
}

/// Serialize `tensors` (name, tensor) to safetensors bytes (see [`weights::encode`]).
pub fn encode(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    weights::encode(&arrays(tensors)?)
}

/// Parse safetensors bytes into CPU tensors by name (see [`weights::decode`]).
pub fn decode(bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for a in weights::decode(bytes)? {
        let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
        let t = Tensor::f_from_slice(&a.values)
            .and_then(|t| t.f_view(shape.as_slice()))
            .map_err(|e| tensor_error(&a.name, e))?;
        out.insert(a.name, t);
    }
    Ok(out)
}

/// Copy `src[name]` into `dst` (same shape required), without recording gradients.
pub fn copy_into(dst: &Tensor, src: &HashMap<String, Tensor>, name: &str) -> Result<()> {
    let s = src.get(name).ok_or_else(|| ModelError::MissingTensor { name: name.into() })?;
    if s.size() != dst.size() {
        return Err(
            ModelError::TensorShape { name: name.into(), found: s.size(), expected: dst.size() }.into()
        );
    }
    let mut d = dst.shallow_clone();
    tch::no_grad(|| d.f_copy_(s)).map(|_| ()).map_err(|e| tensor_error(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_and_readable_as_safetensors() {
        let a = Tensor::from_slice(&[1.5f32, -2.0, 3.25, f32::MIN_POSITIVE, 1e30, -0.0]).reshape([2, 3]);
        let b = Tensor::from_slice(&[7.0f32]);
        let bytes = encode(&[("a".into(), a.shallow_clone()), ("b.c".into(), b.shallow_clone())]).unwrap();
        // The safetensors layout: u64 header length, JSON header, data.
        let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + hlen]).unwrap();
        assert_eq!(header["a"]["dtype"], "F32");
        assert_eq!(header["a"]["shape"], serde_json::json!([2, 3]));
        let back = decode(&bytes).unwrap();
        assert_eq!(to_f32_vec(&back["a"]).unwrap(), to_f32_vec(&a).unwrap());
        assert_eq!(back["a"].size(), vec![2, 3]);
        assert_eq!(to_f32_vec(&back["b.c"]).unwrap(), vec![7.0]);
    }

    #[test]
    fn garbage_and_shape_mismatches_are_errors() {
        assert!(decode(b"not safetensors at all").is_err());
        let bytes = encode(&[("w".into(), Tensor::zeros([3], (Kind::Float, Device::Cpu)))]).unwrap();
        let src = decode(&bytes).unwrap();
        let dst = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        assert!(copy_into(&dst, &src, "w").unwrap_err().to_string().contains("shape"));
        assert!(copy_into(&dst, &src, "x").unwrap_err().to_string().contains("missing"));
    }
}
