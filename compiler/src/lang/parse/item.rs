//! Parsing the top-level items other than probes: the `config = { ... }`
//! block, bpftrace's `macro` definitions, C `struct`/`union`/`enum`
//! definitions (their names and member names), map declarations
//! (`let @m = hash(N);`), and the items of newer bpftrace probecc does not
//! compile yet (functions, imports), each reported as what it is.

use super::{PResult, Parser, Reported};
use crate::lang::ast::{
    CDef, ConfigBlock, ConfigItem, ConfigValue, MacroDef, MacroParam, MapDecl, ParamKind, Span,
    Spec,
};
use crate::lang::diag::Diagnostic;
use crate::lang::lex::{Tok, Token};

impl Parser<'_> {
    /// Reads the top-level item at the cursor into `spec` if it is not a
    /// probe; `false` (nothing consumed) for a probe.
    pub(super) fn top_item(&mut self, spec: &mut Spec) -> bool {
        let Tok::Ident(word) = self.peek().clone() else {
            return false;
        };
        let next = self.peek_nth(1).tok.clone();
        self.stmt_start = self.peek_span().start;
        match (word.as_str(), &next) {
            ("config", Tok::Assign) => {
                let at = self.peek_span();
                if let Ok(c) = self.config_block() {
                    if let Some(first) = spec.probes.first() {
                        self.error(
                            Diagnostic::new(at, "the config block must come before the probes")
                                .with_label("after a probe")
                                .with_help(format!(
                                    "move it above the first probe, at {}",
                                    self.lc(first.span)
                                )),
                        );
                    } else if let Some(old) = &spec.config {
                        let first = self.lc(old.span);
                        self.error(
                            Diagnostic::new(at, "a second config block")
                                .with_label("config again")
                                .with_help(format!("merge it into the one at {first}")),
                        );
                    } else {
                        spec.config = Some(c);
                    }
                }
            }
            ("macro", Tok::Ident(_)) => {
                if let Ok(m) = self.macro_def() {
                    spec.macros.push(m);
                }
            }
            ("struct" | "union" | "enum", Tok::Ident(_) | Tok::LBrace) => {
                if let Ok(d) = self.c_def() {
                    spec.c_defs.push(d);
                }
            }
            ("let", Tok::Map(_)) => match self.map_decl() {
                Ok(d) => spec.map_decls.push(d),
                Err(Reported) => self.skip_item(),
            },
            ("fn" | "subprog", Tok::Ident(_)) => self.unsupported_item(
                &format!("functions (`{word} NAME(...)`) are not supported yet"),
                "write the code in the probe, or as a `macro`",
            ),
            ("import", _) => self.unsupported_item(
                "imports are not supported yet",
                "put the imported code in this file",
            ),
            _ => return false,
        }
        true
    }

    /// `let @name = KIND(MAX_ENTRIES);`.
    fn map_decl(&mut self) -> PResult<MapDecl> {
        let kw = self.bump();
        let map = self.bump();
        let Tok::Map(name) = map.tok else {
            return Err(Reported);
        };
        let help = "write `let @name = hash(1024);` (or lruhash, percpuhash)";
        self.expect(Tok::Assign, "expected `=` after the map's name", Some(help))?;
        let kind = self.bump();
        let Tok::Ident(kind_name) = kind.tok else {
            let d = Diagnostic::new(kind.span, "expected a map kind such as `hash(1024)`");
            self.error(d.with_label("not a map kind").with_help(help));
            return Err(Reported);
        };
        self.expect(Tok::LParen, "expected `(` and the map's size", Some(help))?;
        let size = self.bump();
        let Tok::Int(max_entries) = size.tok else {
            let d = Diagnostic::new(size.span, "expected the map's size, a number");
            self.error(d.with_label("not a number").with_help(help));
            return Err(Reported);
        };
        self.expect(Tok::RParen, "expected `)` after the map's size", Some(help))?;
        let end = self.expect(
            Tok::Semi,
            "expected `;` after the map declaration",
            Some(help),
        )?;
        Ok(MapDecl {
            name,
            kind: kind_name,
            kind_span: kind.span,
            max_entries,
            span: kw.span.to(end.span),
        })
    }

    /// Reports an item probecc does not compile and skips it: to its `;`,
    /// or past its `{ ... }` body.
    fn unsupported_item(&mut self, message: &str, help: &str) {
        let kw = self.bump();
        self.error(
            Diagnostic::new(kw.span, message)
                .with_label("not supported yet")
                .with_help(help),
        );
        self.skip_item();
    }

    /// Skips the rest of a top-level item: to its `;`, or past its
    /// `{ ... }` body.
    fn skip_item(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// `config = { key = value; ... }` (the last `;` optional).
    fn config_block(&mut self) -> PResult<ConfigBlock> {
        let kw = self.bump();
        self.bump();
        let help = "write `config = { max_strlen = 128; missing_probes = \"warn\" }`";
        let open = self.expect(Tok::LBrace, "expected `{` after `config =`", Some(help))?;
        let mut items = Vec::new();
        loop {
            if let Some(close) = self.eat(&Tok::RBrace) {
                return Ok(ConfigBlock {
                    items,
                    span: kw.span.to(close.span),
                });
            }
            match self.config_item() {
                Ok(item) => items.push(item),
                Err(Reported) => {
                    self.skip_config_item();
                    continue;
                }
            }
            if self.eat(&Tok::Semi).is_none() && self.peek() != &Tok::RBrace {
                let _ = self.expect_close(Tok::RBrace, &open, "the config block");
                self.skip_config_item();
            }
        }
    }

    /// One `key = value` of a config block.
    fn config_item(&mut self) -> PResult<ConfigItem> {
        let key = self.bump();
        let Tok::Ident(name) = key.tok else {
            self.error(
                Diagnostic::new(
                    key.span,
                    format!(
                        "expected a config variable name, found {}",
                        key.tok.describe()
                    ),
                )
                .with_label("not a name"),
            );
            return Err(Reported);
        };
        self.expect(
            Tok::Assign,
            &format!("expected `=` after the config variable `{name}`"),
            Some("write `key = value`"),
        )?;
        let v = self.bump();
        let value = match v.tok {
            Tok::Int(n) => ConfigValue::Int(n),
            Tok::Str(s) => ConfigValue::Str(s),
            Tok::Ident(w) => ConfigValue::Ident(w),
            other => {
                self.error(
                    Diagnostic::new(
                        v.span,
                        format!("expected a value for `{name}`, found {}", other.describe()),
                    )
                    .with_label("not a value")
                    .with_help("a config value is an integer, a string or a word"),
                );
                return Err(Reported);
            }
        };
        Ok(ConfigItem {
            key: name,
            key_span: key.span,
            value,
            value_span: v.span,
        })
    }

    /// After an error in a config item: to its `;` (consumed) or the `}`.
    fn skip_config_item(&mut self) {
        loop {
            match self.peek() {
                Tok::Semi => {
                    self.bump();
                    return;
                }
                Tok::RBrace | Tok::Eof => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// `macro name(params) { ... }`.
    fn macro_def(&mut self) -> PResult<MacroDef> {
        let kw = self.bump();
        let name_tok = self.bump();
        let Tok::Ident(name) = name_tok.tok else {
            return Err(Reported);
        };
        let open = self.expect(
            Tok::LParen,
            &format!("expected `(` after the macro name `{name}`"),
            Some("write `macro name(x, $v, @m) { ... }`"),
        )?;
        let mut params = Vec::new();
        if self.eat(&Tok::RParen).is_none() {
            loop {
                let p = self.bump();
                let (kind, pname) = match p.tok {
                    Tok::Var(n) => (ParamKind::Var, n),
                    Tok::Map(n) => (ParamKind::Map, n),
                    Tok::Ident(n) => (ParamKind::Expr, n),
                    other => {
                        self.error(
                            Diagnostic::new(
                                p.span,
                                format!("expected a macro parameter, found {}", other.describe()),
                            )
                            .with_label("not a parameter")
                            .with_help("parameters are `$var`, `@map` or `name` (an expression)"),
                        );
                        self.skip_macro(&open);
                        return Err(Reported);
                    }
                };
                params.push(MacroParam {
                    kind,
                    name: pname,
                    span: p.span,
                });
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
            if self
                .expect_close(Tok::RParen, &open, "the parameters of the macro")
                .is_err()
            {
                self.skip_macro(&open);
                return Err(Reported);
            }
        }
        if self.peek() != &Tok::LBrace {
            self.expect(
                Tok::LBrace,
                &format!("expected `{{` to open the body of macro `{name}`"),
                None,
            )?;
        }
        let body = self.block_with_value()?;
        let mut block = body.block;
        let value = match (body.open_value, block.stmts.pop()) {
            (
                true,
                Some(crate::lang::ast::Stmt {
                    kind: crate::lang::ast::StmtKind::Expr(e),
                    ..
                }),
            ) => Some(e),
            (_, last) => {
                block.stmts.extend(last);
                None
            }
        };
        let span = kw.span.to(block.span);
        Ok(MacroDef {
            name,
            name_span: name_tok.span,
            params,
            body: block,
            value,
            span,
        })
    }

    /// After an error in a macro's head: past its body.
    fn skip_macro(&mut self, _open: &Token) {
        while !matches!(self.peek(), Tok::LBrace | Tok::Eof) {
            self.bump();
        }
        if self.peek() == &Tok::LBrace {
            let _ = self.block();
        }
    }

    /// `struct NAME { members };` (or `union`, `enum`): its name and the
    /// names of its members, read without their types.
    fn c_def(&mut self) -> PResult<CDef> {
        let kw = self.bump();
        let Tok::Ident(keyword) = kw.tok.clone() else {
            return Err(Reported);
        };
        let name_tok = self.bump();
        let Tok::Ident(name) = name_tok.tok else {
            self.error(
                Diagnostic::new(
                    name_tok.span,
                    format!("a top-level `{keyword}` needs a name"),
                )
                .with_label("no name"),
            );
            return Err(Reported);
        };
        if self.peek() != &Tok::LBrace {
            self.expect(
                Tok::LBrace,
                &format!("expected `{{` after `{keyword} {name}`"),
                None,
            )?;
        }
        let open = self.bump();
        let members = if keyword == "enum" {
            self.enumerators()
        } else {
            self.members()
        };
        let close = self.expect_close(Tok::RBrace, &open, &format!("`{keyword} {name}`"))?;
        let mut span = kw.span.to(close.span);
        if let Some(semi) = self.eat(&Tok::Semi) {
            span = span.to(semi.span);
        }
        Ok(CDef {
            keyword,
            name,
            name_span: name_tok.span,
            members,
            span,
        })
    }

    /// The member names of a struct or union body, up to its `}` (not
    /// consumed): per declaration, the declared name (the last word before
    /// `;`, `[` or `:`, or the word after `(*` of a function pointer); the
    /// members of an anonymous nested struct or union are the outer one's.
    fn members(&mut self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        loop {
            let mut name: Option<(String, Span)> = None;
            let mut frozen = false;
            let mut paren = 0usize;
            let mut nested = Vec::new();
            loop {
                let t = self.peek_tok().clone();
                match t.tok {
                    Tok::RBrace | Tok::Eof => {
                        out.extend(name);
                        return out;
                    }
                    Tok::Semi if paren == 0 => {
                        self.bump();
                        break;
                    }
                    Tok::LBrace => {
                        self.bump();
                        nested = self.members();
                        if self.eat(&Tok::RBrace).is_none() {
                            return out;
                        }
                        name = None;
                        continue;
                    }
                    Tok::LParen => {
                        self.bump();
                        paren += 1;
                        if !frozen && self.eat(&Tok::Star).is_some() {
                            if let Tok::Ident(w) = self.peek().clone() {
                                name = Some((w, self.bump().span));
                                frozen = true;
                            }
                        }
                        continue;
                    }
                    Tok::RParen => paren = paren.saturating_sub(1),
                    Tok::LBracket | Tok::Colon if paren == 0 => frozen = true,
                    Tok::Ident(w) if paren == 0 && !frozen => name = Some((w, t.span)),
                    _ => {}
                }
                self.bump();
            }
            match name {
                Some(n) => out.push(n),
                None => out.append(&mut nested),
            }
        }
    }

    /// The enumerator names of an enum body, up to its `}`.
    fn enumerators(&mut self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        let mut expect_name = true;
        loop {
            let t = self.peek_tok().clone();
            match t.tok {
                Tok::RBrace | Tok::Eof => return out,
                Tok::Comma => expect_name = true,
                Tok::Ident(w) if expect_name => {
                    out.push((w, t.span));
                    expect_name = false;
                }
                _ => {}
            }
            self.bump();
        }
    }
}
