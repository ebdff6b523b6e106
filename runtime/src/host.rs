//! host: what the machine a run is on gives the text of a run — the time
//! now and when it booted (`time()`, `strftime()`), users' names
//! (`username`), cgroups' paths (`cgroup_path()`), files (`cat()`) and a
//! shell (`system()`). The live runner's is the machine's own
//! (`live::System`); the offline runner's is fixed, so that its runs
//! print the same text anywhere.

use crate::strftime::WallTime;

/// What the machine a run is on provides.
pub trait Host {
    /// The wall-clock time now, in the zone to print it in.
    fn now(&self) -> WallTime;
    /// The wall-clock time the kernel's monotonic clock (`nsecs`) counts
    /// from, in the zone to print it in.
    fn boot(&self) -> WallTime;
    /// The name of user `uid`; empty for an unknown one, as bpftrace
    /// prints it.
    fn username(&self, uid: u64) -> String;
    /// The path of cgroup `id`; empty for an unknown one.
    fn cgroup_path(&self, id: u64) -> String;
    /// The first `max` bytes of a file, for `cat()`; nothing if it cannot
    /// be read.
    fn cat(&self, path: &str, max: usize) -> String;
    /// What a shell command prints, for `system()`.
    fn system(&self, command: &str) -> String;
}

/// The name `passwd` (the text of an `/etc/passwd`) gives user `uid`;
/// empty if it names none.
pub fn user_in(passwd: &str, uid: u64) -> String {
    let uid = uid.to_string();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[2] == uid).then(|| f[0].to_string())
        })
        .unwrap_or_default()
}

/// A made-up host for tests: its clock reads 2024-02-29 13:05:09 UTC and
/// it booted a day before, user 0 is `root` and no other is known, cgroup
/// `n` is `/cg/n`, its files are their names reversed, and its commands
/// print themselves.
#[cfg(test)]
pub(crate) struct Fixed;

#[cfg(test)]
impl Host for Fixed {
    fn now(&self) -> WallTime {
        WallTime {
            secs: 1_709_211_909,
            nanos: 0,
            offset: 0,
            zone: "UTC".into(),
        }
    }
    fn boot(&self) -> WallTime {
        WallTime {
            secs: 1_709_211_909 - 86_400,
            ..self.now()
        }
    }
    fn username(&self, uid: u64) -> String {
        if uid == 0 {
            "root".into()
        } else {
            String::new()
        }
    }
    fn cgroup_path(&self, id: u64) -> String {
        format!("/cg/{id}")
    }
    fn cat(&self, path: &str, max: usize) -> String {
        path.chars().rev().take(max).collect()
    }
    fn system(&self, command: &str) -> String {
        format!("ran {command}\n")
    }
}
