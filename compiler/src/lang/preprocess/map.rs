//! Where each byte of preprocessed text came from in the original file,
//! so that every diagnostic and every line of line info names the place
//! the author wrote.
//!
//! The preprocessor keeps the line count: directive lines, skipped lines
//! and continuation lines become empty lines, and a macro expansion stays
//! on the line of its use (followed by the newlines the use spanned). So a
//! line number is right by construction; the map makes columns right too.
//! It is a list of pieces of the output, each either copied from the
//! original (byte for byte) or made by a macro use, which maps to the
//! whole use (`MAX(a, b)`) and names the macro.

use crate::lang::ast::Span;
use crate::lang::diag::Diagnostic;

/// What one piece of the output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Copied from the original, starting at this offset; inside the
    /// expansion of a macro use when it is an argument of that use.
    Copy(usize, Option<u32>),
    /// Made by macro use number `n` (an index into `uses`).
    Use(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    /// Where the piece starts in the output; it runs to the next piece.
    out: usize,
    origin: Origin,
}

/// A macro used in the original text (the outermost one, where macros
/// expand to other macros).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroUse {
    /// The use: the name, and the arguments of a function-like macro.
    pub span: Span,
    pub name: String,
    /// The name in the macro's `#define`; `None` for a predefined macro.
    pub defined_at: Option<Span>,
}

/// Output offsets → original offsets. Empty: the identity (nothing was
/// changed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    pieces: Vec<Piece>,
    uses: Vec<MacroUse>,
}

impl SourceMap {
    /// The map of text that was not changed.
    pub fn identity() -> SourceMap {
        SourceMap::default()
    }

