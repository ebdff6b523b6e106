//! Diagnostics of the spec language: an error with the span it is about,
//! what is wrong and what would be right, rendered the way compilers do
//! (`file:line:col`, the line, a caret) by `codespan-reporting`. Every stage
//! (parse, check, lower) reports through this type, and collects all errors
//! of a file rather than stopping at the first.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
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
    /// Other places the message is about and lines of context.
    pub notes: Vec<Note>,
}

/// More about a diagnostic than its one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Another place the message is about, labelled: "first defined here".
    At(Span, String),
    /// A line after the help: "in the expansion of macro `m`".
    Line(String),
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

    /// Adds another place the message is about.
    pub fn with_note_at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.notes.push(Note::At(span, label.into()));
        self
    }

    /// Adds a line of context.
    pub fn with_note(mut self, line: impl Into<String>) -> Diagnostic {
        self.notes.push(Note::Line(line.into()));
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column of the span's start in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.span.start)
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let before = src.get(..at).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Renders diagnostics as `error: message` / `--> file:line:col` / the line
/// with a caret / `= help: ...`, without colour.
pub fn render(file: &str, src: &str, diags: &[Diagnostic]) -> String {
    let files = SimpleFile::new(file, src);
    let config = Config::default();
    let mut out = String::new();
    for d in diags {
        let start = d.span.start.min(src.len());
        let end = d.span.end.clamp(start, src.len());
        let mut labels = vec![Label::primary((), start..end).with_message(&d.label)];
        let mut notes: Vec<String> = d.help.iter().map(|h| format!("help: {h}")).collect();
        for n in &d.notes {
            match n {
                Note::At(span, label) => {
                    let start = span.start.min(src.len());
                    let end = span.end.clamp(start, src.len());
                    labels.push(Label::secondary((), start..end).with_message(label));
                }
                Note::Line(line) => notes.push(format!("note: {line}")),
            }
        }
        let mut cs = CsDiagnostic::error()
            .with_message(&d.message)
            .with_labels(labels);
        if !notes.is_empty() {
            cs = cs.with_notes(notes);
        }
        // Writing to a String cannot fail; the spans were clamped to the
        // source, so the file lookup cannot either.
        let _ = term::emit_to_string(&mut out, &config, &files, &cs);
    }
    out
}

/// The closest of `candidates` to `word` (edit distance at most 2, or a
/// third of the word), for "did you mean" help.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

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
    fn related_places_and_notes_are_rendered() {
        let src = "macro m() { @x }\nkprobe:f { m(); }\n";
        let d = Diagnostic::new(Span::new(28, 31), "boom")
            .with_label("here")
            .with_note_at(Span::new(6, 7), "defined here")
            .with_note("in the expansion of macro `m`");
        let text = render("t.bt", src, std::slice::from_ref(&d));
        assert!(text.contains("defined here"), "{text}");
        assert!(
            text.contains("note: in the expansion of macro `m`"),
            "{text}"
        );
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
