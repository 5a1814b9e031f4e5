//! The HMM parameters (initial distribution, transitions, emissions), their validation, and the
//! transposed copies that keep the inner loops contiguous.

use rand::Rng;

use crate::error::{Error, ModelError, Result};
use crate::models::markov::MarkovModel;
use crate::models::{Generator, ModelKind};
use crate::sampler::SampleRng;
use crate::tokens::TokenId;

/// How far a probability row may sum from 1 and still be accepted.
pub(crate) const ROW_SUM_TOL: f64 = 1e-6;

/// A discrete hidden Markov model with `K` hidden states over a vocabulary of `V` tokens.
///
/// The first token of every sequence (BOS) is context only: the state sequence starts at the
/// second token, whose state is drawn from `pi`. Parameters are stored row-major, together with
/// transposed copies (`A^T`, `B^T`) so that the forward pass, the backward pass and emission
/// look-ups (`b(:, o)`) all read contiguous memory.
#[derive(Debug, Clone, PartialEq)]
pub struct HmmModel {
    pub(crate) k: usize,
    pub(crate) v: usize,
    /// Initial state distribution, `K`.
    pub(crate) pi: Vec<f64>,
    /// Transitions, `K x K`, `a[i * K + j] = P(j | i)`.
    pub(crate) a: Vec<f64>,
    /// Transitions transposed, `at[j * K + i] = P(j | i)`.
    pub(crate) at: Vec<f64>,
    /// Emissions, `K x V`, `b[i * V + o] = P(o | i)`.
    pub(crate) b: Vec<f64>,
    /// Emissions transposed, `V x K`, `bt[o * K + i] = P(o | i)`.
    pub(crate) bt: Vec<f64>,
    /// With control tokens: a short Markov chain counted under each piece's controls, whose
    /// ratios rescale every prediction so the controls hold far into a piece (see
    /// `crate::models::markov::condition`).
    pub(crate) conditions: Option<Box<MarkovModel>>,
}

impl HmmModel {
    /// A model from its parameters: `pi` (`K`), `a` (`K x K`, row-major, rows are "from"
    /// states) and `b` (`K x V`, row-major). Every row must be finite, non-negative and sum to 1
    /// (within 1e-6); zeros are allowed.
    pub fn from_params(
        states: usize,
        vocab_size: usize,
        pi: Vec<f64>,
        a: Vec<f64>,
        b: Vec<f64>,
    ) -> Result<Self> {
        if states == 0 {
            return Err(Error::setting("HMM states", 0, "at least 1"));
        }
        if vocab_size == 0 || vocab_size > TokenId::MAX as usize + 1 {
            let expected = format!("1..={}", TokenId::MAX as usize + 1);
            return Err(
                ModelError::VocabSize { model: ModelKind::Hmm.name(), size: vocab_size, expected }.into()
            );
        }
        check_rows("pi", &pi, 1, states)?;
        check_rows("A", &a, states, states)?;
        check_rows("B", &b, states, vocab_size)?;
        let at = transpose(&a, states, states);
        let bt = transpose(&b, states, vocab_size);
        Ok(HmmModel { k: states, v: vocab_size, pi, a, at, b, bt, conditions: None })
    }

    /// This model with `conditions` (a chain over the same vocabulary, counted under control
    /// tokens) rescaling its predictions; `None` removes them.
    pub fn with_conditions(self, conditions: Option<MarkovModel>) -> Result<Self> {
        if let Some(c) = &conditions {
            if c.vocab_size() != self.v {
                return Err(ModelError::VocabMismatch { model: self.v, tokenizer: c.vocab_size() }.into());
            }
        }
        Ok(HmmModel { conditions: conditions.map(Box::new), ..self })
    }

    /// The chain whose conditions rescale this model's predictions, if any.
    pub fn conditions(&self) -> Option<&MarkovModel> {
        self.conditions.as_deref()
    }

    /// A random model: Dirichlet(1) rows for `pi` and `A`; emission rows are the smoothed
    /// unigram distribution `unigram` (length `V`) times independent Exp(1) noise, so states start
    /// near the data but different from each other.
    pub(crate) fn random(states: usize, unigram: &[f64], rng: &mut SampleRng) -> Result<Self> {
        let v = unigram.len();
        let mut exp1 = || -> f64 { -(1.0 - rng.random::<f64>()).ln() + 1e-12 };
        let mut pi: Vec<f64> = (0..states).map(|_| exp1()).collect();
        normalize_rows(&mut pi, states);
        let mut a: Vec<f64> = (0..states * states).map(|_| exp1()).collect();
        normalize_rows(&mut a, states);
        let mut b: Vec<f64> = (0..states * v).map(|i| unigram[i % v] * exp1()).collect();
        normalize_rows(&mut b, v);
        HmmModel::from_params(states, v, pi, a, b)
    }

