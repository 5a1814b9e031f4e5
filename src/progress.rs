//! How long work reports how far it got, without the library drawing anything: the command line
//! turns these reports into progress bars, a web page could stream them.

/// Receives progress reports: `done` of `total` steps, and what the work is doing now.
pub trait Progress: Sync {
    fn update(&self, done: u64, total: u64, note: &str);
}

/// Any `Fn(done, total, note)` closure reports progress.
impl<F: Fn(u64, u64, &str) + Sync> Progress for F {
    fn update(&self, done: u64, total: u64, note: &str) {
        self(done, total, note)
    }
}

/// Report to `progress`, if any.
pub(crate) fn report(progress: Option<&dyn Progress>, done: u64, total: u64, note: &str) {
    if let Some(p) = progress {
        p.update(done, total, note);
    }
}
