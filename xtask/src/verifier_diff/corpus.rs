//! The hand-written half of the corpus: `fixtures/verifier/*.c` (naked
//! functions of BPF assembly, one file per rule) and
//! `fixtures/verifier/clang/*.c` (C as kprobe authors write it, one file per
//! construct clang emits: global data, callbacks, global functions, tail
//! calls, call chains), each cut at its `// program: NAME` lines. Each
//! program is compiled on its own (the file's prelude, then the program,
//! with `#line` directives so that the object's line info names the corpus
//! file) by clang into an object with exactly one kprobe program, so that a
//! loader's verdict is the program's. A `// cflags: ...` line in a file's
//! prelude adds clang options (`-mcpu=v3` for 32-bit jumps).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use probecc::arch::Arch;

use super::Entry;

/// The marker that starts a program; the rest of the line is its name, which
/// is also its function symbol.
pub const MARKER: &str = "// program: ";

/// One program cut out of a corpus file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub name: String,
    /// 1-based line of the marker.
    pub line: usize,
    /// From the marker up to the next marker or the end of the file.
    pub text: String,
}

/// Splits a corpus file into its prelude (everything before the first
/// marker) and its programs.
pub fn split(text: &str) -> Result<(String, Vec<Chunk>)> {
    let mut prelude = String::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix(MARKER) {
            let name = name.trim();
            ensure!(
                is_ident(name),
                "line {}: `{name}` is not a C identifier",
                i + 1
            );
            ensure!(
                chunks.iter().all(|c| c.name != name),
                "line {}: program `{name}` is defined twice",
                i + 1
            );
            chunks.push(Chunk {
                name: name.to_string(),
                line: i + 1,
                text: String::new(),
            });
        }
        let target = match chunks.last_mut() {
            Some(c) => &mut c.text,
            None => &mut prelude,
        };
        target.push_str(line);
        target.push('\n');
    }
    Ok((prelude, chunks))
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The C source of one program: the prelude and the program, each placed at
/// its own lines of `file` (the path the object's line info will show).
pub fn program_source(file: &str, prelude: &str, chunk: &Chunk) -> String {
    format!(
        "#line 1 \"{file}\"\n{prelude}#line {} \"{file}\"\n{}",
        chunk.line, chunk.text
    )
}

/// The marker of extra clang options in a file's prelude.
pub const CFLAGS: &str = "// cflags: ";

/// The clang options a prelude's `// cflags:` lines add.
pub fn cflags(prelude: &str) -> Vec<String> {
    prelude
        .lines()
        .filter_map(|l| l.strip_prefix(CFLAGS))
        .flat_map(|l| l.split_whitespace().map(str::to_string))
        .collect()
}

/// The corpus files, sorted: every `*.c` of `dir`, then of `dir/clang`.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for d in [dir.to_path_buf(), dir.join("clang")] {
        if !d.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "c") {
                files.push(path);
            }
        }
        files.sort();
        all.extend(files);
    }
    Ok(all)
}

