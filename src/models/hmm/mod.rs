//! The hmm generator (placeholder; see its work item).
