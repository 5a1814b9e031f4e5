//! Progress bars for long work, in one style, drawing the library's progress reports.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// The progress-bar look shared by every long job.
pub fn style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
        .expect("valid template")
        .progress_chars("=> ")
}

/// Draws the library's progress reports ([`cadenza::progress::Progress`]) as one bar on stderr
/// (hidden when stderr is not a terminal), prints its messages above the bar, and asks work to
/// stop once `stop` is set.
pub struct Reporter {
    bar: ProgressBar,
    stop: Option<&'static AtomicBool>,
}

impl Reporter {
    pub fn new() -> Self {
        Reporter::stopping_on(None)
    }

    /// A reporter that asks work to stop when `flag` is set (by a Ctrl-C handler).
    #[cfg(feature = "lstm")]
    pub fn with_stop(flag: &'static AtomicBool) -> Self {
        Reporter::stopping_on(Some(flag))
    }

    /// A bar for playback: the library's note (`name m:ss / m:ss`) beside the bar.
    pub fn clock() -> Self {
        let r = Reporter::new();
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}]") {
            r.bar.set_style(style.progress_chars("=> "));
        }
        r
    }

    fn stopping_on(stop: Option<&'static AtomicBool>) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(style());
        Reporter { bar, stop }
    }

    /// Whether the bar is hidden (stderr is not a terminal).
    #[cfg(feature = "lstm")]
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Remove the bar (before printing results).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl cadenza::progress::Progress for Reporter {
    fn update(&self, done: u64, total: u64, note: &str) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(note.to_string());
    }

    fn message(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