/// Compiles every program of every corpus file in `dir` for `arch`'s byte
/// order into `out/obj/<rule>/<name>.o` (sources in `out/src/<rule>/`), two
/// clang processes at a time. `only` keeps the programs whose name contains it.
pub fn build(dir: &Path, out: &Path, only: Option<&str>, arch: Arch) -> Result<Vec<Entry>> {
    let target = match arch.endian() {
        probecc::endian::Endian::Little => "bpfel",
        probecc::endian::Endian::Big => "bpfeb",
    };
    let root = crate::workspace_root();
    let mut jobs = Vec::new();
    for file in files(dir)? {
        let rule = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .with_extension("")
            .to_str()
            .context("corpus file name")?
            .to_string();
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let (prelude, chunks) = split(&text).with_context(|| rel.clone())?;
        let flags = cflags(&prelude);
        let src_dir = out.join("src").join(&rule);
        let obj_dir = out.join("obj").join(&rule);
        std::fs::create_dir_all(&src_dir)?;
        std::fs::create_dir_all(&obj_dir)?;
        for chunk in chunks {
            if only.is_some_and(|o| !chunk.name.contains(o)) {
                continue;
            }
            let src = src_dir.join(format!("{}.c", chunk.name));
            std::fs::write(&src, program_source(&rel, &prelude, &chunk))?;
            jobs.push(Job {
                target,
                flags: flags.clone(),
                origin: format!("{rel}:{}", chunk.line),
                obj: obj_dir.join(format!("{}.o", chunk.name)),
                name: chunk.name,
                rule: rule.clone(),
                src,
            });
        }
    }
    let include = dir.to_path_buf();
    let results: Vec<Result<Entry>> = std::thread::scope(|s| {
        let halves: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(2).max(1))
            .map(|part| {
                let include = &include;
                s.spawn(move || part.iter().map(|j| compile(j, include)).collect::<Vec<_>>())
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(_) => vec![Err(anyhow::anyhow!("a compile thread panicked"))],
            })
            .collect()
    });
    results.into_iter().collect()
}

struct Job {
    target: &'static str,
    flags: Vec<String>,
    name: String,
    rule: String,
    origin: String,
    src: PathBuf,
    obj: PathBuf,
}

fn compile(job: &Job, include: &Path) -> Result<Entry> {
    let out = Command::new("clang")
        .args(["-O2", "-g", "-target", job.target, "-c", "-I"])
        .arg(include)
        .args(&job.flags)
        .arg(&job.src)
        .arg("-o")
        .arg(&job.obj)
        .output()
        .context("running clang")?;
    if !out.status.success() {
        bail!(
            "clang failed on {} ({}):\n{}",
            job.name,
            job.origin,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::read(&job.obj)?;
    let read =
        probecc::elf::read(&bytes).with_context(|| format!("reading {}", job.obj.display()))?;
    let programs: Vec<&str> = read
        .programs
        .iter()
        .filter(|f| f.global && f.section != ".text")
        .map(|f| f.name.as_str())
        .collect();
    ensure!(
        programs == [job.name.as_str()],
        "{} ({}): the object should hold exactly the program `{}`, it holds {programs:?}",
        job.obj.display(),
        job.origin,
        job.name
    );
    Ok(Entry {
        name: job.name.clone(),
        program: job.name.clone(),
        rule: job.rule.clone(),
        origin: job.origin.clone(),
        object: job.obj.clone(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_at_markers_and_keeps_lines() {
        let text = "#include \"common.h\"\n\n// program: a\nPROG(a) {}\n// program: b_2\nx\ny\n";
        let (prelude, chunks) = split(text).unwrap();
        assert_eq!(prelude, "#include \"common.h\"\n\n");
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].name.as_str(), chunks[0].line), ("a", 3));
        assert_eq!(chunks[0].text, "// program: a\nPROG(a) {}\n");
        assert_eq!((chunks[1].name.as_str(), chunks[1].line), ("b_2", 5));
        assert_eq!(chunks[1].text, "// program: b_2\nx\ny\n");
        let src = program_source("f.c", &prelude, &chunks[1]);
        assert!(src.starts_with("#line 1 \"f.c\"\n#include"));
        assert!(src.contains("#line 5 \"f.c\"\n// program: b_2\n"));
    }

    #[test]
    fn cflags_come_from_the_prelude() {
        let (prelude, _) =
            split("// cflags: -mcpu=v3 -DX\n#include \"a.h\"\n// program: p\n").unwrap();
        assert_eq!(cflags(&prelude), ["-mcpu=v3", "-DX"]);
        assert!(cflags("#include \"a.h\"\n").is_empty());
    }

    #[test]
    fn split_refuses_bad_and_duplicate_names() {
        assert!(split("// program: 1abc\n").is_err());
        assert!(split("// program: a b\n").is_err());
        assert!(split("// program: a\n// program: a\n").is_err());
    }
}
