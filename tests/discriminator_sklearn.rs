//! `compare`'s real-vs-generated discriminator against scikit-learn: the same class-weighted,
//! L2-regularized logistic regression (`LogisticRegression(C=1/PENALTY,
//! class_weight="balanced")`, intercept unpenalized) fitted to the same rows, with missing values
//! filled by the column mean and every column standardized, must give the same weights and the
//! same probabilities.
//!
//! Python: `CADENZA_PYTHON`, else `<repo>/.pyenv/bin/python`; without either the test is skipped,
//! unless `CI` is set, where that is a failure.

mod common;

use std::process::Command;

use cadenza::compare::discriminator::{Logistic, Row, PENALTY};
use cadenza::metrics::SCALAR_NAMES;
use cadenza::sampler::SampleRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression

d = json.load(open(sys.argv[1]))
x = np.array([[np.nan if v is None else v for v in r] for r in d["rows"]], dtype=float)
y = np.array(d["labels"], dtype=int)
mean = np.nanmean(x, axis=0)
x = np.where(np.isnan(x), mean, x)
sd = x.std(axis=0)
sd[sd <= 1e-12] = 1.0
z = (x - mean) / sd
m = LogisticRegression(C=1.0 / d["penalty"], class_weight="balanced", tol=1e-12, max_iter=100000)
m.fit(z, y)
print(json.dumps({"weights": m.coef_[0].tolist(), "intercept": float(m.intercept_[0]),
                  "proba": m.predict_proba(z)[:, 1].tolist()}))
"#;

#[test]
fn logistic_regression_matches_scikit_learn() {
    let Some(python) = common::python() else { return };
    let mut rng = SampleRng::seed_from_u64(11);
    // 40 real and 25 generated rows: overlapping classes that differ in a few features, some
    // values missing, one column constant.
    let mut rows: Vec<Row> = Vec::new();
    let mut labels = Vec::new();
    for i in 0..65 {
        let generated = i >= 40;
        let row: Row = std::array::from_fn(|j| match j {
            1 => Some(3.0),
            2 if rng.random::<f64>() < 0.15 => None,
            _ => {
                let shift = if generated && j % 3 == 0 { 0.8 } else { 0.0 };
                Some(rng.random::<f64>() * (1.0 + j as f64) + shift)
            }
        });
        rows.push(row);
        labels.push(generated);
    }
    let m = Logistic::fit(&rows, &labels);

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("rows.json");
    let data = json!({"rows": rows, "labels": labels.iter().map(|&b| u8::from(b)).collect::<Vec<_>>(), "penalty": PENALTY});
    std::fs::write(&input, data.to_string()).unwrap();
    let out = Command::new(python).arg("-c").arg(SCRIPT).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();

    let weights: Vec<f64> =
        theirs["weights"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(weights.len(), SCALAR_NAMES.len());
    for (j, (ours, theirs)) in m.weights.iter().zip(&weights).enumerate() {
        assert!(
            (ours - theirs).abs() < 1e-5,
            "weight {j} ({}): ours {ours}, scikit-learn {theirs}",
            SCALAR_NAMES[j]
        );
    }
    let intercept = theirs["intercept"].as_f64().unwrap();
    assert!(
        (m.intercept - intercept).abs() < 1e-5,
        "intercept: ours {}, scikit-learn {intercept}",
        m.intercept
    );
    for (i, (row, p)) in rows.iter().zip(theirs["proba"].as_array().unwrap()).enumerate() {
        let (ours, theirs) = (m.probability(row), p.as_f64().unwrap());
        assert!((ours - theirs).abs() < 1e-6, "row {i}: ours {ours}, scikit-learn {theirs}");
    }
    // Not a trivial fit: the shifted features carry weight, the constant one none.
    assert!(m.weights[0].abs() > 0.1 && m.weights[1] == 0.0, "{:?}", m.weights);
}
