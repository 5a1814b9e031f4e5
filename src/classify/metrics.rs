//! Classification scores from a confusion matrix: accuracy, per-label precision, recall and F1,
//! macro-F1.
//!
//! Conventions: rows are the true labels, columns the predicted ones. A precision or recall
//! whose denominator is zero is 0 (and so is the F1), as scikit-learn's `zero_division=0`.
//! Macro-F1 is the mean F1 over the labels that occur (as truth or as prediction), so a label
//! absent from a split neither helps nor hurts.

use serde::Serialize;

/// Counts of (true label, predicted label) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub labels: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<u64>>,
}

/// One label's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many items truly have this label.
    pub support: u64,
}

impl Confusion {
    /// An empty matrix over `labels`.
    pub fn new(labels: &[String]) -> Confusion {
        let n = labels.len();
        Confusion { labels: labels.to_vec(), counts: vec![vec![0; n]; n] }
    }

    /// Count one item of label `truth` predicted as `predicted`.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Items counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Share of items predicted right (0 when there are none).
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.labels.len()).map(|i| self.counts[i][i]).sum();
        ratio(right, self.total())
    }

    /// Precision, recall, F1 and support of label `i`.
    pub fn scores(&self, i: usize) -> LabelScores {
        let tp = self.counts[i][i];
        let predicted: u64 = self.counts.iter().map(|row| row[i]).sum();
        let support: u64 = self.counts[i].iter().sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        LabelScores { precision, recall, f1, support }
    }

    /// Mean F1 over the labels that occur as truth or as prediction (0 when none does).
    pub fn macro_f1(&self) -> f64 {
        let occurring: Vec<f64> = (0..self.labels.len())
            .filter(|&i| self.counts[i].iter().sum::<u64>() > 0 || self.counts.iter().any(|row| row[i] > 0))
            .map(|i| self.scores(i).f1)
            .collect();
        if occurring.is_empty() {
            return 0.0;
        }
        occurring.iter().sum::<f64>() / occurring.len() as f64
    }

    /// `{"accuracy", "macro_f1", "per_label": {label: scores}, "confusion": {"labels",
    /// "counts"}}` (counts: rows true, columns predicted).
    pub fn to_json(&self) -> serde_json::Value {
        let per_label: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), serde_json::to_value(self.scores(i)).unwrap_or_default()))
            .collect();
        serde_json::json!({
            "accuracy": self.accuracy(),
            "macro_f1": self.macro_f1(),
            "per_label": per_label,
            "confusion": { "labels": self.labels, "counts": self.counts },
            "items": self.total(),
        })
    }

    /// The matrix as a Markdown table (rows true, columns predicted).
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| true \\ predicted |");
        for l in &self.labels {
            s.push_str(&format!(" {l} |"));
        }
        s.push_str("\n| --- |");
        s.push_str(&" ---: |".repeat(self.labels.len()));
        for (l, row) in self.labels.iter().zip(&self.counts) {
            s.push_str(&format!("\n| {l} |"));
            for c in row {
                s.push_str(&format!(" {c} |"));
            }
        }
        s.push('\n');
        s
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn matches_a_hand_computed_matrix() {
        // true \ pred   a  b  c
        //   a           5  1  0
        //   b           2  3  1
        //   c           0  0  4
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut m = Confusion::new(&labels);
        for (t, p, n) in [(0, 0, 5), (0, 1, 1), (1, 0, 2), (1, 1, 3), (1, 2, 1), (2, 2, 4)] {
            for _ in 0..n {
                m.add(t, p);
            }
        }
        assert_eq!(m.total(), 16);
        assert!(close(m.accuracy(), 12.0 / 16.0));
        // a: P 5/7, R 5/6, F1 2*5/(7+6) = 10/13.
        let a = m.scores(0);
        assert!(close(a.precision, 5.0 / 7.0) && close(a.recall, 5.0 / 6.0) && close(a.f1, 10.0 / 13.0));
        assert_eq!(a.support, 6);
        // b: P 3/4, R 3/6, F1 6/10. c: P 4/5, R 1, F1 8/9.
        let b = m.scores(1);
        assert!(close(b.precision, 0.75) && close(b.recall, 0.5) && close(b.f1, 0.6));
        let c = m.scores(2);
        assert!(close(c.precision, 0.8) && close(c.recall, 1.0) && close(c.f1, 8.0 / 9.0));
        assert!(close(m.macro_f1(), (10.0 / 13.0 + 0.6 + 8.0 / 9.0) / 3.0));
        let j = m.to_json();
        assert_eq!(j["confusion"]["counts"][1], serde_json::json!([2, 3, 1]));
        assert!(close(j["per_label"]["b"]["recall"].as_f64().unwrap(), 0.5));
    }

    #[test]
    fn absent_labels_and_empty_matrices_score_zero_not_nan() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut m = Confusion::new(&labels);
        assert_eq!((m.accuracy(), m.macro_f1()), (0.0, 0.0));
        m.add(0, 0);
        m.add(1, 0);
        // c never occurs: macro-F1 over a (F1 2/3) and b (F1 0).
        assert!(close(m.macro_f1(), 1.0 / 3.0));
        assert_eq!(m.scores(2).f1, 0.0);
        assert!(m.to_markdown().contains("| b | 1 | 0 | 0 |"));
    }
}
