//! Tests of the lexer: tokens and their spans, comments, integers, strings
//! and escapes, attach-point scanning, and lexical errors.

use super::*;

fn toks(src: &str) -> Vec<Tok> {
    let (t, d) = tokenize(src);
    assert!(d.is_empty(), "{d:?}");
    t.into_iter().map(|t| t.tok).collect()
}

fn errors(src: &str) -> Vec<String> {
    tokenize(src).1.into_iter().map(|d| d.message).collect()
}

#[test]
fn words_variables_maps() {
    assert_eq!(
        toks("pid $x @m @ @_a1"),
        vec![
            Tok::Ident("pid".into()),
            Tok::Var("x".into()),
            Tok::Map("m".into()),
            Tok::Map(String::new()),
            Tok::Map("_a1".into()),
            Tok::Eof
        ]
    );
}

#[test]
fn operators_take_the_longest_match() {
    assert_eq!(
        toks("<<= >>= << <= < == = != ! && & || | ++ + += -- - -= ^= ^ %= % /= / *= * ~ ? : -> ."),
        vec![
            Tok::OpAssign(BinOp::Shl),
            Tok::OpAssign(BinOp::Shr),
            Tok::Shl,
            Tok::Le,
            Tok::Lt,
            Tok::EqEq,
            Tok::Assign,
            Tok::Ne,
            Tok::Bang,
            Tok::AndAnd,
            Tok::Amp,
            Tok::OrOr,
            Tok::Pipe,
            Tok::PlusPlus,
            Tok::Plus,
            Tok::OpAssign(BinOp::Add),
            Tok::MinusMinus,
            Tok::Minus,
            Tok::OpAssign(BinOp::Sub),
            Tok::OpAssign(BinOp::BitXor),
            Tok::Caret,
            Tok::OpAssign(BinOp::Mod),
            Tok::Percent,
            Tok::OpAssign(BinOp::Div),
            Tok::Slash,
            Tok::OpAssign(BinOp::Mul),
            Tok::Star,
            Tok::Tilde,
            Tok::Question,
            Tok::Colon,
            Tok::Arrow,
            Tok::Dot,
            Tok::Eof
        ]
    );
}

#[test]
fn member_access_is_arrow_and_dot_tokens() {
    assert_eq!(
        toks("p->f.g x-->y"),
        vec![
            Tok::Ident("p".into()),
            Tok::Arrow,
            Tok::Ident("f".into()),
            Tok::Dot,
            Tok::Ident("g".into()),
            Tok::Ident("x".into()),
            Tok::MinusMinus,
            Tok::Gt,
            Tok::Ident("y".into()),
            Tok::Eof
        ]
    );
}

#[test]
fn comments_are_skipped() {
    assert_eq!(
        toks("a // x y\n/* multi\nline */ b"),
        vec![Tok::Ident("a".into()), Tok::Ident("b".into()), Tok::Eof]
    );
    assert_eq!(
        errors("a /* never closed"),
        vec!["unterminated block comment"]
    );
}

#[test]
fn integers() {
    assert_eq!(
        toks("0 42 1_000 0x1F 0XfF_ff"),
        vec![
            Tok::Int(0),
            Tok::Int(42),
            Tok::Int(1000),
            Tok::Int(31),
            Tok::Int(0xffff),
            Tok::Eof
        ]
    );
    assert_eq!(
        toks("18446744073709551615 0xffffffffffffffff"),
        vec![Tok::Int(u64::MAX), Tok::Int(u64::MAX), Tok::Eof]
    );
    assert_eq!(
        errors("18446744073709551616"),
        vec!["integer literal `18446744073709551616` is too large"]
    );
    assert_eq!(
        errors("0x1_0000_0000_0000_0000"),
        vec!["integer literal `0x1_0000_0000_0000_0000` is too large"]
    );
    assert_eq!(errors("12ab"), vec!["invalid integer literal `12ab`"]);
    assert_eq!(errors("0x"), vec!["integer literal `0x` has no digits"]);
    assert_eq!(
        errors("0755"),
        vec!["integer literal `0755` has a leading zero"]
    );
}

