//! bpftrace's text output (0.17's; 0.23 prints these forms alike),
//! parsed: printf lines, and map entries as `print()` and the exit dump
//! show them — `@x[k1, k2]: v` (integers, strings), `@s[k]: count N,
//! average A, total T` (stats), `@h[k]:` followed by `hist`/`lhist` bucket
//! lines (`[4, 8)   1000 |@@@|`), and keys spread over several lines (`@[`
//! then one `kstack` frame a line, then `]: 1`). Keys stay text: bpftrace
//! prints string parts unquoted, so `@m[a, b]` cannot be split back into
//! parts; callers render their own keys the same way (`key_text`). Any
//! input parses without a panic: what is not a map entry is a printf line.

/// One item of the output, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A line that is not part of a map (printf output, a banner).
    Line(String),
    /// One map entry.
    Entry {
        map: String,
        /// The key as bpftrace printed it, normalised by `key_text`; empty
        /// for a map without a key.
        key: String,
        value: Value,
    },
}

/// A map entry's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
    Stats {
        count: i64,
        avg: i64,
        total: i64,
    },
    /// The non-empty buckets of a `hist` or `lhist`.
    Buckets(Vec<Bucket>),
}

/// One histogram bucket: `lo <= v < hi`; `lo` is `None` for `(..., hi)`,
/// `hi` is `None` for `[lo, ...)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bucket {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
    pub count: i64,
}

/// A key's text as compared: each line trimmed, empty lines dropped, the
/// rest joined by `\n` (a `kstack` key is one frame a line).
pub fn key_text(raw: &str) -> String {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses bpftrace's stdout.
pub fn parse(text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.trim().is_empty() || is_banner(line) {
            continue;
        }
        let Some((map, key, rest, used)) = entry_head(line, &lines[i..]) else {
            items.push(Item::Line(line.to_string()));
            continue;
        };
        i += used;
        let value = if rest.is_empty() {
            let (buckets, used) = buckets(&lines[i..]);
            i += used;
            // A value over several lines, a kstack's indented frames, is
            // no histogram: the frames are its text.
            let frames = lines[i..]
                .iter()
                .take_while(|l| used == 0 && l.starts_with([' ', '\t']) && !l.trim().is_empty())
                .count();
            if frames > 0 {
                let text = format!("\n{}\n", lines[i..i + frames].join("\n"));
                i += frames;
                Value::Str(text)
            } else {
                Value::Buckets(buckets)
            }
        } else {
            scalar(rest)
        };
        items.push(Item::Entry { map, key, value });
    }
    items
}

/// `Attaching 3 probes...`.
fn is_banner(line: &str) -> bool {
    line.starts_with("Attaching ") && line.ends_with("...")
}

/// The head of a map entry starting at `line`: map name, key text, the
/// text after `: ` and how many further lines the key took.
fn entry_head(line: &str, after: &[&str]) -> Option<(String, String, String, usize)> {
    let body = line.strip_prefix('@')?;
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let (name, rest) = body.split_at(name_len);
    let map = format!("@{name}");
    if let Some(value) = rest.strip_prefix(':') {
        return Some((map, String::new(), value.trim().to_string(), 0));
    }
    let open = rest.strip_prefix('[')?;
    if let Some((key, value)) = split_key(open) {
        return Some((map, key_text(key), value.trim().to_string(), 0));
    }
    // A key over several lines (kstack): up to a line starting with `]:`.
    let mut raw = open.to_string();
    for (n, l) in after.iter().enumerate() {
        if let Some(value) = l.trim_start().strip_prefix("]:") {
            return Some((map, key_text(&raw), value.trim().to_string(), n + 1));
        }
        raw.push('\n');
        raw.push_str(l);
    }
    None
}

/// `k1, k2]: value` → (`k1, k2`, `value`), at the last `]:` on the line.
fn split_key(s: &str) -> Option<(&str, &str)> {
    let at = s.rfind("]:")?;
    Some((&s[..at], &s[at + 2..]))
}

/// `42`, `-7`, `count 3, average 2, total 6`, or a string.
fn scalar(text: String) -> Value {
    if let Ok(v) = text.parse::<i64>() {
        return Value::Int(v);
    }
    stats(&text).unwrap_or(Value::Str(text))
}

fn stats(text: &str) -> Option<Value> {
    let mut parts = text.split(", ");
    let mut field = |name: &str| -> Option<i64> { parts.next()?.strip_prefix(name)?.parse().ok() };
    let count = field("count ")?;
    let avg = field("average ")?;
    let total = field("total ")?;
    Some(Value::Stats { count, avg, total })
}

/// The bucket lines at the start of `lines` (the non-empty ones kept) and
/// how many lines they took.
fn buckets(lines: &[&str]) -> (Vec<Bucket>, usize) {
    let mut out = Vec::new();
    let mut used = 0;
    for l in lines {
        let Some(b) = bucket(l) else { break };
        used += 1;
        if b.count != 0 {
            out.push(b);
        }
    }
    (out, used)
}

