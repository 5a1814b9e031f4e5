//! The style judge of `compare --judge`: a style classifier ([`crate::classify`]) attributes
//! every test piece and every model's samples to one of its labels, and the report gives the
//! share of each model's samples attributed to the judged label, beside the test pieces' own
//! share, the ceiling a model can hope to reach.
//!
//! The judged label is the one given (`--judge-label`), or else the label most test pieces are
//! attributed to: the label whose training data the classifier finds in the corpus. A piece is
//! attributed to the label of highest probability (the mean over its windows, as
//! `cadenza classify predict` reports it); a piece without notes is attributed to none and counts
//! against the share.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::midi::Piece;
use crate::progress::Progress;

/// Where the judge comes from and what it judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeRequest {
    /// A style classifier checkpoint (`cadenza classify train`).
    pub checkpoint: PathBuf,
    /// The judged label; `None`: the one most test pieces are attributed to.
    pub label: Option<String>,
}

/// Anything that gives a piece a distribution over labels.
pub trait PieceJudge {
    /// The label names, index = class.
    fn labels(&self) -> &[String];
    /// The label distribution of `piece`, or `None` for a piece with no notes.
    fn judge(&self, piece: &Piece) -> Result<Option<Vec<f64>>>;
}

#[cfg(feature = "lstm")]
impl PieceJudge for crate::classify::Classifier {
    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn judge(&self, piece: &Piece) -> Result<Option<Vec<f64>>> {
        if piece.note_count() == 0 {
            return Ok(None);
        }
        let roll = crate::classify::Roll::of(piece, self.tokenizer());
        self.piece_probs(&roll).map(Some)
    }
}

/// How the judged label was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelRule {
    /// Given by the user.
    Given,
    /// The label most test pieces are attributed to.
    MostTestPieces,
}

impl LabelRule {
    /// The rule in words, for the reports.
    pub fn describe(self) -> &'static str {
        match self {
            LabelRule::Given => "the label asked for",
            LabelRule::MostTestPieces => "the label most test pieces are attributed to",
        }
    }
}

/// The judge's verdict on the test pieces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeSummary {
    /// The classifier checkpoint.
    pub checkpoint: String,
    /// Its labels, in its order.
    pub labels: Vec<String>,
    /// The judged label and how it was chosen.
    pub label: String,
    pub rule: LabelRule,
    /// Test pieces attributed to each label (labels with none are left out).
    pub real_attributions: BTreeMap<String, usize>,
    /// Share of the test pieces attributed to the judged label: the ceiling for a model.
    pub real_share: Option<f64>,
    /// Mean probability of the judged label over the test pieces.
    pub real_mean_probability: Option<f64>,
}

/// The judge's verdict on one model's samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelJudge {
    /// Samples attributed to each label (labels with none are left out).
    pub attributions: BTreeMap<String, usize>,
    /// Samples without a note (attributed to no label).
    pub empty: usize,
    /// Share of the samples attributed to the judged label.
    pub share: Option<f64>,
    /// Mean probability of the judged label over the samples (an empty one counts 0).
    pub mean_probability: Option<f64>,
}

/// A loaded style judge.
pub struct Judge {
    checkpoint: PathBuf,
    label: Option<String>,
    inner: Box<dyn PieceJudge>,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge").field("checkpoint", &self.checkpoint).field("label", &self.label).finish()
    }
}

/// Attributions of `pieces`: the label counts, the empty pieces, and each piece's probabilities.
type Verdicts = (BTreeMap<String, usize>, usize, Vec<Option<Vec<f64>>>);

impl Judge {
    /// Load the classifier of `request` onto `device` (`auto`, `cpu`, `cuda`, `cuda:N`); a label
    /// it does not know is an error naming the ones it does.
    pub fn load(request: &JudgeRequest, device: &str) -> Result<Judge> {
        #[cfg(feature = "lstm")]
        {
            let device = crate::models::neural::parse_device(device)?;
            let (model, _) = crate::classify::Classifier::load(&request.checkpoint, device)?;
            Judge::new(request, Box::new(model))
        }
        #[cfg(not(feature = "lstm"))]
        {
            let _ = device;
            Err(crate::error::ClassifyError::NeedsLstm { checkpoint: request.checkpoint.clone() }.into())
        }
    }

    /// A judge from any [`PieceJudge`] (checks the requested label).
    pub fn new(request: &JudgeRequest, inner: Box<dyn PieceJudge>) -> Result<Judge> {
        if let Some(label) = &request.label {
            if !inner.labels().contains(label) {
                return Err(crate::error::ClassifyError::UnknownJudgeLabel {
                    checkpoint: request.checkpoint.clone(),
                    label: label.clone(),
                    known: inner.labels().to_vec(),
                }
                .into());
            }
        }
        Ok(Judge { checkpoint: request.checkpoint.clone(), label: request.label.clone(), inner })
    }

