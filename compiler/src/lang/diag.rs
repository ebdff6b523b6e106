//! Diagnostics of the spec language: an error with the span it is about,
//! what is wrong and what would be right, rendered the way compilers do
//! (`file:line:col`, the line, a caret) by `codespan-reporting`. Every stage
//! (parse, check, lower) reports through this type, and collects all errors
//! of a file rather than stopping at the first.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::WriteColor;
use codespan_reporting::term::{self, Config};

use super::ast::Span;

/// One compile error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, in one line: "unknown builtin `pdi`".
    pub message: String,
    /// The text it is about.
    pub span: Span,
    /// A short label under the caret: "not a builtin".
    pub label: String,
    /// What would be right: "did you mean `pid`?".
    pub help: Option<String>,
    /// Further facts: at another place the error involves (where the
    /// macro it came out of is defined), or printed after the help.
    pub notes: Vec<Note>,
}

/// A fact about a diagnostic, labelling another place of the file or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub span: Option<Span>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            label: String::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// A note labelling another place: "`N` defined here".
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            span: Some(span),
            message: label.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            span: None,
            message: note.into(),
        });
        self
    }

    /// 1-based line and column of the span's start in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.span.start)
    }
}

/// 1-based line and column (in characters) of byte offset `at`. For many
/// offsets into one text, build its [`Lines`] once.
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    Lines::new(src).line_col(at)
}

/// Where the lines of a text start: one pass over the text, then the line
/// of an offset is a binary search, so lowering a spec of thousands of
/// statements finds each one's line without counting from the top.
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    src: &'a str,
    /// The byte offset of each line's first byte; the first is 0.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(src: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { src, starts }
    }

    /// 1-based line and column (in characters) of byte offset `at`; an
    /// offset past the end, or inside a character, is the end.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let mut at = at.min(self.src.len());
        if !self.src.is_char_boundary(at) {
            at = self.src.len();
        }
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = self.src.get(start..at).map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The text of 1-based line `n` without its line ending (`\n` or
    /// `\r\n`), as [`str::lines`] gives it; empty past the last line.
    pub fn line(&self, n: usize) -> &'a str {
        let Some(&start) = n.checked_sub(1).and_then(|i| self.starts.get(i)) else {
            return "";
        };
        let end = self.starts.get(n).copied().unwrap_or(self.src.len());
        let text = self.src.get(start..end).unwrap_or("");
        match text.strip_suffix('\n') {
            Some(t) => t.strip_suffix('\r').unwrap_or(t),
            None => text,
        }
    }
}

/// Renders diagnostics as `error: message` / `--> file:line:col` / the line
/// with a caret / `= help: ...`, without colour.
pub fn render(file: &str, src: &str, diags: &[Diagnostic]) -> String {
    let files = SimpleFile::new(file, src);
    let config = Config::default();
    let mut out = String::new();
    for d in diags {
        // Writing to a String cannot fail; the spans were clamped to the
        // source, so the file lookup cannot either.
        let _ = term::emit_to_string(&mut out, &config, &files, &codespan(src, d));
    }
    out
}

