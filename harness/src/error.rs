//! The harness's errors: one [`Error`] type whose variants keep their
//! cause as a value (`source()`), so a caller prints the chain once
//! (`{:#}` through anyhow, or `probecc::error::chain`), and the
//! [`Context`] trait that names what was being done when something below
//! failed. The variants a caller may act on are their own: a missing tool
//! ([`Error::Missing`]) and a host that cannot fetch Debian packages
//! ([`Error::NoApt`], where `--kernel PATH` still works).

/// What went wrong in the harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sentence saying what went wrong, with no cause beneath it.
    #[error("{0}")]
    Failed(String),
    /// What was being done, and the error that stopped it.
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Tools or files the harness needs are missing: each named with the
    /// Debian package that provides it and how to install it.
    #[error("{0}")]
    Missing(String),
    /// Debian's packages cannot be fetched here (no apt, or no Debian
    /// archive among the host's apt sources); the sentence says that a
    /// kernel given with `--kernel PATH` needs no download.
    #[error("{0}")]
    NoApt(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The harness's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Names what was being done when an error happened (`anyhow`'s
/// `Context`, for the harness's [`Error`]): the error becomes the cause of
/// an [`Error::Context`]; a `None` becomes an [`Error::Failed`].
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            what: what.into(),
            source: Box::new(e),
        })
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            what: what().into(),
            source: Box::new(e),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.ok_or_else(|| Error::Failed(what.into()))
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.ok_or_else(|| Error::Failed(what().into()))
    }
}

impl Error {
    /// This error under `what` (the error becomes its cause).
    pub fn context(self, what: impl Into<String>) -> Error {
        Error::Context {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// Returns an [`Error::Failed`] with the formatted sentence.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Failed(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_cause_out_of_its_own_message() {
        let io = std::io::Error::other("disk full");
        let e = Err::<(), _>(io).context("writing report.json").unwrap_err();
        assert_eq!(e.to_string(), "writing report.json");
        assert_eq!(probecc::error::chain(&e), "writing report.json: disk full");
        let none: Option<u8> = None;
        assert_eq!(
            none.context("no kernel").unwrap_err().to_string(),
            "no kernel"
        );
    }
}
