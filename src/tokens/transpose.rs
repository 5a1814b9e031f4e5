//! Transposition for data augmentation (placeholder; see the tokens work item).
