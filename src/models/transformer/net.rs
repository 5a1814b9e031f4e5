//! The Transformer's weights, its forward pass and its incremental state, the KV cache.
//!
//! A block is pre-norm: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`. Attention is causal
//! multi-head self-attention through libtorch's `scaled_dot_product_attention` (flash or
//! memory-efficient kernels on CUDA), with rotary position embeddings (RoPE, the half-split
//! form) on queries and keys, so attention depends only on how far apart two tokens are. The
//! MLP is `proj(gelu(fc(x)))`. A final layer norm leads to the logits, read through the
//! embedding matrix (tied weights, no bias).
//!
//! **Incremental decoding.** [`Cache`] holds, per block, the rotated keys and the values of
//! every token read so far (`[batch, heads, len, head_dim]`), and the tokens themselves. A
//! step computes only the new tokens' queries, keys and values and attends over the cache.
//!
//! **Sliding past the context.** The network attends to at most `context` tokens (the training
//! window by default). When the cache is full, it is rebuilt from the last `context / 2` tokens
//! alone (one forward pass over them, their earlier context forgotten), and decoding continues
//! from there. So every token is predicted from between `context / 2` and `context` tokens of
//! context, each seen through exactly the computation training used; a rebuild is one pass over
//! `context / 2` tokens every `context / 2` tokens, about one token's extra work per token.
//! Rebuilds happen at fixed token counts, so scoring, streams and batched sampling agree
//! whatever the chunking.
//!
//! **Rows of different lengths in one batch.** The cache holds each block's keys and values in
//! buffers as wide as the context, written in place (no copy of the cache per step). Caches of
//! different lengths stack ([`Network::cat_states`]): each row keeps its own length, writes its
//! new columns after its own tokens, reads its rotary positions from its own length and masks
//! the columns past them out of attention, so a row decodes as it would alone (up to float
//! rounding). A row slides when its own length reaches the context, rebuilt alone from its last
//! `context / 2` tokens into its own buffer rows while the others go on; `compare` and the studio
//! continue primers of any lengths as one batch this way.

use tch::{Device, Kind, Tensor};

use super::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::models::neural::Network;
use crate::models::ModelKind;

/// The base of the rotary embedding's frequencies.
const ROPE_BASE: f64 = 10_000.0;
/// LayerNorm's epsilon.
const LN_EPS: f64 = 1e-5;

fn torch(op: &'static str) -> impl Fn(tch::TchError) -> Error {
    move |source| Error::Torch { op, source }
}

/// One block's weights.
#[derive(Debug)]
struct Block {
    ln1_w: Tensor,
    ln1_b: Tensor,
    qkv_w: Tensor,
    qkv_b: Tensor,
    out_w: Tensor,
    out_b: Tensor,
    ln2_w: Tensor,
    ln2_b: Tensor,
    fc_w: Tensor,
    fc_b: Tensor,
    proj_w: Tensor,
    proj_b: Tensor,
}

impl Block {
    fn named(&self, l: usize) -> Vec<(String, Tensor)> {
        [
            ("ln1.weight", &self.ln1_w),
            ("ln1.bias", &self.ln1_b),
            ("attn.qkv.weight", &self.qkv_w),
            ("attn.qkv.bias", &self.qkv_b),
            ("attn.out.weight", &self.out_w),
            ("attn.out.bias", &self.out_b),
            ("ln2.weight", &self.ln2_w),
            ("ln2.bias", &self.ln2_b),
            ("mlp.fc.weight", &self.fc_w),
            ("mlp.fc.bias", &self.fc_b),
            ("mlp.proj.weight", &self.proj_w),
            ("mlp.proj.bias", &self.proj_b),
        ]
        .into_iter()
        .map(|(n, t)| (format!("blocks.{l}.{n}"), t.shallow_clone()))
        .collect()
    }
}

