//! One fixture end to end through the runtime's loader
//! (`probecc_runtime::live`): load the object, attach every program to its
//! kprobe or kretprobe, run the workload, detach, read the printf ring
//! buffer and the maps (decoded by the manifest), check the expectations,
//! and, when the plan asks, render what bpftrace would have printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use probecc::error::chain;
use probecc::lang::manifest::Manifest;
use probecc_guest::protocol::{FixturePlan, Report};
use probecc_runtime::decode::MapDump;
use probecc_runtime::ksyms::Ksyms;
use probecc_runtime::live::Loaded;
use probecc_runtime::output::Style;
use probecc_runtime::report;
use serde_json::{json, Value};

use crate::expect::{self, Entries, Outcome};
use crate::workload;

/// Printf records read from the ring buffer at most, per run.
const MAX_RECORDS: usize = 10_000;

/// Runs one fixture and returns its report line.
pub fn run(f: &FixturePlan, ksyms: &Ksyms) -> Report {
    let mut r = Run::new(f);
    if let Err(e) = r.go(f, ksyms) {
        r.errors.push(e);
    }
    r.report()
}

/// What a fixture run gathers for its report.
struct Run {
    name: String,
    loaded: bool,
    attached: usize,
    programs: usize,
    met: usize,
    expectations: usize,
    errors: Vec<String>,
    not_attached: Vec<String>,
    maps: Value,
    output: Option<String>,
    notes: Vec<String>,
}

impl Run {
    fn new(f: &FixturePlan) -> Run {
        Run {
            name: f.name.clone(),
            loaded: false,
            attached: 0,
            programs: 0,
            met: 0,
            expectations: f.expect.len(),
            errors: Vec::new(),
            not_attached: Vec::new(),
            maps: Value::Null,
            output: None,
            notes: Vec::new(),
        }
    }

    fn report(self) -> Report {
        Report::Fixture {
            ok: self.errors.is_empty() && self.loaded && self.met == self.expectations,
            name: self.name,
            loaded: self.loaded,
            attached: self.attached,
            programs: self.programs,
            expectations_met: self.met,
            expectations: self.expectations,
            errors: self.errors,
            not_attached: self.not_attached,
            maps: self.maps,
            output: self.output,
            notes: self.notes,
        }
    }

    fn go(&mut self, f: &FixturePlan, ksyms: &Ksyms) -> Result<(), String> {
        let manifest = read_manifest(&f.manifest)?;
        let mut object = Loaded::load_file(Path::new(&f.object))
            .map_err(|e| format!("{}: {}", f.object, chain(&e)))?;
        self.loaded = true;
        self.programs = manifest.programs.len();
        for (section, e) in object.attach_all(&manifest) {
            let e = format!("{section}: {}", chain(&e));
            if f.unsupported.is_some() {
                // Declared not to work on this arch: a note, not an error.
                self.not_attached.push(e);
            } else {
                self.errors.push(e);
            }
        }
        self.attached = object.attached();
        let mut pid = 0;
        for line in &f.workload {
            let ran = workload::spawn(line, Duration::from_secs(60))
                .map_err(|e| format!("workload `{line}`: {e}"))?;
            pid = ran.pid;
            self.notes.extend(ran.note);
        }
        object.detach_all();
        let texts = printf_texts(&mut object, &manifest, &mut self.errors);
        let printf: Vec<String> = texts.concat().lines().map(str::to_string).collect();
        let dumps = map_dumps(&object, &manifest, ksyms, &mut self.errors);
        if f.output {
            let mut out = Style::Text.attached_probes(self.attached);
            out.push_str(&texts.concat());
            let ended: Vec<MapDump> = dumps.iter().map(|(_, d)| d.clone()).collect();
            out.push_str(&Style::Text.exit(&ended));
            self.output = Some(out);
        }
        let decoded: BTreeMap<String, Entries> = dumps
            .iter()
            .map(|(name, d)| (name.clone(), expect::entries(&report::entries(d))))
            .collect();
        self.maps = maps_json(&decoded, &printf);
        if f.unsupported.is_some() {
            // Declared not to work on this arch: nothing to expect.
            self.expectations = 0;
            return Ok(());
        }
        let outcome = Outcome {
            maps: &decoded,
            printf: &printf,
            pid,
            uid: 0,
        };
        for e in &f.expect {
            match expect::check(e, &outcome) {
                Ok(()) => self.met += 1,
                Err(why) => self.errors.push(why),
            }
        }
        Ok(())
    }
}

/// The manifest at `path`.
pub fn read_manifest(path: &str) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Manifest::from_json(&text).map_err(|e| format!("{path}: {e}"))
}

/// Every map of the manifest as the runtime decodes it, in the
/// manifest's order; a map that cannot be read is an error.
fn map_dumps(
    object: &Loaded,
    manifest: &Manifest,
    ksyms: &Ksyms,
    errors: &mut Vec<String>,
) -> Vec<(String, MapDump)> {
    let mut out = Vec::new();
    for m in &manifest.maps {
        match object.map(manifest, m, ksyms) {
            Ok(dump) => out.push((m.name.clone(), dump)),
            Err(e) => errors.push(format!("reading {}: {}", m.name, chain(&e))),
        }
    }
    out
}

/// Every map of the manifest as the runtime decodes it, in the report's
/// shape (`[{"key": [...], "value": ...}]`, by name); a map that cannot be
/// read is an error.
pub fn read_maps(
    object: &Loaded,
    manifest: &Manifest,
    ksyms: &Ksyms,
    errors: &mut Vec<String>,
) -> BTreeMap<String, Value> {
    map_dumps(object, manifest, ksyms, errors)
        .into_iter()
        .map(|(name, dump)| (name, report::entries(&dump)))
        .collect()
}

/// The texts of the printf records waiting in the ring buffer, in order.
fn printf_texts(object: &mut Loaded, manifest: &Manifest, errors: &mut Vec<String>) -> Vec<String> {
    object.printf(manifest, MAX_RECORDS).unwrap_or_else(|e| {
        errors.push(format!("the ring buffer: {}", chain(&e)));
        Vec::new()
    })
}

/// The printf records waiting in the ring buffer, as lines.
pub fn printf_lines(
    object: &mut Loaded,
    manifest: &Manifest,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let text = printf_texts(object, manifest, errors).concat();
    text.lines().map(str::to_string).collect()
}

/// The decoded maps (at most 20 entries each) and printf lines, for the log.
fn maps_json(decoded: &BTreeMap<String, Entries>, printf: &[String]) -> Value {
    let mut obj = serde_json::Map::new();
    for (name, entries) in decoded {
        let shown: Vec<Value> = entries
            .iter()
            .take(20)
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        obj.insert(name.clone(), Value::Array(shown));
    }
    if !printf.is_empty() {
        obj.insert(
            "printf".into(),
            json!(printf.iter().take(20).collect::<Vec<_>>()),
        );
    }
    Value::Object(obj)
}
