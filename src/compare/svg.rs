//! Hand-written SVG figures for the HTML report: density curves, grouped bar charts and piano
//! rolls. Every function returns one self-contained `<svg>` element.

use std::fmt::Write;

use crate::metrics::distance::{kde, silverman_bandwidth};
use crate::midi::Piece;

/// Colours of the series: the real music first, then one per model.
pub const REAL_COLOUR: &str = "#222222";
pub const MODEL_COLOURS: [&str; 6] = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];
/// Piano-roll colours of the primer and of the continuation.
pub const PRIMER_COLOUR: &str = "#8da0cb";
pub const CONTINUATION_COLOUR: &str = "#d95f02";

/// The colour of model number `i`.
pub fn model_colour(i: usize) -> &'static str {
    MODEL_COLOURS[i % MODEL_COLOURS.len()]
}

/// Escape text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn fmt_tick(x: f64) -> String {
    if x.abs() >= 100.0 || x == x.round() {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A named series of values.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: &'a [f64],
}

const W: f64 = 320.0;
const H: f64 = 170.0;
const PAD_L: f64 = 10.0;
const PAD_B: f64 = 28.0;
const PAD_T: f64 = 22.0;

/// KDE curves (Silverman bandwidth) of each series on a common axis.
pub fn density_plot(title: &str, series: &[Series<'_>]) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img">"#
    );
    let _ = write!(s, r#"<text x="{}" y="15" class="t">{}</text>"#, W / 2.0, escape(title));
    let all: Vec<f64> =
        series.iter().flat_map(|x| x.values.iter().copied()).filter(|v| v.is_finite()).collect();
    if all.is_empty() {
        let _ = write!(s, r#"<text x="{}" y="{}" class="n">no data</text></svg>"#, W / 2.0, H / 2.0);
        return s;
    }
    let hmax = series
        .iter()
        .filter(|x| !x.values.is_empty())
        .map(|x| silverman_bandwidth(x.values))
        .fold(0.0, f64::max);
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) - 2.0 * hmax;
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 2.0 * hmax;
    let grid: Vec<f64> = (0..200).map(|i| lo + (hi - lo) * i as f64 / 199.0).collect();
    let curves: Vec<Option<Vec<f64>>> = series
        .iter()
        .map(|x| (!x.values.is_empty()).then(|| kde(x.values, silverman_bandwidth(x.values), &grid)))
        .collect();
    let ymax = curves.iter().flatten().flatten().copied().fold(0.0, f64::max).max(1e-12);
    let px = |x: f64| PAD_L + (x - lo) / (hi - lo) * (W - 2.0 * PAD_L);
    let py = |y: f64| H - PAD_B - y / ymax * (H - PAD_B - PAD_T);
    let _ = write!(s, r#"<line x1="{PAD_L}" y1="{0}" x2="{1}" y2="{0}" class="ax"/>"#, H - PAD_B, W - PAD_L);
    for k in 0..=4 {
        let x = lo + (hi - lo) * f64::from(k) / 4.0;
        let _ =
            write!(s, r#"<text x="{:.1}" y="{}" class="l">{}</text>"#, px(x), H - PAD_B + 13.0, fmt_tick(x));
    }
    for (x, c) in series.iter().zip(&curves) {
        if let Some(c) = c {
            let pts: Vec<String> =
                grid.iter().zip(c).map(|(g, y)| format!("{:.1},{:.1}", px(*g), py(*y))).collect();
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"/>"#,
                pts.join(" "),
                x.colour
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Grouped bars: for each label, one bar per series (`values[i]` is the bar of label `i`).
pub fn bar_chart(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let w = 640.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{H}" viewBox="0 0 {w} {H}" role="img">"#
    );
    let _ = write!(s, r#"<text x="{}" y="15" class="t">{}</text>"#, w / 2.0, escape(title));
    let ymax = series
        .iter()
        .flat_map(|x| x.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1e-12);
    let group = (w - 2.0 * PAD_L) / labels.len().max(1) as f64;
    let bar = group * 0.8 / series.len().max(1) as f64;
    let _ = write!(s, r#"<line x1="{PAD_L}" y1="{0}" x2="{1}" y2="{0}" class="ax"/>"#, H - PAD_B, w - PAD_L);
    for (i, label) in labels.iter().enumerate() {
        let gx = PAD_L + group * i as f64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="l">{}</text>"#,
            gx + group / 2.0,
            H - PAD_B + 13.0,
            escape(label)
        );
        for (k, x) in series.iter().enumerate() {
            let v = x.values.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
            let h = v / ymax * (H - PAD_B - PAD_T);
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {:.3}</title></rect>"#,
                gx + group * 0.1 + bar * k as f64,
                H - PAD_B - h,
                bar.max(0.5),
                h,
                x.colour,
                escape(x.name),
                v
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A piano roll of `piece`: time in beats across, pitch up; notes starting before
/// `primer_end_tick` in the primer colour, the rest in the continuation colour, drums as a
/// lane of ticks at the bottom.
pub fn piano_roll(piece: &Piece, primer_end_tick: u64) -> String {
    let (w, h) = (900.0, 200.0);
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let pitched: Vec<_> =
        piece.instruments.iter().filter(|i| !i.is_drum).flat_map(|i| i.notes.iter()).collect();
    let drums: Vec<_> = piece.instruments.iter().filter(|i| i.is_drum).flat_map(|i| i.notes.iter()).collect();
    let lo = pitched.iter().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(1);
    let hi = pitched.iter().map(|n| n.pitch).max().unwrap_or(72).saturating_add(1);
    let beats = (piece.end_tick() as f64 / tpb).max(1.0);
    let drum_lane = if drums.is_empty() { 0.0 } else { 14.0 };
    let px = |t: u64| 2.0 + t as f64 / tpb / beats * (w - 4.0);
    let rows = f64::from(hi - lo + 1);
    let row_h = (h - 4.0 - drum_lane) / rows;
    let py = |p: u8| 2.0 + f64::from(hi - p) * row_h;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" class="roll" role="img">"#
    );
    let _ = write!(s, r##"<rect width="{w}" height="{h}" fill="#fafafa"/>"##);
    // Bar lines every 4 beats, octave lines at every C.
    let mut b = 0.0;
    while b <= beats {
        let x = 2.0 + b / beats * (w - 4.0);
        let _ = write!(s, r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{h}" stroke="#e4e4e4"/>"##);
        b += 4.0;
    }
    for p in lo..=hi {
        if p % 12 == 0 {
            let y = py(p) + row_h;
            let _ = write!(s, r##"<line x1="0" y1="{y:.1}" x2="{w}" y2="{y:.1}" stroke="#eeeeee"/>"##);
        }
    }
    let colour = |start: u64| if start < primer_end_tick { PRIMER_COLOUR } else { CONTINUATION_COLOUR };
    for n in &pitched {
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
            px(n.start),
            py(n.pitch),
            (px(n.end) - px(n.start)).max(1.0),
            row_h.max(1.0),
            colour(n.start)
        );
    }
    for n in &drums {
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="1.5" height="10" fill="{}"/>"#,
            px(n.start),
            h - 12.0,
            colour(n.start)
        );
    }
    if primer_end_tick > 0 {
        let x = px(primer_end_tick);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{h}" stroke="#555" stroke-dasharray="4 3"/>"##
        );
    }
    s.push_str("</svg>");
    s
}
