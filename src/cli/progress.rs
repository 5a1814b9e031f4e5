//! Progress bars for long work, in one style, drawing the library's progress reports.

use indicatif::ProgressBar;

/// A bar of `len` steps labelled `msg`.
pub fn bar(len: u64, msg: &'static str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(cadenza::corpus::progress_style());
    b.set_message(msg);
    b
}

/// A bar that draws the library's progress reports ([`cadenza::progress::Progress`]).
pub struct Bar(pub ProgressBar);

impl cadenza::progress::Progress for Bar {
    fn update(&self, done: u64, total: u64, note: &str) {
        self.0.set_length(total);
        self.0.set_position(done);
        self.0.set_message(note.to_string());
    }
}
