//! Run a device probe with the process's stderr silenced. ALSA (under cpal and midir) writes
//! pages of diagnostics straight to file descriptor 2 when there is no sound card or sequencer;
//! the caller reports the failure in one line of its own instead.

/// Run `f` with file descriptor 2 pointed at `/dev/null`, then restore it. On other platforms,
/// or if the redirection cannot be set up, `f` simply runs.
#[cfg(unix)]
pub(crate) fn without_stderr<R>(f: impl FnOnce() -> R) -> R {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    let _ = std::io::stderr().flush();
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return f();
    };
    // SAFETY: dup/dup2/close on valid descriptors (2, the one dup returned, and `null`, which
    // stays open until after the dup2 that uses it); no Rust object owns descriptor 2's target.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 {
        return f();
    }
    if unsafe { libc::dup2(null.as_raw_fd(), 2) } < 0 {
        unsafe { libc::close(saved) };
        return f();
    }
    let result = f();
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    result
}

/// Run `f` (stderr is left alone on this platform).
#[cfg(not(unix))]
pub(crate) fn without_stderr<R>(f: impl FnOnce() -> R) -> R {
    f()
}