/// The KV cache of a batch of rows, each with its own length.
#[derive(Debug)]
pub struct Cache {
    batch: i64,
    /// Per block: rotated keys and values in buffers of `[batch, heads, capacity, head_dim]`
    /// (capacity: the context), row `r` in columns `0..lens[r]`, zeros after; empty before the
    /// first token.
    kv: Vec<(Tensor, Tensor)>,
    /// The tokens the cache holds, `[batch, capacity]` likewise (to rebuild a row that slides).
    tokens: Option<Tensor>,
    /// Tokens each row holds.
    lens: Vec<i64>,
}

impl Cache {
    fn empty(batch: i64) -> Cache {
        Cache { batch, kv: Vec::new(), tokens: None, lens: vec![0; batch.max(0) as usize] }
    }

    /// Tokens the longest row holds: the columns in use.
    pub fn len(&self) -> i64 {
        self.lens.iter().copied().max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens each row holds.
    pub fn row_lens(&self) -> &[i64] {
        &self.lens
    }

    /// Whether the rows hold different numbers of tokens.
    fn is_ragged(&self) -> bool {
        self.lens.windows(2).any(|w| w[0] != w[1])
    }

    /// Buffer columns.
    fn capacity(&self) -> i64 {
        self.tokens.as_ref().map_or(0, |t| t.size()[1])
    }
}

/// `buf` with dimension `dim` zero-extended to `cap` (itself when it is that wide already).
fn widened(buf: &Tensor, dim: i64, cap: i64) -> Result<Tensor> {
    let mut size = buf.size();
    let have = size[dim as usize];
    if have >= cap {
        return Ok(buf.shallow_clone());
    }
    size[dim as usize] = cap;
    let out = Tensor::f_zeros(size.as_slice(), (buf.kind(), buf.device()))?;
    out.f_narrow(dim, 0, have)?.f_copy_(buf)?;
    Ok(out)
}

/// The weights and the forward pass.
#[derive(Debug)]
pub struct Net {
    cfg: TransformerConfig,
    vocab: i64,
    device: Device,
    embed: Tensor,
    blocks: Vec<Block>,
    lnf_w: Tensor,
    lnf_b: Tensor,
}

/// How one pass runs.
#[derive(Clone, Copy)]
struct Mode {
    train: bool,
    kind: Kind,
}

impl Net {
    fn create(cfg: TransformerConfig, vocab: usize, device: Device) -> Result<Net> {
        use crate::models::neural::NetConfig;
        cfg.validate()?;
        crate::models::neural::model::check_vocab(ModelKind::Transformer, vocab)?;
        let (v, d, f) = (vocab as i64, cfg.dim as i64, cfg.ff as i64);
        let param = |t: Tensor| -> Result<Tensor> { Ok(t.f_to_device(device)?.set_requires_grad(true)) };
        let normal = |dims: &[i64], std: f64| -> Result<Tensor> {
            let t = tch::no_grad(|| Tensor::f_empty(dims, (Kind::Float, Device::Cpu))?.f_normal_(0.0, std))?;
            param(t)
        };
        let zeros = |n: i64| param(Tensor::f_zeros([n], (Kind::Float, Device::Cpu))?);
        let ones = |n: i64| param(Tensor::f_ones([n], (Kind::Float, Device::Cpu))?);
        // GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 layers).
        let resid = 0.02 / (2.0 * cfg.layers as f64).sqrt();
        let embed = normal(&[v, d], 0.02)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for _ in 0..cfg.layers {
            blocks.push(Block {
                ln1_w: ones(d)?,
                ln1_b: zeros(d)?,
                qkv_w: normal(&[3 * d, d], 0.02)?,
                qkv_b: zeros(3 * d)?,
                out_w: normal(&[d, d], resid)?,
                out_b: zeros(d)?,
                ln2_w: ones(d)?,
                ln2_b: zeros(d)?,
                fc_w: normal(&[f, d], 0.02)?,
                fc_b: zeros(f)?,
                proj_w: normal(&[d, f], resid)?,
                proj_b: zeros(d)?,
            });
        }
        Ok(Net { cfg, vocab: v, device, embed, blocks, lnf_w: ones(d)?, lnf_b: zeros(d)? })
    }

