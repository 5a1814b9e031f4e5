//! `cadenza live`: answer a player on a MIDI keyboard, phrase by phrase, on the beat, or play
//! along under them bar by bar. A thin layer over [`cadenza::live`] and the ports of [`cadenza::play::live_ports`].

use std::path::PathBuf;

use super::options::{GuardArgs, SamplingArgs};

/// Listen on a MIDI input port and answer each phrase the player plays, on the beat, through
/// a MIDI output port. Once every key has been up for --wait seconds, the model continues what
/// was played for --answer-beats beats at the player's tempo; the answer is sampled as soon as
/// the keys go up, so it starts on time. Playing again interrupts the answer (its notes are
/// released at once). With --mode accompany, it plays bar by bar under the player instead
/// (below the lowest note they played in the last bar), from the tempo of their first notes
/// (or --bpm), until they stop for a bar. Ctrl-C ends the session, every note released.
///
/// With JACK (`jack:` names), cadenza registers `cadenza:in` and `cadenza:out` and connects
/// them to the ports named; otherwise both are ALSA ports.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint that answers (any model kind on the beats grid).
    #[arg(required_unless_present = "list_ports")]
    checkpoint: Option<PathBuf>,
    /// The port the player's keyboard sends to (see --list-ports): `jack:NAME`, or an ALSA
    /// port's index or (part of) its name.
    #[arg(long = "in", value_name = "PORT", required_unless_present = "list_ports")]
    input: Option<String>,
    /// The port the answers go to (a synth): `jack:NAME` or an ALSA port, as `play --port`.
    #[arg(long = "out", value_name = "PORT", required_unless_present = "list_ports")]
    output: Option<String>,
    /// List the ports the session can listen to, and exit (`play --list-ports` lists outputs).
    #[arg(long)]
    list_ports: bool,
    /// Seconds of silence (every key up) after which the phrase is answered; the answer
    /// starts on the first beat after it.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    wait: f64,
    /// Length of each answer, in beats; accompanying, of a bar (the player's first note is a
    /// downbeat) [default: 8 answering, 4 accompanying].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    answer_beats: Option<u32>,
    /// Sample each answer in parts of N beats, each part played while the next is sampled (a
    /// slow model then starts on time) [default: parts only when the model, timed before the
    /// session, could not sample a whole answer within the wait; N = --answer-beats: never].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    part_beats: Option<u32>,
    /// Beats of the session before the answer that the model reads (N to 1.5 N: the start moves
    /// by N / 2 beats at a time, so that a network keeps its state from one answer to the next).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    context_beats: u32,
    /// The player's tempo in quarter notes a minute [default: estimated from each phrase].
    #[arg(long, value_name = "BPM")]
    bpm: Option<f64>,
    /// How the model plays along: `answer` (call and response) or `accompany` (bar by bar
    /// under the player).
    #[arg(long, default_value = "answer", value_parser = ["answer", "accompany"])]
    mode: String,
    /// MIDI channel of the answers, 1-16.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    channel: u8,
    /// End after this many answers (accompanying: bars) have played in full (default: at
    /// Ctrl-C).
    #[arg(long, value_name = "N")]
    max_answers: Option<usize>,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Let answers leave the session's key: by default every note the model writes is on the
    /// scale of the key the key finder hears in the context (a minor key's raised seventh too).
    #[arg(long)]
    chromatic: bool,
    /// Let answers open and close anywhere in the key: by default an answer's first notes and
    /// the notes starting in its last beat are of the key's tonic chord (a cadence). Accompanying
    /// never does this.
    #[arg(long)]
    no_cadence: bool,
    /// How much more likely the notes of the key's tonic chord are in an answer than the model
    /// has them (1: as the model has them; not when accompanying).
    #[arg(long, value_name = "W", default_value_t = cadenza::live::answer::DEFAULT_TONIC_WEIGHT)]
    tonic_weight: f64,
    /// Answers sampled (in one batch) for each one played: the one that fits the session's key
    /// best is played [default: 4, or up to 16 for a model quick enough to sample them within
    /// the wait].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..=64))]
    candidates: Option<u16>,
    /// Answer in this key (a key-relative checkpoint; see `generate --key`).
    #[arg(long, value_name = "KEY", value_parser = super::options::parse_key)]
    key: Option<cadenza::key::Key>,
    /// Device for LSTM and Transformer checkpoints: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Threads an LSTM or Transformer samples with on the CPU (an answer is many small steps:
    /// one thread keeps them on time when other programs are busy; more may help a large model
    /// on an idle machine).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    #[command(flatten)]
    guard: GuardArgs,
    /// With --max-copy: the corpus folder whose training split answers may not copy
    /// [default: the one the checkpoint records].
    #[arg(long, value_name = "DIR", requires = "max_copy")]
    corpus: Option<PathBuf>,
}

