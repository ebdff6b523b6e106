//! One fixture end to end through the runtime's loader
//! (`probecc_runtime::live`): load the object, run its BEGIN programs,
//! attach every kprobe and kretprobe, run the workload (interval programs
//! running at their period meanwhile), detach, run its END programs — the
//! records of the ring buffer acted on in order throughout — read the maps
//! (decoded by the manifest), check the expectations, and, when the plan
//! asks, render what bpftrace would have printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use probecc::error::chain;
use probecc::lang::manifest::Manifest;
use probecc_guest::protocol::{FixturePlan, Report};
use probecc_runtime::ksyms::Ksyms;
use probecc_runtime::live::{kernel, Loaded, Session};
use probecc_runtime::output::{Chunk, Output, Style};
use probecc_runtime::report;
use serde_json::{json, Value};

use crate::expect::{self, Entries, Outcome};
use crate::offsets;
use crate::workload;

/// Runs one fixture and returns its report line.
pub fn run(f: &FixturePlan, ksyms: &Ksyms) -> Report {
    if f.tracing {
        if let Err(why) = tracing_possible() {
            return Report::Unavailable {
                what: f.name.clone(),
                why,
            };
        }
    }
    let mut r = Run::new(f);
    if let Err(e) = r.go(f, ksyms) {
        r.errors.push(e);
    }
    r.report()
}

/// Whether this kernel can run fentry/fexit programs, by the arch table
/// (`trampolines_since`; the host checks the table against what the empty
/// fentry subject met), its BTF, which a tracing program's attach target
/// is found in, and its BPF JIT, which builds the trampolines.
fn tracing_possible() -> Result<(), String> {
    let uname = kernel::uname().map_err(|e| chain(&e))?;
    let arch = uname.arch().map_err(|e| chain(&e))?;
    let version = uname.version().map_err(|e| chain(&e))?;
    if !arch.has_trampolines(version) {
        let since = arch.info().trampolines_since;
        return Err(match since {
            Some(v) => format!("{arch} has BPF trampolines from {v}, this kernel is {version}"),
            None => format!("{arch} has no BPF trampolines"),
        });
    }
    if !Path::new(BTF).exists() {
        return Err(format!("this kernel has no BTF ({BTF})"));
    }
    if !kernel::has_jit() {
        return Err(format!(
            "this kernel has no BPF JIT ({}), which builds trampolines",
            kernel::JIT_SYSCTL
        ));
    }
    Ok(())
}

const BTF: &str = "/sys/kernel/btf/vmlinux";

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
        let mut manifest = read_manifest(&f.manifest)?;
        let placed = offsets::place(&mut manifest, f.first_valid_offset);
        self.notes.extend(placed.notes);
        if !placed.refused.is_empty() {
            if f.unsupported.is_none() {
                return Err(placed.refused.join("; "));
            }
            self.not_attached.extend(placed.refused);
        }
        let object = Loaded::load_file(Path::new(&f.object))
            .map_err(|e| format!("{}: {}", f.object, chain(&e)))?;
        self.loaded = true;
        self.programs = manifest
            .programs
            .iter()
            .filter(|p| p.kind.attached())
            .count();
        let mut session = Session::collecting(object, manifest.clone(), ksyms.clone());
        session
            .begin()
            .map_err(|e| format!("BEGIN: {}", chain(&e)))?;
        for (section, e) in session.attach() {
            let e = format!("{section}: {}", chain(&e));
            if f.unsupported.is_some() {
                // Declared not to work on this arch: a note, not an error.
                self.not_attached.push(e);
            } else {
                self.errors.push(e);
            }
        }
        self.attached = session.loaded().attached();
        // Every run of a fixture (and its fentry twin) meets the same /tmp.
        workload::fresh_tmp();
        let (pid, notes) = while_running(&mut session, || -> Result<_, String> {
            let (mut pid, mut notes) = (0, Vec::new());
            for line in &f.workload {
                let ran = workload::spawn(line, Duration::from_secs(60))
                    .map_err(|e| format!("workload `{line}`: {e}"))?;
                pid = ran.pid;
                notes.extend(ran.note);
            }
            Ok((pid, notes))
        })??;
        self.notes.extend(notes);
        let out = session
            .output()
            .map_err(|e| format!("END: {}", chain(&e)))?;
        let printf = out.lines();
        if f.output {
            let mut text = Style::Text.attached_probes(self.attached);
            text.push_str(&out.render(Style::Text));
            self.output = Some(text);
        }
        let decoded: BTreeMap<String, Entries> = maps_as_shown(&out)
            .iter()
            .map(|(name, entries)| (name.clone(), expect::entries(entries)))
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

/// Every map of a run's end as the runtime decodes it, in the report's
/// shape (`[{"key": [...], "value": ...}]`, by name).
pub fn maps_of(out: &Output) -> BTreeMap<String, Value> {
    out.maps
        .iter()
        .map(|m| (m.name.clone(), report::entries(m)))
        .collect()
}

/// Every map as the run showed it, which is what expectations are about:
/// a map the program `print()`s is taken as its last `print()` showed it
/// (END or an interval block often prints a map and then clears or zeroes
/// it, as bpftrace's tools do), any other map as it was when the run ended.
pub fn maps_as_shown(out: &Output) -> BTreeMap<String, Value> {
    let mut maps = maps_of(out);
    for chunk in &out.chunks {
        if let Chunk::Print(m) = chunk {
            maps.insert(m.name.clone(), report::entries(m));
        }
    }
    maps
}

/// `work` run in a thread while the session's interval programs run at
/// their period and its records are acted on; `work`'s result.
pub fn while_running<T: Send>(
    session: &mut Session<Vec<Chunk>>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        while !worker.is_finished() {
            session
                .poll()
                .map_err(|e| format!("an interval program: {}", chain(&e)))?;
            let soon = Instant::now() + Duration::from_millis(10);
            let wake = session.next_due().map_or(soon, |due| due.min(soon));
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
        worker
            .join()
            .map_err(|_| "the workload thread panicked".to_string())
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::lang::manifest::ValueKind;
    use probecc_runtime::decode::{Entry, Key, MapDump, Value as MapValue};

    fn dump(name: &str, entries: &[(&str, i128)]) -> MapDump {
        MapDump {
            name: name.into(),
            kind: ValueKind::Int,
            keyless: false,
            lhist: None,
            entries: entries
                .iter()
                .map(|(k, v)| Entry {
                    key: vec![Key::Str(k.to_string())],
                    value: MapValue::Int(*v),
                })
                .collect(),
        }
    }

    #[test]
    fn a_printed_map_is_taken_as_its_last_print_showed_it() {
        let out = Output {
            chunks: vec![
                Chunk::Print(dump("@opens", &[("cat", 1)])),
                Chunk::Printf("between\n".into()),
                Chunk::Print(dump("@opens", &[("cat", 3)])),
            ],
            // END cleared @opens and zeroed nothing else; @other was never printed.
            maps: vec![dump("@opens", &[]), dump("@other", &[("dd", 7)])],
        };
        let shown = maps_as_shown(&out);
        assert_eq!(shown["@opens"], json!([{"key": ["cat"], "value": 3}]));
        assert_eq!(shown["@other"], json!([{"key": ["dd"], "value": 7}]));
        // The final state stays what maps_of reports.
        assert_eq!(maps_of(&out)["@opens"], json!([]));
    }
}
