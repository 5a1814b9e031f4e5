//! Training throughput of the Markov generator on a synthetic 10M-token corpus.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use cadenza::models::markov::sources::Order2Source;
use cadenza::models::markov::{MarkovConfig, MarkovModel};

fn train(c: &mut Criterion) {
    let src = Order2Source::random(300, 4, 1);
    let corpus = src.corpus(10_000_000, 2000, 2);
    let tokens: usize = corpus.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("markov_train");
    group.sample_size(10);
    group.throughput(Throughput::Elements(tokens as u64));
    for order in [4, 8] {
        let config = MarkovConfig { order, ..Default::default() };
        group.bench_function(format!("order_{order}_10M_tokens"), |b| {
            b.iter(|| MarkovModel::fit(&config, src.vocab_size(), &corpus, None).expect("fit"))
        });
    }
    group.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
