//! `cadenza play FILE.mid`: hear a MIDI file through a MIDI port, the built-in SoundFont synth,
//! or render it to a WAV file. A thin layer over [`cadenza::play`].

use std::path::PathBuf;
use std::sync::Arc;

use super::progress::Reporter;
use cadenza::progress::SharedProgress;

/// Play a MIDI file: through a MIDI output port (--port), the built-in SoundFont synth on the
/// speakers (the default), or rendered offline into a WAV file (--wav).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MIDI file to play.
    #[arg(required_unless_present = "list_ports")]
    pub file: Option<PathBuf>,
    /// Play through this MIDI output port: its index or (part of) its name (see --list-ports).
    #[arg(long, value_name = "NAME|INDEX", conflicts_with = "wav")]
    pub port: Option<String>,
    /// List the MIDI output ports and exit.
    #[arg(long)]
    pub list_ports: bool,
    /// Render into this WAV file (44.1 kHz, 16-bit stereo), faster than real time, instead of
    /// playing.
    #[arg(long, value_name = "OUT.wav")]
    pub wav: Option<PathBuf>,
    /// SoundFont (.sf2) for the built-in synth [default: $CADENZA_SOUNDFONT, else the first
    /// General MIDI SoundFont found in the usual places].
    #[arg(long, value_name = "PATH")]
    pub soundfont: Option<PathBuf>,
    /// Tempo factor: 2 plays twice as fast, 0.5 half as fast.
    #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = positive)]
    pub speed: f64,
    /// Seconds of release after the last note, for notes and reverb to ring out.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.5, value_parser = tail_seconds)]
    pub tail: f64,
    /// Do not show the progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn tail_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=600.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 600")),
    }
}

#[cfg(feature = "audio")]
pub fn run(args: Args) -> anyhow::Result<()> {
    use cadenza::play::{play_file, ports, Output, PlayOptions, PlayOutcome};

    if args.list_ports {
        print!("{}", ports::describe_ports());
        return Ok(());
    }
    let file = args.file.ok_or_else(|| anyhow::anyhow!("no MIDI file given"))?;
    let output = match (args.port, args.wav) {
        (Some(port), _) => Output::Port(port),
        (None, Some(wav)) => Output::Wav(wav),
        (None, None) => Output::Auto,
    };
    let opts = PlayOptions {
        output,
        soundfont: args.soundfont,
        speed: args.speed,
        tail: args.tail,
        progress: (!args.quiet).then(|| SharedProgress(Arc::new(Reporter::clock()))),
    };
    match play_file(&file, &opts)? {
        PlayOutcome::Rendered { path, seconds, tail } => {
            eprintln!("wrote {} ({seconds:.1} s of music + {tail:.1} s tail)", path.display());
        }
        PlayOutcome::Stopped { .. } => eprintln!("stopped"),
        PlayOutcome::Finished { .. } => {}
    }
    Ok(())
}

#[cfg(not(feature = "audio"))]
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "this cadenza was built without the `audio` feature; rebuild with `--features audio` to play MIDI"
    )
}
