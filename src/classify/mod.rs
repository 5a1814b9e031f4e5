//! Style recognition: a small CNN that tells which label (composer, style, collection) a piece
//! belongs to, from piano-roll windows (feature `lstm`: it runs on libtorch).
//!
//! - [`roll`]: pieces on the canonical beats grid as piano rolls; windows with a sounding and an
//!   onset channel, optionally transposed.
//! - [`data`]: labelled corpora (one subfolder per label), split per piece by content hash;
//!   class-balanced batches of random windows.
//! - [`net`]: the network (conv blocks, pooling, linear).
//! - [`model`]: [`Classifier`] (labels + roll settings + network), distributions of windows,
//!   pieces and files, checkpoints of kind [`crate::models::ModelKind::Classifier`].
//! - [`train`]: the training loop (AdamW, early stopping on the valid split).
//! - [`eval`]: window- and piece-level scores of a split; [`metrics`] the confusion matrix,
//!   precision, recall, F1 and macro-F1.
//! - [`error`]: the failures ([`ClassifyError`]).

pub mod data;
pub mod error;
pub mod eval;
pub mod metrics;
pub mod model;
pub mod net;
pub mod roll;
pub mod train;

pub use data::{Batcher, LabelledPiece, LabelledSet};
pub use error::ClassifyError;
pub use eval::{evaluate, label_map, Evaluation, PieceVerdict};
pub use metrics::{Confusion, LabelScores};
pub use model::Classifier;
pub use net::NetConfig;
pub use roll::{Roll, RollConfig};
pub use train::{train, StopReason, TrainConfig, TrainOptions, TrainReport, ValidPoint};
