//! Properties of the preprocessor over generated text: text without
//! directives passes through unchanged, and any text either preprocesses
//! to the same number of lines, every byte mapping into the original, or
//! fails with errors inside it; never a panic.

use proptest::prelude::*;

use super::*;

/// Text of the characters that matter to the preprocessor, directives
/// among them when `directives`.
fn text(directives: bool) -> impl Strategy<Value = String> {
    let lines = if directives { 1 } else { 0 };
    proptest::collection::vec(
        prop_oneof![
            10 => plain(),
            lines => prop_oneof![
                Just("#define A B\n".to_string()),
                Just("#define B(x) x A\n".to_string()),
                Just("#define C(x, y) #x ## y\n".to_string()),
                Just("#if A\n".to_string()),
                Just("#ifdef BPFTRACE_HAVE_BTF\n".to_string()),
                Just("#else\n".to_string()),
                Just("#endif\n".to_string()),
                Just("#undef A\n".to_string()),
            ],
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Pieces of text that are no directive by themselves.
fn plain() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("#".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("\\".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("/".to_string()),
        Just("*".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("$".to_string()),
        Just("@".to_string()),
        Just("##".to_string()),
        Just("é".to_string()),
        "[A-Z_a-z][A-Z_a-z0-9]{0,3}",
        "[0-9]{1,3}",
        Just("define".to_string()),
    ]
}

/// Whether a line of `s` is a directive line or the interpreter line.
fn has_directive(s: &str) -> bool {
    s.starts_with("#!") || s.lines().any(|l| l.trim_start().starts_with('#'))
}

proptest! {
    #[test]
    fn text_without_directives_passes_through(src in text(false)) {
        prop_assume!(!has_directive(&src));
        // Scanned in full, as text with a predefined macro's name is.
        let p = scan_all(&src, &Options::default()).unwrap();
        prop_assert_eq!(&p.text, &src);
        prop_assert!(p.map.is_identity());
        prop_assert_eq!(preprocess(&src, &Options::default()).unwrap(), p);
    }

    #[test]
    fn lines_are_kept_and_every_byte_maps_inside(src in text(true), btf: bool) {
        let predefined = if btf { vec![(HAVE_BTF.to_string(), "1".to_string())] } else { vec![] };
        match preprocess(&src, &Options { predefined }) {
            Ok(p) => {
                prop_assert_eq!(p.text.matches('\n').count(), src.matches('\n').count());
                for at in 0..p.text.len() {
                    let s = p.map.span(Span::new(at, at + 1));
                    prop_assert!(s.start <= s.end && s.end <= src.len().max(1), "{at}: {s:?}");
                }
            }
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                for d in diags {
                    prop_assert!(d.span.start <= d.span.end && d.span.end <= src.len(), "{d:?}");
                }
            }
        }
    }
}
