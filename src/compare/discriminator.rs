//! The real-vs-generated discriminator: how well can a simple classifier tell the test pieces
//! from one model's samples, given only their musical statistics?
//!
//! Each piece is a row of the scalar features of [`crate::metrics`] ([`SCALAR_NAMES`]). A
//! class-weighted, L2-regularized logistic regression (fitted exactly by Newton's method) is
//! cross-validated over stratified, seeded folds; every piece is predicted by the model fitted on
//! the other folds, and the report gives the balanced accuracy of those predictions (the mean of
//! the share of real pieces called real and of samples called generated). 0.5 means the
//! statistics do not tell the two apart; 1.0 means every piece is told right, so lower is better.
//!
//! Per fold, a missing value (a statistic a piece does not have, such as the melodic interval of
//! a piece with one note) is filled with the training folds' mean of that feature, and every
//! feature is standardized by the training folds' mean and deviation: nothing about a held-out
//! piece reaches its own prediction.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::metrics::{Features, SCALAR_NAMES};

/// Folds of the cross-validation (fewer when a class has fewer pieces).
pub const FOLDS: usize = 5;

/// The L2 penalty on the (standardized) weights; the intercept is not penalized. The objective
/// is `sum_i w_i * logloss_i + PENALTY / 2 * |beta|^2`, with class weights `w_i` that give both
/// classes the same total weight (`n / (2 n_class)`, scikit-learn's `class_weight="balanced"`).
pub const PENALTY: f64 = 1.0;

/// Newton iterations at most (the fit stops sooner once the step is below 1e-10).
const MAX_ITERATIONS: usize = 100;

/// Features of one piece, in [`SCALAR_NAMES`] order (`None`: the piece does not have it).
pub type Row = [Option<f64>; SCALAR_NAMES.len()];

/// The discriminator's row for one piece.
pub fn row(features: &Features) -> Row {
    features.scalars().map(|(_, v)| v.filter(|x| x.is_finite()))
}

/// What the discriminator found for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorReport {
    /// Cross-validated balanced accuracy; `None` when a class has fewer than two pieces.
    pub accuracy: Option<f64>,
    /// Share of the real pieces predicted real, and of the samples predicted generated.
    pub real_recall: Option<f64>,
    pub generated_recall: Option<f64>,
    /// Folds used.
    pub folds: usize,
    /// Pieces of each class.
    pub real: usize,
    pub generated: usize,
    /// The three features that tell the classes apart most (largest standardized weights of the
    /// regression fitted on all pieces), with their weights: positive = larger in the samples.
    pub telling: Vec<(String, f64)>,
}

