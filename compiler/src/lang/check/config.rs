//! The `config = { key = value; ... }` block: every config variable of
//! bpftrace 0.20 to 0.27 is known by name (in any case, with or without
//! the `BPFTRACE_` prefix, as bpftrace reads them), its value checked;
//! those that change what probecc compiles or what a runtime does become
//! [`Settings`], the others are accepted and change nothing (docs/language.md,
//! "Differences from bpftrace"). An unknown name is an error naming the
//! nearest known one.

use super::ir::settings::{MissingProbes, Settings, StackMode, PAGE_SIZE, STR_MAX};
use super::Checker;
use crate::lang::ast::{ConfigBlock, ConfigItem, ConfigValue};
use crate::lang::diag::{suggest, Diagnostic};

/// What a config variable's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    /// One of these words (or strings).
    Word(&'static [&'static str]),
    /// Any string or word.
    Text,
}

const MISSING_PROBES: &[&str] = &["error", "warn", "ignore"];
const STACK_MODES: &[&str] = &["bpftrace", "perf", "raw"];
const UNSTABLE: &[&str] = &["error", "warn", "enable", "true", "false"];

/// Every config variable bpftrace accepts in a script, with its value.
const KEYS: &[(&str, Kind)] = &[
    ("max_strlen", Kind::Int),
    ("max_map_keys", Kind::Int),
    ("perf_rb_pages", Kind::Int),
    ("missing_probes", Kind::Word(MISSING_PROBES)),
    ("print_maps_on_exit", Kind::Bool),
    ("stack_mode", Kind::Word(STACK_MODES)),
    ("cache_user_symbols", Kind::Text),
    ("cpp_demangle", Kind::Bool),
    ("lazy_symbolication", Kind::Bool),
    ("license", Kind::Text),
    ("log_size", Kind::Int),
    ("max_bpf_progs", Kind::Int),
    ("max_cat_bytes", Kind::Int),
    ("max_probes", Kind::Int),
    ("max_type_res_iterations", Kind::Int),
    ("on_stack_limit", Kind::Int),
    ("probe_inline", Kind::Bool),
    ("show_debug_info", Kind::Bool),
    ("str_trunc_trailer", Kind::Text),
    ("symbol_source", Kind::Word(&["dwarf", "symbol_table"])),
    ("use_blazesym", Kind::Bool),
    ("unstable_addr", Kind::Word(UNSTABLE)),
    ("unstable_dw_ustack", Kind::Word(UNSTABLE)),
    ("unstable_import", Kind::Word(UNSTABLE)),
    ("unstable_import_statement", Kind::Word(UNSTABLE)),
    ("unstable_macro", Kind::Word(UNSTABLE)),
    ("unstable_map_decl", Kind::Word(UNSTABLE)),
    ("unstable_tseries", Kind::Word(UNSTABLE)),
    ("unstable_typeinfo", Kind::Word(UNSTABLE)),
];

/// bpftrace's variables that only its environment sets.
const ENV_ONLY: &[&str] = &[
    "btf",
    "debug_output",
    "kernel_build",
    "kernel_source",
    "max_ast_nodes",
    "verify_llvm_ir",
    "vmlinux",
];

/// A checked value.
enum Value {
    Int(u64),
    Bool(bool),
    Word(String),
}

