//! Kernel symbol lists: the function names of a `System.map`,
//! `/proc/kallsyms` or tracefs's `available_filter_functions`, which
//! wildcard attach points (`kprobe:vfs_*`) expand against, and glob
//! matching over them.

/// What is wrong with a symbol list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolsError {
    #[error("line {line}: expected `ADDRESS TYPE NAME [MODULE]` as in System.map or /proc/kallsyms, or `NAME [MODULE]` as in available_filter_functions, found `{text}`")]
    BadLine { line: usize, text: String },
    #[error("the symbol list has no function symbols")]
    Empty,
}

/// The text-section (function) symbols of a `System.map` or `/proc/kallsyms`
/// text, sorted and without duplicates. Lines are `ADDRESS TYPE NAME
/// [\[MODULE\]]`; types `t`/`T` (and weak `w`/`W`) are functions. A line
/// `NAME [\[MODULE\]]` is a function of `available_filter_functions` (the
/// functions the kernel can trace), so that list reads here too.
pub fn parse(text: &str) -> Result<Vec<String>, SymbolsError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = traceable(line) {
            out.push(name.to_string());
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(addr), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad(i, line));
        };
        let kind_ok = kind.len() == 1;
        if !addr.chars().all(|c| c.is_ascii_hexdigit()) || !kind_ok {
            return Err(bad(i, line));
        }
        if matches!(kind, "t" | "T" | "w" | "W") {
            out.push(name.to_string());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(SymbolsError::Empty);
    }
    Ok(out)
}

/// The function of an `available_filter_functions` line: `NAME` or `NAME
/// [MODULE]`, the name made of letters, digits, `_` and `.` (`f.isra.0`).
fn traceable(line: &str) -> Option<&str> {
    let mut fields = line.split_whitespace();
    let name = fields.next()?;
    let module = fields.next();
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    let in_module = module.is_none_or(|m| m.starts_with('[') && m.ends_with(']'));
    (is_name && in_module && fields.next().is_none()).then_some(name)
}

fn bad(i: usize, line: &str) -> SymbolsError {
    SymbolsError::BadLine {
        line: i + 1,
        text: line.chars().take(80).collect(),
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of
/// characters (bpftrace's wildcard).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last star: linear space,
    // no recursion, O(p * n) worst case.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The symbols matching `pattern`, in order.
pub fn expand<'a>(pattern: &str, symbols: &'a [String]) -> Vec<&'a str> {
    symbols
        .iter()
        .map(String::as_str)
        .filter(|s| glob_match(pattern, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_system_map_and_kallsyms() {
        let text = "ffffffff81000000 T _stext\nffffffff812a0000 T vfs_read\nffffffff812a0100 t vfs_readv\n\
                    ffffffff82000000 D jiffies\nffffffffc0000000 t ext4_fn\t[ext4]\nffffffff812a0000 T vfs_read\n";
        let syms = parse(text).unwrap();
        assert_eq!(syms, ["_stext", "ext4_fn", "vfs_read", "vfs_readv"]);
    }

    #[test]
    fn parses_available_filter_functions() {
        let text = "vfs_read\nxfs_fs_fill_super [xfs]\nvfs_read\n__x64_sys_read\nf.isra.0\n";
        let syms = parse(text).unwrap();
        assert_eq!(
            syms,
            [
                "__x64_sys_read",
                "f.isra.0",
                "vfs_read",
                "xfs_fs_fill_super"
            ]
        );
        // Not a name, or more than a module after it.
        for bad in ["[workspace]", "vfs_read xfs", "vfs_read [xfs] more", "0day"] {
            assert!(
                matches!(parse(bad), Err(SymbolsError::BadLine { line: 1, .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        let e = parse("ffff T a\nnot a symbol line at all\n").unwrap_err();
        assert!(matches!(e, SymbolsError::BadLine { line: 2, .. }), "{e}");
        assert_eq!(parse("ffff D data\n"), Err(SymbolsError::Empty));
    }

    #[test]
    fn globs() {
        assert!(glob_match("vfs_*", "vfs_read"));
        assert!(glob_match("*read*", "ksys_readahead"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("vfs_*", "do_vfs_read"));
        assert!(glob_match("vfs_read", "vfs_read"));
        assert!(!glob_match("vfs_read", "vfs_readv"));
        assert!(glob_match("*", ""));
        let syms: Vec<String> = ["vfs_read", "vfs_write", "ksys_read"]
            .map(String::from)
            .to_vec();
        assert_eq!(expand("vfs_*", &syms), ["vfs_read", "vfs_write"]);
    }
}