/// A fitted logistic regression on standardized features.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// Per feature: the fill value for a missing entry (training mean), the mean and deviation
    /// it is standardized by.
    pub fill: Vec<f64>,
    pub scale: Vec<f64>,
    /// Weights of the standardized features, then the intercept.
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl Logistic {
    /// Fit `rows` to `labels` (`true` = generated) with class weights balancing the two classes.
    /// Both classes must be present.
    pub fn fit(rows: &[Row], labels: &[bool]) -> Logistic {
        let d = SCALAR_NAMES.len();
        let fill: Vec<f64> = (0..d)
            .map(|j| {
                let v: Vec<f64> = rows.iter().filter_map(|r| r[j]).collect();
                if v.is_empty() {
                    0.0
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            })
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let n = rows.len() as f64;
                let var = rows.iter().map(|r| (r[j].unwrap_or(fill[j]) - fill[j]).powi(2)).sum::<f64>() / n;
                // A constant feature carries nothing: divide by 1 and it stays 0.
                if var > 1e-24 {
                    var.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let mut m = Logistic { fill, scale, weights: vec![0.0; d], intercept: 0.0 };
        let x: Vec<Vec<f64>> = rows.iter().map(|r| m.standardize(r)).collect();
        let n = rows.len() as f64;
        let positives = labels.iter().filter(|&&y| y).count() as f64;
        let class_weight = |y: bool| if y { n / (2.0 * positives) } else { n / (2.0 * (n - positives)) };
        // Newton's method on the convex objective: parameters are the weights, then the intercept.
        let p = d + 1;
        for _ in 0..MAX_ITERATIONS {
            let mut grad = vec![0.0; p];
            let mut hess = vec![vec![0.0; p]; p];
            for (xi, &yi) in x.iter().zip(labels) {
                let w = class_weight(yi);
                let prob = sigmoid(m.margin(xi));
                let err = w * (prob - f64::from(u8::from(yi)));
                let curv = w * prob * (1.0 - prob);
                for a in 0..p {
                    let xa = if a < d { xi[a] } else { 1.0 };
                    grad[a] += err * xa;
                    for b in 0..=a {
                        let xb = if b < d { xi[b] } else { 1.0 };
                        hess[a][b] += curv * xa * xb;
                    }
                }
            }
            for a in 1..p {
                let (upper, lower) = hess.split_at_mut(a);
                for (b, row) in upper.iter_mut().enumerate() {
                    row[a] = lower[0][b];
                }
            }
            for j in 0..d {
                grad[j] += PENALTY * m.weights[j];
                hess[j][j] += PENALTY;
            }
            // The intercept is unpenalized; a tiny ridge keeps a separable fit's system solvable.
            hess[d][d] += 1e-9;
            let Some(step) = solve(hess, grad) else { break };
            for (w, s) in m.weights.iter_mut().zip(&step) {
                *w -= s;
            }
            m.intercept -= step[d];
            if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-10 {
                break;
            }
        }
        m
    }

    /// `row` with missing values filled and every feature standardized.
    fn standardize(&self, row: &Row) -> Vec<f64> {
        row.iter()
            .enumerate()
            .map(|(j, v)| (v.unwrap_or(self.fill[j]) - self.fill[j]) / self.scale[j])
            .collect()
    }

    fn margin(&self, x: &[f64]) -> f64 {
        self.intercept + x.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>()
    }

    /// The probability that `row` is a generated piece.
    pub fn probability(&self, row: &Row) -> f64 {
        sigmoid(self.margin(&self.standardize(row)))
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Solve `a x = b` by Gaussian elimination with partial pivoting; `None` when `a` is singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for r in col + 1..n {
            let (upper, lower) = a.split_at_mut(r);
            let (pivot_row, row) = (&upper[col], &mut lower[0]);
            let f = row[col] / pivot_row[col];
            if f != 0.0 {
                for (x, y) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * y;
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Cross-validate the discriminator of `real` against `generated` over `folds` stratified folds
/// (fewer when a class has fewer pieces), shuffled with `seed`.
pub fn cross_validate(real: &[Row], generated: &[Row], folds: usize, seed: u64) -> DiscriminatorReport {
    let folds = folds.min(real.len()).min(generated.len());
    let mut report = DiscriminatorReport {
        accuracy: None,
        real_recall: None,
        generated_recall: None,
        folds,
        real: real.len(),
        generated: generated.len(),
        telling: Vec::new(),
    };
    if folds < 2 {
        return report;
    }
    let rows: Vec<Row> = real.iter().chain(generated).copied().collect();
    let labels: Vec<bool> = (0..rows.len()).map(|i| i >= real.len()).collect();
    // Stratified folds: each class shuffled on its own, then dealt out round the folds.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold_of = vec![0usize; rows.len()];
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..rows.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        for (k, i) in idx.into_iter().enumerate() {
            fold_of[i] = k % folds;
        }
    }
    let mut right = [0usize; 2];
    for f in 0..folds {
        let (train, held): (Vec<usize>, Vec<usize>) = (0..rows.len()).partition(|&i| fold_of[i] != f);
        let tr_rows: Vec<Row> = train.iter().map(|&i| rows[i]).collect();
        let tr_labels: Vec<bool> = train.iter().map(|&i| labels[i]).collect();
        let m = Logistic::fit(&tr_rows, &tr_labels);
        for i in held {
            if (m.probability(&rows[i]) >= 0.5) == labels[i] {
                right[usize::from(labels[i])] += 1;
            }
        }
    }
    let real_recall = right[0] as f64 / real.len() as f64;
    let generated_recall = right[1] as f64 / generated.len() as f64;
    report.accuracy = Some((real_recall + generated_recall) / 2.0);
    report.real_recall = Some(real_recall);
    report.generated_recall = Some(generated_recall);
    let all = Logistic::fit(&rows, &labels);
    let mut telling: Vec<(String, f64)> =
        SCALAR_NAMES.iter().zip(&all.weights).map(|(n, w)| (n.to_string(), *w)).collect();
    telling.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    telling.truncate(3);
    report.telling = telling;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn rows(n: usize, shift: f64, rng: &mut ChaCha8Rng) -> Vec<Row> {
        (0..n)
            .map(|_| std::array::from_fn(|j| Some(rng.random::<f64>() + if j == 3 { shift } else { 0.0 })))
            .collect()
    }

    #[test]
    fn separable_classes_are_told_apart() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let real = rows(30, 0.0, &mut rng);
        let generated = rows(20, 5.0, &mut rng);
        let r = cross_validate(&real, &generated, FOLDS, 0);
        assert_eq!(r.accuracy, Some(1.0));
        assert_eq!(r.folds, 5);
        assert_eq!(r.telling[0].0, SCALAR_NAMES[3]);
        assert!(r.telling[0].1 > 0.0, "larger in the samples: positive weight");
    }

    #[test]
    fn one_distribution_is_near_chance() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let real = rows(200, 0.0, &mut rng);
        let generated = rows(200, 0.0, &mut rng);
        let acc = cross_validate(&real, &generated, FOLDS, 0).accuracy.unwrap();
        assert!((acc - 0.5).abs() < 0.1, "{acc}");
    }

    #[test]
    fn too_few_pieces_give_no_accuracy_and_seeds_repeat() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let real = rows(10, 0.0, &mut rng);
        assert_eq!(cross_validate(&real, &real[..1], FOLDS, 0).accuracy, None);
        let generated = rows(10, 0.3, &mut rng);
        assert_eq!(cross_validate(&real, &generated, 3, 7), cross_validate(&real, &generated, 3, 7));
        assert_eq!(cross_validate(&real, &generated, 3, 7).folds, 3);
    }

    #[test]
    fn missing_values_and_constant_features_fit() {
        // Feature 0 is missing in half the rows, feature 1 is constant; only feature 2 differs.
        let mk = |i: usize, y: bool| -> Row {
            std::array::from_fn(|j| match j {
                0 => (i % 2 == 0).then_some(i as f64),
                1 => Some(4.0),
                2 => Some(if y { 1.0 } else { -1.0 } + 0.01 * i as f64),
                _ => Some(0.0),
            })
        };
        let real: Vec<Row> = (0..12).map(|i| mk(i, false)).collect();
        let generated: Vec<Row> = (0..12).map(|i| mk(i, true)).collect();
        let r = cross_validate(&real, &generated, 4, 0);
        assert_eq!(r.accuracy, Some(1.0));
        assert!(r.telling.iter().all(|(_, w)| w.is_finite()));
    }

    #[test]
    fn solve_matches_a_hand_system() {
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12, "{x:?}");
        assert_eq!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]), None);
    }
}
