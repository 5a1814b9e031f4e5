//! [`Classifier`]: the labels, the piano-roll settings and the network together; label
//! distributions of windows, pieces and files; saving and loading as a checkpoint of kind
//! [`ModelKind::Classifier`] in the project's format ([`crate::checkpoint`]).
//!
//! The header's `tokenizer` records the grid the rolls are quantized on, `vocab` is empty (a
//! classifier has no tokens) and `hyperparameters` is `{"labels", "roll", "net", "train"}`.
//! Generator commands refuse the file ([`crate::models::saved::load`]), and [`Classifier::load`]
//! refuses generators, each with one line.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::net::{Net, NetConfig};
use super::roll::{Roll, RollConfig, CHANNELS};
use crate::checkpoint::{self, Header};
use crate::error::{CheckpointError, Error, Result};
use crate::midi;
use crate::models::lstm::payload;
use crate::models::saved::{self, Record};
use crate::models::ModelKind;
use crate::tokens::Tokenizer;

/// The payload format name written into checkpoint headers.
pub const PAYLOAD_FORMAT: &str = "safetensors";

/// Windows per forward pass when scoring.
const SCORE_BATCH: usize = 128;

/// A style classifier.
#[derive(Debug)]
pub struct Classifier {
    /// Label names, index = class.
    pub labels: Vec<String>,
    pub roll: RollConfig,
    pub net: Net,
    tokenizer: Tokenizer,
}

impl Classifier {
    /// Fresh weights for `labels` (at least two) on `device`.
    pub fn new(labels: Vec<String>, roll: RollConfig, net: NetConfig, device: Device) -> Result<Classifier> {
        let tokenizer = roll.tokenizer()?;
        if labels.len() < 2 {
            return Err(super::ClassifyError::setting("labels", labels.len(), "at least two").into());
        }
        let net = Net::new(net, labels.len(), device)?;
        Ok(Classifier { labels, roll, net, tokenizer })
    }

    /// The tokenizer whose grid quantizes pieces into rolls.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The roll of the MIDI file at `path` (an unreadable file is an error naming it).
    pub fn roll_of_file(&self, path: &Path) -> Result<Roll> {
        let piece = midi::read_file(path, &self.tokenizer.read_options())?;
        Ok(Roll::of(&piece, &self.tokenizer))
    }

    /// Logits `[n, labels]` of `n` windows laid out as [`Roll::window_into`] writes them.
    pub fn logits(&self, windows: &[f32], n: usize, train: bool) -> Result<Tensor> {
        let shape = [n as i64, CHANNELS as i64, self.roll.pitches() as i64, self.roll.window_steps() as i64];
        let x = Tensor::f_from_slice(windows)?.f_view(shape)?.f_to_device(self.net.device)?;
        Ok(self.net.forward(&x, train)?)
    }

    /// The label distribution of each window `(roll, start)` in `windows`, in order, without
    /// transposition (evaluation mode, batched).
    pub fn window_probs(&self, windows: &[(&Roll, u32)]) -> Result<Vec<Vec<f64>>> {
        let len = self.roll.window_len();
        let mut out = Vec::with_capacity(windows.len());
        let mut buf = vec![0.0f32; SCORE_BATCH * len];
        for chunk in windows.chunks(SCORE_BATCH) {
            for ((roll, start), row) in chunk.iter().zip(buf.chunks_mut(len)) {
                roll.window_into(&self.roll, *start, 0, row);
            }
            let probs = tch::no_grad(|| -> Result<Vec<f32>> {
                let logits = self.logits(&buf[..chunk.len() * len], chunk.len(), false)?;
                Ok(payload::to_f32_vec(&logits.f_softmax(-1, Kind::Float)?)?)
            })?;
            out.extend(probs.chunks(self.labels.len()).map(|r| r.iter().map(|&p| f64::from(p)).collect()));
        }
        Ok(out)
    }

    /// The label distribution of a whole piece: the mean of its windows' distributions.
    pub fn piece_probs(&self, roll: &Roll) -> Result<Vec<f64>> {
        let windows: Vec<(&Roll, u32)> =
            roll.window_starts(&self.roll).into_iter().map(|s| (roll, s)).collect();
        Ok(mean_probs(&self.window_probs(&windows)?, self.labels.len()))
    }

    /// A checkpoint header describing this classifier, trained with `train` (any JSON).
    pub fn header(&self, train: serde_json::Value) -> Header {
        let hyper = serde_json::json!({
            "labels": self.labels,
            "roll": self.roll,
            "net": self.net.cfg,
            "train": train,
        });
        let record = Record { hyperparameters: hyper, ..Record::default() };
        let mut h = saved::header(ModelKind::Classifier, &self.tokenizer, PAYLOAD_FORMAT, record);
        h.vocab = Vec::new();
        h
    }

    /// Write the classifier to `path` with `header` (from [`Classifier::header`]), atomically.
    pub fn save(&self, path: &Path, header: &Header) -> Result<()> {
        let bytes = payload::encode(&self.net.named())?;
        checkpoint::save(path, header, &bytes)
    }

