//! What can go wrong while building, training or using a style classifier. Every variant names
//! the folder, file or label it is about and why it failed, on one line.

use std::path::PathBuf;

/// The classifier's failures (wrapped as [`crate::Error::Classify`]).
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// A data folder with fewer than two label subfolders.
    #[error(
        "{}: a labelled corpus needs at least two label folders (subfolders holding MIDI files), found {found}{}",
        path.display(),
        if labels.is_empty() { String::new() } else { format!(" ({})", labels.join(", ")) }
    )]
    TooFewLabels { path: PathBuf, found: usize, labels: Vec<String> },
    /// A label subfolder without any MIDI file.
    #[error("{}: label folder `{label}` holds no MIDI files (.mid, .midi)", path.display())]
    EmptyLabel { path: PathBuf, label: String },
    /// A label subfolder whose MIDI files are all unusable.
    #[error("{}: none of the {files} MIDI file(s) of label `{label}` is usable (first: {first})", path.display())]
    NothingReadable { path: PathBuf, label: String, files: usize, first: String },
    /// A label with no piece in a split that needs one (training needs every label).
    #[error("{}: label `{label}` has no piece in the {split} split ({pieces} readable pieces in all)", path.display())]
    EmptySplit { path: PathBuf, label: String, split: String, pieces: usize },
    /// No piece at all in the split asked for.
    #[error("{}: the {split} split holds no piece", path.display())]
    NoPieces { path: PathBuf, split: String },
    /// Data with a label the checkpoint's classifier does not know.
    #[error(
        "{}: label `{label}` of {} is unknown to this classifier (it knows {})",
        checkpoint.display(),
        data.display(),
        known.join(", ")
    )]
    UnknownLabel { checkpoint: PathBuf, data: PathBuf, label: String, known: Vec<String> },
    /// Options that cannot work (window of zero beats, empty pitch range...).
    #[error("classifier: {0}")]
    Options(String),
    /// Training produced a non-finite loss.
    #[error("classifier: training diverged at step {step} (loss {loss}); try a lower learning rate")]
    Diverged { step: u64, loss: f64 },
}
