//! "Did you mean": the names nearest to a misspelt one, for every
//! diagnostic that offers one (unknown builtins, functions and probe types
//! of the spec language; kernel types and members missing from a BTF).
//! One ranking, on strsim's measures, so that a typo gets the same help
//! wherever it is made.

/// How close one candidate is; sorting puts the best first.
#[derive(Debug)]
struct Close<'a> {
    name: &'a str,
    /// 0: one edit away; 1: one name contains the other; 2: a few edits
    /// away; 3: only similar.
    class: u8,
    /// Edits (insert, delete, substitute, swap two neighbours) from the query.
    edits: usize,
    /// The same edits, counting a change of case as one: of names equally
    /// near but for case, the one spelt as typed (`Begin` → `begin`).
    case_edits: usize,
    /// `a.b` (a member of a member) after a direct name.
    dotted: bool,
    /// Letters shared at the start, more first.
    prefix: usize,
    /// Of the rest, a same-length name first (`printk` → `printf`).
    len_diff: usize,
    /// Jaro-Winkler similarity.
    similarity: f64,
    /// Position among the candidates, the last tie-break.
    order: usize,
}

/// The candidates nearest to `query`, best first, at most three, for
/// "did you mean". Near are, best first: a name one edit away (insert,
/// delete, substitute, or swap two neighbours: `pdi` → `pid`); a name that
/// contains the query or is contained in it (kernel names carry prefixes:
/// `dport` → `skc_dport`); a name within a third of the query's length in
/// edits (at least 2, and fewer than either name has letters); a name
/// Jaro-Winkler finds similar. Within each, fewer edits first (ignoring
/// case, then counting it), then a direct name before a dotted one, a longer shared beginning, a
/// same-length name, greater similarity and the candidates' own order.
/// Case is ignored, and of `a.b` candidates the last part is compared.
pub fn nearest<'a>(query: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let q = query.to_ascii_lowercase();
    let q_len = q.chars().count();
    let limit = (q_len / 3).max(2);
    let mut close: Vec<Close> = candidates
        .into_iter()
        .enumerate()
        .filter_map(|(order, name)| {
            let last_cased = name.rsplit('.').next().unwrap_or(name);
            let last = last_cased.to_ascii_lowercase();
            let last_len = last.chars().count();
            let edits = strsim::osa_distance(&q, &last);
            let similarity = strsim::jaro_winkler(&q, &last);
            let contains = q_len >= 3 && (last.contains(&q) || q.contains(&last) && last_len >= 3);
            let class = if edits <= 1 && edits < q_len {
                0
            } else if contains {
                1
            } else if edits <= limit && edits < q_len.min(last_len) {
                2
            } else if similarity >= 0.84 {
                3
            } else {
                return None;
            };
            Some(Close {
                name,
                class,
                edits,
                case_edits: strsim::osa_distance(query, last_cased),
                dotted: name.contains('.'),
                prefix: q
                    .chars()
                    .zip(last.chars())
                    .take_while(|(a, b)| a == b)
                    .count(),
                len_diff: q_len.abs_diff(last_len),
                similarity,
                order,
            })
        })
        .collect();
    close.sort_by(|a, b| {
        (
            a.class,
            a.edits,
            a.case_edits,
            a.dotted,
            usize::MAX - a.prefix,
            a.len_diff,
        )
            .cmp(&(
                b.class,
                b.edits,
                b.case_edits,
                b.dotted,
                usize::MAX - b.prefix,
                b.len_diff,
            ))
            .then(b.similarity.total_cmp(&a.similarity))
            .then(a.order.cmp(&b.order))
    });
    let mut out: Vec<&str> = vec![];
    for c in close {
        if !out.contains(&c.name) {
            out.push(c.name);
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

/// The one nearest candidate, for a "did you mean `x`?" help.
pub fn best<'a>(query: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    nearest(query, candidates).first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names() {
        let names = [
            "task_struct",
            "task_group",
            "sock",
            "socket",
            "sk_buff",
            "file",
        ];
        assert_eq!(nearest("task_strct", names)[0], "task_struct");
        assert_eq!(nearest("sokc", names), vec!["sock", "socket"]);
        assert!(nearest("zzzzzz", names).is_empty());
        assert_eq!(
            nearest("dport", ["skc_dport", "__sk_common.skc_dport", "skc_num"]),
            vec!["skc_dport", "__sk_common.skc_dport"]
        );
        // A containing name before one a few edits away; two edits that
        // keep nothing of the query are not near.
        assert_eq!(
            nearest("vm_area", ["vmap_area", "vm_area_struct"]),
            vec!["vm_area_struct", "vmap_area"]
        );
        assert_eq!(nearest("pidd", ["unwind_info.id", "pid"]), vec!["pid"]);
        assert_eq!(
            nearest("flag", ["se.vlag", "dl.flags", "flags"]),
            vec!["flags", "dl.flags", "se.vlag"]
        );
    }

    #[test]
    fn spec_words() {
        assert_eq!(best("kprob", ["kprobe", "kretprobe"]), Some("kprobe"));
        assert_eq!(best("KPROBE", ["uprobe", "kprobe"]), Some("kprobe"));
        assert_eq!(best("x", ["pid", "tid"]), None);
        // A swap is one edit; a same-length name first; then the order given.
        assert_eq!(best("pcu", ["pid", "cpu"]), Some("cpu"));
        assert_eq!(best("printk", ["print", "printf"]), Some("printf"));
        assert_eq!(best("xid", ["pid", "tid", "uid"]), Some("pid"));
        assert_eq!(best("ketprobe", ["kprobe", "kretprobe"]), Some("kretprobe"));
    }
}