    /// Number of hidden states `K`.
    pub fn states(&self) -> usize {
        self.k
    }

    /// Size of the vocabulary `V`.
    pub fn vocab(&self) -> usize {
        self.v
    }

    /// Initial state distribution (`K`).
    pub fn initial(&self) -> &[f64] {
        &self.pi
    }

    /// Transition matrix, `K x K` row-major: `transitions()[i * K + j] = P(state j | state i)`.
    pub fn transitions(&self) -> &[f64] {
        &self.a
    }

    /// Emission matrix, `K x V` row-major: `emissions()[i * V + o] = P(token o | state i)`.
    pub fn emissions(&self) -> &[f64] {
        &self.b
    }

    /// `P(token | state)` for every state: a contiguous `K` slice, or `None` past the vocabulary.
    #[inline]
    pub(crate) fn emission_column(&self, token: TokenId) -> Option<&[f64]> {
        let o = token as usize;
        (o < self.v).then(|| &self.bt[o * self.k..(o + 1) * self.k])
    }
}

/// Divide each `width`-long row of `m` by its sum (rows summing to 0 are left alone).
pub(crate) fn normalize_rows(m: &mut [f64], width: usize) {
    if width == 0 {
        return;
    }
    for row in m.chunks_exact_mut(width) {
        let s: f64 = row.iter().sum();
        if s > 0.0 {
            let inv = 1.0 / s;
            row.iter_mut().for_each(|x| *x *= inv);
        }
    }
}

/// The transpose of a row-major `rows x cols` matrix.
pub(crate) fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// Check that `m` is `rows x cols` of finite non-negative numbers whose rows sum to ~1.
pub(crate) fn check_rows(name: &'static str, m: &[f64], rows: usize, cols: usize) -> Result<()> {
    if m.len() != rows * cols {
        return Err(ModelError::MatrixSize { matrix: name, entries: m.len(), rows, cols }.into());
    }
    for (r, row) in m.chunks_exact(cols).enumerate() {
        if let Some(x) = row.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return Err(ModelError::NotProbability { matrix: name, row: r, value: *x }.into());
        }
        let s: f64 = row.iter().sum();
        if (s - 1.0).abs() > ROW_SUM_TOL {
            return Err(ModelError::RowSum { matrix: name, row: r, sum: s }.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn from_params_rejects_bad_rows() {
        let ok =
            HmmModel::from_params(2, 2, vec![0.5, 0.5], vec![1.0, 0.0, 0.3, 0.7], vec![0.2, 0.8, 1.0, 0.0]);
        let m = ok.expect("valid model");
        assert_eq!(m.at, vec![1.0, 0.3, 0.0, 0.7]);
        assert_eq!(m.emission_column(1), Some(&[0.8, 0.0][..]));
        assert_eq!(m.emission_column(2), None);
        let bad = [
            (vec![0.5, 0.6], vec![1.0, 0.0, 0.3, 0.7], vec![0.2, 0.8, 1.0, 0.0]),
            (vec![0.5, 0.5], vec![1.0, 0.0, 0.3], vec![0.2, 0.8, 1.0, 0.0]),
            (vec![0.5, 0.5], vec![1.0, 0.0, 1.3, -0.3], vec![0.2, 0.8, 1.0, 0.0]),
            (vec![0.5, 0.5], vec![1.0, 0.0, 0.3, 0.7], vec![f64::NAN, 0.8, 1.0, 0.0]),
        ];
        for (pi, a, b) in bad {
            assert!(matches!(HmmModel::from_params(2, 2, pi, a, b), Err(Error::Model(_))));
        }
        assert!(HmmModel::from_params(0, 2, vec![], vec![], vec![]).is_err());
    }

    #[test]
    fn random_models_are_valid_and_seeded() {
        let uni = vec![0.1, 0.2, 0.3, 0.4];
        let a = HmmModel::random(3, &uni, &mut SampleRng::seed_from_u64(5)).unwrap();
        let b = HmmModel::random(3, &uni, &mut SampleRng::seed_from_u64(5)).unwrap();
        let c = HmmModel::random(3, &uni, &mut SampleRng::seed_from_u64(6)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.b.iter().all(|&x| x > 0.0));
    }
}
