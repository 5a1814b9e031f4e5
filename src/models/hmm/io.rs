//! Saving and loading HMM parameters as safetensors: three little-endian F64 tensors, `pi` (`K`),
//! `A` (`K x K`) and `B` (`K x V`), validated on load; with control tokens, a U8 tensor
//! `conditions` holding the conditioned Markov chain's bytes (see `crate::models::markov`).

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors};

use super::model::HmmModel;
use crate::error::{Error, ModelError, Result};

impl HmmModel {
    /// The parameters as a safetensors file: F64 tensors `pi` `[K]`, `A` `[K, K]`, `B` `[K, V]`.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes = |x: &[f64]| -> Vec<u8> { x.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let (pi, a, b) = (bytes(&self.pi), bytes(&self.a), bytes(&self.b));
        let conditions = self.conditions.as_ref().map(|c| c.to_bytes());
        let view = |shape: Vec<usize>, data| safetensors::tensor::TensorView::new(Dtype::F64, shape, data);
        let mut tensors = vec![
            ("pi", view(vec![self.k], &pi)),
            ("A", view(vec![self.k, self.k], &a)),
            ("B", view(vec![self.k, self.v], &b)),
        ];
        if let Some(c) = &conditions {
            tensors.push(("conditions", safetensors::tensor::TensorView::new(Dtype::U8, vec![c.len()], c)));
        }
        let metadata = HashMap::from([("format".to_string(), "cadenza-hmm".to_string())]);
        // The views are built from buffers of exactly their shapes, so neither step can fail.
        let tensors: Vec<_> =
            tensors.into_iter().map(|(n, v)| (n, v.expect("buffer matches its shape"))).collect();
        safetensors::serialize(tensors, Some(metadata)).expect("the tensors serialize")
    }

    /// Parameters from [`HmmModel::to_safetensors`] bytes. Checks dtypes and shapes, and that every
    /// row is finite, non-negative and sums to 1.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let tensor =
            |name: &str, problem: String| Error::Model(ModelError::Tensor { name: name.into(), problem });
        let st = SafeTensors::deserialize(bytes).map_err(|e| tensor("(all)", e.to_string()))?;
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f64>)> {
            let t = st.tensor(name).map_err(|e| tensor(name, e.to_string()))?;
            if t.dtype() != Dtype::F64 {
                return Err(tensor(name, format!("is {:?}, expected F64", t.dtype())));
            }
            let data: Vec<f64> = t
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            Ok((t.shape().to_vec(), data))
        };
        let (pi_shape, pi) = read("pi")?;
        let (a_shape, a) = read("A")?;
        let (b_shape, b) = read("B")?;
        let (k, v) = match (pi_shape.as_slice(), a_shape.as_slice(), b_shape.as_slice()) {
            (&[k], &[k1, k2], &[k3, v]) if k == k1 && k == k2 && k == k3 => (k, v),
            _ => {
                return Err(tensor(
                    "pi, A, B",
                    format!("inconsistent shapes {pi_shape:?}, {a_shape:?}, {b_shape:?}"),
                ))
            }
        };
        let conditions = match st.tensor("conditions") {
            Err(_) => None,
            Ok(t) if t.dtype() == Dtype::U8 => Some(
                crate::models::markov::MarkovModel::from_bytes(t.data())
                    .map_err(|e| tensor("conditions", e.to_string()))?,
            ),
            Ok(t) => return Err(tensor("conditions", format!("is {:?}, expected U8", t.dtype()))),
        };
        HmmModel::from_params(k, v, pi, a, b)?.with_conditions(conditions)
    }
}