    /// The rows of `cache` in buffers of `cap` columns (at least its current capacity; zeros for
    /// a cache that has read nothing yet).
    fn widened(&self, cache: &Cache, cap: i64) -> Result<Cache> {
        let b = cache.batch;
        let (h, hd) = (self.cfg.heads as i64, self.cfg.head_dim() as i64);
        let kv = if cache.kv.is_empty() {
            (0..self.blocks.len())
                .map(|_| {
                    let z = Tensor::f_zeros([b, h, cap, hd], (Kind::Float, self.device))?;
                    Ok((z.f_zeros_like()?, z))
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            cache
                .kv
                .iter()
                .map(|(k, v)| Ok((widened(k, 2, cap)?, widened(v, 2, cap)?)))
                .collect::<Result<_>>()?
        };
        let tokens = match &cache.tokens {
            Some(t) => widened(t, 1, cap)?,
            None => Tensor::f_zeros([b, cap], (Kind::Int64, self.device))?,
        };
        Ok(Cache { batch: b, kv, tokens: Some(tokens), lens: cache.lens.clone() })
    }

    /// The rotary embedding's inverse frequencies, `[head_dim / 2]` (f32).
    fn inv_freq(&self) -> Result<Tensor> {
        let half = (self.cfg.head_dim() / 2) as i64;
        let idx = Tensor::f_arange(half, (Kind::Float, self.device))?;
        Ok(idx.f_mul_scalar(-2.0 * ROPE_BASE.ln() / (2 * half) as f64)?.f_exp()?)
    }

    /// `cos` and `sin` of the rotary angles for positions `start..start + len`, each
    /// `[len, head_dim / 2]`.
    fn rope(&self, start: i64, len: i64, kind: Kind) -> Result<(Tensor, Tensor)> {
        let pos = Tensor::f_arange_start(start, start + len, (Kind::Float, self.device))?;
        let angles = pos.f_unsqueeze(1)?.f_mul(&self.inv_freq()?.f_unsqueeze(0)?)?;
        Ok((angles.f_cos()?.f_to_kind(kind)?, angles.f_sin()?.f_to_kind(kind)?))
    }

    /// The rotary angles of each row's next `len` positions, from its own length `starts[r]`,
    /// each `[batch, 1, len, head_dim / 2]` (the same values as [`Net::rope`] row by row).
    fn rope_rows(&self, starts: &[i64], len: i64, kind: Kind) -> Result<(Tensor, Tensor)> {
        let pos: Vec<f32> = starts.iter().flat_map(|&s| (s..s + len).map(|p| p as f32)).collect();
        let pos = Tensor::f_from_slice(&pos)?.f_to_device(self.device)?.f_view([starts.len() as i64, len])?;
        let angles = pos.f_unsqueeze(2)?.f_mul(&self.inv_freq()?.f_view([1, 1, -1])?)?.f_unsqueeze(1)?;
        Ok((angles.f_cos()?.f_to_kind(kind)?, angles.f_sin()?.f_to_kind(kind)?))
    }

    /// `x` (`[batch, heads, len, head_dim]`) rotated by the angles `cos`/`sin`.
    fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let half = x.size()[3] / 2;
        let x1 = x.f_narrow(3, 0, half)?;
        let x2 = x.f_narrow(3, half, half)?;
        let a = x1.f_mul(cos)?.f_sub(&x2.f_mul(sin)?)?;
        let b = x1.f_mul(sin)?.f_add(&x2.f_mul(cos)?)?;
        Ok(Tensor::f_cat(&[a, b], 3)?)
    }

    /// Run `tokens` (`[batch, len]`) through the network after the `past` tokens whose keys
    /// and values `cache` holds (none: a fresh pass), appending theirs to it. Returns logits
    /// `[batch, len, vocab]` (f32).
    fn pass(&self, tokens: &Tensor, mut cache: Option<&mut Cache>, mode: Mode) -> Result<Tensor> {
        let (b, t) = (tokens.size()[0], tokens.size()[1]);
        let (h, hd) = (self.cfg.heads as i64, self.cfg.head_dim() as i64);
        let d = self.cfg.dim as i64;
        let p = if mode.train { self.cfg.dropout } else { 0.0 };
        let cast = |w: &Tensor| -> Result<Tensor> {
            Ok(if mode.kind == Kind::Float { w.shallow_clone() } else { w.f_to_kind(mode.kind)? })
        };
        let past = cache.as_ref().map_or(0, |c| c.len());
        let lens = cache.as_ref().filter(|c| c.is_ragged()).map(|c| c.lens.clone());
        let (cos, sin) = match &lens {
            Some(lens) => self.rope_rows(lens, t, mode.kind)?,
            None => self.rope(past, t, mode.kind)?,
        };
        // Which keys each query sees: all earlier ones of its row. `is_causal` aligns its mask
        // top-left, so it only serves a pass without a cache; one query of rows of equal lengths
        // sees everything; otherwise a mask (rows of different lengths: up to each one's own).
        let dev = self.device;
        let keys = || Tensor::f_arange(past + t, (Kind::Int64, dev));
        // Rows of different lengths: each one's new columns, after its own tokens, `[b, t]`.
        let columns = match &lens {
            Some(lens) => {
                let first = Tensor::f_from_slice(lens)?.f_to_device(dev)?.f_view([b, 1])?;
                Some(Tensor::f_arange(t, (Kind::Int64, dev))?.f_view([1, t])?.f_add(&first)?)
            }
            None => None,
        };
        let (mask, causal) = if let Some(cols) = &columns {
            let q = cols.f_view([b, 1, t, 1])?;
            (Some(keys()?.f_view([1, 1, 1, past + t])?.f_le_tensor(&q)?), false)
        } else if past == 0 {
            (None, t > 1)
        } else if t == 1 {
            (None, false)
        } else {
            let q = Tensor::f_arange_start(past, past + t, (Kind::Int64, dev))?.f_unsqueeze(1)?;
            (Some(keys()?.f_unsqueeze(0)?.f_le_tensor(&q)?), false)
        };
        if let Some(c) = cache.as_deref_mut() {
            if c.capacity() < past + t {
                let want = (self.cfg.effective_context() as i64).max(past + t);
                *c = self.widened(c, want.max(2 * c.capacity()))?;
            }
        }
        let mut x = Tensor::f_embedding(&self.embed, tokens, -1, false, false)?;
        x = cast(&x)?.f_dropout(p, mode.train)?;
        for (l, blk) in self.blocks.iter().enumerate() {
            let y = x
                .f_layer_norm([d], Some(&cast(&blk.ln1_w)?), Some(&cast(&blk.ln1_b)?), LN_EPS, true)
                .map_err(torch("layer norm"))?;
            let qkv = y.f_linear(&cast(&blk.qkv_w)?, Some(cast(&blk.qkv_b)?))?;
            let qkv = qkv.f_view([b, t, 3, h, hd])?.f_permute([2, 0, 3, 1, 4])?;
            let q = Self::rotate(&qkv.f_select(0, 0)?, &cos, &sin)?;
            let mut k = Self::rotate(&qkv.f_select(0, 1)?, &cos, &sin)?;
            let mut v = qkv.f_select(0, 2)?;
            if let Some(c) = cache.as_deref_mut() {
                // Write the new columns into the block's buffers in place, then attend over
                // the columns in use.
                let (kb, vb) = &mut c.kv[l];
                match &columns {
                    Some(cols) => {
                        let idx = cols.f_view([b, 1, t, 1])?.f_expand([b, h, t, hd], false)?;
                        let _ = kb.f_scatter_(2, &idx, &k)?;
                        let _ = vb.f_scatter_(2, &idx, &v)?;
                    }
                    None => {
                        kb.f_narrow(2, past, t)?.f_copy_(&k)?;
                        vb.f_narrow(2, past, t)?.f_copy_(&v)?;
                    }
                }
                k = kb.f_narrow(2, 0, past + t)?;
                v = vb.f_narrow(2, 0, past + t)?;
            }
            let a = Tensor::f_scaled_dot_product_attention(&q, &k, &v, mask.as_ref(), p, causal, None, false)
                .map_err(torch("scaled_dot_product_attention"))?;
            let a = a.f_transpose(1, 2)?.f_reshape([b, t, d])?;
            let a = a.f_linear(&cast(&blk.out_w)?, Some(cast(&blk.out_b)?))?;
            x = x.f_add(&a.f_dropout(p, mode.train)?)?;
            let y = x
                .f_layer_norm([d], Some(&cast(&blk.ln2_w)?), Some(&cast(&blk.ln2_b)?), LN_EPS, true)
                .map_err(torch("layer norm"))?;
            let y = y.f_linear(&cast(&blk.fc_w)?, Some(cast(&blk.fc_b)?))?.f_gelu("none")?;
            let y = y.f_linear(&cast(&blk.proj_w)?, Some(cast(&blk.proj_b)?))?;
            x = x.f_add(&y.f_dropout(p, mode.train)?)?;
        }
        if let Some(c) = cache {
            if let Some(buf) = c.tokens.as_mut() {
                match &columns {
                    Some(cols) => {
                        let _ = buf.f_scatter_(1, cols, tokens)?;
                    }
                    None => buf.f_narrow(1, past, t)?.f_copy_(tokens)?,
                }
            }
            c.lens.iter_mut().for_each(|n| *n += t);
        }
        let x = x
            .f_layer_norm([d], Some(&cast(&self.lnf_w)?), Some(&cast(&self.lnf_b)?), LN_EPS, true)
            .map_err(torch("layer norm"))?;
        Ok(x.f_linear::<Tensor>(&cast(&self.embed)?, None)?.f_to_kind(Kind::Float)?)
    }
}

impl Network for Net {
    type Config = TransformerConfig;
    type State = Cache;
    const KIND: ModelKind = ModelKind::Transformer;

