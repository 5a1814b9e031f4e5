//! The plain-text views of a [`Report`]: the terminal table and `report.md`.

use std::fmt::Write;

use super::copies::{self, longest_cell, share_cell};
use super::Report;

/// `x` with `digits` decimals, or `–` when undefined.
pub fn num(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

/// `x` as a percentage with one decimal, or `–`.
pub fn percent(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite()).map_or("–".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// The name of the reference row of the summary table.
pub const REFERENCE_ROW: &str = "test pieces (reference)";

/// The summary rows: one per model, as `[header, ...]` then cells, then (when the report has
/// it) the [`REFERENCE_ROW`] with only the copy columns filled. The `judge share` column is there
/// only when a style judge was given.
pub fn summary_rows(r: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = [
        "model",
        "kind",
        "tokenizer",
        "bits/note",
        "rank",
        "bits/token",
        "perplexity",
        "tokens/s",
        "mean OA",
    ]
    .map(String::from)
    .to_vec();
    header.push(format!("token {}-grams in train", r.ngram));
    // The copy columns, the only ones of the reference row.
    let copy_columns = header.len();
    header.push("longest copy (notes)".into());
    header.push(copies::share_header(r));
    header.push("discr. acc".into());
    if r.judge.is_some() {
        header.push("judge share".into());
    }
    // Ranks by bits/note (1 = best); bits/token compares only within one tokenizer, so with
    // several it names the tokenizer it belongs to.
    let mut order: Vec<usize> = (0..r.models.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| r.models[i].bits_per_note.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    let mixed = r.models.iter().any(|m| m.tokenizer_digest != r.models[0].tokenizer_digest);
    let mut rows: Vec<Vec<String>> = r
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let rank = order.iter().position(|&k| k == i).map_or(0, |p| p + 1);
            let bpt = num(Some(m.bits_per_token), 4);
            let mut row = vec![
                m.name.clone(),
                m.kind.clone(),
                if m.tokenizer.is_empty() { "midi-like".into() } else { m.tokenizer.clone() },
                num(m.bits_per_note, 4),
                rank.to_string(),
                if mixed { format!("{bpt} ({})", m.tokenizer) } else { bpt },
                num(Some(m.perplexity), 3),
                num(Some(m.tokens_per_second), 0),
                num(m.mean_overlap, 3),
                percent(m.originality.mean_copied_share),
                longest_cell(m.note_copies.as_ref()),
                share_cell(m.note_copies.as_ref()),
                num(m.discriminator.as_ref().and_then(|d| d.accuracy), 3),
            ];
            if r.judge.is_some() {
                row.push(percent(m.judge.as_ref().and_then(|j| j.share)));
            }
            row
        })
        .collect();
    if let Some(c) = &r.reference_copies {
        let mut row = vec!["–".to_string(); header.len()];
        row[0] = REFERENCE_ROW.into();
        row[copy_columns] = longest_cell(Some(c));
        row[copy_columns + 1] = share_cell(Some(c));
        rows.push(row);
    }
    (header, rows)
}

/// What the judge columns mean, in one paragraph (for the terminal, report.md and report.html).
pub fn judges_note(r: &Report) -> String {
    let d = r.models.iter().find_map(|m| m.discriminator.as_ref());
    let mut s = format!(
        "discr. acc: cross-validated balanced accuracy of a logistic regression on the {} scalar features telling the {} test pieces from the model's samples ({} folds, seed {}; 0.5 = indistinguishable, lower is better).",
        r.scalar_features.len(),
        r.test_pieces,
        d.map_or(super::discriminator::FOLDS, |d| d.folds),
        r.rng_seed
    );
    if let Some(j) = &r.judge {
        let _ = write!(
            s,
            " judge share: share of the samples that the classifier {} attributes to `{}` ({}); the test pieces' own share, the ceiling: {}.",
            j.checkpoint,
            j.label,
            j.rule.describe(),
            percent(j.real_share)
        );
    }
    s
}

/// One scalar feature's row of the feature table: the test pieces' `mean ± sd`, then per model
/// its `mean ± sd`, overlapped area and KL divergence (`None` where the model has no value).
pub struct FeatureRow<'a> {
    pub name: &'a str,
    pub real: String,
    pub models: Vec<Option<[String; 3]>>,
}

/// The feature table's rows, one per scalar feature, formatted to 3 decimals.
pub fn feature_rows(r: &Report) -> Vec<FeatureRow<'_>> {
    let mean_sd = |mean: Option<f64>, std: Option<f64>| format!("{} ± {}", num(mean, 3), num(std, 3));
    r.scalar_features
        .iter()
        .map(|name| FeatureRow {
            name,
            real: r.real.scalars.get(name).map_or("–".into(), |m| mean_sd(m.mean, m.std)),
            models: r
                .models
                .iter()
                .map(|m| {
                    m.scalars
                        .get(name)
                        .map(|c| [mean_sd(c.model.mean, c.model.std), num(c.overlap, 3), num(c.kl, 3)])
                })
                .collect(),
        })
        .collect()
}

