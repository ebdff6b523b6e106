//! The host of an offline run ([`Offline`]): what a run's text is made
//! with where no machine gives it — a fixed clock, the events' files and
//! users, made-up cgroups, no commands — so that offline runs print the
//! same text anywhere.

use std::collections::BTreeMap;

use probecc_runtime::host::{self, Host};
use probecc_runtime::strftime::WallTime;

/// The wall-clock time the offline runner's kernel booted at (2024-01-01
/// 00:00:00 UTC): `time()` and `strftime()` print this plus the event's
/// `ns`, so that runs print the same text anywhere.
pub const BOOT: i64 = 1_704_067_200;

/// The users of an offline run whose events give no `/etc/passwd`.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";

/// The host of an offline run: its clock is [`BOOT`] plus the time of the
/// program running, its files are the events' `files`, its users those of
/// the `/etc/passwd` among them ([`PASSWD`] without one), its cgroup 1 is
/// the root (`unified:/`) and cgroup N another `unified:/cgN`, and it runs
/// no command (`system()` prints nothing).
#[derive(Clone, Debug, Default)]
pub struct Offline {
    pub ns: u64,
    pub files: BTreeMap<String, String>,
}

impl Host for Offline {
    fn now(&self) -> WallTime {
        WallTime::utc_ns(i128::from(BOOT) * 1_000_000_000).plus_ns(self.ns)
    }

    fn boot(&self) -> WallTime {
        WallTime::utc_ns(i128::from(BOOT) * 1_000_000_000)
    }

    fn username(&self, uid: u64) -> String {
        let passwd = self.files.get("/etc/passwd").map_or(PASSWD, String::as_str);
        host::user_in(passwd, uid)
    }

    fn cgroup_path(&self, id: u64) -> String {
        match id {
            1 => "unified:/".into(),
            _ => format!("unified:/cg{id}"),
        }
    }

    fn cat(&self, path: &str, max: usize) -> String {
        let text = self.files.get(path).map_or("", String::as_str);
        let mut end = text.len().min(max);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    }

    fn system(&self, _: &str) -> String {
        String::new()
    }
}
