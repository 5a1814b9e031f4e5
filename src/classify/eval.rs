//! Scoring a classifier on a split of a labelled corpus, at two levels: every evaluation window
//! of every piece on its own ([`Roll::window_starts`]), and every piece by the mean of its
//! windows' distributions. Also the mean cross-entropy of the windows (for early stopping).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::data::LabelledSet;
use super::error::ClassifyError;
use super::metrics::Confusion;
use super::model::{argmax, mean_probs, Classifier};
use super::roll::Roll;
use crate::corpus::Split;
use crate::error::Result;

/// One piece's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct PieceVerdict {
    pub path: PathBuf,
    pub truth: String,
    pub predicted: String,
    /// The mean window distribution, in the classifier's label order.
    pub probs: Vec<f64>,
    pub windows: usize,
}

/// A classifier's scores on one split.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub window: Confusion,
    pub piece: Confusion,
    /// Mean cross-entropy (nats) of the windows' true labels.
    pub window_loss: f64,
    pub pieces: Vec<PieceVerdict>,
}

impl Evaluation {
    /// `{"piece": ..., "window": ..., "window_loss": ...}`, each level as
    /// [`Confusion::to_json`] writes it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "piece": self.piece.to_json(),
            "window": self.window.to_json(),
            "window_loss": self.window_loss,
        })
    }
}

/// For each label of `set`, its index among the classifier's labels (`checkpoint` names the
/// classifier in the error for a label it does not know).
pub fn label_map(model: &Classifier, set: &LabelledSet, checkpoint: &Path) -> Result<Vec<usize>> {
    set.labels
        .iter()
        .map(|l| {
            model.labels.iter().position(|m| m == l).ok_or_else(|| {
                ClassifyError::UnknownLabel {
                    checkpoint: checkpoint.into(),
                    data: set.root.clone(),
                    label: l.clone(),
                    known: model.labels.clone(),
                }
                .into()
            })
        })
        .collect()
}

/// Score `model` on the `split` pieces of `set`; `map` from [`label_map`]. An empty split is
/// an error.
pub fn evaluate(model: &Classifier, set: &LabelledSet, split: Split, map: &[usize]) -> Result<Evaluation> {
    let pieces: Vec<_> = set.split(split).collect();
    if pieces.is_empty() {
        return Err(ClassifyError::NoPieces { path: set.root.clone(), split: split.to_string() }.into());
    }
    let mut windows: Vec<(&Roll, u32)> = Vec::new();
    let mut owner = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        for s in p.roll.window_starts(&model.roll) {
            windows.push((&p.roll, s));
            owner.push(i);
        }
    }
    let probs = model.window_probs(&windows)?;
    let n = model.labels.len();
    let mut window = Confusion::new(&model.labels);
    let mut piece = Confusion::new(&model.labels);
    let mut per_piece: Vec<Vec<Vec<f64>>> = vec![Vec::new(); pieces.len()];
    let mut loss = 0.0;
    for (p, &i) in probs.into_iter().zip(&owner) {
        let truth = map[pieces[i].label];
        window.add(truth, argmax(&p));
        loss -= p[truth].max(1e-12).ln();
        per_piece[i].push(p);
    }
    let mut verdicts = Vec::with_capacity(pieces.len());
    for (p, rows) in pieces.iter().zip(per_piece) {
        let truth = map[p.label];
        let mean = mean_probs(&rows, n);
        let predicted = argmax(&mean);
        piece.add(truth, predicted);
        verdicts.push(PieceVerdict {
            path: p.path.clone(),
            truth: model.labels[truth].clone(),
            predicted: model.labels[predicted].clone(),
            probs: mean,
            windows: rows.len(),
        });
    }
    let window_loss = loss / owner.len().max(1) as f64;
    Ok(Evaluation { window, piece, window_loss, pieces: verdicts })
}