#[cfg(feature = "audio")]
pub fn run(args: Args) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use cadenza::live::{AnswerOptions, LiveRequest, Mode, SessionOptions};

    if args.list_ports {
        print!("{}", cadenza::play::live_ports::describe_sources());
        return Ok(());
    }
    let (Some(checkpoint), Some(input), Some(output)) = (args.checkpoint, args.input, args.output) else {
        anyhow::bail!("a checkpoint, --in and --out are needed");
    };
    let mode: Mode = args.mode.parse()?;
    let beats = args.answer_beats.unwrap_or(if mode == Mode::Accompany { 4 } else { 8 });
    let request = LiveRequest {
        checkpoint,
        device: args.device,
        answer: AnswerOptions {
            context_beats: args.context_beats,
            sampler: args.sampling.sampler(),
            rng_seed: args.sampling.rng_seed,
            key: args.key,
            keep_key: !args.chromatic,
            cadence: !args.no_cadence,
            tonic_weight: args.tonic_weight,
            candidates: args.candidates.map_or(cadenza::live::answer::DEFAULT_CANDIDATES, usize::from),
            ..AnswerOptions::default()
        },
        session: SessionOptions {
            mode,
            beats,
            wait: args.wait,
            bpm: args.bpm,
            channel: args.channel - 1,
            max_answers: args.max_answers,
            expected_sampling: 0.0,
            part_beats: args.part_beats,
        },
        guard: args.guard.guard(),
        copy_corpus: args.corpus,
        auto_candidates: args.candidates.is_none(),
        cpu_threads: Some(usize::from(args.threads)),
    };
    // The model first: a bad checkpoint or option is said before any port is touched.
    let prepared = cadenza::live::prepare(&request)?;
    let ports = cadenza::play::live_ports::open(&input, &output)?;
    let stop = Arc::new(AtomicBool::new(false));
    let theirs = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || {
        if theirs.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    }) {
        eprintln!("warning: cannot install the Ctrl-C handler ({e})");
    }
    let doing = if mode == Mode::Accompany { "accompanying" } else { "answering" };
    let mut parts = match prepared.part_beats() {
        Some(p) if mode == Mode::Answer && p < beats => format!(", answers in parts of {p} beats"),
        _ => String::new(),
    };
    if mode == Mode::Answer && args.candidates.is_none() {
        parts += &format!(", each chosen from {} candidates", prepared.candidates());
    }
    eprintln!("listening on {input}, {doing} on {output}{parts} (Ctrl-C to end)");
    let summary = prepared.serve(&ports.input, ports.sink, &stop, &mut |r| {
        if mode == Mode::Accompany {
            println!(
                "bar {}: {} notes under {} played at {:.1} bpm, sampled in {:.0} ms, {:.0} ms before the bar",
                r.index + 1,
                r.notes,
                r.phrase_notes,
                r.bpm,
                r.sampling * 1e3,
                (r.due_after - r.ready_after) * 1e3
            );
            return;
        }
        if r.part > 0 {
            println!(
                "answer {} part {} of {}: {} notes, sampled in {:.0} ms, ready {:.0} ms before its first beat{}",
                r.index + 1,
                r.part + 1,
                r.parts,
                r.notes,
                r.sampling * 1e3,
                (r.due_after - r.ready_after) * 1e3,
                match r.moved_beats {
                    0 => String::new(),
                    n => format!(" (late: the rest moved by {n} beats)"),
                }
            );
            return;
        }
        println!(
            "answer {}: {} notes to a phrase of {} at {:.1} bpm, sampled in {:.0} ms, ready {:.0} ms after \
             the keys went up, first beat at {:.0} ms",
            r.index + 1,
            r.notes,
            r.phrase_notes,
            r.bpm,
            r.sampling * 1e3,
            r.ready_after * 1e3,
            r.due_after * 1e3
        );
    })?;
    if mode == Mode::Accompany {
        eprintln!(
            "{} bars: {} played in full, {} notes dropped (ready too late)",
            summary.answered, summary.played, summary.withdrawn
        );
    } else {
        eprintln!(
            "{} answers: {} played in full, {} interrupted, {} withdrawn (the player went on)",
            summary.answered, summary.played, summary.interrupted, summary.withdrawn
        );
    }
    Ok(())
}

#[cfg(not(feature = "audio"))]
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "this cadenza was built without the `audio` feature; rebuild with `--features audio` for live"
    )
}
