//! The harness's progress lines: `<prefix>: <topic>: <text>`, one whole
//! line per call (boots run in parallel, so lines interleave but never
//! mix), on stdout, or on stderr for a program whose stdout is its output
//! ([`to_stderr`]). The prefix names the program the harness runs in
//! (`xtask`, `probecc`); it is set once, by that program, with
//! [`set_prefix`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static PREFIX: OnceLock<String> = OnceLock::new();
static STDERR: AtomicBool = AtomicBool::new(false);

/// Sends the progress lines to stderr from now on.
pub fn to_stderr() {
    STDERR.store(true, Ordering::Relaxed);
}

/// Names the program in every progress line (first call wins).
pub fn set_prefix(prefix: &str) {
    let _ = PREFIX.set(prefix.to_string());
}

/// The program's name in progress lines (`harness` until one is set).
pub fn prefix() -> &'static str {
    PREFIX.get().map_or("harness", String::as_str)
}

/// Prints `<prefix>: <topic>: <text>` as one write.
pub fn say(topic: &str, text: &str) {
    line(&format!("{}: {topic}: {text}", prefix()));
}

/// Prints one whole progress line as one write.
pub fn line(text: &str) {
    let text = format!("{text}\n");
    if STDERR.load(Ordering::Relaxed) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}
