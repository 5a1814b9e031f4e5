//! The host's part of a sampling step: [`Sampler::pick`] (and the note guard's mask before it)
//! on distributions over the default midi-like vocabulary, flat (what an untrained network
//! gives, the GPU benchmark's case: the draw walks deep into the ranking) and peaked (a trained
//! network's: most draws end among the few most likely tokens). One draw per iteration; the
//! figure a batch of 256 rows multiplies.
//!
//! `cargo bench --bench sampler_pick`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::Rng;

use cadenza::sampler::{rng_for, Sampler};
use cadenza::tokens::{NoteRules, Tokenizer, TokenizerConfig, BOS};

/// 64 distributions over `vocab` tokens: softmaxes of uniform logits scaled by `sharpness`.
fn distributions(vocab: usize, sharpness: f64) -> Vec<Vec<f64>> {
    let mut rng = rng_for(5, 0);
    (0..64)
        .map(|_| {
            let w: Vec<f64> = (0..vocab).map(|_| (rng.random::<f64>() * sharpness).exp()).collect();
            let total: f64 = w.iter().sum();
            w.into_iter().map(|x| x / total).collect()
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let tokenizer = Tokenizer::new(TokenizerConfig::default()).expect("the default tokenizer");
    let vocab = tokenizer.vocab_size();
    let rules = NoteRules::new(&tokenizer);
    let mut group = c.benchmark_group("sampler_pick");
    group.throughput(Throughput::Elements(1));
    for (shape, sharpness) in [("flat", 0.5), ("peaked", 12.0)] {
        let dists = distributions(vocab, sharpness);
        let settings = [
            ("default", Sampler::default()),
            ("top_p_0.9_temperature_0.9", Sampler { top_p: 0.9, temperature: 0.9, ..Default::default() }),
        ];
        for (name, sampler) in settings {
            let mut rng = rng_for(1, 0);
            let mut k = 0;
            group.bench_function(format!("{shape}_{vocab}_{name}"), |b| {
                b.iter(|| {
                    k = (k + 1) % dists.len();
                    sampler.pick(&dists[k], &mut rng)
                })
            });
        }
        // The production path: the note guard masks the row, then the draw.
        let sampler = Sampler::default();
        let mut guard = rules.guard(&[BOS]);
        let mut rng = rng_for(2, 0);
        let mut row = vec![0.0; vocab];
        let mut k = 0;
        group.bench_function(format!("{shape}_{vocab}_guarded"), |b| {
            b.iter(|| {
                k = (k + 1) % dists.len();
                row.copy_from_slice(&dists[k]);
                sampler.pick_guarded(&mut row, Some(&mut guard), &mut rng)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pick);
criterion_main!(benches);