    /// Load the classifier checkpoint at `path` onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<(Classifier, Header)> {
        let (header, bytes) = checkpoint::load_kind(path, ModelKind::Classifier)?;
        let bad = |problem| Error::checkpoint(path, problem);
        let hyper = |reason: String| bad(CheckpointError::Hyperparameters(reason));
        if header.payload_format != PAYLOAD_FORMAT {
            let found = header.payload_format.clone();
            return Err(bad(CheckpointError::PayloadFormat { found, expected: PAYLOAD_FORMAT }));
        }
        let h = &header.hyperparameters;
        let field = |name: &str| h.get(name).cloned().ok_or_else(|| hyper(format!("they lack `{name}`")));
        let labels: Vec<String> =
            serde_json::from_value(field("labels")?).map_err(|e| hyper(format!("labels: {e}")))?;
        let roll: RollConfig =
            serde_json::from_value(field("roll")?).map_err(|e| hyper(format!("roll: {e}")))?;
        let net: NetConfig = serde_json::from_value(field("net")?).map_err(|e| hyper(format!("net: {e}")))?;
        let payload = |e| bad(CheckpointError::Payload { format: PAYLOAD_FORMAT, source: Box::new(e) });
        let model = Classifier::new(labels, roll, net, device).map_err(payload)?;
        let tensors = payload::decode(&bytes).map_err(payload)?;
        model.net.load_named(&tensors).map_err(payload)?;
        Ok((model, header))
    }
}

/// The mean of `rows` (each a distribution over `n` labels); uniform when there are none.
pub fn mean_probs(rows: &[Vec<f64>], n: usize) -> Vec<f64> {
    if rows.is_empty() {
        return vec![1.0 / n as f64; n];
    }
    let mut m = vec![0.0; n];
    for r in rows {
        for (a, b) in m.iter_mut().zip(r) {
            *a += b;
        }
    }
    m.iter_mut().for_each(|a| *a /= rows.len() as f64);
    m
}

pub use crate::math::argmax;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::roll::RollNote;

    fn tiny() -> Classifier {
        tch::manual_seed(3);
        let roll = RollConfig { window_beats: 2, ..RollConfig::default() };
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        Classifier::new(labels, roll, NetConfig { width: 4, blocks: 2, dropout: 0.0 }, Device::Cpu).unwrap()
    }

    fn roll() -> Roll {
        let notes =
            (0..20).map(|i| RollNote { row: 30 + (i % 7) as u8, start: i * 2, end: i * 2 + 3 }).collect();
        Roll { notes, steps: 43 }
    }

    #[test]
    fn save_then_load_gives_identical_logits() {
        let m = tiny();
        // Some training-mode passes move the batch-norm statistics away from their initial values.
        let r = roll();
        let mut buf = vec![0.0f32; 4 * m.roll.window_len()];
        for (i, row) in buf.chunks_mut(m.roll.window_len()).enumerate() {
            r.window_into(&m.roll, 4 * i as u32, 0, row);
        }
        for _ in 0..3 {
            let _ = tch::no_grad(|| m.logits(&buf, 4, true)).unwrap();
        }
        let before = payload::to_f32_vec(&tch::no_grad(|| m.logits(&buf, 4, false)).unwrap()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.classifier");
        m.save(&p, &m.header(serde_json::Value::Null)).unwrap();
        let (back, header) = Classifier::load(&p, Device::Cpu).unwrap();
        assert_eq!(header.kind, ModelKind::Classifier);
        assert_eq!(back.labels, m.labels);
        let after = payload::to_f32_vec(&tch::no_grad(|| back.logits(&buf, 4, false)).unwrap()).unwrap();
        assert_eq!(before, after);
        assert_eq!(m.piece_probs(&r).unwrap(), back.piece_probs(&r).unwrap());
    }

    #[test]
    fn other_kinds_of_checkpoint_are_refused_both_ways() {
        let d = tempfile::tempdir().unwrap();
        let m = tiny();
        let p = d.path().join("m.classifier");
        m.save(&p, &m.header(serde_json::Value::Null)).unwrap();
        let e = crate::models::saved::load(&p, "cpu").err().unwrap().to_string();
        assert!(e.contains("m.classifier") && e.contains("style classifier"), "{e}");
        let t = Tokenizer::new(Default::default()).unwrap();
        let q = d.path().join("x.markov");
        checkpoint::save(&q, &Header::new(ModelKind::Markov, &t, serde_json::Value::Null, "markov-v1"), b"")
            .unwrap();
        let e = Classifier::load(&q, Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("x.markov") && e.contains("holds a markov model, expected classifier"), "{e}");
    }

    #[test]
    fn piece_probabilities_are_distributions() {
        let m = tiny();
        let p = m.piece_probs(&roll()).unwrap();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{p:?}");
        assert_eq!(mean_probs(&[vec![1.0, 0.0], vec![0.0, 1.0]], 2), vec![0.5, 0.5]);
    }
}