/// Per label of the judge: the test pieces', then each model's, attribution counts.
pub fn judge_rows<'a>(r: &Report, j: &'a super::JudgeSummary) -> Vec<(&'a String, Vec<String>)> {
    j.labels
        .iter()
        .map(|label| {
            let count = |a: &std::collections::BTreeMap<String, usize>| a.get(label).copied().unwrap_or(0);
            let mut row = vec![count(&j.real_attributions).to_string()];
            row.extend(
                r.models
                    .iter()
                    .map(|m| m.judge.as_ref().map_or("–".into(), |mj| count(&mj.attributions).to_string())),
            );
            (label, row)
        })
        .collect()
}

/// The summary as an aligned text table for the terminal.
pub fn terminal_table(r: &Report) -> String {
    let (header, rows) = summary_rows(r);
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line =
        |cells: Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    if c < 2 {
                        format!("{s:<w$}", w = widths[c])
                    } else {
                        format!("{s:>w$}", w = widths[c])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
    let mut out = line(header);
    out.push('\n');
    out.push_str(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&copies::note(r));
    out.push('\n');
    out.push_str(&judges_note(r));
    out.push('\n');
    out
}

fn md_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "))
}

/// `report.md`.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Model comparison\n");
    let _ = writeln!(
        s,
        "Corpus `{}`, test split: {} pieces, {} tokens (tokenizer {}). {} samples per model, {} new tokens after a {}-beat primer, temperature {}, seed {}, note guard {}.\n",
        r.corpus, r.test_pieces, r.test_tokens, r.tokenizer_digest, r.samples_per_model, r.length, r.primer_beats, r.temperature, r.rng_seed, r.guard_description()
    );
    let (header, rows) = summary_rows(r);
    s.push_str(&md_row(&header));
    s.push_str(&md_row(&vec!["---".to_string(); header.len()]));
    for row in rows {
        s.push_str(&md_row(&row));
    }
    let _ = writeln!(
        s,
        "\n*bits/token*: held-out, on the test split (as `cadenza eval`). *mean OA*: mean overlapped area of the feature distributions with the test pieces' (1 = indistinguishable).\n\n{}\n",
        copies::note(r)
    );
    let _ = writeln!(s, "{}\n", judges_note(r));
    if let Some(j) = &r.judge {
        let _ = writeln!(s, "## Style judge: samples attributed to each label\n");
        let mut head = vec!["label".to_string(), "test pieces".to_string()];
        head.extend(r.models.iter().map(|m| m.name.clone()));
        s.push_str(&md_row(&head));
        s.push_str(&md_row(&vec!["---".to_string(); head.len()]));
        for (label, row) in judge_rows(r, j) {
            let mut cells = vec![if *label == j.label { format!("**{label}**") } else { label.clone() }];
            cells.extend(row);
            s.push_str(&md_row(&cells));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Features: mean ± sd (overlapped area, KL)\n");
    let mut head = vec!["feature".to_string(), "test pieces".to_string()];
    head.extend(r.models.iter().map(|m| m.name.clone()));
    s.push_str(&md_row(&head));
    s.push_str(&md_row(&vec!["---".to_string(); head.len()]));
    for f in feature_rows(r) {
        let mut row = vec![f.name.to_string(), f.real];
        for cell in f.models {
            row.push(cell.map_or("–".into(), |[mean_sd, oa, kl]| format!("{mean_sd} (OA {oa}, KL {kl})")));
        }
        s.push_str(&md_row(&row));
    }
    let _ = writeln!(s, "\n## Histograms: mean total-variation distance to the test set's mean histogram\n");
    let mut head = vec!["histogram".to_string(), "test pieces".to_string()];
    head.extend(r.models.iter().map(|m| m.name.clone()));
    s.push_str(&md_row(&head));
    s.push_str(&md_row(&vec!["---".to_string(); head.len()]));
    for name in &r.histogram_features {
        let mut row = vec![name.clone(), num(r.real.histograms.get(name).and_then(|h| h.mean_distance), 3)];
        for m in &r.models {
            row.push(m.histograms.get(name).map_or("–".into(), |h| {
                format!("{} (of means {})", num(h.mean_distance, 3), num(h.distance_of_means, 3))
            }));
        }
        s.push_str(&md_row(&row));
    }
    let _ = writeln!(s, "\n## Samples\n");
    for m in &r.models {
        let _ = writeln!(s, "### {} ({}, `{}`)\n", m.name, m.kind, m.checkpoint);
        let _ = writeln!(
            s,
            "{} tokens generated in {:.2} s ({:.0} tokens/s).\n",
            m.generated_tokens, m.generation_seconds, m.tokens_per_second
        );
        for smp in &m.samples {
            let _ = writeln!(
                s,
                "- [{}]({}){}: primer from `{}`, {} new tokens, {} notes, token {}-grams in train {}, {}",
                smp.file,
                smp.file,
                smp.wav.as_ref().map_or(String::new(), |w| format!(" ([wav]({w}))")),
                smp.primer_source,
                smp.new_tokens,
                smp.notes,
                r.ngram,
                percent(smp.copied_share),
                copies::describe(smp.note_copy.as_ref())
            );
        }
        s.push('\n');
    }
    s
}