    fn new(cfg: TransformerConfig, vocab: usize, device: Device) -> Result<Net> {
        Net::create(cfg, vocab, device)
    }

    fn config(&self) -> &TransformerConfig {
        &self.cfg
    }

    fn vocab(&self) -> i64 {
        self.vocab
    }

    fn device(&self) -> Device {
        self.device
    }

    fn named(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("embed.weight".to_string(), self.embed.shallow_clone())];
        for (l, b) in self.blocks.iter().enumerate() {
            out.extend(b.named(l));
        }
        out.push(("ln_f.weight".into(), self.lnf_w.shallow_clone()));
        out.push(("ln_f.bias".into(), self.lnf_b.shallow_clone()));
        out
    }

    fn forward(&self, input: &Tensor, train: bool, bf16: bool) -> Result<Tensor> {
        let kind = if bf16 { Kind::BFloat16 } else { Kind::Float };
        self.pass(input, None, Mode { train, kind })
    }

    fn init_state(&self, batch: i64) -> Result<Cache> {
        Ok(Cache::empty(batch))
    }

    fn step(&self, input: &Tensor, state: &mut Cache) -> Result<Tensor> {
        let mode = Mode { train: false, kind: Kind::Float };
        let context = self.cfg.effective_context() as i64;
        let total = input.size()[1];
        let mut outs = Vec::new();
        let mut start = 0;
        while start < total {
            if state.len() >= context {
                self.slide(state, context, mode)?;
            }
            let n = (total - start).min(context - state.len());
            outs.push(self.pass(&input.f_narrow(1, start, n)?, Some(state), mode)?);
            start += n;
        }
        match outs.len() {
            0 => Ok(Tensor::f_zeros([state.batch, 0, self.vocab], (Kind::Float, self.device))?),
            1 => Ok(outs.swap_remove(0)),
            _ => Ok(Tensor::f_cat(&outs, 1)?),
        }
    }

