//! How well formed sampled token sequences are, with and without the note guard.
//!
//! `cargo run --release --example note_guard_stats -- CHECKPOINT... [--count N] [--length L]`
//!
//! For each checkpoint, samples N sequences of L tokens from BOS (seed 5, temperature 1) twice,
//! unguarded and guarded, and reads them as the decoder does: how many NOTE_OFFs close nothing,
//! how many notes are still sounding at the end (the guarded run closes them), how many notes
//! last the full length cap (cut there by the decoder, or closed there by the guard), and the
//! median and mean note length in grid steps. Used for the figures in README.md.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use cadenza::models::{saved, Generator};
use cadenza::sampler::Sampler;
use cadenza::tokens::{Event, NoteRules, TokenId, Tokenizer, BOS};

#[derive(Default)]
struct Counts {
    tokens: usize,
    note_ons: usize,
    stray_offs: usize,
    left_open: usize,
    lengths: Vec<u64>,
}

/// Replay `seq` as the decoder reads it (FIFO per instrument and pitch, notes cut at the cap).
fn replay(t: &Tokenizer, seq: &[TokenId], c: &mut Counts) {
    let cap = u64::from(t.config().max_note_steps);
    let mut open: BTreeMap<(Option<u8>, u8), VecDeque<u64>> = BTreeMap::new();
    let (mut now, mut part) = (0u64, Some(0u8));
    for &tok in seq {
        c.tokens += 1;
        match t.vocab().event(tok) {
            Event::NoteOn(p) => {
                c.note_ons += 1;
                open.entry((part, p)).or_default().push_back(now);
            }
            Event::NoteOff(p) => match open.get_mut(&(part, p)).and_then(VecDeque::pop_front) {
                Some(start) => c.lengths.push(now - start),
                None => c.stray_offs += 1,
            },
            Event::TimeShift(s) => {
                now += u64::from(s);
                for q in open.values_mut() {
                    while q.front().is_some_and(|&st| st + cap < now) {
                        q.pop_front();
                        c.lengths.push(cap);
                    }
                }
            }
            Event::Program(p, _) => part = Some(p),
            Event::Drums(_) => part = None,
            Event::Eos => break,
            _ => {}
        }
    }
    for q in open.values() {
        c.left_open += q.len();
        c.lengths.extend(q.iter().map(|_| cap));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths = Vec::new();
    let (mut count, mut length) = (8usize, 1500usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().ok_or("--count N")?.parse()?,
            "--length" => length = args.next().ok_or("--length L")?.parse()?,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        return Err("usage: note_guard_stats CHECKPOINT... [--count N] [--length L]".into());
    }
    println!("| checkpoint | sampling | tokens | NOTE_ONs | stray NOTE_OFFs | left sounding at the end | notes as long as the cap | median note (steps) | mean note (steps) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for path in paths {
        let m = saved::load(&path, "cpu")?;
        for guarded in [false, true] {
            let sampler = Sampler::default().with_notes(guarded.then(|| NoteRules::new(&m.tokenizer)));
            let outs = m.model.generate_batch(&vec![vec![BOS]; count], length, &sampler, 5)?;
            let mut c = Counts::default();
            for o in &outs {
                let full: Vec<TokenId> = std::iter::once(BOS).chain(o.iter().copied()).collect();
                replay(&m.tokenizer, &sampler.finished(full)[1..], &mut c);
            }
            c.lengths.sort_unstable();
            let cap = u64::from(m.tokenizer.config().max_note_steps);
            let at_cap = c.lengths.iter().filter(|&&l| l >= cap).count();
            let median = c.lengths.get(c.lengths.len() / 2).copied().unwrap_or(0);
            let mean = c.lengths.iter().sum::<u64>() as f64 / c.lengths.len().max(1) as f64;
            let pct = |n: usize| 100.0 * n as f64 / c.note_ons.max(1) as f64;
            println!(
                "| {} | {} | {} | {} | {} | {} ({:.0}%) | {} ({:.0}%) | {} | {:.1} |",
                path.display(),
                if guarded { "guarded" } else { "unguarded" },
                c.tokens,
                c.note_ons,
                c.stray_offs,
                c.left_open,
                pct(c.left_open),
                at_cap,
                pct(at_cap),
                median,
                mean
            );
        }
    }
    Ok(())
}
