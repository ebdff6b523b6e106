//! Tests of the preprocessor: directives, macro expansion, conditionals,
//! errors and the source map back to the text as written.

use super::*;

fn run(src: &str, btf: bool) -> Result<Preprocessed, Vec<Diagnostic>> {
    let predefined = if btf {
        vec![(HAVE_BTF.to_string(), "1".to_string())]
    } else {
        vec![]
    };
    preprocess(src, &Options { predefined })
}

fn text(src: &str) -> String {
    match run(src, false) {
        Ok(p) => p.text,
        Err(d) => panic!("{src:?}: {d:?}"),
    }
}

/// The text with runs of blanks squeezed, for comparing expansions.
fn squeezed(src: &str) -> String {
    text(src)
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn errors(src: &str) -> Vec<Diagnostic> {
    match run(src, false) {
        Ok(p) => panic!("{src:?} preprocessed to {:?}", p.text),
        Err(d) => d,
    }
}

fn error(src: &str) -> Diagnostic {
    let mut d = errors(src);
    assert_eq!(d.len(), 1, "{d:?}");
    d.remove(0)
}

/// The original text an output span maps to.
fn origin<'a>(src: &'a str, p: &Preprocessed, needle: &str) -> &'a str {
    let at = p
        .text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {:?}", p.text));
    let s = p.map.span(Span::new(at, at + needle.len()));
    &src[s.start..s.end]
}

#[test]
fn text_without_directives_is_unchanged() {
    let src = "kprobe:vfs_read /pid == 1/ { @x[\"#define\"] = count(); } // #if\n";
    let p = run(src, true).unwrap();
    assert_eq!(p.text, src);
    assert!(p.map.is_identity());
}

#[test]
fn the_first_line_may_name_the_interpreter() {
    let src = "#!/usr/bin/env bpftrace\nkprobe:f { }\n";
    let p = run(src, false).unwrap();
    assert_eq!(p.text, "\nkprobe:f { }\n");
    assert_eq!(origin(src, &p, "kprobe"), "kprobe");
    let d = error("kprobe:f { }\n#!/bin/sh\n");
    assert_eq!(d.message, "`#!` is only allowed on the first line");
}

#[test]
fn object_like_macros_expand_on_their_line() {
    let src = "#define AF_INET 2\n#define PAIR AF_INET, 10\nk { @x[PAIR] = AF_INET; }\n";
    let p = run(src, false).unwrap();
    assert_eq!(p.text.lines().count(), 3);
    assert_eq!(
        p.text
            .lines()
            .nth(2)
            .unwrap()
            .split_whitespace()
            .collect::<String>(),
        "k{@x[2,10]=2;}"
    );
    // A token of an expansion maps to the whole use.
    assert_eq!(origin(src, &p, "10"), "PAIR");
    assert_eq!(origin(src, &p, "k {"), "k {");
    let after = p.text.rfind(';').unwrap();
    assert_eq!(&src[p.map.offset(after)..p.map.offset(after) + 1], ";");
}

#[test]
fn function_like_macros_substitute_their_arguments() {
    assert_eq!(
        squeezed("#define ADD(a, b) ((a) + (b))\nADD(1, x * 2)\n"),
        "\n( ( 1 ) + ( x * 2 ) )\n"
    );
    assert_eq!(squeezed("#define F() 7\nF() F\n"), "\n7 F\n");
    assert_eq!(squeezed("#define G(x) x\nG((1, 2))\n"), "\n( 1 , 2 )\n");
    assert_eq!(
        squeezed("#define V(a, ...) a + f(__VA_ARGS__)\nV(1, 2, 3) V(4)\n"),
        "\n1 + f ( 2 , 3 ) 4 + f ( )\n"
    );
    // Arguments are expanded first; the result is scanned again.
    assert_eq!(
        squeezed("#define ONE 1\n#define ID(x) x\nID(ONE)\n"),
        "\n\n1\n"
    );
    assert_eq!(
        squeezed("#define f g\n#define g(x) x + 1\nf(2)\n"),
        "\n\n2 + 1\n"
    );
    // An argument that is the original's text maps to itself.
    let src = "#define TWICE(e) (e) * (e)\nk { @x = TWICE(pid); }\n";
    let p = run(src, false).unwrap();
    assert_eq!(origin(src, &p, "pid"), "pid");
    assert_eq!(origin(src, &p, "*"), "TWICE(pid)");
}

