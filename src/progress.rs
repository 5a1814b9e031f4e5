//! How long work reports how far it got, without the library drawing anything: the command line
//! turns these reports into progress bars, a web page could stream them.

/// Receives progress reports: `done` of `total` steps, and what the work is doing now.
pub trait Progress: Sync {
    fn update(&self, done: u64, total: u64, note: &str);

    /// A line worth keeping once the bar moves on (a finished epoch, a measured figure).
    /// Ignored unless the receiver shows it.
    fn message(&self, _line: &str) {}

    /// Polled by work that can stop early and cleanly (LSTM training checkpoints its state and
    /// returns): `true` asks it to stop.
    fn should_stop(&self) -> bool {
        false
    }
}

/// A receiver shared by reference counting, for options that are cloned and printed (playback
/// and rendering options).
#[derive(Clone)]
pub struct SharedProgress(pub std::sync::Arc<dyn Progress + Send>);

/// Two handles are equal when they share one receiver.
impl PartialEq for SharedProgress {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for SharedProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedProgress(..)")
    }
}

/// A receiver that ignores every report.
pub struct Silent;

impl Progress for Silent {
    fn update(&self, _done: u64, _total: u64, _note: &str) {}
}

/// Any `Fn(done, total, note)` closure reports progress.
impl<F: Fn(u64, u64, &str) + Sync> Progress for F {
    fn update(&self, done: u64, total: u64, note: &str) {
        self(done, total, note)
    }
}

/// Pass a message to `progress`, if any.
#[cfg_attr(not(feature = "lstm"), allow(dead_code))]
pub(crate) fn message(progress: Option<&dyn Progress>, line: &str) {
    if let Some(p) = progress {
        p.message(line);
    }
}

/// Report to `progress`, if any.
pub(crate) fn report(progress: Option<&dyn Progress>, done: u64, total: u64, note: &str) {
    if let Some(p) = progress {
        p.update(done, total, note);
    }
}