impl Checker<'_> {
    /// The settings of `block` (the defaults without one); every error
    /// reported.
    pub(super) fn settings(&mut self, block: Option<&ConfigBlock>) -> Settings {
        let mut s = Settings::default();
        let mut seen: Vec<(String, crate::lang::ast::Span)> = Vec::new();
        for item in block.map_or(&[][..], |b| &b.items) {
            let Some((key, kind)) = self.config_key(item) else {
                continue;
            };
            if let Some((_, at)) = seen.iter().find(|(k, _)| *k == key) {
                let first = self.pos(*at);
                self.error(
                    Diagnostic::new(
                        item.key_span,
                        format!("config variable `{key}` is set twice"),
                    )
                    .with_label("set again")
                    .with_help(format!("it is first set at {first}")),
                );
                continue;
            }
            seen.push((key.to_string(), item.key_span));
            let Some(value) = self.config_value(item, key, kind) else {
                continue;
            };
            self.apply(&mut s, item, key, value);
        }
        s
    }

    /// The known variable `item` names.
    fn config_key(&mut self, item: &ConfigItem) -> Option<(&'static str, Kind)> {
        let lower = item.key.to_ascii_lowercase();
        let bare = lower.strip_prefix("bpftrace_").unwrap_or(&lower);
        if let Some((k, kind)) = KEYS.iter().find(|(k, _)| *k == bare) {
            return Some((k, *kind));
        }
        let d = if ENV_ONLY.contains(&bare) {
            Diagnostic::new(
                item.key_span,
                format!(
                    "config variable `{}` can only be set in bpftrace's environment",
                    item.key
                ),
            )
            .with_label("not a script setting")
            .with_help(format!(
                "bpftrace reads it from BPFTRACE_{}",
                bare.to_ascii_uppercase()
            ))
        } else {
            let mut d = Diagnostic::new(
                item.key_span,
                format!("unknown config variable `{}`", item.key),
            )
            .with_label("not a config variable");
            if let Some(near) = suggest(bare, KEYS.iter().map(|(k, _)| *k)) {
                d = d.with_help(format!("did you mean `{near}`?"));
            }
            d
        };
        self.error(d);
        None
    }

    /// `item`'s value, checked against what `key` takes.
    fn config_value(&mut self, item: &ConfigItem, key: &str, kind: Kind) -> Option<Value> {
        let word = match &item.value {
            ConfigValue::Str(s) | ConfigValue::Ident(s) => Some(s.as_str()),
            ConfigValue::Int(_) => None,
        };
        let value = match (kind, &item.value, word) {
            (Kind::Int, ConfigValue::Int(n), _) => Some(Value::Int(*n)),
            (Kind::Bool, ConfigValue::Int(n @ (0 | 1)), _) => Some(Value::Bool(*n == 1)),
            (Kind::Bool, _, Some("true")) => Some(Value::Bool(true)),
            (Kind::Bool, _, Some("false")) => Some(Value::Bool(false)),
            (Kind::Word(words), _, Some(w)) if words.contains(&w.to_ascii_lowercase().as_str()) => {
                Some(Value::Word(w.to_ascii_lowercase()))
            }
            (Kind::Text, _, Some(w)) => Some(Value::Word(w.to_string())),
            _ => None,
        };
        if value.is_none() {
            let want = match kind {
                Kind::Int => "an integer".to_string(),
                Kind::Bool => "`true` or `false`".to_string(),
                Kind::Word(words) => format!("one of {}", words.join(", ")),
                Kind::Text => "a string".to_string(),
            };
            self.error(
                Diagnostic::new(
                    item.value_span,
                    format!("config variable `{key}` takes {want}"),
                )
                .with_label("not a valid value"),
            );
        }
        value
    }

    /// Records what `key = value` changes.
    fn apply(&mut self, s: &mut Settings, item: &ConfigItem, key: &str, value: Value) {
        let span = item.value_span;
        match (key, value) {
            ("max_strlen", Value::Int(n)) => match u32::try_from(n) {
                Ok(n @ 1..=STR_MAX) => s.str_size = n,
                _ => self.error(
                    Diagnostic::new(
                        span,
                        format!("max_strlen must be from 1 to {STR_MAX}, found {n}"),
                    )
                    .with_label("out of range")
                    .with_help("probecc keeps strings on the 512-byte BPF stack"),
                ),
            },
            ("max_map_keys", Value::Int(n)) => match u32::try_from(n) {
                Ok(n @ 1..) => s.max_entries = n,
                _ => self.error(
                    Diagnostic::new(
                        span,
                        format!("max_map_keys must be from 1 to {}, found {n}", u32::MAX),
                    )
                    .with_label("out of range"),
                ),
            },
            ("perf_rb_pages", Value::Int(n)) => {
                match u32::try_from(n).ok().and_then(|p| p.checked_mul(PAGE_SIZE)) {
                    Some(bytes) if n.is_power_of_two() => s.ringbuf_bytes = bytes,
                    _ => self.error(
                        Diagnostic::new(
                            span,
                            format!("perf_rb_pages must be a power of two, found {n}"),
                        )
                        .with_label("not a ring buffer size")
                        .with_help(
                            "the kernel's ring buffers are a power of two of pages: 64 is 256 KiB",
                        ),
                    ),
                }
            }
            ("missing_probes", Value::Word(w)) => {
                s.runtime.missing_probes = match w.as_str() {
                    "warn" => MissingProbes::Warn,
                    "ignore" => MissingProbes::Ignore,
                    _ => MissingProbes::Error,
                }
            }
            ("print_maps_on_exit", Value::Bool(b)) => s.runtime.print_maps_on_exit = b,
            ("stack_mode", Value::Word(w)) => {
                s.runtime.stack_mode = match w.as_str() {
                    "perf" => StackMode::Perf,
                    "raw" => StackMode::Raw,
                    _ => StackMode::Bpftrace,
                }
            }
            // Accepted; nothing here depends on them.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_and_none_is_env_only() {
        for (i, (k, _)) in KEYS.iter().enumerate() {
            assert!(!KEYS[..i].iter().any(|(o, _)| o == k), "{k} twice");
            assert!(!ENV_ONLY.contains(k), "{k}");
        }
    }
}
