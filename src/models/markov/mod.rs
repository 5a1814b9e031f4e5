//! The markov generator (placeholder; see its work item).
