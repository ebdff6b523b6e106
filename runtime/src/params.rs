//! The positional parameters a loader sets: the bytes of each read-only
//! global the manifest lists (`globals`), made from a command line's
//! arguments as bpftrace reads them — `$N` the Nth argument as an integer
//! (decimal or `0x` hex, `_` separators, a leading `-`; other text is an
//! error naming the parameter), `str($N)` its text cut to leave room for
//! the NUL, `$#` their count; a parameter past the last argument is 0, or
//! `""`. Integers are in the target's byte order. The live runner
//! (`probecc trace`) and the offline one (`probecc run`) both set them
//! from here.

use probecc::endian::Endian;
use probecc::lang::check::ir::ParamKind;
use probecc::lang::lex::parse_int;
use probecc::lang::manifest::{GlobalEntry, Manifest};

/// An argument a parameter cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// bpftrace's words for it.
    #[error("${param} used numerically but given \"{text}\"")]
    NotANumber { param: u32, text: String },
    #[error("the global `{symbol}` of ${param} is {size} bytes, too small for a {kind}")]
    BadSize {
        symbol: String,
        param: u32,
        size: u32,
        kind: &'static str,
    },
}

/// `(symbol, bytes)` of every global `manifest` lists, from `args` (`$1`
/// is `args[0]`), for a target of byte order `endian`: what
/// `LoadOptions::globals` and the offline runner take.
pub fn globals(
    manifest: &Manifest,
    args: &[String],
    endian: Endian,
) -> Result<Vec<(String, Vec<u8>)>, ParamError> {
    manifest
        .globals
        .iter()
        .map(|g| Ok((g.symbol.clone(), value(g, args, endian)?)))
        .collect()
}

/// The bytes of global `g`.
fn value(g: &GlobalEntry, args: &[String], endian: Endian) -> Result<Vec<u8>, ParamError> {
    let text = (g.param as usize)
        .checked_sub(1)
        .and_then(|i| args.get(i))
        .map(String::as_str);
    let int = |v: u64, kind: &'static str| -> Result<Vec<u8>, ParamError> {
        if g.size != 8 {
            return Err(ParamError::BadSize {
                symbol: g.symbol.clone(),
                param: g.param,
                size: g.size,
                kind,
            });
        }
        Ok(endian.u64_bytes(v).to_vec())
    };
    match g.kind {
        ParamKind::Count => int(args.len() as u64, "count"),
        ParamKind::Int => {
            let v = match text {
                None => 0,
                Some(t) => number(t).ok_or_else(|| ParamError::NotANumber {
                    param: g.param,
                    text: t.to_string(),
                })?,
            };
            int(v as u64, "integer")
        }
        ParamKind::Str => {
            if g.size == 0 {
                return Err(ParamError::BadSize {
                    symbol: g.symbol.clone(),
                    param: g.param,
                    size: 0,
                    kind: "string",
                });
            }
            let mut bytes = text.unwrap_or("").as_bytes().to_vec();
            bytes.truncate(g.size as usize - 1);
            bytes.resize(g.size as usize, 0);
            Ok(bytes)
        }
    }
}

/// `text` as a signed 64-bit integer, as the spec language writes one
/// (surrounding spaces ignored), or `None`.
fn number(text: &str) -> Option<i64> {
    let t = text.trim();
    match t.strip_prefix('-') {
        Some(abs) => {
            let v = parse_int(abs).ok()?;
            0i64.checked_sub_unsigned(v)
        }
        None => parse_int(t).ok().and_then(|v| i64::try_from(v).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> Manifest {
        serde_json::from_value(json!({
            "name": "t", "arch": "s390x", "programs": [], "funcs": [], "probes": [],
            "maps": [], "output": [], "ringbuf": null,
            "globals": [
                {"symbol": "probecc_argc", "param": 0, "kind": "count", "offset": 0, "size": 8},
                {"symbol": "probecc_arg1", "param": 1, "kind": "int", "offset": 8, "size": 8},
                {"symbol": "probecc_arg2_str", "param": 2, "kind": "str", "offset": 16, "size": 8},
                {"symbol": "probecc_arg3", "param": 3, "kind": "int", "offset": 24, "size": 8},
            ]
        }))
        .expect("a manifest")
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_global_takes_its_argument_in_the_targets_order() {
        let g = globals(&manifest(), &args(&["0x10", "eth0-long-name"]), Endian::Big).unwrap();
        let names: Vec<&str> = g.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "probecc_argc",
                "probecc_arg1",
                "probecc_arg2_str",
                "probecc_arg3"
            ]
        );
        assert_eq!(g[0].1, 2u64.to_be_bytes());
        assert_eq!(g[1].1, 16u64.to_be_bytes());
        // Cut to 7 bytes and its NUL.
        assert_eq!(g[2].1, b"eth0-lo\0");
        // Past the last argument: 0.
        assert_eq!(g[3].1, [0; 8]);
        let le = globals(&manifest(), &args(&["-3", "x"]), Endian::Little).unwrap();
        assert_eq!(le[1].1, (-3i64).to_le_bytes());
        assert_eq!(le[2].1, b"x\0\0\0\0\0\0\0");
    }

    #[test]
    fn none_given_is_zero_everywhere() {
        let g = globals(&manifest(), &[], Endian::Little).unwrap();
        assert!(g.iter().all(|(_, b)| b.iter().all(|&x| x == 0)), "{g:?}");
    }

    #[test]
    fn text_for_an_integer_is_an_error_naming_the_parameter() {
        let e = globals(&manifest(), &args(&["eth0"]), Endian::Little).unwrap_err();
        assert_eq!(e.to_string(), "$1 used numerically but given \"eth0\"");
        // The string parameter takes any text; a number too large is text.
        let e = globals(
            &manifest(),
            &args(&["1", "a", "99999999999999999999"]),
            Endian::Little,
        )
        .unwrap_err();
        assert!(matches!(e, ParamError::NotANumber { param: 3, .. }), "{e}");
    }
}
