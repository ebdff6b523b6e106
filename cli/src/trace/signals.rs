//! The signals that end a trace: `SIGINT` (Ctrl-C) and `SIGTERM` ask it to
//! stop (their handler sets a flag), `SIGCHLD` says the traced command may
//! have exited (its handler does nothing). Handled, and without
//! `SA_RESTART`, each also ends the `poll(2)` the trace waits in, so the
//! trace sees it at once.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Only to end a `poll(2)`: an ignored `SIGCHLD` would not.
extern "C" fn on_child(_: libc::c_int) {}

fn handle(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a handler that only stores to an
    // atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// Installs the handlers.
pub fn install() {
    handle(libc::SIGINT, on_stop);
    handle(libc::SIGTERM, on_stop);
    handle(libc::SIGCHLD, on_child);
}

/// Whether `SIGINT` or `SIGTERM` came.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_asks_to_stop_and_sigchld_ends_a_poll() {
        install();
        let start = std::time::Instant::now();
        let me = unsafe { libc::pthread_self() };
        let poke = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            // SAFETY: SIGCHLD to the polling thread, whose handler is installed.
            unsafe { libc::pthread_kill(me, libc::SIGCHLD) };
        });
        // SAFETY: a poll of no descriptors: a sleep that a signal ends.
        let r = unsafe { libc::poll(std::ptr::null_mut(), 0, 10_000) };
        poke.join().unwrap();
        assert_eq!(r, -1, "interrupted");
        assert!(start.elapsed().as_secs() < 5);
        assert!(!stop_requested());
        // SAFETY: SIGTERM at ourselves runs the handler above.
        unsafe { libc::raise(libc::SIGTERM) };
        assert!(stop_requested());
    }
}