    pub fn is_identity(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Records that output from `out` on is original text from `orig` on.
    pub(super) fn copy(&mut self, out: usize, orig: usize) {
        self.push(out, Origin::Copy(orig, None));
    }

    /// Records that output from `out` on is an argument of use `n`, copied
    /// from `orig` on.
    pub(super) fn copy_argument(&mut self, out: usize, orig: usize, n: u32) {
        self.push(out, Origin::Copy(orig, Some(n)));
    }

    /// Records a new macro use; its number for [`SourceMap::made_by`].
    pub(super) fn add_use(&mut self, u: MacroUse) -> u32 {
        self.uses.push(u);
        self.uses.len() as u32 - 1
    }

    /// Widens use `n` to end at `end` (a use that took more text as it
    /// expanded).
    pub(super) fn extend_use(&mut self, n: u32, end: usize) {
        if let Some(u) = self.uses.get_mut(n as usize) {
            u.span.end = u.span.end.max(end);
        }
    }

    pub(super) fn use_span(&self, n: u32) -> Span {
        self.uses
            .get(n as usize)
            .map_or(Span::default(), |u| u.span)
    }

    /// Records that output from `out` on was made by use `n`.
    pub(super) fn made_by(&mut self, out: usize, n: u32) {
        self.push(out, Origin::Use(n));
    }

    fn push(&mut self, out: usize, origin: Origin) {
        match self.pieces.last_mut() {
            // A piece that turned out empty gives way.
            Some(last) if last.out == out => last.origin = origin,
            // A copy continuing the previous copy adds nothing.
            Some(Piece {
                out: o,
                origin: Origin::Copy(from, within),
            }) if matches!(origin, Origin::Copy(to, w) if w == *within && to >= *from && to - *from == out - *o) =>
                {}
            _ => self.pieces.push(Piece { out, origin }),
        }
    }

    /// The piece holding output offset `at`, and its index.
    fn piece(&self, at: usize) -> Option<(usize, &Piece)> {
        let i = self
            .pieces
            .partition_point(|p| p.out <= at)
            .checked_sub(1)?;
        Some((i, self.pieces.get(i)?))
    }

    /// The macro use that made output offset `at`, if any.
    pub fn use_at(&self, at: usize) -> Option<&MacroUse> {
        match self.piece(at)?.1.origin {
            Origin::Use(n) => self.uses.get(n as usize),
            Origin::Copy(..) => None,
        }
    }

    /// The original offset of output offset `at` (the start of the macro
    /// use for text a macro made).
    pub fn offset(&self, at: usize) -> usize {
        match self.piece(at) {
            None => at,
            Some((_, p)) => match p.origin {
                Origin::Copy(orig, _) => orig + (at - p.out),
                Origin::Use(n) => self.use_span(n).start,
            },
        }
    }

    /// The original text of an output span. A span inside one copied
    /// piece (an argument of a macro included) maps exactly; a span that
    /// reaches into a macro's expansion covers the macro's use.
    pub fn span(&self, s: Span) -> Span {
        if s.end <= s.start {
            let start = self.offset(s.start);
            return Span::new(start, start);
        }
        let last = s.end - 1;
        let (Some((i, first)), Some((j, end_piece))) = (self.piece(s.start), self.piece(last))
        else {
            return s;
        };
        let exact = |p: &Piece, at: usize| match p.origin {
            Origin::Copy(orig, _) => orig + (at - p.out),
            Origin::Use(n) => self.use_span(n).start,
        };
        if i == j {
            if let Origin::Copy(..) = first.origin {
                let start = exact(first, s.start);
                return Span::new(start, start + (s.end - s.start));
            }
        }
        let start = match first.origin {
            Origin::Copy(_, Some(n)) | Origin::Use(n) => self.use_span(n).start,
            Origin::Copy(orig, None) => orig + (s.start - first.out),
        };
        let end = match end_piece.origin {
            Origin::Copy(_, Some(n)) | Origin::Use(n) => self.use_span(n).end,
            Origin::Copy(orig, None) => orig + (last - end_piece.out) + 1,
        };
        Span::new(start, end.max(start))
    }

    /// `d` about the original text: its spans mapped, and where it points
    /// into a macro's expansion, a note at the macro's definition.
    pub fn diagnostic(&self, mut d: Diagnostic) -> Diagnostic {
        if self.is_identity() {
            return d;
        }
        let used = self
            .use_at(d.span.start)
            .or_else(|| self.use_at(d.span.end.saturating_sub(1).max(d.span.start)))
            .cloned();
        d.span = self.span(d.span);
        for s in d.notes.iter_mut().filter_map(|n| n.span.as_mut()) {
            *s = self.span(*s);
        }
        if let Some(u) = used {
            let note = format!("expanded from macro `{}`", u.name);
            d = match u.defined_at {
                Some(def) => d.with_related(def, note),
                None => d.with_note(format!("{note}, which probecc predefines")),
            };
        }
        d
    }

    /// Every diagnostic of `diags` mapped (see [`SourceMap::diagnostic`]).
    pub fn diagnostics(&self, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
        diags.into_iter().map(|d| self.diagnostic(d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "ab" copied, then a use of `M` (original 2..6) made "xyz", then the
    /// original from 6 on.
    fn sample() -> SourceMap {
        let mut m = SourceMap::identity();
        m.copy(0, 0);
        let n = m.add_use(MacroUse {
            span: Span::new(2, 6),
            name: "M".into(),
            defined_at: Some(Span::new(20, 21)),
        });
        m.made_by(2, n);
        m.copy(5, 6);
        m
    }

    #[test]
    fn offsets_follow_copies_and_uses() {
        let m = sample();
        assert_eq!(m.offset(1), 1);
        assert_eq!(m.offset(3), 2);
        assert_eq!(m.offset(5), 6);
        assert_eq!(m.offset(9), 10);
        assert_eq!(m.span(Span::new(3, 4)), Span::new(2, 6));
        assert_eq!(m.span(Span::new(0, 3)), Span::new(0, 6));
        assert_eq!(m.span(Span::new(5, 7)), Span::new(6, 8));
        assert_eq!(m.span(Span::new(4, 4)), Span::new(2, 2));
        // An argument maps exactly; a span reaching past it, to the use.
        let mut m = SourceMap::identity();
        let n = m.add_use(MacroUse {
            span: Span::new(0, 6),
            name: "F".into(),
            defined_at: None,
        });
        m.made_by(0, n);
        m.copy_argument(3, 2, n);
        m.made_by(4, n);
        assert_eq!(m.span(Span::new(3, 4)), Span::new(2, 3));
        assert_eq!(m.span(Span::new(3, 6)), Span::new(0, 6));
        assert_eq!(m.offset(3), 2);
        assert!(SourceMap::identity().is_identity());
        assert_eq!(SourceMap::identity().span(Span::new(3, 9)), Span::new(3, 9));
    }

    #[test]
    fn contiguous_copies_make_one_piece() {
        let mut m = SourceMap::identity();
        m.copy(0, 10);
        m.copy(4, 14);
        m.copy(6, 30);
        assert_eq!(m.pieces.len(), 2);
        assert_eq!(m.offset(5), 15);
        assert_eq!(m.offset(7), 31);
    }

    #[test]
    fn diagnostics_in_an_expansion_name_the_macro() {
        let d = sample().diagnostic(Diagnostic::new(Span::new(3, 4), "bad"));
        assert_eq!(d.span, Span::new(2, 6));
        assert_eq!(d.notes[0].span, Some(Span::new(20, 21)));
        assert_eq!(d.notes[0].message, "expanded from macro `M`");
        let d = sample().diagnostic(Diagnostic::new(Span::new(0, 1), "bad"));
        assert!(d.notes.is_empty());
    }
}