#[test]
fn scientific_suffixed_and_duration_literals() {
    assert_eq!(
        toks("1e6 2E3 1_000_000 123UL 7u 9ll 0x10ul 0x1d 100ms 1s 3us 5ns 2m 1h 1d 1e3ms"),
        vec![
            Tok::Int(1_000_000),
            Tok::Int(2_000),
            Tok::Int(1_000_000),
            Tok::Int(123),
            Tok::Int(7),
            Tok::Int(9),
            Tok::Int(16),
            Tok::Int(0x1d),
            Tok::Int(100_000_000),
            Tok::Int(1_000_000_000),
            Tok::Int(3_000),
            Tok::Int(5),
            Tok::Int(120_000_000_000),
            Tok::Int(3_600_000_000_000),
            Tok::Int(86_400_000_000_000),
            Tok::Int(1_000_000_000),
            Tok::Eof
        ]
    );
    assert_eq!(errors("1e20"), vec!["integer literal `1e20` is too large"]);
    assert_eq!(errors("1e"), vec!["invalid integer literal `1e`"]);
    assert_eq!(errors("5sec"), vec!["invalid integer literal `5sec`"]);
    assert_eq!(errors("0x1fs"), vec!["invalid integer literal `0x1fs`"]);
    assert_eq!(
        toks("0..10"),
        vec![Tok::Int(0), Tok::DotDot, Tok::Int(10), Tok::Eof]
    );
}

#[test]
fn strings_and_escapes() {
    assert_eq!(
        toks(r#""a\n\t\r\\\"\0\x41\101é""#),
        vec![Tok::Str("a\n\t\r\\\"\0AAé".into()), Tok::Eof]
    );
    assert_eq!(toks(r#""\012""#), vec![Tok::Str("\n".into()), Tok::Eof]);
    assert_eq!(
        errors(r#""a\qb""#),
        vec!["unknown escape sequence `\\q` in string literal"]
    );
    assert_eq!(
        errors(r#""\xg""#),
        vec!["invalid hex escape in string literal"]
    );
    assert_eq!(errors(r#""\xff""#), vec!["escape `\\xff` is not ASCII"]);
    assert_eq!(errors("\"abc\nx"), vec!["unterminated string literal"]);
    assert_eq!(errors("\"abc"), vec!["unterminated string literal"]);
    assert_eq!(errors("\"abc\\"), vec!["unterminated string literal"]);
}

#[test]
fn unterminated_string_stops_at_the_line_end() {
    let (t, d) = tokenize("\"abc\n$x");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].span, Span::new(0, 4));
    assert_eq!(t[1].tok, Tok::Var("x".into()));
}

#[test]
fn stray_characters_are_reported_once_per_run() {
    let (t, d) = tokenize("a #€# b \\ 'c'");
    let msgs: Vec<_> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "unexpected characters `#€#`",
            "unexpected character `\\`",
            "unexpected character `'`",
            "unexpected character `'`"
        ]
    );
    assert_eq!(d[0].span, Span::new(2, 7));
    assert_eq!(t.len(), 4);
}

#[test]
fn variables_and_maps_need_names() {
    assert_eq!(errors("$ "), vec!["expected a variable name after `$`"]);
    assert_eq!(
        errors("$1x"),
        vec!["`$1x` is neither a variable nor a positional parameter"]
    );
    assert_eq!(
        errors("$01"),
        vec!["`$01` is neither a variable nor a positional parameter"]
    );
    let (t, _) = tokenize("$1 $12 $#");
    let toks: Vec<&Tok> = t.iter().map(|t| &t.tok).collect();
    assert_eq!(toks[..3], [&Tok::Param(1), &Tok::Param(12), &Tok::Param(0)]);
    assert_eq!(errors("@1x"), vec!["map name `@1x` starts with a digit"]);
}

#[test]
fn spans_are_byte_ranges() {
    let (t, _) = tokenize("  @m[k] += 0x10");
    let spans: Vec<_> = t.iter().map(|t| (t.span.start, t.span.end)).collect();
    assert_eq!(
        spans,
        vec![(2, 4), (4, 5), (5, 6), (6, 7), (8, 10), (11, 15), (15, 15)]
    );
}

#[test]
fn attach_pieces() {
    let mut l = Lexer::new("  kprobe:foo.isra.0+0x10 /x/");
    assert!(l.looks_like_attach());
    assert_eq!(l.attach_word().map(|p| p.text), Some("kprobe".into()));
    assert_eq!(l.attach_target().map(|p| p.text), Some("foo.isra.0".into()));
    assert_eq!(
        l.attach_offset().map(|p| (p.text, p.span)),
        Some(("0x10".into(), Span::new(19, 24)))
    );
    assert_eq!(l.attach_rest(false), None);
    assert_eq!(l.next_token().tok, Tok::Slash);

    let mut l = Lexer::new("uprobe:/bin/sh:readline {");
    assert_eq!(l.attach_word().map(|p| p.text), Some("uprobe".into()));
    assert_eq!(
        l.attach_rest(true).map(|p| p.text),
        Some(":/bin/sh:readline".into())
    );
    assert_eq!(l.next_token().tok, Tok::LBrace);

    let mut l = Lexer::new("{");
    assert!(!l.looks_like_attach());
    assert_eq!(l.attach_word(), None);
    assert_eq!(l.next_token().tok, Tok::LBrace);
}
