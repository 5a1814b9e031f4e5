//! `cadenza studio`: serve the local web page and JSON API of [`cadenza::studio`] (generate from
//! a checkpoints folder, piano rolls, audio, blind listening tests with votes in SQLite).

use std::net::IpAddr;
use std::path::PathBuf;

/// Serve a local web page and JSON API to generate, listen and run blind listening tests.
#[derive(Debug, clap::Args)]
#[cfg_attr(not(feature = "studio"), allow(dead_code))]
pub struct Args {
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind. The default is loopback only; anything else exposes the studio (which
    /// has no authentication) to the network.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Folder of checkpoints to offer.
    #[arg(long, default_value = "checkpoints")]
    checkpoints: PathBuf,
    /// Folder for generated samples and uploaded seeds.
    #[arg(long, default_value = "studio")]
    data: PathBuf,
    /// SQLite database of the listening test's votes [default: DATA/votes.sqlite].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Corpus whose pieces can seed generation and whose test pieces can be the real side of a
    /// listening trial.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// SoundFont (.sf2) for WAV rendering [default: $CADENZA_SOUNDFONT, else the first found].
    #[arg(long)]
    soundfont: Option<PathBuf>,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Threads answering requests.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Checkpoints kept loaded between requests (least recently used dropped first).
    #[arg(long, default_value_t = 4)]
    cached_models: usize,
}

#[cfg(feature = "studio")]
pub fn run(args: Args) -> anyhow::Result<()> {
    use cadenza::studio::{Config, Server};
    use std::io::Write;

    if !args.checkpoints.is_dir() {
        anyhow::bail!("{}: not a folder of checkpoints", args.checkpoints.display());
    }
    let config = Config {
        bind: args.bind,
        port: args.port,
        checkpoints: args.checkpoints,
        db: args.db.unwrap_or_else(|| args.data.join("votes.sqlite")),
        data: args.data,
        corpus: args.corpus,
        soundfont: args.soundfont,
        device: args.device,
        threads: args.threads,
        cached_models: args.cached_models,
    };
    if !config.bind.is_loopback() {
        eprintln!(
            "warning: binding {}: the studio has no authentication and is now reachable from the network",
            config.bind
        );
    }
    let server = Server::bind(config)?;
    if let Some(addr) = server.addr() {
        println!("studio: http://{addr}/");
        std::io::stdout().flush()?;
    }
    server.run()?;
    Ok(())
}

#[cfg(not(feature = "studio"))]
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("this cadenza was built without the `studio` feature; rebuild with `--features studio`")
}
