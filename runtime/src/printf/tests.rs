//! The printf engine against C: hand-picked cases, and many random
//! conversions compared with the C library's `snprintf`, each flag given
//! only where C defines it for the conversion.

use std::ffi::CString;

use proptest::prelude::*;

use super::*;

fn i(v: i64) -> Arg {
    Arg::Int(v as u64)
}

fn s(x: &str) -> Arg {
    Arg::Str(x.into())
}

#[test]
fn conversions_match_c() {
    assert_eq!(
        format(
            "%-16s|%6d|%-6u|%08x|%c|\n",
            &[s("dd"), i(42), i(0), i(7), i(68)]
        ),
        "dd              |    42|0     |00000007|D|\n"
    );
    assert_eq!(
        format("%lu %ld %p %p", &[i(-1), i(-1), i(255), i(0)]),
        "18446744073709551615 -1 0xff (nil)"
    );
    assert_eq!(
        format("%5s|%-5s|%3d%%", &[s("ab"), s("cd"), i(100)]),
        "   ab|cd   |100%"
    );
    assert_eq!(
        format(
            "%05d %X %#x %#o %+d % d %+d",
            &[i(-42), i(255), i(255), i(8), i(5), i(6), i(-7)]
        ),
        "-0042 FF 0xff 010 +5  6 -7"
    );
    assert_eq!(
        format(
            "%.2s|%5.3d|%.0d|%hhd|%hu|%08.3d",
            &[s("xyz"), i(7), i(0), i(300), i(-1), i(5)]
        ),
        "xy|  007||44|65535|     005"
    );
    assert_eq!(format("%d %s", &[]), "0 ");
    assert_eq!(format("%q %y %", &[i(1)]), "%q %y %");
}

#[test]
fn a_huge_width_is_capped() {
    let out = format("%99999999999999999999d", &[i(1)]);
    assert_eq!(out.len(), MAX_WIDTH);
}

/// `snprintf(fmt, value)` by the C library.
fn c_format(fmt: &str, arg: &CArg) -> String {
    let f = CString::new(fmt).expect("no NUL in the format");
    let mut buf = vec![0u8; 4096];
    let n = unsafe {
        // SAFETY: `buf` is writable for its length, `f` is a C string,
        // and the one argument has the type the conversion reads.
        match arg {
            CArg::Int(v) => libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), f.as_ptr(), *v),
            CArg::Long(v) => libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), f.as_ptr(), *v),
            CArg::Ptr(v) => libc::snprintf(
                buf.as_mut_ptr().cast(),
                buf.len(),
                f.as_ptr(),
                *v as usize as *const libc::c_void,
            ),
            CArg::Str(v) => {
                let c = CString::new(v.as_str()).expect("no NUL in the string");
                libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), f.as_ptr(), c.as_ptr())
            }
        }
    };
    assert!(
        n >= 0 && (n as usize) < buf.len(),
        "{fmt}: snprintf gave {n}"
    );
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// An argument as C receives it.
#[derive(Debug)]
enum CArg {
    Int(libc::c_int),
    Long(libc::c_longlong),
    Ptr(u64),
    Str(String),
}

/// One random conversion: its text for us, its text for C (with `ll`
/// where ours is 64 bits without it) and the argument both ways.
fn conversion() -> impl Strategy<Value = (String, String, Arg, CArg)> {
    let conv = prop_oneof![
        Just('d'),
        Just('i'),
        Just('u'),
        Just('o'),
        Just('x'),
        Just('X'),
        Just('c'),
        Just('s'),
        Just('p')
    ];
    let value = prop_oneof![
        any::<i64>(),
        -300i64..300,
        Just(0),
        Just(i64::MIN),
        Just(-1),
        Just(i64::MAX)
    ];
    (
        conv,
        proptest::collection::vec(prop_oneof!["-", "0", "\\+", " ", "#"], 0..4),
        proptest::option::of(0usize..25),
        proptest::option::of(0usize..22),
        prop_oneof![
            Just(""),
            Just("hh"),
            Just("h"),
            Just("l"),
            Just("ll"),
            Just("z"),
            Just("j")
        ],
        value,
        "[ -~]{0,30}",
    )
        .prop_map(|(conv, flags, width, precision, length, value, text)| {
            // Only what C defines: `#` for o x X, `0` for the numbers, `+`
            // and space for the signed ones (and, doing nothing, the
            // unsigned), a precision for numbers and strings, a length
            // for the integer conversions.
            let allowed = match conv {
                'd' | 'i' => "-0+ ",
                'u' => "-0+ ",
                'o' | 'x' | 'X' => "-0+ #",
                'p' => "-",
                _ => "-",
            };
            let flags: String = flags
                .concat()
                .chars()
                .filter(|c| allowed.contains(*c))
                .collect();
            let width = width.map(|w| w.to_string()).unwrap_or_default();
            let precision = match (conv, precision) {
                ('c' | 'p', _) | (_, None) => String::new(),
                (_, Some(p)) => format!(".{p}"),
            };
            let integer = "diouxX".contains(conv);
            let length = if integer { length } else { "" };
            let ours = format!("%{flags}{width}{precision}{length}{conv}");
            let c_length = if integer && matches!(length, "" | "l" | "z" | "j") {
                "ll"
            } else {
                length
            };
            let theirs = format!("%{flags}{width}{precision}{c_length}{conv}");
            let (arg, carg) = match conv {
                's' => (Arg::Str(text.clone()), CArg::Str(text)),
                'c' => {
                    let byte = 0x20 + (value.unsigned_abs() % 0x5f) as i64;
                    (Arg::Int(byte as u64), CArg::Int(byte as libc::c_int))
                }
                'p' => (Arg::Int(value as u64), CArg::Ptr(value as u64)),
                _ if length == "hh" || length == "h" => {
                    (Arg::Int(value as u64), CArg::Int(value as libc::c_int))
                }
                _ => (Arg::Int(value as u64), CArg::Long(value)),
            };
            (ours, theirs, arg, carg)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_conversions_match_the_c_library((ours, theirs, arg, carg) in conversion()) {
        let want = c_format(&format!("<{theirs}>"), &carg);
        prop_assert_eq!(format(&format!("<{ours}>"), &[arg]), want, "{} (C: {})", ours, theirs);
    }
}