    fn select_rows(&self, state: &Cache, rows: &Tensor) -> Result<Cache> {
        let picked = Vec::<i64>::try_from(&rows.f_to_device(Device::Cpu)?.f_to_kind(Kind::Int64)?)?;
        let mut lens = Vec::with_capacity(picked.len());
        for &r in &picked {
            lens.push(*state.lens.get(r as usize).ok_or_else(|| Error::Torch {
                op: "selecting cache rows",
                source: tch::TchError::Shape(format!("row {r} of a batch of {}", state.batch)),
            })?);
        }
        let kv = state
            .kv
            .iter()
            .map(|(k, v)| Ok((k.f_index_select(0, rows)?, v.f_index_select(0, rows)?)))
            .collect::<Result<_>>()?;
        let tokens = state.tokens.as_ref().map(|t| t.f_index_select(0, rows)).transpose()?;
        Ok(Cache { batch: picked.len() as i64, kv, tokens, lens })
    }

    fn cat_states(&self, states: &[Cache]) -> Result<Cache> {
        if states.is_empty() {
            return Err(Error::Torch {
                op: "stacking decoding states",
                source: tch::TchError::Shape("no states".into()),
            });
        }
        let batch = states.iter().map(|s| s.batch).sum();
        let lens: Vec<i64> = states.iter().flat_map(|s| s.lens.iter().copied()).collect();
        if lens.iter().all(|&n| n == 0) {
            return Ok(Cache::empty(batch));
        }
        // Buffers of one capacity, so that they stack.
        let cap =
            states.iter().map(Cache::capacity).max().unwrap_or(0).max(self.cfg.effective_context() as i64);
        let wide = states.iter().map(|s| self.widened(s, cap)).collect::<Result<Vec<_>>>()?;
        let mut kv = Vec::with_capacity(self.blocks.len());
        for l in 0..self.blocks.len() {
            let k: Vec<&Tensor> = wide.iter().map(|s| &s.kv[l].0).collect();
            let v: Vec<&Tensor> = wide.iter().map(|s| &s.kv[l].1).collect();
            kv.push((Tensor::f_cat(&k, 0)?, Tensor::f_cat(&v, 0)?));
        }
        let tokens: Vec<&Tensor> = wide.iter().filter_map(|s| s.tokens.as_ref()).collect();
        Ok(Cache { batch, kv, tokens: Some(Tensor::f_cat(&tokens, 0)?), lens })
    }
}

impl Net {
    /// Slide the rows of `state` whose own length has reached `context`: each is rebuilt from
    /// its last `context / 2` tokens alone (see the module doc) into its own rows of the
    /// buffers, the other rows untouched.
    fn slide(&self, state: &mut Cache, context: i64, mode: Mode) -> Result<()> {
        let keep = (context / 2).max(1);
        let full: Vec<i64> = (0..state.batch).filter(|&r| state.lens[r as usize] >= context).collect();
        let Some(tokens) = state.tokens.as_ref().filter(|_| !full.is_empty()) else { return Ok(()) };
        let dev = self.device;
        let idx = Tensor::f_from_slice(&full)?.f_to_device(dev)?;
        // A sliding row holds exactly `context` tokens (a step never writes past it).
        let held = tokens.f_index_select(0, &idx)?.f_narrow(1, context - keep, keep)?;
        let mut fresh = Cache::empty(full.len() as i64);
        let _ = self.pass(&held, Some(&mut fresh), mode)?;
        if full.len() as i64 == state.batch {
            *state = fresh;
            return Ok(());
        }
        let fresh = self.widened(&fresh, state.capacity())?;
        for ((k, v), (fk, fv)) in state.kv.iter_mut().zip(&fresh.kv) {
            let _ = k.f_index_copy_(0, &idx, fk)?;
            let _ = v.f_index_copy_(0, &idx, fv)?;
        }
        if let (Some(t), Some(ft)) = (state.tokens.as_mut(), fresh.tokens.as_ref()) {
            let _ = t.f_index_copy_(0, &idx, ft)?;
        }
        for &r in &full {
            state.lens[r as usize] = keep;
        }
        Ok(())
    }
}
