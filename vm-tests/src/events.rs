//! events: the JSON Lines event format, one probe hit per line, with these
//! defaults: `args` all 0, `retval` 0, `pid` 1, `tid` =
//! pid, `uid`/`gid` 0, `comm` "", `cpu` 0, `ns` = previous + 1000 starting
//! at 1000000. Negative integers stand for their two's complement; integers
//! may also be written as strings (`"0xffff888000001000"`). `args` may
//! name the arguments instead (`{"count": 5}`) for fentry and fexit
//! programs, whose manifest gives each argument's slot.
//!
//! `mem` maps addresses to what the probe-read helpers find there: a hex
//! string of raw bytes, or `{"u64": [..]}` (also `u32`, `u16`, `u8`) for
//! integers laid out in the target's byte order, so that one event file
//! describes the same memory on every architecture. `kstack` (a runner
//! extension) lists the kernel stack `bpf_get_stackid` sees, innermost frame
//! first, as `function` or `function+offset`; by default it is the probed
//! function alone. `task` (a runner extension) is the address
//! `bpf_get_current_task` (`curtask`) returns: by default
//! `TASK_BASE + tid * 0x10000`, so `mem` can lay out a task struct there.
//! `files` (a runner extension) maps paths to the text `cat()` finds
//! there, from this event on.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Where the default `task` addresses start (a kernel-looking address).
pub const TASK_BASE: u64 = 0xffff_8880_1000_0000;

/// The first default timestamp, and the default step between events.
pub const FIRST_NS: u64 = 1_000_000;
pub const NS_STEP: u64 = 1_000;
/// Kernel `comm` holds 15 characters and a NUL.
pub const COMM_LEN: usize = 16;

/// What one probe-read region holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemValue {
    Bytes(Vec<u8>),
    /// Integers of `width` bytes each, in the target's byte order.
    Ints {
        width: usize,
        values: Vec<u64>,
    },
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based line in the events file.
    pub line: usize,
    pub probe: String,
    pub args: Vec<u64>,
    /// Arguments by name (`"args": {"count": 5}`), for fentry and fexit
    /// programs, whose manifest names each argument's slot.
    pub named_args: Vec<(String, u64)>,
    pub retval: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub ns: u64,
    pub cpu: u32,
    /// What `bpf_get_current_task` returns.
    pub task: u64,
    /// What `bpf_get_current_cgroup_id` returns (1, the cgroup2 root's
    /// id, by default).
    pub cgroup: u64,
    pub mem: Vec<(u64, MemValue)>,
    pub kstack: Option<Vec<String>>,
    /// Files and their text, for `cat()`.
    pub files: Vec<(String, String)>,
}

impl Event {
    /// An event of `probe` with every default.
    pub fn new(probe: &str) -> Event {
        Event {
            line: 0,
            probe: probe.to_string(),
            args: Vec::new(),
            named_args: Vec::new(),
            retval: 0,
            pid: 1,
            tid: 1,
            uid: 0,
            gid: 0,
            comm: String::new(),
            ns: FIRST_NS,
            cpu: 0,
            task: TASK_BASE + 0x1_0000,
            cgroup: 1,
            mem: Vec::new(),
            kstack: None,
            files: Vec::new(),
        }
    }
}

const FIELDS: &str =
    "probe, args, retval, pid, tid, uid, gid, comm, ns, cpu, task, cgroup, mem, kstack, files";

/// Every event of a JSON Lines text; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut next_ns = FIRST_NS;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let ev = parse_line(raw, i + 1, next_ns)?;
        next_ns = ev.ns.wrapping_add(NS_STEP);
        events.push(ev);
    }
    Ok(events)
}

/// One line; `default_ns` is the time it gets without `ns`.
pub fn parse_line(raw: &str, line: usize, default_ns: u64) -> Result<Event> {
    let bad = |reason: String| Error::Event { line, reason };
    let value: Value = serde_json::from_str(raw).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(bad("an event is a JSON object".into()));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !FIELDS.split(", ").any(|f| f == k.as_str()))
    {
        return Err(bad(format!("unknown field `{k}` (known: {FIELDS})")));
    }
    let probe = match obj.get("probe") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("`probe` must be a string".into())),
        None => return Err(bad("`probe` is required (e.g. \"kprobe:vfs_read\")".into())),
    };
    let mut ev = Event::new(&probe);
    ev.line = line;
    ev.ns = default_ns;
    let int = |name: &str| -> Result<Option<u64>> {
        obj.get(name)
            .map(|v| integer(v).ok_or_else(|| bad(format!("`{name}` must be an integer"))))
            .transpose()
    };
    let small = |name: &str| -> Result<Option<u32>> {
        int(name)?
            .map(|v| {
                u32::try_from(v).map_err(|_| bad(format!("`{name}` {v} does not fit 32 bits")))
            })
            .transpose()
    };
    match obj.get("args") {
        Some(Value::Object(named)) => {
            for (name, v) in named {
                let v =
                    integer(v).ok_or_else(|| bad(format!("`args.{name}` must be an integer")))?;
                ev.named_args.push((name.clone(), v));
            }
        }
        Some(args) => {
            ev.args = ints(args).ok_or_else(|| {
                bad("`args` must be an array of integers, or an object of them by name".into())
            })?;
        }
        None => {}
    }
    ev.retval = int("retval")?.unwrap_or(0);
    ev.pid = small("pid")?.unwrap_or(1);
    ev.tid = small("tid")?.unwrap_or(ev.pid);
    ev.uid = small("uid")?.unwrap_or(0);
    ev.gid = small("gid")?.unwrap_or(0);
    ev.cpu = small("cpu")?.unwrap_or(0);
    ev.task = int("task")?.unwrap_or(TASK_BASE + u64::from(ev.tid) * 0x1_0000);
    ev.ns = int("ns")?.unwrap_or(default_ns);
    ev.cgroup = int("cgroup")?.unwrap_or(1);
    ev.comm = comm(obj.get("comm")).map_err(bad)?;
    ev.mem = match obj.get("mem") {
        Some(m) => memory(m).map_err(bad)?,
        None => Vec::new(),
    };
    ev.kstack = match obj.get("kstack") {
        Some(Value::Array(frames)) => Some(
            frames
                .iter()
                .map(|f| f.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`kstack` frames are strings".into()))?,
        ),
        Some(_) => return Err(bad("`kstack` must be an array of frame names".into())),
        None => None,
    };
    ev.files = match obj.get("files") {
        Some(Value::Object(files)) => files
            .iter()
            .map(|(path, text)| Some((path.clone(), text.as_str()?.to_string())))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("`files` maps paths to strings".into()))?,
        Some(_) => return Err(bad("`files` must map paths to their text".into())),
        None => Vec::new(),
    };
    Ok(ev)
}

