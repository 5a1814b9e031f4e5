//! `report.html`: one self-contained page (inline CSS and SVG, no scripts) with the summary
//! table, a plot per feature (models against the test pieces) and, per model, the first samples
//! as piano rolls with a player (or a link to the MIDI file).

use std::fmt::Write;

use super::copies;
use super::report::{feature_rows, judge_rows, judges_note, num, summary_rows};
use super::svg::{self, escape, model_colour, Series, REAL_COLOUR};
use super::{Report, SamplePiece, SHOWN_SAMPLES};
use crate::metrics::NOTE_LENGTH_BINS;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1360px}
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:16px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:8px}.plots svg{border:1px solid #eee;background:#fff}
.t{font-size:12px;text-anchor:middle;font-weight:600}.l{font-size:10px;text-anchor:middle;fill:#555}
.n{font-size:12px;text-anchor:middle;fill:#999}.ax{stroke:#999}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
.sample{margin:10px 0 18px}.roll{border:1px solid #ddd;max-width:100%;height:auto}.note{color:#666;font-size:13px}";

fn legend(r: &Report) -> String {
    let mut s = String::from(r#"<p class="legend">"#);
    let _ = write!(s, r#"<span><i class="sw" style="background:{REAL_COLOUR}"></i>test pieces</span>"#);
    for (i, m) in r.models.iter().enumerate() {
        let _ = write!(
            s,
            r#"<span><i class="sw" style="background:{}"></i>{}</span>"#,
            model_colour(i),
            escape(&m.name)
        );
    }
    s.push_str("</p>");
    s
}

/// The page for `report`, with piano rolls drawn from `pieces` (per model, its samples).
pub fn page(r: &Report, pieces: &[Vec<SamplePiece>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cadenza compare</title><style>{CSS}</style></head><body>");
    let _ = writeln!(s, "<h1>Model comparison</h1>\n<p>Corpus <code>{}</code>, test split: {} pieces, {} tokens (tokenizer {}). {} samples per model, {} new tokens after a {}-beat primer from a test piece, temperature {}, seed {}, note guard {}.</p>",
        escape(&r.corpus), r.test_pieces, r.test_tokens, escape(&r.tokenizer_digest), r.samples_per_model, r.length, r.primer_beats, r.temperature, r.rng_seed, r.guard_description());

    // Summary.
    let (header, rows) = summary_rows(r);
    s.push_str("<h2>Summary</h2>\n<table><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(&h));
    }
    s.push_str("</tr>\n");
    for row in rows {
        s.push_str("<tr>");
        for c in row {
            let _ = write!(s, "<td>{}</td>", escape(&c));
        }
        s.push_str("</tr>\n");
    }
    let _ = writeln!(s, "</table>\n<p class=\"note\">bits/token: held-out on the test split (as <code>cadenza eval</code>). mean OA: mean overlapped area between the model's and the test pieces' feature distributions (Gaussian KDE, Silverman bandwidth; 1 = indistinguishable). {}</p>", escape(&copies::note(r)));
    let _ = writeln!(s, "<p class=\"note\">{}</p>", escape(&judges_note(r)));
    if let Some(j) = &r.judge {
        s.push_str("<h2>Style judge</h2>\n<table><tr><th>label</th><th>test pieces</th>");
        for m in &r.models {
            let _ = write!(s, "<th>{}</th>", escape(&m.name));
        }
        s.push_str("</tr>\n");
        for (label, row) in judge_rows(r, j) {
            let name = if *label == j.label { format!("<b>{}</b>", escape(label)) } else { escape(label) };
            let _ = write!(s, "<tr><td>{name}</td>");
            for c in row {
                let _ = write!(s, "<td>{c}</td>");
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }

    // Feature table.
    s.push_str("<h2>Features</h2>\n<table><tr><th>feature</th><th>test pieces</th>");
    for m in &r.models {
        let _ = write!(s, "<th>{}</th>", escape(&m.name));
    }
    s.push_str("</tr>\n");
    for f in feature_rows(r) {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", escape(f.name), f.real);
        for cell in f.models {
            let cell = cell.map_or("–".into(), |[mean_sd, oa, kl]| {
                format!("{mean_sd}<br><small>OA {oa} · KL {kl}</small>")
            });
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>\n");
    }
    for name in &r.histogram_features {
        let _ = write!(
            s,
            "<tr><td>{} <small>(TV distance)</small></td><td>{}</td>",
            escape(name),
            num(r.real.histograms.get(name).and_then(|h| h.mean_distance), 3)
        );
        for m in &r.models {
            let _ = write!(s, "<td>{}</td>", num(m.histograms.get(name).and_then(|h| h.mean_distance), 3));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");

    // Plots.
    s.push_str("<h2>Distributions: models against the test pieces</h2>\n");
    s.push_str(&legend(r));
    s.push_str("<div class=\"plots\">\n");
    let real_values = |name: &str| -> Vec<f64> {
        r.real
            .pieces
            .iter()
            .filter_map(|p| p.features.scalars().iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v))
            .collect()
    };
    let model_values = |mi: usize, name: &str| -> Vec<f64> {
        r.models[mi]
            .samples
            .iter()
            .filter_map(|p| p.features.scalars().iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v))
            .collect()
    };
    for name in &r.scalar_features {
        let real = real_values(name);
        let per_model: Vec<Vec<f64>> = (0..r.models.len()).map(|i| model_values(i, name)).collect();
        let mut series = vec![Series { name: "test pieces", colour: REAL_COLOUR, values: &real }];
        for (i, m) in r.models.iter().enumerate() {
            series.push(Series { name: &m.name, colour: model_colour(i), values: &per_model[i] });
        }
        s.push_str(&svg::density_plot(name, &series));
        s.push('\n');
    }
    s.push_str("</div>\n<div class=\"plots\">\n");
    let pcs: Vec<String> = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let lens: Vec<String> = NOTE_LENGTH_BINS
        .iter()
        .map(|b| if *b < 1.0 { format!("1/{}", (1.0 / b).round()) } else { format!("{b}") })
        .collect();
    for (name, labels, title) in [
        ("pitch_class_histogram", &pcs, "pitch-class histogram (mean)"),
        ("note_length_histogram", &lens, "note length in beats (mean share)"),
    ] {
        let empty = Vec::new();
        let real = r.real.histograms.get(name).map_or(&empty, |h| &h.mean);
        let mut series = vec![Series { name: "test pieces", colour: REAL_COLOUR, values: real }];
        for (i, m) in r.models.iter().enumerate() {
            series.push(Series {
                name: &m.name,
                colour: model_colour(i),
                values: m.histograms.get(name).map_or(&empty, |h| &h.mean),
            });
        }
        s.push_str(&svg::bar_chart(title, labels, &series));
        s.push('\n');
    }
    s.push_str("</div>\n");

    // Samples.
    let _ = writeln!(s, "<h2>Samples</h2>\n<p class=\"note\">Piano rolls: <span style=\"color:{}\">■ primer</span> (from a test piece), <span style=\"color:{}\">■ continuation</span>; dashed line: where the model takes over. Drums are the ticks at the bottom.</p>", svg::PRIMER_COLOUR, svg::CONTINUATION_COLOUR);
    for (mi, m) in r.models.iter().enumerate() {
        let _ = writeln!(
            s,
            "<h3 style=\"color:{}\">{} <small>({}, {})</small></h3>",
            model_colour(mi),
            escape(&m.name),
            escape(&m.kind),
            escape(&m.checkpoint)
        );
        for (i, smp) in m.samples.iter().enumerate().take(SHOWN_SAMPLES) {
            let _ = writeln!(
                s,
                "<div class=\"sample\"><div>{} — primer from <code>{}</code>, {} new tokens, {} notes, {}</div>",
                escape(&smp.file),
                escape(&smp.primer_source),
                smp.new_tokens,
                smp.notes,
                escape(&copies::describe(smp.note_copy.as_ref()))
            );
            if let Some(p) = pieces.get(mi).and_then(|v| v.get(i)) {
                s.push_str(&svg::piano_roll(&p.piece, p.primer_end_tick));
                s.push('\n');
            }
            match &smp.wav {
                Some(w) => {
                    let _ = write!(s, "<div><audio controls preload=\"none\" src=\"{}\"></audio> <a href=\"{}\">MIDI</a></div>", escape(w), escape(&smp.file));
                }
                None => {
                    let _ =
                        write!(s, "<div><a href=\"{}\">{}</a></div>", escape(&smp.file), escape(&smp.file));
                }
            }
            s.push_str("</div>\n");
        }
        if m.samples.len() > SHOWN_SAMPLES {
            let _ = writeln!(
                s,
                "<p class=\"note\">{} more samples in <code>samples/{}/</code>.</p>",
                m.samples.len() - SHOWN_SAMPLES,
                escape(&m.name)
            );
        }
        s.push_str("<details class=\"note\"><summary>longest copy of every sample</summary><ul>\n");
        for smp in &m.samples {
            let copy = copies::describe(smp.note_copy.as_ref());
            let _ = writeln!(s, "<li>{}: {}</li>", escape(&smp.file), escape(&copy));
        }
        s.push_str("</ul></details>\n");
    }
    s.push_str("</body></html>\n");
    s
}
