//! Map declarations (`let @name = KIND(N);`): each declared map takes its
//! kind and size from the declaration, which must agree with what the map
//! holds (a per-CPU aggregation in a per-CPU kind, an assigned value in a
//! shared one), as bpftrace requires.

use super::Checker;
use crate::lang::ast::MapDecl;
use crate::lang::diag::{suggest, Diagnostic};
use crate::maps::MapKind;

/// The declarable kinds probecc compiles, and whether each is per-CPU.
const KINDS: [(&str, MapKind, bool); 3] = [
    ("hash", MapKind::Hash, false),
    ("lruhash", MapKind::LruHash, false),
    ("percpuhash", MapKind::PercpuHash, true),
];

/// bpftrace's declarable kinds probecc does not compile yet.
const NOT_YET: [&str; 2] = ["percpulruhash", "percpuarray"];

impl Checker<'_> {
    /// Applies `decls` to the maps the probes use (a declared map no probe
    /// uses makes no map, as bpftrace makes none).
    pub(super) fn declare_maps(&mut self, decls: &[MapDecl]) {
        let mut seen: Vec<&str> = Vec::new();
        for d in decls {
            if seen.contains(&d.name.as_str()) {
                self.diags.push(
                    Diagnostic::new(d.span, format!("`@{}` is declared twice", d.name))
                        .with_label("declared again"),
                );
                continue;
            }
            seen.push(&d.name);
            let Some(&(_, kind, percpu)) = KINDS.iter().find(|(n, _, _)| *n == d.kind) else {
                let known: Vec<&str> = KINDS.iter().map(|(n, _, _)| *n).collect();
                let message = if NOT_YET.contains(&d.kind.as_str()) {
                    format!("`{}` maps are not supported yet", d.kind)
                } else {
                    format!("unknown map kind `{}`", d.kind)
                };
                let help = match suggest(&d.kind, known.iter().copied()) {
                    Some(s) if !NOT_YET.contains(&d.kind.as_str()) => {
                        format!("did you mean `{s}`?")
                    }
                    _ => format!("probecc declares these map kinds: {}", known.join(", ")),
                };
                self.diags.push(
                    Diagnostic::new(d.kind_span, message)
                        .with_label("map kind")
                        .with_help(help),
                );
                continue;
            };
            let Ok(entries @ 1..) = u32::try_from(d.max_entries) else {
                self.diags.push(
                    Diagnostic::new(
                        d.span,
                        format!(
                            "`@{}`'s size must be 1 to {}, not {}",
                            d.name,
                            u32::MAX,
                            d.max_entries
                        ),
                    )
                    .with_label("map size"),
                );
                continue;
            };
            let Some(&i) = self.map_index.get(&d.name) else {
                continue;
            };
            let m = &mut self.maps[i];
            if let Some(v) = m.value {
                let needs_percpu = v.map_kind() == MapKind::PercpuHash;
                if needs_percpu != percpu {
                    let (holds, want) = if needs_percpu {
                        ("a per-CPU aggregation", "percpuhash")
                    } else {
                        ("a value assigned to it", "hash` or `lruhash")
                    };
                    let at = m.first_value;
                    self.diags.push(
                        Diagnostic::new(
                            d.kind_span,
                            format!("`@{}` is declared `{}` but holds {holds}", d.name, d.kind),
                        )
                        .with_label("declared kind")
                        .with_related(at, "what it holds")
                        .with_help(format!("declare it `{want}`")),
                    );
                    continue;
                }
            }
            m.declared = Some((kind, entries));
        }
    }
}