#[test]
fn stringify_and_paste() {
    assert_eq!(
        squeezed("#define S(x) #x\nS(a  +  \"b\\n\")\n"),
        "\n\"a + \\\"b\\\\n\\\"\"\n"
    );
    assert_eq!(
        squeezed("#define CAT(a, b) a ## b\nCAT(foo, 1) CAT(x, ) CAT(, y)\n"),
        "\nfoo1 x y\n"
    );
    // Operands of `##` are not expanded first.
    assert_eq!(
        squeezed("#define N 1\n#define CAT(a, b) a ## b\nCAT(N, N)\n"),
        "\n\nNN\n"
    );
    let d = error("#define CAT(a, b) a ## b\nCAT(+, x)\n");
    assert_eq!(d.message, "pasting `+` and `x` does not give a valid token");
}

#[test]
fn literals_comments_and_bpftrace_names_are_not_expanded() {
    let src = "#define x 1\n\"x\" /* x */ $x @x x // x\n";
    assert_eq!(squeezed(src), "\n\"x\" /* x */ $x @x 1 // x\n");
}

#[test]
fn have_btf_follows_the_options() {
    let src = "#ifndef BPFTRACE_HAVE_BTF\n#include <linux/socket.h>\nheaders\n#else\n#include <sys/socket.h>\nbtf\n#endif\n";
    let with = run(src, true).unwrap();
    assert_eq!(with.text, "\n\n\n\n\nbtf\n\n");
    assert_eq!(with.includes.len(), 1);
    assert_eq!(with.includes[0].path, "sys/socket.h");
    assert!(with.includes[0].system);
    let without = run(src, false).unwrap();
    assert_eq!(without.text, "\n\nheaders\n\n\n\n\n");
    assert_eq!(without.includes[0].path, "linux/socket.h");
}

#[test]
fn conditionals_nest_and_chain() {
    let src = "#define V 3
#if V * 2 == 6 && defined(V)
a
#elif 1
b
#else
c
#endif
#if 0
#if 1 / 0 garbage
#unknown directive
#endif
d
#elif V > 2
e
#ifdef V
f
#undef V
#endif
#ifndef V
g
#endif
#endif
";
    let t = text(src);
    let kept: Vec<&str> = t.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(kept, ["a", "e", "f", "g"]);
    assert_eq!(t.lines().count(), src.lines().count());
}

#[test]
fn continuations_and_comments_in_directives() {
    let src = "#define L(a) \\\n  ((a) + \\\n  1)\n#define X 1 /* spans\nlines */ + 2\nL(X)\n";
    let t = text(src);
    assert_eq!(t.lines().count(), 6);
    assert_eq!(
        t.lines()
            .nth(5)
            .unwrap()
            .split_whitespace()
            .collect::<String>(),
        "((1+2)+1)"
    );
    // A directive inside a comment is no directive.
    assert_eq!(
        squeezed("/*\n#define Y 1\n*/ Y\n"),
        "/*\n#define Y 1\n*/ Y\n"
    );
}

#[test]
fn a_use_over_several_lines_keeps_the_lines() {
    let src = "#define F(a, b) a + b\nk { @x = F(1,\n  2); @y = 3; }\n#define E(x)\nE(\n)z\n";
    let p = run(src, false).unwrap();
    assert_eq!(p.text.lines().count(), src.lines().count());
    assert_eq!(origin(src, &p, "@y"), "@y");
    let y = p.text.find("@y").unwrap();
    assert_eq!(diag_line(src, p.map.offset(y)), 3);
    let z = p.text.find('z').unwrap();
    assert_eq!(diag_line(src, p.map.offset(z)), 6);
    assert_eq!(diag_line(&p.text, z), 6);
}

fn diag_line(src: &str, at: usize) -> usize {
    crate::lang::diag::line_col(src, at).0
}

#[test]
fn includes_are_recorded_never_read() {
    let p = run(
        "#include <linux/nonexistent.h>\n#include \"local.h\"\n",
        false,
    )
    .unwrap();
    let paths: Vec<(&str, bool)> = p
        .includes
        .iter()
        .map(|i| (i.path.as_str(), i.system))
        .collect();
    assert_eq!(paths, [("linux/nonexistent.h", true), ("local.h", false)]);
    assert_eq!(
        error("#include linux/x.h\n").message,
        "`#include` expects \"FILE\" or <FILE>"
    );
    assert_eq!(
        error("#include <x.h\n").message,
        "`#include` is missing its closing `>`"
    );
}

#[test]
fn unbalanced_conditionals_point_at_the_directive() {
    let src = "k { }\n#ifdef X\n#if 1\n#endif\n";
    let d = error(src);
    assert_eq!(d.message, "unterminated conditional directive");
    assert_eq!(&src[d.span.start..d.span.end], "#ifdef X");
    assert_eq!(error("#endif\n").message, "`#endif` without `#if`");
    assert_eq!(error("#else\n").message, "`#else` without `#if`");
    assert_eq!(
        error("#if 1\n#else\n#elif 1\n#endif\n").message,
        "`#elif` after `#else`"
    );
    assert_eq!(
        error("#if 1\n#else\n#else\n#endif\n").message,
        "`#else` after `#else`"
    );
}

