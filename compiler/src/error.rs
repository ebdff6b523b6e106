//! Library errors where they turn into text. Errors here carry their
//! causes as values (`source()`), and their own message leaves the cause
//! out, so that `anyhow`'s `{:#}` at a binary's edge prints each once; where
//! an error becomes one line of text inside a library (a diagnostic, a
//! runner's message), [`chain`] joins it with its causes the same way.

use std::error::Error;

/// `error: cause: cause of the cause`, as `anyhow` prints `{:#}`.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Whether `error` or one of its causes is an `E`: how a caller asks what
/// kind of failure an error stands for.
pub fn caused_by<E: Error + 'static>(error: &(dyn Error + 'static)) -> bool {
    std::iter::successors(Some(error), |&e| e.source()).any(|e| e.is::<E>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_are_joined_and_found() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&e), "outer: inner");
        assert!(caused_by::<std::io::Error>(&e));
        assert!(caused_by::<Outer>(&e));
        assert!(!caused_by::<std::fmt::Error>(&e));
    }
}
