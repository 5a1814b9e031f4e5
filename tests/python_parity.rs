//! PyTorch and cadenza compute the same logits for the same weights (issue 28): networks
//! declared in the Python package (`python/cadenza/nets.py`) with random weights are written
//! as cadenza checkpoints by `python/tests/make_parity.py`, and cadenza's own networks, loading
//! them, agree on every logit within 1e-5 (f32, CPU), both in one pass over a window and
//! decoded token by token past the Transformer's context (the slide).
//!
//! Needs the project's Python (`CADENZA_PYTHON`, else `.pyenv/bin/python`) with the package and
//! torch installed (`scripts/setup.sh` does both): without them this test fails, it never skips.
#![cfg(feature = "lstm")]

use std::path::{Path, PathBuf};
use std::process::Command;

use cadenza::models::lstm::LstmModel;
use cadenza::models::transformer::TransformerModel;
use cadenza::tokens::TokenId;
use tch::Device;

fn python() -> PathBuf {
    std::env::var_os("CADENZA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".pyenv/bin/python"))
}

fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "as many logits");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn pytorch_and_cadenza_logits_agree_within_1e_5() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = walk(&root.join("corpora/bach"));
    files.sort();
    let midi = files.into_iter().next().expect("a Bach chorale (scripts/setup.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(root.join("python/tests/make_parity.py"))
        .arg(tmp.path())
        .arg(&midi)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", python().display()));
    assert!(out.status.success(), "make_parity.py: {}", String::from_utf8_lossy(&out.stderr));
    let tokens: Vec<TokenId> =
        serde_json::from_slice(&std::fs::read(tmp.path().join("tokens.json")).unwrap()).unwrap();
    for name in ["transformer", "lstm", "lstm-tied"] {
        let ckpt = tmp.path().join(format!("{name}.ckpt"));
        let (full, long) = if name == "transformer" {
            let (m, _) = TransformerModel::load(&ckpt, Device::Cpu).unwrap();
            (m.full_logits(&tokens[..24]).unwrap(), m.logits(&tokens).unwrap())
        } else {
            let (m, _) = LstmModel::load(&ckpt, Device::Cpu).unwrap();
            (m.full_logits(&tokens[..24]).unwrap(), m.logits(&tokens).unwrap())
        };
        let (want_full, want_long) = (
            floats(&tmp.path().join(format!("{name}.full.f32"))),
            floats(&tmp.path().join(format!("{name}.long.f32"))),
        );
        let spread = want_long.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(spread > 1.0, "{name}: logits of random weights should not be near zero ({spread})");
        let (f, l) = (worst(&full, &want_full), worst(&long, &want_long));
        eprintln!("{name}: worst logit difference {f:.2e} in one pass, {l:.2e} decoded past the context");
        assert!(f <= 1e-5 && l <= 1e-5, "{name}: {f:e} (one pass), {l:e} (decoded)");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "mid") {
            out.push(p);
        }
    }
    out
}