    fn verdicts(&self, pieces: &[&Piece], progress: &dyn Progress) -> Result<Verdicts> {
        let labels = self.inner.labels();
        let mut counts = BTreeMap::new();
        let mut empty = 0;
        let mut probs = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let p = self.inner.judge(piece)?;
            match &p {
                Some(p) => *counts.entry(labels[argmax(p)].clone()).or_insert(0) += 1,
                None => empty += 1,
            }
            probs.push(p);
            progress.update((i + 1) as u64, pieces.len() as u64, "judging");
        }
        Ok((counts, empty, probs))
    }

    /// Judge the test pieces; this fixes the judged label.
    pub fn judge_real(&self, pieces: &[&Piece], progress: &dyn Progress) -> Result<JudgeSummary> {
        let labels = self.inner.labels();
        let (counts, _, probs) = self.verdicts(pieces, progress)?;
        let (label, rule) = match &self.label {
            Some(l) => (l.clone(), LabelRule::Given),
            None => {
                // The most attributed label; ties go to the classifier's first.
                let best = labels
                    .iter()
                    .max_by(|a, b| {
                        let (ca, cb) = (counts.get(*a).unwrap_or(&0), counts.get(*b).unwrap_or(&0));
                        ca.cmp(cb).then_with(|| b.cmp(a))
                    })
                    .cloned()
                    .unwrap_or_default();
                (best, LabelRule::MostTestPieces)
            }
        };
        let k = labels.iter().position(|l| *l == label).unwrap_or(0);
        Ok(JudgeSummary {
            checkpoint: self.checkpoint.display().to_string(),
            labels: labels.to_vec(),
            real_share: share(&counts, &label, pieces.len()),
            real_mean_probability: mean_probability(&probs, k),
            label,
            rule,
            real_attributions: counts,
        })
    }

    /// Judge one model's samples against the label fixed by [`Judge::judge_real`].
    pub fn judge_samples(
        &self,
        summary: &JudgeSummary,
        pieces: &[&Piece],
        progress: &dyn Progress,
    ) -> Result<ModelJudge> {
        let (counts, empty, probs) = self.verdicts(pieces, progress)?;
        let k = self.inner.labels().iter().position(|l| *l == summary.label).unwrap_or(0);
        Ok(ModelJudge {
            share: share(&counts, &summary.label, pieces.len()),
            mean_probability: mean_probability(&probs, k),
            attributions: counts,
            empty,
        })
    }
}

use crate::math::argmax;

fn share(counts: &BTreeMap<String, usize>, label: &str, n: usize) -> Option<f64> {
    (n > 0).then(|| *counts.get(label).unwrap_or(&0) as f64 / n as f64)
}

fn mean_probability(probs: &[Option<Vec<f64>>], k: usize) -> Option<f64> {
    (!probs.is_empty())
        .then(|| probs.iter().map(|p| p.as_ref().map_or(0.0, |p| p[k])).sum::<f64>() / probs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note, Piece};
    use crate::progress::Silent;

    /// Judges by pitch: high pieces are "treble", low ones "bass".
    struct ByPitch(Vec<String>);

    impl PieceJudge for ByPitch {
        fn labels(&self) -> &[String] {
            &self.0
        }
        fn judge(&self, piece: &Piece) -> Result<Option<Vec<f64>>> {
            let notes: Vec<&Note> = piece.instruments.iter().flat_map(|i| &i.notes).collect();
            if notes.is_empty() {
                return Ok(None);
            }
            let high = notes.iter().filter(|n| n.pitch >= 60).count() as f64 / notes.len() as f64;
            Ok(Some(vec![1.0 - high, high]))
        }
    }

    fn piece(pitch: u8) -> Piece {
        let mut p = Piece::new(480);
        let notes = vec![Note { pitch, velocity: 80, start: 0, end: 480 }];
        p.instruments.push(Instrument { notes, ..Instrument::default() });
        p
    }

    fn judge(label: Option<&str>) -> Result<Judge> {
        let request = JudgeRequest { checkpoint: "j.classifier".into(), label: label.map(String::from) };
        Judge::new(&request, Box::new(ByPitch(vec!["bass".into(), "treble".into()])))
    }

    #[test]
    fn the_label_defaults_to_the_test_pieces_majority_and_shares_count_empty_samples() {
        let j = judge(None).unwrap();
        let (hi, lo, empty) = (piece(72), piece(40), Piece::new(480));
        let summary = j.judge_real(&[&hi, &hi, &lo], &Silent).unwrap();
        assert_eq!(summary.label, "treble");
        assert_eq!(summary.rule, LabelRule::MostTestPieces);
        assert_eq!(summary.real_share, Some(2.0 / 3.0));
        assert_eq!(summary.real_attributions.get("bass"), Some(&1));
        let m = j.judge_samples(&summary, &[&hi, &lo, &lo, &empty], &Silent).unwrap();
        assert_eq!(m.share, Some(0.25));
        assert_eq!(m.empty, 1);
        assert_eq!(m.attributions.get("bass"), Some(&2));
        assert_eq!(m.mean_probability, Some(0.25));
    }

    #[test]
    fn a_given_label_is_kept_and_an_unknown_one_refused() {
        let j = judge(Some("bass")).unwrap();
        let hi = piece(72);
        let summary = j.judge_real(&[&hi], &Silent).unwrap();
        assert_eq!((summary.label.as_str(), summary.rule), ("bass", LabelRule::Given));
        assert_eq!(summary.real_share, Some(0.0));
        let err = judge(Some("alto")).unwrap_err().to_string();
        assert!(
            err.contains("j.classifier") && err.contains("`alto`") && err.contains("bass, treble"),
            "{err}"
        );
    }
}