/// Writes diagnostics as [`render`] lays them out to `out`, in colour when
/// `out` is a colour writer (a terminal's).
pub fn emit(
    out: &mut dyn WriteColor,
    file: &str,
    src: &str,
    diags: &[Diagnostic],
) -> std::io::Result<()> {
    let files = SimpleFile::new(file, src);
    let config = Config::default();
    for d in diags {
        term::emit_to_write_style(out, &config, &files, &codespan(src, d))
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// `d` for codespan, its spans clamped to the source: the primary label,
/// one secondary label per related place, and the help and notes.
fn codespan(src: &str, d: &Diagnostic) -> CsDiagnostic<()> {
    let range = |s: Span| {
        let start = s.start.min(src.len());
        start..s.end.clamp(start, src.len())
    };
    let mut labels = vec![Label::primary((), range(d.span)).with_message(&d.label)];
    let mut notes: Vec<String> = d.help.iter().map(|h| format!("help: {h}")).collect();
    for n in &d.notes {
        match n.span {
            Some(s) => labels.push(Label::secondary((), range(s)).with_message(&n.message)),
            None => notes.push(format!("note: {}", n.message)),
        }
    }
    CsDiagnostic::error()
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// The closest of `candidates` to a word, for "did you mean" help: the
/// ranking every diagnostic uses.
pub use crate::suggest::best as suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_caret() {
        let src = "kprobe:vfs_read\n{ @x = pdi; }\n";
        let d = Diagnostic::new(Span::new(23, 26), "unknown builtin `pdi`")
            .with_label("not a builtin")
            .with_help("did you mean `pid`?");
        let text = render("t.bt", src, std::slice::from_ref(&d));
        assert!(text.contains("error: unknown builtin `pdi`"), "{text}");
        assert!(text.contains("t.bt:2:8"), "{text}");
        assert!(text.contains("^^^ not a builtin"), "{text}");
        assert!(text.contains("help: did you mean `pid`?"), "{text}");
        assert_eq!(d.line_col(src), (2, 8));
    }

    #[test]
    fn lines_agree_with_counting_from_the_top() {
        let src = "kprobe:f\r\n{ @x = 1; }\n\n  é$y = 2;\nlast\r";
        let lines = Lines::new(src);
        for at in 0..=src.len() + 2 {
            let before = src.get(..at.min(src.len())).unwrap_or(src);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            assert_eq!(lines.line_col(at), (line, col), "offset {at}");
        }
        for n in 0usize..8 {
            let want = n
                .checked_sub(1)
                .and_then(|i| src.lines().nth(i))
                .unwrap_or("");
            assert_eq!(lines.line(n), want, "line {n}");
        }
    }

    #[test]
    fn emits_in_colour_only_to_a_colour_writer() {
        use codespan_reporting::term::termcolor::{Ansi, NoColor};
        let src = "kprobe:vfs_read\n{ @x = pdi; }\n";
        let d = [Diagnostic::new(Span::new(23, 26), "unknown builtin `pdi`")];
        let mut plain = NoColor::new(Vec::new());
        emit(&mut plain, "t.bt", src, &d).unwrap();
        let plain = String::from_utf8(plain.into_inner()).unwrap();
        assert_eq!(plain, render("t.bt", src, &d));
        let mut ansi = Ansi::new(Vec::new());
        emit(&mut ansi, "t.bt", src, &d).unwrap();
        let ansi = String::from_utf8(ansi.into_inner()).unwrap();
        assert!(ansi.contains("\x1b["), "{ansi:?}");
        assert!(ansi.contains("unknown builtin `pdi`"), "{ansi:?}");
    }

    #[test]
    fn related_places_and_notes_are_rendered() {
        let src = "#define N x\nkprobe:f { @a = N; }\n";
        let d = Diagnostic::new(Span::new(27, 28), "unknown identifier `x`")
            .with_related(Span::new(8, 9), "expanded from macro `N`")
            .with_note("a note");
        let text = render("t.bt", src, &[d]);
        assert!(text.contains("t.bt:2:16"), "{text}");
        assert!(text.contains("- expanded from macro `N`"), "{text}");
        assert!(text.contains("note: a note"), "{text}");
        // A related span past the end is clamped, like the primary one.
        let d = Diagnostic::new(Span::new(0, 1), "x").with_related(Span::new(90, 99), "far");
        assert!(render("t.bt", src, &[d]).contains("far"));
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let d = Diagnostic::new(Span::new(100, 200), "x");
        assert!(render("t.bt", "abc", &[d]).contains("error: x"));
    }

    #[test]
    fn suggestions_pick_the_nearest_name() {
        assert_eq!(suggest("pdi", ["pid", "tid", "comm"]), Some("pid"));
        assert_eq!(suggest("cont", ["count", "sum"]), Some("count"));
        assert_eq!(suggest("zzzzzz", ["pid"]), None);
    }
}