/// A JSON integer, negative ones as two's complement, or a string holding
/// one in decimal or `0x` hex.
pub fn integer(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|i| i as u64)),
        Value::String(s) => {
            let s = s.trim();
            let (neg, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, s),
            };
            let v = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(h) => u64::from_str_radix(h, 16).ok()?,
                None => digits.parse::<u64>().ok()?,
            };
            Some(if neg { v.wrapping_neg() } else { v })
        }
        _ => None,
    }
}

fn ints(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(integer).collect()
}

fn comm(v: Option<&Value>) -> std::result::Result<String, String> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) if s.len() < COMM_LEN && !s.contains('\0') => Ok(s.clone()),
        Some(Value::String(s)) => Err(format!(
            "`comm` \"{s}\" is longer than the kernel's {} characters",
            COMM_LEN - 1
        )),
        Some(_) => Err("`comm` must be a string".into()),
    }
}

fn memory(v: &Value) -> std::result::Result<Vec<(u64, MemValue)>, String> {
    let Value::Object(map) = v else {
        return Err("`mem` must map addresses to hex bytes".into());
    };
    map.iter().map(|(k, v)| mem_entry(k, v)).collect()
}

fn mem_entry(addr: &str, v: &Value) -> std::result::Result<(u64, MemValue), String> {
    let at = integer(&Value::String(addr.to_string()))
        .ok_or_else(|| format!("`mem` address `{addr}` is not an integer"))?;
    let value = match v {
        Value::String(hex) => MemValue::Bytes(
            hex_bytes(hex).ok_or_else(|| format!("`mem` at {addr}: `{hex}` is not hex bytes"))?,
        ),
        Value::Object(o) => typed_ints(o).ok_or_else(|| {
            format!("`mem` at {addr}: expected {{\"u64\": [...]}} (or u32, u16, u8)")
        })?,
        _ => {
            return Err(format!(
                "`mem` at {addr}: expected a hex string or {{\"u64\": [...]}}"
            ))
        }
    };
    let len = match &value {
        MemValue::Bytes(b) => b.len(),
        MemValue::Ints { width, values } => width * values.len(),
    };
    if at.checked_add(len as u64).is_none() {
        return Err(format!(
            "`mem` at {addr}: {len} bytes run past the end of the address space"
        ));
    }
    Ok((at, value))
}

fn typed_ints(o: &Map<String, Value>) -> Option<MemValue> {
    if o.len() != 1 {
        return None;
    }
    let (k, v) = o.iter().next()?;
    let width = match k.as_str() {
        "u8" => 1,
        "u16" => 2,
        "u32" => 4,
        "u64" => 8,
        _ => return None,
    };
    Some(MemValue::Ints {
        width,
        values: ints(v)?,
    })
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_format() {
        let evs = parse(
            "{\"probe\": \"kprobe:vfs_read\"}\n\n{\"probe\": \"kprobe:vfs_read\", \"pid\": 42}\n",
        )
        .unwrap();
        assert_eq!(evs[0].ns, 1_000_000);
        assert_eq!(evs[0].pid, 1);
        assert_eq!(evs[0].tid, 1);
        assert_eq!(evs[1].ns, 1_001_000);
        assert_eq!(evs[1].tid, 42);
        assert_eq!(evs[1].line, 3);
    }

    #[test]
    fn the_readme_example_parses() {
        let line = r#"{"probe": "kprobe:vfs_read", "args": [3, 4096, 100], "retval": -11, "pid": 42, "tid": 43, "uid": 1000, "gid": 1000, "comm": "bash", "ns": 1000000, "cpu": 0, "mem": {"0xffff888000001000": "2f6574630000"}}"#;
        let ev = parse_line(line, 1, 0).unwrap();
        assert_eq!(ev.args, [3, 4096, 100]);
        assert_eq!(ev.retval, (-11i64) as u64);
        assert_eq!(ev.comm, "bash");
        assert_eq!(
            ev.mem,
            [(0xffff888000001000, MemValue::Bytes(b"/etc\0\0".to_vec()))]
        );
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = parse("{\"probe\": \"k:x\"}\n{\"prob\": 1}").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("events line 2: unknown field `prob` (known: {FIELDS})")
        );
        let e = parse("{\"args\": [1]}").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("events line 1: `probe` is required"));
        let e = parse("{\"probe\": \"k:x\", \"pid\": 5000000000}").unwrap_err();
        assert!(e.to_string().contains("does not fit 32 bits"), "{e}");
        let e = parse("{\"probe\": \"k:x\", \"comm\": \"a-very-long-command\"}").unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
    }
}
