//! The lstm generator (placeholder; see its work item).