#[test]
fn bad_directives_are_errors() {
    let d = errors("#ifdfe X\n").remove(0);
    assert_eq!(d.message, "unknown preprocessor directive `#ifdfe`");
    assert_eq!(d.help.as_deref(), Some("did you mean `#ifdef`?"));
    assert_eq!(error("#error no BTF here\n").message, "#error no BTF here");
    assert_eq!(error("#define\n").message, "macro name missing");
    assert_eq!(
        error("#define 1 x\n").message,
        "macro names must be identifiers, not `1`"
    );
    assert_eq!(
        error("#define defined 1\n").message,
        "`defined` cannot be a macro name"
    );
    assert_eq!(
        error("#ifdef\n#endif\n").message,
        "`#ifdef` needs a macro name"
    );
    assert_eq!(error("#undef 3\n").message, "`#undef` needs a macro name");
    assert_eq!(
        error("#define F(a, a) a\n").message,
        "duplicate parameter `a` of macro `F`"
    );
    assert_eq!(
        error("#define F(a b) a\n").message,
        "expected `,` or `)` in the parameters of macro `F`"
    );
    assert_eq!(
        error("#define F(x) #y\n").message,
        "`#` in macro `F` is not followed by a parameter"
    );
    assert_eq!(
        error("#define P a ##\n").message,
        "`##` cannot be at either end of macro `P`"
    );
    assert_eq!(
        error("#if 1 +\n#endif\n").message,
        "`#if` expression ends where a value should be"
    );
    // Skipped groups ignore what they hold, errors included.
    assert!(run("#if 0\n#error no\n#bogus\n#endif\n", false).is_ok());
    // Every error of the file is reported.
    assert_eq!(errors("#bogus\n#endif\n#define\n").len(), 3);
}

#[test]
fn recursion_is_an_error_naming_the_macro() {
    let src = "#define A A + 1\nk { @x = A; }\n";
    let d = error(src);
    assert_eq!(d.message, "macro `A` expands to itself");
    assert_eq!(&src[d.span.start..d.span.end], "A");
    assert_eq!(d.span.start, src.find("= A").unwrap() + 2);
    assert_eq!(d.notes[0].message, "`A` defined here");
    assert_eq!(d.notes[0].span, Some(Span::new(8, 9)));
    let d = error("#define A B\n#define B (A)\nA\n");
    assert_eq!(d.message, "macro `A` expands to itself (through `B`)");
    let d = error("#define F(x) F(x)\nF(1)\n");
    assert_eq!(d.message, "macro `F` expands to itself");
    // A function-like macro's name alone is not a use.
    assert_eq!(squeezed("#define F(x) x F\nF(1)\n"), "\n1 F\n");
}

#[test]
fn argument_mistakes_are_errors_at_the_use() {
    let src = "#define F(a, b) a\nk { @x = F(1); }\n";
    let d = error(src);
    assert_eq!(d.message, "macro `F` takes 2 arguments, 1 given");
    assert_eq!(&src[d.span.start..d.span.end], "F(1)");
    let d = error("#define G(a) a\nG(1, 2)\n");
    assert_eq!(d.message, "macro `G` takes 1 argument, 2 given");
    let d = error("#define V(a, b, ...) a\nV(1)\n");
    assert_eq!(d.message, "macro `V` takes at least 2 arguments, 1 given");
    // `V()` gives `a` an empty argument, and nothing to `...`.
    assert_eq!(
        squeezed("#define V(a, ...) [a __VA_ARGS__]\nV()\n"),
        "\n[ ]\n"
    );
    let d = error("#define F(a) a\nF(1\n#define X\n)\n");
    assert_eq!(d.message, "unterminated argument list of macro `F`");
}

#[test]
fn runaway_expansion_is_bounded() {
    let mut src = String::from("#define A0 x x\n");
    for i in 1..40 {
        src.push_str(&format!("#define A{i} A{} A{}\n", i - 1, i - 1));
    }
    src.push_str("A39\n");
    assert!(error(&src).message.starts_with("macro expansion too large"));
    let deep = format!("#define F(x) x\n{}1{}\n", "F(".repeat(500), ")".repeat(500));
    assert!(error(&deep)
        .message
        .starts_with("macro calls nested too deeply"));
}

