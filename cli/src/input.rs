//! Bad input as a type: every file the command line names (specs, objects,
//! manifests, event files, kernel BTF, symbol lists) is read here, and
//! whatever goes wrong with it, or with arguments that contradict it or each
//! other, is a [`BadInput`]. `main` exits with status 2 exactly when the
//! error is one, so the exit status follows from where an error came from,
//! not from a list of library error types.

use std::error::Error;
use std::path::{Path, PathBuf};

use probecc::btf::kernel::KernelBtf;
use probecc::lang::manifest::Manifest;

use crate::plural;

/// Input the user gave that cannot be used. Its message names the file (or
/// the argument) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum BadInput {
    /// A file was missing, unreadable or malformed: `context` names it and
    /// what was being done with it ("reading x.o", "--btf vmlinux").
    #[error("{context}")]
    File {
        context: String,
        #[source]
        source: Box<dyn Error + Send + Sync + 'static>,
    },
    /// The spec has compile errors; they were printed already.
    #[error("{} in {file}", plural(*count, "error"))]
    Spec { file: String, count: usize },
    /// A file contradicts an argument or another file (an s390x manifest
    /// beside a little-endian object, `--arch` naming another arch).
    #[error("{}: {problem}", path.display())]
    Contradiction { path: PathBuf, problem: String },
    /// Arguments that cannot go together.
    #[error("{0}")]
    Arguments(String),
}

impl BadInput {
    /// `source` went wrong with the file `context` names.
    pub fn file(
        context: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync + 'static>>,
    ) -> BadInput {
        BadInput::File {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// "reading PATH": the context of a file that could not be read or parsed.
pub fn reading(path: &Path) -> String {
    format!("reading {}", path.display())
}

/// The bytes of `path`.
pub fn bytes(path: &Path) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| BadInput::file(reading(path), e))
}

/// The text of `path`.
pub fn text(path: &Path) -> Result<String, BadInput> {
    std::fs::read_to_string(path).map_err(|e| BadInput::file(reading(path), e))
}

/// The function symbols of a `System.map` or `/proc/kallsyms` copy.
pub fn symbols(path: &Path) -> Result<Vec<String>, BadInput> {
    probecc::symbols::parse(&text(path)?)
        .map_err(|e| BadInput::file(format!("reading symbols from {}", path.display()), e))
}

/// Kernel types: raw BTF or an ELF with `.BTF`, named by `--btf`.
pub fn kernel_btf(path: &Path) -> Result<KernelBtf, BadInput> {
    KernelBtf::from_file(path).map_err(|e| BadInput::file(format!("--btf {}", path.display()), e))
}

/// The manifest `probecc build` writes beside `NAME.o`: `NAME.manifest.json`.
pub fn manifest_path(object: &Path) -> PathBuf {
    object.with_extension("manifest.json")
}

/// A manifest's JSON text and what it says.
pub fn manifest(path: &Path) -> Result<(String, Manifest), BadInput> {
    let json = text(path)?;
    let manifest = Manifest::from_json(&json).map_err(|e| BadInput::file(reading(path), e))?;
    Ok((json, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let e = anyhow::Error::from(bytes(Path::new("/nonexistent/x.o")).unwrap_err());
        let text = format!("{e:#}");
        assert!(text.starts_with("reading /nonexistent/x.o: "), "{text}");
        assert!(text.contains("No such file"), "{text}");
        let e = anyhow::Error::from(kernel_btf(Path::new("Cargo.toml")).unwrap_err());
        let text = format!("{e:#}");
        assert!(text.starts_with("--btf Cargo.toml: "), "{text}");
        assert!(text.contains("BTF magic"), "{text}");
    }

    #[test]
    fn a_manifest_sits_beside_its_object() {
        assert_eq!(
            manifest_path(Path::new("out/vfs.o")),
            Path::new("out/vfs.manifest.json")
        );
    }
}
