//! Where a fixture's `kprobe:FUNC+OFFSET` programs attach in this guest's
//! kernel: each offset checked against the function's own text (read from
//! `/proc/kallsyms` and `/proc/kcore`, decoded by `probecc::offsets`) before
//! the kernel sees it, as `probecc trace` checks it on a device; or, where
//! the plan asks for it, moved to the function's first valid offset past
//! its entry's special instructions (`Offsets::first_plain`), which is a
//! fact of each kernel's build that no spec can know ahead of time.

use std::collections::BTreeMap;
use std::path::Path;

use probecc::arch::Arch;
use probecc::kprobe::AttachPoint;
use probecc::lang::manifest::Manifest;
use probecc::offsets::source::{self, KALLSYMS, KCORE};
use probecc::offsets::{Offsets, Text};

/// What placing the offsets did: the notes for the report (the offset each
/// program attached at) and the offsets refused, as errors.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Placed {
    pub notes: Vec<String>,
    pub refused: Vec<String>,
}

/// Every `kprobe/FUNC+OFFSET` program of `manifest` (offset > 0) checked
/// against this kernel's text of FUNC, or with `first_valid` moved to its
/// first valid offset (the manifest's section rewritten, which is where
/// the loader attaches). A refused offset stays in the manifest (the
/// kernel then refuses it too) and is reported with the reason and the
/// nearest valid offsets; a function whose text cannot be read is left to
/// the kernel, with a note.
pub fn place(manifest: &mut Manifest, first_valid: bool) -> Placed {
    let Some(arch) = running_arch() else {
        return Placed {
            notes: vec![
                "offsets not checked: the running kernel's arch is not one of the five".into(),
            ],
            refused: Vec::new(),
        };
    };
    place_with(manifest, first_valid, |func| {
        let bytes = source::function(Path::new(KALLSYMS), Path::new(KCORE), func)
            .map_err(|e| probecc::error::chain(&e))?;
        Ok(Text::decode(arch, &bytes).offsets())
    })
}

fn running_arch() -> Option<Arch> {
    probecc_runtime::live::kernel::uname().ok()?.arch().ok()
}

/// [`place`] with each function's offsets from `read`.
fn place_with(
    manifest: &mut Manifest,
    first_valid: bool,
    mut read: impl FnMut(&str) -> Result<Offsets, String>,
) -> Placed {
    let mut placed = Placed::default();
    let mut seen: BTreeMap<String, Result<Offsets, String>> = BTreeMap::new();
    for p in &mut manifest.programs {
        let Ok(AttachPoint::Kprobe { func, offset }) = AttachPoint::from_section(&p.section) else {
            continue;
        };
        if offset == 0 {
            continue;
        }
        let offsets = seen.entry(func.clone()).or_insert_with(|| read(&func));
        let offsets = match offsets {
            Ok(o) => o,
            Err(why) => {
                placed.notes.push(format!(
                    "kprobe:{func}+{offset}: the offset is not checked ({why}); the kernel decides"
                ));
                continue;
            }
        };
        if first_valid {
            match offsets.first_plain() {
                Some(to) => {
                    p.section = format!("kprobe/{func}+{to}");
                    placed.notes.push(format!(
                        "kprobe:{func}+{offset} attached at {func}+{to}, the first valid offset \
                         past the entry of this kernel's {func}"
                    ));
                }
                None => placed.refused.push(format!(
                    "kprobe:{func}+{offset}: this kernel's {func} has no valid offset past its entry"
                )),
            }
        } else if let Err(e) = offsets.check(offset) {
            placed.refused.push(format!("kprobe:{func}+{offset}: {e}"));
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::lang::manifest::{ProgramEntry, ProgramKind};

    fn manifest(sections: &[&str]) -> Manifest {
        let programs = sections
            .iter()
            .enumerate()
            .map(|(i, s)| ProgramEntry {
                name: format!("p{i}"),
                section: s.to_string(),
                probe: s.replace('/', ":"),
                kind: ProgramKind::Kprobe,
                tracing: None,
                functions: Vec::new(),
                wildcard: None,
            })
            .collect();
        Manifest {
            name: "offsets".into(),
            arch: "arm64".into(),
            programs,
            funcs: Vec::new(),
            func_ip: false,
            probes: Vec::new(),
            maps: Vec::new(),
            output: Vec::new(),
            ringbuf: None,
            unsafe_actions: Vec::new(),
            config: Default::default(),
            globals: Vec::new(),
        }
    }

    /// arm64's entry as Debian's kernels build it: `bti c`, the two NOPs of
    /// the ftrace patch site, then `paciasp` and the frame setup.
    fn arm64_entry() -> Offsets {
        let words: [u32; 6] = [
            0xd503_245f, // bti c
            0xd503_201f, // nop
            0xd503_201f, // nop
            0xd503_233f, // paciasp
            0xa9be_7bfd, // stp x29, x30, [sp, #-32]!
            0x9100_03fd, // mov x29, sp
        ];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        Text::decode(Arch::Arm64, &bytes).offsets()
    }

    #[test]
    fn first_valid_moves_an_offset_probe_past_the_patch_site() {
        let mut m = manifest(&["kprobe/vfs_read", "kprobe/vfs_read+4"]);
        let want = arm64_entry().first_plain().expect("a plain offset");
        assert!(want > 8, "past bti and the two NOPs, got {want}");
        let placed = place_with(&mut m, true, |_| Ok(arm64_entry()));
        assert_eq!(m.programs[0].section, "kprobe/vfs_read");
        assert_eq!(m.programs[1].section, format!("kprobe/vfs_read+{want}"));
        assert!(placed.refused.is_empty());
        assert!(
            placed.notes[0].contains(&format!("vfs_read+{want}")),
            "{:?}",
            placed.notes
        );
    }

    #[test]
    fn an_offset_inside_the_patch_site_is_refused_with_the_nearest_valid_ones() {
        let mut m = manifest(&["kprobe/vfs_read+4"]);
        let placed = place_with(&mut m, false, |_| Ok(arm64_entry()));
        assert_eq!(
            m.programs[0].section, "kprobe/vfs_read+4",
            "left for the kernel"
        );
        assert_eq!(placed.refused.len(), 1, "{placed:?}");
        assert!(placed.refused[0].contains("nearest"), "{placed:?}");
    }

    #[test]
    fn a_valid_offset_passes_and_an_unreadable_function_is_a_note() {
        let mut m = manifest(&["kprobe/vfs_read+12", "kprobe/vfs_write+8"]);
        let placed = place_with(&mut m, false, |f| {
            if f == "vfs_read" {
                Ok(arm64_entry())
            } else {
                Err("no /proc/kcore".into())
            }
        });
        assert!(placed.refused.is_empty(), "{placed:?}");
        assert_eq!(placed.notes.len(), 1);
        assert!(
            placed.notes[0].contains("vfs_write+8") && placed.notes[0].contains("no /proc/kcore")
        );
    }
}