/// `[4, 8)    1000 |@@@@|`, `(..., 0)  1 |@|`, `[0]  3 |@|`, `[1K, ...)`.
fn bucket(line: &str) -> Option<Bucket> {
    let close = line.find([')', ']'])?;
    let label = &line[..=close];
    let rest = line[close + 1..].trim_start();
    let (count, bar) = rest.split_once(' ')?;
    if !bar.trim_start().starts_with('|') {
        return None;
    }
    let count = count.parse().ok()?;
    let (lo, hi) = range(label)?;
    Some(Bucket { lo, hi, count })
}

/// A bucket label's bounds.
fn range(label: &str) -> Option<(Option<i64>, Option<i64>)> {
    if let Some(hi) = label
        .strip_prefix("(..., ")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some((None, Some(number(hi)?)));
    }
    let inner = label.strip_prefix('[')?;
    if let Some(one) = inner.strip_suffix(']') {
        let v = number(one)?;
        return Some((Some(v), Some(v.checked_add(1)?)));
    }
    let (lo, hi) = inner.strip_suffix(')')?.split_once(", ")?;
    let lo = Some(number(lo)?);
    if hi == "..." {
        return Some((lo, None));
    }
    Some((lo, Some(number(hi)?)))
}

/// `512`, `-3`, `1K`, `16M`: bpftrace's power-of-1024 suffixes.
fn number(s: &str) -> Option<i64> {
    let s = s.trim();
    let suffixes = ['K', 'M', 'G', 'T', 'P', 'E'];
    let (digits, scale) = match s.chars().last() {
        Some(c) => match suffixes.iter().position(|&x| x == c) {
            Some(p) => (&s[..s.len() - 1], 1i64.checked_shl(10 * (p as u32 + 1))?),
            None => (s, 1),
        },
        None => return None,
    };
    digits.parse::<i64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real output of bpftrace 0.17 (Debian 12) for a BEGIN probe filling
    /// every kind of map, then `exit()`.
    const SAMPLE: &str = "Attaching 1 probe...
hi 4


@a: 3

@h: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1]                    0 |                                                    |
[2, 4)                 0 |                                                    |
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[512K, 1M)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

@hk[bpftrace]: 
[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

@k[
    __bpf_prog_test_run_raw_tp+106
    __x64_sys_bpf+29
]: 1
@l: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[0, 128)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[896, 1K)              0 |                                                    |
[1K, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

@mn: -4
@s[dd]: count 1, average 7, total 7
@str[k]: hello world
@x[1, ab]: 1
@d[-3, x y, z]: 1
";

    fn entry(map: &str, key: &str, value: Value) -> Item {
        Item::Entry {
            map: map.into(),
            key: key.into(),
            value,
        }
    }

    fn b(lo: Option<i64>, hi: Option<i64>, count: i64) -> Bucket {
        Bucket { lo, hi, count }
    }

    #[test]
    fn parses_every_kind_of_entry() {
        let items = parse(SAMPLE);
        let expected = vec![
            Item::Line("hi 4".into()),
            entry("@a", "", Value::Int(3)),
            entry(
                "@h",
                "",
                Value::Buckets(vec![
                    b(None, Some(0), 1),
                    b(Some(0), Some(1), 1),
                    b(Some(4), Some(8), 1),
                    b(Some(512 << 10), Some(1 << 20), 1),
                ]),
            ),
            entry(
                "@hk",
                "bpftrace",
                Value::Buckets(vec![b(Some(2), Some(4), 1)]),
            ),
            entry(
                "@k",
                "__bpf_prog_test_run_raw_tp+106\n__x64_sys_bpf+29",
                Value::Int(1),
            ),
            entry(
                "@l",
                "",
                Value::Buckets(vec![
                    b(None, Some(0), 1),
                    b(Some(0), Some(128), 1),
                    b(Some(1024), None, 1),
                ]),
            ),
            entry("@mn", "", Value::Int(-4)),
            entry(
                "@s",
                "dd",
                Value::Stats {
                    count: 1,
                    avg: 7,
                    total: 7,
                },
            ),
            entry("@str", "k", Value::Str("hello world".into())),
            entry("@x", "1, ab", Value::Int(1)),
            entry("@d", "-3, x y, z", Value::Int(1)),
        ];
        assert_eq!(items, expected);
    }

    #[test]
    fn printf_lines_that_look_like_buckets_outside_a_histogram_stay_lines() {
        let items = parse("[4, 8)  3 |@@|\n@ x\n@m[unclosed\n");
        assert_eq!(
            items,
            vec![
                Item::Line("[4, 8)  3 |@@|".into()),
                Item::Line("@ x".into()),
                Item::Line("@m[unclosed".into()),
            ]
        );
    }

    #[test]
    fn bucket_labels_with_suffixes_and_overflow() {
        assert_eq!(number("16M"), Some(16 << 20));
        assert_eq!(number("8E"), None); // 8 * 2^60 overflows i64
        assert_eq!(number("K"), None);
        assert_eq!(range("[1]"), Some((Some(1), Some(2))));
        assert_eq!(range("[x, 4)"), None);
    }

    proptest! {
        /// Whatever bpftrace (or a broken pipe) printed, parsing ends
        /// without a panic.
        #[test]
        fn never_panics_on_garbage(text in "(\\PC|\n|@|\\[|\\]|: |\\(|\\)|\\|| |[0-9]|K|,){0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}

#[cfg(test)]
mod rendered;
