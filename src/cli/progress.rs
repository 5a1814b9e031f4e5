//! Progress bars for long work, in one style.

use indicatif::ProgressBar;

/// A bar of `len` steps labelled `msg`.
pub fn bar(len: u64, msg: &'static str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(cadenza::corpus::progress_style());
    b.set_message(msg);
    b
}
