//! `cadenza classify train | eval | predict`: the style classifier ([`cadenza::classify`]) on a
//! folder of labelled subfolders. This module parses flags, draws progress and prints.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use cadenza::classify::{self, Classifier, Confusion, LabelledSet, NetConfig, RollConfig, TrainConfig};
use cadenza::corpus::{Split, SplitKey};
use cadenza::models::lstm::parse_device;

use super::progress::Reporter;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Train a classifier on DIR/<label>/*.mid and write its checkpoint.
    Train(Box<TrainArgs>),
    /// Accuracy, per-label precision / recall / F1, macro-F1 and the confusion matrix of a
    /// classifier on a split, per window and per piece (mean of its windows' distributions).
    Eval(EvalArgs),
    /// The label distribution of each MIDI file.
    Predict(PredictArgs),
}

/// `classify train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// A folder with one subfolder of MIDI files per label.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the checkpoint (the best model on the valid split).
    #[arg(long)]
    out: PathBuf,
    /// Window length in beats.
    #[arg(long, default_value_t = RollConfig::default().window_beats)]
    window_beats: u16,
    /// Grid steps per beat.
    #[arg(long, default_value_t = RollConfig::default().steps_per_beat)]
    steps_per_beat: u16,
    /// Lowest pitch of the roll.
    #[arg(long, default_value_t = RollConfig::default().pitch_min)]
    pitch_min: u8,
    /// Highest pitch of the roll.
    #[arg(long, default_value_t = RollConfig::default().pitch_max)]
    pitch_max: u8,
    /// Do not apply the sustain pedal to note lengths.
    #[arg(long)]
    no_sustain: bool,
    /// What assigns a piece to train / valid / test: `music` (a hash of its quantized notes,
    /// so byte-different copies of one piece share a split) or `file-bytes` (a hash of the
    /// file, how classifiers were split before). `classify eval` uses the checkpoint's.
    #[arg(long, value_name = "KEY", default_value = "music", value_parser = super::options::parse_split_key)]
    split_key: SplitKey,
    /// Channels of the first convolution block (doubled by each later block).
    #[arg(long, default_value_t = NetConfig::default().width)]
    width: usize,
    /// Convolution blocks.
    #[arg(long, default_value_t = NetConfig::default().blocks)]
    blocks: usize,
    /// Dropout before the output layer.
    #[arg(long, default_value_t = NetConfig::default().dropout)]
    dropout: f64,
    /// Windows per step (spread evenly over the labels).
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// Optimizer steps at most.
    #[arg(long, default_value_t = TrainConfig::default().steps)]
    steps: u64,
    /// Validate every N steps.
    #[arg(long, default_value_t = TrainConfig::default().eval_every, value_name = "N")]
    eval_every: u64,
    /// Stop after N validations without improvement (0: never).
    #[arg(long, default_value_t = TrainConfig::default().patience, value_name = "N")]
    patience: u64,
    /// Random transposition of training windows by up to ± N semitones (0: off).
    #[arg(long, default_value_t = TrainConfig::default().transpose, value_name = "N")]
    transpose: u8,
    /// Stop after this many minutes of training, keeping the best model.
    #[arg(long)]
    max_minutes: Option<f64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Seed of the weights, windows and transpositions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `classify eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The classifier checkpoint.
    checkpoint: PathBuf,
    /// A folder with one subfolder of MIDI files per label.
    #[arg(long)]
    data: PathBuf,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = super::options::split())]
    split: Split,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
}

/// `classify predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// The classifier checkpoint.
    checkpoint: PathBuf,
    /// MIDI files to classify.
    #[arg(required = true)]
    midi: Vec<PathBuf>,
    /// Print one JSON array instead of text.
    #[arg(long)]
    json: bool,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Train(a) => train(*a),
        Command::Eval(a) => eval(a),
        Command::Predict(a) => predict(a),
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// The training bar; when it is hidden (stderr is not a terminal) each new validation is
/// written as a line instead.
struct TrainBar {
    bar: Reporter,
    last: std::sync::Mutex<String>,
}

impl cadenza::progress::Progress for TrainBar {
    fn update(&self, done: u64, total: u64, note: &str) {
        self.bar.update(done, total, note);
        if !self.bar.is_hidden() {
            return;
        }
        let valid = note.split(" | ").nth(1).unwrap_or_default();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if valid.starts_with("valid") && *last != valid {
            eprintln!("step {done}/{total}: {note}");
            *last = valid.to_string();
        }
    }
}

/// Read a labelled corpus with a progress bar, warning about skipped files.
fn load_set(data: &Path, roll: &RollConfig, split_key: SplitKey) -> anyhow::Result<LabelledSet> {
    let b = Reporter::new();
    let set = LabelledSet::load(data, roll, split_key, Some(&b));
    b.finish();
    let set = set?;
    if let Some(first) = set.skipped.first() {
        eprintln!(
            "warning: skipped {} unusable file(s) (first: {}: {})",
            set.skipped.len(),
            first.path.display(),
            first.reason
        );
    }
    Ok(set)
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let roll = RollConfig {
        steps_per_beat: a.steps_per_beat,
        pitch_min: a.pitch_min,
        pitch_max: a.pitch_max,
        window_beats: a.window_beats,
        sustain: !a.no_sustain,
    };
    let net = NetConfig { width: a.width, blocks: a.blocks, dropout: a.dropout };
    let cfg = TrainConfig {
        batch: a.batch,
        lr: a.lr,
        weight_decay: a.weight_decay,
        steps: a.steps,
        eval_every: a.eval_every,
        patience: a.patience,
        transpose: a.transpose,
        device: a.device.clone(),
        seed: a.seed,
        max_seconds: a.max_minutes.map(|m| m * 60.0),
        ..TrainConfig::default()
    };
    roll.validate()?;
    net.validate()?;
    cfg.validate()?;
    let device = parse_device(&cfg.device)?;
    let set = load_set(&a.data, &roll, a.split_key)?;
    let counts: Vec<String> =
        Split::ALL.iter().map(|&s| format!("{} {s}", set.counts(s).iter().sum::<usize>())).collect();
    eprintln!("labels: {}", label_counts(&set));
    let repeats = set.musical_duplicates();
    if repeats > 0 {
        eprintln!(
            "note: {repeats} piece(s) repeat the music of another (split by {}: {})",
            set.split_key,
            match set.split_key {
                SplitKey::Music => "each shares its original's split",
                SplitKey::FileBytes => "copies may straddle splits",
            }
        );
    }
    eprintln!(
        "pieces: {}; windows of {} beats x {} pitches; {} blocks from {} channels, on {device:?}",
        counts.join(", "),
        roll.window_beats,
        roll.pitches(),
        net.blocks,
        net.width
    );
    STOP.store(false, Ordering::SeqCst);
    if let Err(e) = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: keeping the best model so far (Ctrl-C again to quit at once)");
    }) {
        eprintln!("warning: cannot install the Ctrl-C handler ({e})");
    }
    let b = TrainBar { bar: Reporter::new(), last: Default::default() };
    let report = classify::train(
        &set,
        roll,
        net,
        &cfg,
        &a.out,
        classify::TrainOptions { stop: Some(&STOP), progress: Some(&b) },
    );
    b.bar.finish();
    let report = report?;
    println!("step  train_loss  valid_loss  window_acc  piece_acc  piece_macro_f1");
    for p in &report.history {
        println!(
            "{:>5}  {:>10.4}  {:>10.4}  {:>10.4}  {:>9.4}  {:>14.4}{}",
            p.step,
            p.train_loss,
            p.valid_loss,
            p.valid_window_accuracy,
            p.valid_piece_accuracy,
            p.valid_piece_macro_f1,
            if p.best { "  *" } else { "" }
        );
    }
    println!(
        "{} steps in {:.1} s ({:?}); best at step {}; {} parameters; wrote {}",
        report.steps,
        report.seconds,
        report.stopped,
        report.best_step,
        report.model.net.parameters(),
        a.out.display()
    );
    Ok(())
}

fn label_counts(set: &LabelledSet) -> String {
    let mut n = vec![0usize; set.labels.len()];
    for p in &set.pieces {
        n[p.label] += 1;
    }
    set.labels.iter().zip(n).map(|(l, n)| format!("{l} {n}")).collect::<Vec<_>>().join(", ")
}

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let device = parse_device(&a.device)?;
    let (model, header) = Classifier::load(&a.checkpoint, device)?;
    // The split the classifier was trained on (old checkpoints record none: file bytes).
    let split_key = header.corpus.as_ref().map_or_else(SplitKey::legacy, |c| c.split_key);
    let set = load_set(&a.data, &model.roll, split_key)?;
    let map = classify::label_map(&model, &set, &a.checkpoint)?;
    let e = classify::evaluate(&model, &set, a.split, &map)?;
    if a.json {
        let mut v = e.to_json();
        v["checkpoint"] = a.checkpoint.display().to_string().into();
        v["data"] = a.data.display().to_string().into();
        v["split"] = a.split.to_string().into();
        v["split_key"] = split_key.to_string().into();
        v["pieces"] = e.piece.total().into();
        v["windows"] = e.window.total().into();
        println!("{v}");
        return Ok(());
    }
    println!(
        "{} split (by {split_key}, as trained) of {}: {} pieces, {} windows",
        a.split,
        a.data.display(),
        e.piece.total(),
        e.window.total()
    );
    for (name, m) in [("piece", &e.piece), ("window", &e.window)] {
        println!("\n{name} level: accuracy {:.4}, macro-F1 {:.4}", m.accuracy(), m.macro_f1());
        print_scores(m);
    }
    println!("\npiece confusion (rows true, columns predicted):\n{}", e.piece.to_markdown());
    Ok(())
}

fn print_scores(m: &Confusion) {
    let w = m.labels.iter().map(String::len).max().unwrap_or(5).max(5);
    println!("  {:w$}  precision  recall      f1  support", "label");
    for (i, l) in m.labels.iter().enumerate() {
        let s = m.scores(i);
        println!("  {l:w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}", s.precision, s.recall, s.f1, s.support);
    }
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let device = parse_device(&a.device)?;
    let (model, _) = Classifier::load(&a.checkpoint, device)?;
    let mut out = Vec::new();
    for path in &a.midi {
        let roll = model.roll_of_file(path)?;
        if roll.notes.is_empty() {
            return Err(cadenza::Error::from(classify::ClassifyError::NoNotes { path: path.clone() }).into());
        }
        let probs = model.piece_probs(&roll)?;
        let best = classify::model::argmax(&probs);
        if a.json {
            let dist: serde_json::Map<String, serde_json::Value> =
                model.labels.iter().zip(&probs).map(|(l, p)| (l.clone(), (*p).into())).collect();
            out.push(serde_json::json!({
                "file": path.display().to_string(),
                "label": model.labels[best],
                "probs": dist,
                "windows": roll.window_starts(&model.roll).len(),
            }));
        } else {
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&x, &y| probs[y].total_cmp(&probs[x]));
            let dist: Vec<String> =
                order.iter().map(|&i| format!("{} {:.3}", model.labels[i], probs[i])).collect();
            println!("{}: {}  ({})", path.display(), model.labels[best], dist.join(", "));
        }
    }
    if a.json {
        println!("{}", serde_json::Value::Array(out));
    }
    Ok(())
}
