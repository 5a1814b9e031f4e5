//! What can go wrong while building, training or using a style classifier: [`ClassifyError`],
//! defined with the crate's other error causes in [`crate::error`] (the root of the module graph)
//! and re-exported here. Every variant names the folder, file or label it is about and why it
//! failed, on one line.

pub use crate::error::ClassifyError;
