//! Corpus statistics for `cadenza corpus stats`: counts per split, notes, tokens, duration,
//! instruments, pitch range and the most common tokens.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{Corpus, Split};
use crate::tokens::gm_names::program_name;

/// Per-split counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SplitStats {
    pub pieces: usize,
    pub notes: u64,
    pub tokens: u64,
    pub seconds: f64,
}

/// A summary of a loaded corpus.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusStats {
    pub root: String,
    pub files_read: usize,
    pub files_skipped: usize,
    pub cache_hits: usize,
    /// What decided each piece's split (`music` or `file-bytes`).
    pub split_key: String,
    /// Pieces whose music repeats an earlier piece's (in path order), still in the corpus.
    pub musical_duplicates: usize,
    /// Pieces `--dedup` left out.
    pub duplicates_dropped: usize,
    pub splits: BTreeMap<String, SplitStats>,
    pub total: SplitStats,
    /// Instrument name → number of pieces using it.
    pub instruments: BTreeMap<String, usize>,
    pub pitch_range: Option<(u8, u8)>,
    /// The tokenization scheme (`midi-like`, `tsd`, `remi`).
    pub tokenizer: String,
    /// With BPE: the number of merges and the tokens the corpus would have without them.
    pub bpe_merges: Option<usize>,
    pub base_tokens: Option<u64>,
    pub vocab_size: usize,
    /// Most common tokens (name, count), most common first.
    pub top_tokens: Vec<(String, u64)>,
}

impl CorpusStats {
    /// Compute the statistics of `corpus`, listing `top` most common tokens.
    pub fn of(corpus: &Corpus, top: usize) -> CorpusStats {
        let mut splits: BTreeMap<String, SplitStats> =
            Split::ALL.iter().map(|s| (s.to_string(), SplitStats::default())).collect();
        let mut total = SplitStats::default();
        let mut instruments = BTreeMap::new();
        let mut pitch_range: Option<(u8, u8)> = None;
        let mut counts = vec![0u64; corpus.tokenizer.vocab_size()];
        for p in &corpus.pieces {
            for s in [splits.get_mut(&p.split.to_string()).expect("all splits present"), &mut total] {
                s.pieces += 1;
                s.notes += p.info.notes;
                s.tokens += p.tokens.len() as u64;
                s.seconds += p.info.seconds;
            }
            let mut seen: Vec<String> = p
                .info
                .instruments
                .iter()
                .map(|&(prog, drum)| if drum { "Drums".to_string() } else { program_name(prog).to_string() })
                .collect();
            seen.sort();
            seen.dedup();
            for name in seen {
                *instruments.entry(name).or_insert(0) += 1;
            }
            if let Some((lo, hi)) = p.info.pitch_range {
                pitch_range = Some(pitch_range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
            for &t in &p.tokens {
                if let Some(c) = counts.get_mut(t as usize) {
                    *c += 1;
                }
            }
        }
        let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        let top_tokens =
            order.into_iter().take(top).map(|i| (corpus.tokenizer.name(i as u16), counts[i])).collect();
        CorpusStats {
            root: corpus.root.display().to_string(),
            files_read: corpus.pieces.len(),
            files_skipped: corpus.skipped.len(),
            cache_hits: corpus.cache_hits,
            split_key: corpus.split_key.to_string(),
            musical_duplicates: corpus.musical_duplicates(),
            duplicates_dropped: corpus.duplicates.len(),
            splits,
            total,
            instruments,
            pitch_range,
            tokenizer: corpus.tokenizer.scheme().to_string(),
            bpe_merges: corpus.tokenizer.bpe().map(|b| b.merges().len()),
            base_tokens: corpus
                .tokenizer
                .bpe()
                .map(|b| corpus.pieces.iter().map(|p| b.expand(&p.tokens).len() as u64).sum()),
            vocab_size: corpus.tokenizer.vocab_size(),
            top_tokens,
        }
    }
}

fn hms(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl fmt::Display for CorpusStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "corpus        {}", self.root)?;
        writeln!(
            f,
            "files         {} read, {} skipped ({} from cache)",
            self.files_read, self.files_skipped, self.cache_hits
        )?;
        writeln!(
            f,
            "duplicates    {} pieces repeat an earlier piece's music, {} left out (--dedup)",
            self.musical_duplicates, self.duplicates_dropped
        )?;
        writeln!(f, "split by      {}", self.split_key)?;
        writeln!(f, "{:<8} {:>8} {:>11} {:>12} {:>12}", "split", "pieces", "notes", "tokens", "duration")?;
        let rows =
            self.splits.iter().map(|(k, v)| (k.as_str(), v)).chain(std::iter::once(("total", &self.total)));
        for (name, s) in rows {
            writeln!(
                f,
                "{:<8} {:>8} {:>11} {:>12} {:>12}",
                name,
                s.pieces,
                s.notes,
                s.tokens,
                hms(s.seconds)
            )?;
        }
        match self.pitch_range {
            Some((lo, hi)) => writeln!(f, "pitch range   {lo}..{hi}")?,
            None => writeln!(f, "pitch range   (no pitched notes)")?,
        }
        writeln!(f, "tokenizer     {}", self.tokenizer)?;
        writeln!(f, "vocabulary    {} tokens", self.vocab_size)?;
        if self.total.notes > 0 {
            writeln!(f, "tokens/note   {:.2}", self.total.tokens as f64 / self.total.notes as f64)?;
        }
        if let (Some(merges), Some(base)) = (self.bpe_merges, self.base_tokens) {
            writeln!(
                f,
                "BPE           {merges} merges: {} tokens instead of {base} ({:.2}x shorter)",
                self.total.tokens,
                base as f64 / self.total.tokens.max(1) as f64
            )?;
        }
        let mut inst: Vec<_> = self.instruments.iter().collect();
        inst.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let inst: Vec<String> = inst.iter().take(8).map(|(n, c)| format!("{n} ({c})")).collect();
        writeln!(f, "instruments   {} distinct: {}", self.instruments.len(), inst.join(", "))?;
        writeln!(f, "top tokens")?;
        for (name, count) in &self.top_tokens {
            let share = 100.0 * *count as f64 / self.total.tokens.max(1) as f64;
            writeln!(f, "  {name:<14} {count:>10} {share:>5.1}%")?;
        }
        Ok(())
    }
}
