//! The library's error type: every failure names what it was working on and why it failed.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library. Each variant renders as one line that names the
/// file (where there is one) and the reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a valid (or not a usable) Standard MIDI File.
    #[error("{}: invalid MIDI file: {reason}", path.display())]
    InvalidMidi { path: PathBuf, reason: String },
    /// A checkpoint that cannot be loaded (truncated, corrupted, wrong kind, future version...).
    #[error("{}: bad checkpoint: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    /// A BPE file that cannot be used (unreadable, malformed, or for another tokenizer).
    #[error("{}: bad BPE file: {reason}", path.display())]
    BpeFile { path: PathBuf, reason: String },
    /// A corpus that cannot be used (no files, nothing readable, empty split...).
    #[error("{}: {reason}", path.display())]
    Corpus { path: PathBuf, reason: String },
    /// A tokenizer configuration that makes no sense, or two configurations that disagree.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A model given inputs or options it cannot work with.
    #[error("model: {0}")]
    Model(String),
    /// A playback failure (audio device, MIDI port, SoundFont, bad option), about `subject`.
    #[error("{subject}: {reason}")]
    Play { subject: String, reason: String },
    /// A style classifier's data, options or use (see [`crate::classify`]).
    #[cfg(feature = "lstm")]
    #[error(transparent)]
    Classify(#[from] crate::classify::ClassifyError),
    /// A failure inside libtorch.
    #[cfg(feature = "lstm")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Error {
    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// An invalid-MIDI error for `path`.
    pub fn invalid_midi(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::InvalidMidi { path: path.into(), reason: reason.into() }
    }
}