#[test]
fn diagnostics_in_expansions_name_the_macro() {
    let src = "#define BAD nope\nk { @x = BAD; }\n";
    let p = run(src, false).unwrap();
    let at = p.text.find("nope").unwrap();
    let d = p.map.diagnostic(Diagnostic::new(
        Span::new(at, at + 4),
        "unknown identifier `nope`",
    ));
    assert_eq!(&src[d.span.start..d.span.end], "BAD");
    assert_eq!(d.notes[0].message, "expanded from macro `BAD`");
    assert_eq!(d.notes[0].span, Some(Span::new(8, 11)));
    let p = run("k { @x = BPFTRACE_HAVE_BTF; }\n", true).unwrap();
    let at = p.text.find('1').unwrap();
    let d = p
        .map
        .diagnostic(Diagnostic::new(Span::new(at, at + 1), "x"));
    assert_eq!(
        d.notes[0].message,
        "expanded from macro `BPFTRACE_HAVE_BTF`, which probecc predefines"
    );
    assert_eq!(d.notes[0].span, None);
}

// ---- through `lang::compile`: every stage's diagnostics and the line
// info are about the text as written.

fn compile_errors(src: &str) -> Vec<Diagnostic> {
    let opts = CompileOptions::default();
    match crate::lang::compile(src, crate::Arch::X86_64, &opts) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(d) => d,
    }
}

fn at(src: &str, d: &Diagnostic) -> (usize, usize, String) {
    let (line, col) = crate::lang::diag::line_col(src, d.span.start);
    (line, col, src[d.span.start..d.span.end].to_string())
}

#[test]
fn parse_errors_after_an_expansion_point_into_the_original() {
    let src = "#!/usr/bin/env bpftrace\n#define SUM(a, b) \\\n  ((a) + (b))\nkprobe:vfs_read { @x = SUM(arg0,\n  arg1); @y = 1 +; }\n";
    let d = compile_errors(src);
    assert_eq!(at(src, &d[0]), (5, 18, ";".to_string()), "{d:?}");
}

#[test]
fn check_errors_in_an_expansion_point_at_the_use() {
    let src = "#define KEY pdi\nkprobe:vfs_read { @x[KEY] = count(); }\n";
    let d = compile_errors(src);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].message, "unknown identifier `pdi`");
    assert_eq!(at(src, &d[0]), (2, 22, "KEY".to_string()));
    assert_eq!(d[0].notes[0].message, "expanded from macro `KEY`");
    let rendered = crate::lang::diag::render("t.bt", src, &d);
    assert!(rendered.contains("t.bt:2:22"), "{rendered}");
    assert!(rendered.contains("expanded from macro `KEY`"), "{rendered}");
    // A message citing another place cites the original too.
    let src = "#define M(k) @m[k]\nkprobe:f { M(1) = 1; M(\"a\") = 2; }\n";
    let d = compile_errors(src);
    assert!(d[0].message.contains("2:12"), "{d:?}");
}

#[test]
fn preprocessor_errors_stop_the_compile() {
    let src = "kprobe:f { }\n#if 1\n";
    let d = compile_errors(src);
    assert_eq!(d[0].message, "unterminated conditional directive");
    assert_eq!(at(src, &d[0]).0, 2);
}

#[test]
fn line_info_shows_the_original_lines() {
    let src = "#!/usr/bin/env bpftrace\n#define INC(m) m += 1\n\nkprobe:vfs_read\n{\n\tINC(@reads);\n\t@last = nsecs;\n}\n";
    let opts = CompileOptions::default();
    let c = crate::lang::compile(src, crate::Arch::X86_64, &opts).unwrap();
    let lines: Vec<(u32, u32, &str)> = c.object.programs[0]
        .lines
        .iter()
        .map(|l| (l.line, l.col, l.text.as_str()))
        .collect();
    assert!(lines.contains(&(6, 2, "\tINC(@reads);")), "{lines:?}");
    assert!(lines.contains(&(7, 2, "\t@last = nsecs;")), "{lines:?}");
}

#[test]
fn have_btf_follows_the_type_source() {
    use crate::lang::check::TypeSource;
    let mut opts = CompileOptions::default();
    assert!(Options::for_compile(&opts).predefined.is_empty());
    opts.btf = Some(TypeSource::file("/nonexistent/vmlinux"));
    assert!(Options::for_compile(&opts).predefined.is_empty());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/btf/kernel.btf");
    opts.btf = Some(TypeSource::file(fixtures));
    assert_eq!(
        Options::for_compile(&opts).predefined,
        [(HAVE_BTF.to_string(), "1".to_string())]
    );
    // Deciding does not read the file.
    let source = opts.btf.as_ref().unwrap();
    assert!(source.available());
}
