//! AdamW with explicit moment tensors (so a checkpoint can hold them and resuming is exact) and
//! global gradient-norm clipping, both as PyTorch defines them (`torch.optim.AdamW`,
//! `torch.nn.utils.clip_grad_norm_`).

use std::collections::HashMap;

use tch::{Kind, Tensor};

use super::payload;

/// AdamW's state for an ordered list of parameters.
#[derive(Debug)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Updates applied so far.
    pub step: u64,
    /// `(name, first moment, second moment)` per parameter, in parameter order.
    moments: Vec<(String, Tensor, Tensor)>,
}

impl AdamW {
    /// Zero moments shaped like `params` (`(name, tensor)`).
    pub fn new(params: &[(String, Tensor)], beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> AdamW {
        let moments = params.iter().map(|(n, p)| (n.clone(), p.zeros_like(), p.zeros_like())).collect();
        AdamW { beta1, beta2, eps, weight_decay, step: 0, moments }
    }

    /// One update of `params` (same order as at creation) from their gradients at rate `lr`.
    /// Parameters without a gradient are left alone.
    pub fn update(&mut self, params: &[(String, Tensor)], lr: f64) {
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - self.beta1.powi(t);
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = lr / bias1;
        tch::no_grad(|| {
            for ((_, p), (_, m, v)) in params.iter().zip(self.moments.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let mut p = p.shallow_clone();
                if self.weight_decay != 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = m.lerp_(&g, 1.0 - self.beta1);
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.g_add_(&(&g * &g * (1.0 - self.beta2)));
                let denom = (v.sqrt() / bias2_sqrt) + self.eps;
                let _ = p.g_add_(&(&*m / denom * (-step_size)));
            }
        });
    }

    /// The moments as named tensors (`adamw.m.<param>`, `adamw.v.<param>`) for a checkpoint.
    pub fn named_state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.moments.len());
        for (name, m, v) in &self.moments {
            out.push((format!("adamw.m.{name}"), m.shallow_clone()));
            out.push((format!("adamw.v.{name}"), v.shallow_clone()));
        }
        out
    }

    /// Whether `src` (a checkpoint's tensors) holds moments written by [`AdamW::named_state`].
    pub fn has_state(src: &HashMap<String, Tensor>) -> bool {
        src.keys().any(|k| k.starts_with("adamw."))
    }

    /// Restore the moments written by [`AdamW::named_state`] and the update count.
    pub fn load_state(&mut self, src: &HashMap<String, Tensor>, step: u64) -> crate::Result<()> {
        for (name, m, v) in &self.moments {
            payload::copy_into(m, src, &format!("adamw.m.{name}"))?;
            payload::copy_into(v, src, &format!("adamw.v.{name}"))?;
        }
        self.step = step;
        Ok(())
    }
}

/// Scale all gradients so that their global L2 norm is at most `max_norm`; returns the norm
/// before clipping (a scalar tensor on the parameters' device, read without forcing a sync).
pub fn clip_grad_norm(params: &[(String, Tensor)], max_norm: f64) -> Option<Tensor> {
    tch::no_grad(|| {
        let grads: Vec<Tensor> = params.iter().map(|(_, p)| p.grad()).filter(Tensor::defined).collect();
        if grads.is_empty() {
            return None;
        }
        let norms: Vec<Tensor> = grads.iter().map(|g| g.to_kind(Kind::Float).norm()).collect();
        let total = Tensor::stack(&norms, 0).norm();
        if max_norm > 0.0 {
            let coef = ((&total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
            for g in &grads {
                let _ = g.shallow_clone().g_mul_(&coef);
            }
        }
        Some(total)
    })
}

/// Clear the gradients of `params`.
pub fn zero_grad(params: &[(String, Tensor)]) {
    for (_, p) in params {
        p.shallow_clone().zero_grad();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).set_requires_grad(true)
    }

    fn set_grad(p: &Tensor, g: &[f32]) {
        // d/dp sum(p * g) = g
        zero_grad(&[("p".into(), p.shallow_clone())]);
        (p * Tensor::from_slice(g)).sum(Kind::Float).backward();
    }

    #[test]
    fn matches_the_adamw_formula_computed_by_hand() {
        let (b1, b2, eps, wd, lr) = (0.9, 0.99, 1e-8, 0.1, 0.01);
        let p = param(&[1.0, -2.0]);
        let params = vec![("p".to_string(), p.shallow_clone())];
        let mut opt = AdamW::new(&params, b1, b2, eps, wd);
        let grads = [[0.5f64, -1.0], [0.25, 2.0], [-1.0, 0.0]];
        // Reference in f64, straight from the AdamW paper / PyTorch docs.
        let (mut x, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
        for (t, g) in grads.iter().enumerate() {
            let t = (t + 1) as i32;
            for i in 0..2 {
                x[i] -= lr * wd * x[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let mh = m[i] / (1.0 - b1.powi(t));
                let vh = v[i] / (1.0 - b2.powi(t));
                x[i] -= lr * mh / (vh.sqrt() + eps);
            }
            set_grad(&p, &[g[0] as f32, g[1] as f32]);
            opt.update(&params, lr);
        }
        let got = payload::to_f32_vec(&p).unwrap();
        for i in 0..2 {
            assert!((f64::from(got[i]) - x[i]).abs() < 1e-6, "{got:?} vs {x:?}");
        }
        assert_eq!(opt.step, 3);
    }

    #[test]
    fn clipping_scales_to_the_global_norm() {
        let a = param(&[0.0, 0.0]);
        let b = param(&[0.0]);
        let params = vec![("a".to_string(), a.shallow_clone()), ("b".to_string(), b.shallow_clone())];
        set_grad(&a, &[3.0, 0.0]);
        set_grad(&b, &[4.0]);
        let norm = clip_grad_norm(&params, 1.0).unwrap().double_value(&[]);
        assert!((norm - 5.0).abs() < 1e-6);
        let ga = payload::to_f32_vec(&a.grad()).unwrap();
        let gb = payload::to_f32_vec(&b.grad()).unwrap();
        assert!((ga[0] - 0.6).abs() < 1e-5 && (gb[0] - 0.8).abs() < 1e-5, "{ga:?} {gb:?}");
        // Below the limit nothing changes.
        set_grad(&b, &[0.5]);
        set_grad(&a, &[0.0, 0.0]);
        clip_grad_norm(&params, 1.0);
        assert!((payload::to_f32_vec(&b.grad()).unwrap()[0] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn state_round_trips_through_named_tensors() {
        let p = param(&[1.0, 2.0]);
        let params = vec![("w".to_string(), p.shallow_clone())];
        let mut opt = AdamW::new(&params, 0.9, 0.999, 1e-8, 0.0);
        set_grad(&p, &[1.0, -1.0]);
        opt.update(&params, 0.1);
        let saved: HashMap<String, Tensor> =
            opt.named_state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let mut fresh = AdamW::new(&params, 0.9, 0.999, 1e-8, 0.0);
        fresh.load_state(&saved, opt.step).unwrap();
        assert_eq!(fresh.step, 1);
        for ((n1, a), (n2, b)) in opt.named_state().iter().zip(fresh.named_state().iter()) {
            assert_eq!(n1, n2);
            assert_eq!(payload::to_f32_vec(a).unwrap(), payload::to_f32_vec(b).unwrap());
        }
        assert!(fresh.load_state(&HashMap::new(), 1).is_err());
    }
}
