//! `cadenza doctor`: what this build and this machine offer (libtorch, CUDA, SoundFont, audio,
//! MIDI ports, corpora), gathered without side effects.

use std::fmt;
use std::path::{Path, PathBuf};

/// Facts about the installation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub cadenza_version: String,
    /// `None` when built without the `lstm` feature.
    pub libtorch_version: Option<String>,
    pub cuda_available: bool,
    pub cuda_devices: usize,
    pub cudnn_available: bool,
    pub cpu_threads: usize,
    pub soundfont: Option<PathBuf>,
    /// ALSA PCM playback devices found under /dev/snd.
    pub audio_devices: Vec<String>,
    /// ALSA raw-MIDI / sequencer devices found under /dev/snd.
    pub midi_devices: Vec<String>,
    /// `(folder, MIDI files)` for each corpus under `corpora/`.
    pub corpora: Vec<(String, usize)>,
}

/// Where `play` and `doctor` look for a General MIDI SoundFont, in order.
pub const SOUNDFONT_PLACES: &[&str] = &[
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
];

/// The first SoundFont found: `$CADENZA_SOUNDFONT`, then [`SOUNDFONT_PLACES`].
pub fn find_soundfont() -> Option<PathBuf> {
    std::env::var_os("CADENZA_SOUNDFONT")
        .map(PathBuf::from)
        .into_iter()
        .chain(SOUNDFONT_PLACES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn snd_devices(pred: impl Fn(&str) -> bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/snd")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| pred(n))
        .collect();
    v.sort();
    v
}

/// Corpora under `dir`: each sub-folder with its number of MIDI files.
pub fn corpora_in(dir: &Path) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let n = crate::corpus::files::midi_files(&e.path()).map_or(0, |v| v.len());
            (e.path().display().to_string(), n)
        })
        .collect();
    out.sort();
    out
}

/// Gather the report; `corpora_dir` is usually `corpora`.
pub fn report(corpora_dir: &Path) -> Report {
    #[cfg(feature = "lstm")]
    let (libtorch_version, cuda_available, cuda_devices, cudnn_available) = (
        Some(env!("CADENZA_LIBTORCH_VERSION").to_string()),
        tch::Cuda::is_available(),
        tch::Cuda::device_count().max(0) as usize,
        tch::Cuda::cudnn_is_available(),
    );
    #[cfg(not(feature = "lstm"))]
    let (libtorch_version, cuda_available, cuda_devices, cudnn_available) = (None, false, 0, false);
    Report {
        cadenza_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version,
        cuda_available,
        cuda_devices,
        cudnn_available,
        cpu_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        soundfont: find_soundfont(),
        audio_devices: snd_devices(|n| n.starts_with("pcm") && n.ends_with('p')),
        midi_devices: snd_devices(|n| n.starts_with("midi") || n == "seq"),
        corpora: corpora_in(corpora_dir),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let list = |v: &[String]| if v.is_empty() { "none found".to_string() } else { v.join(", ") };
        writeln!(f, "cadenza      {}", self.cadenza_version)?;
        match &self.libtorch_version {
            Some(v) => writeln!(f, "libtorch     {v}")?,
            None => writeln!(f, "libtorch     not built in (feature `lstm` off)")?,
        }
        writeln!(
            f,
            "CUDA         {} ({} device{})",
            yes(self.cuda_available),
            self.cuda_devices,
            if self.cuda_devices == 1 { "" } else { "s" }
        )?;
        writeln!(f, "cuDNN        {}", yes(self.cudnn_available))?;
        writeln!(f, "CPU threads  {}", self.cpu_threads)?;
        match &self.soundfont {
            Some(p) => writeln!(f, "SoundFont    {}", p.display())?,
            None => {
                writeln!(f, "SoundFont    none found (install timgm6mb-soundfont or set CADENZA_SOUNDFONT)")?
            }
        }
        writeln!(f, "audio out    {}", list(&self.audio_devices))?;
        writeln!(f, "MIDI devices {}", list(&self.midi_devices))?;
        if self.corpora.is_empty() {
            writeln!(f, "corpora      none (run scripts/setup.sh)")?;
        }
        for (dir, n) in &self.corpora {
            writeln!(f, "corpus       {dir}: {n} MIDI files")?;
        }
        Ok(())
    }
}
