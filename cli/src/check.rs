//! `probecc check <OBJ.o | SPEC.bt> [--arch ARCH] [--btf FILE] [--json]`:
//! verifier-sim on every program of an object (probecc's or clang's), or of
//! the object a spec compiles to. An object is checked as the arch `--arch`
//! names, else as its manifest's (`NAME.manifest.json` beside it, if
//! there), else as its byte order's; a contradiction is refused. Its
//! fentry/fexit programs are checked with the kernel types of `--btf` (a
//! spec's: the types it compiled with) as the kernel checks them. Exit status 0 when every
//! program is accepted, 1 when any is rejected, 2 when the input is
//! unusable. `probecc build` runs the same check through [`verdicts`] and
//! [`report`].

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use probecc::arch::{Arch, KernelVersion};
use probecc::btf::kernel::KernelBtf;
use serde::Serialize;
use verifier_sim::Verdict;

use crate::input::{self, BadInput};
use crate::plural;
use crate::target::{self, Target};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An object (.o) or a probe specification (.bt)
    pub input: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// Some program was rejected; the verdicts were printed already.
#[derive(Debug, thiserror::Error)]
#[error("{rejected} of {} rejected", plural(*.total, "program"))]
pub struct Rejected {
    pub rejected: usize,
    pub total: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    programs: Vec<JsonVerdict<'a>>,
}

#[derive(Serialize)]
struct JsonVerdict<'a> {
    name: &'a str,
    section: &'a str,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insn: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disasm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<&'a str>,
    processed: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let given = args.target.one_arch("check")?;
    let path = &args.input;
    let is_spec = path.extension().is_some_and(|e| e == "bt");
    let (bytes, arch, types) = if is_spec {
        let arch = given.unwrap_or(Arch::X86_64);
        let spec = args.target.spec(path)?;
        let (bytes, _) = spec.artifacts(arch)?;
        let types = crate::build::tracing_types(&bytes, spec.opts.btf.as_ref())?;
        (bytes, arch, types)
    } else {
        let bytes = input::bytes(path)?;
        let manifest_path = input::manifest_path(path);
        let manifest = match manifest_path.exists() {
            true => Some(input::manifest(&manifest_path)?.1),
            false => None,
        };
        let listed = manifest.as_ref().map(|m| (manifest_path.as_path(), m));
        let arch = target::object_arch(given, path, &bytes, listed)?;
        match args.target.kernel_types()? {
            Some(types) => {
                let bytes = args.target.relocate_with(path, bytes, &types)?;
                (bytes, arch, Some(Arc::new(types)))
            }
            None => (bytes, arch, None),
        }
    };
    let kernel = args.target.kernel.unwrap_or(arch.default_kernel());
    // A spec's object is probecc's own: one verifier-sim cannot read is
    // probecc's fault, not the input's.
    let verdicts = verdicts(&bytes, arch, kernel, types.as_deref()).map_err(|e| match is_spec {
        true => anyhow::Error::new(e).context(format!("checking the {arch} object")),
        false => BadInput::file(format!("checking {}", path.display()), e).into(),
    })?;
    if args.json {
        println!("{}", json(&verdicts));
    } else {
        print!("{}", report(&verdicts));
    }
    let rejected = verdicts.iter().filter(|v| !v.accepted).count();
    if rejected > 0 {
        return Err(Rejected {
            rejected,
            total: verdicts.len(),
        }
        .into());
    }
    Ok(())
}

/// verifier-sim's verdict on every program of an object; its fentry and
/// fexit programs typed by their functions' prototypes in `types`, the
/// kernel's BTF, when given (else by the model that knows no prototype).
pub fn verdicts(
    bytes: &[u8],
    arch: Arch,
    kernel: KernelVersion,
    types: Option<&KernelBtf>,
) -> Result<Vec<Verdict>, verifier_sim::CheckError> {
    verifier_sim::check_object_typed(bytes, &verifier_sim::Target::new(arch, kernel), types)
}

/// One paragraph per program: accepted, or the kernel-style message with
/// the instruction, its disassembly and the source line.
pub fn report(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        if v.accepted {
            let _ = writeln!(
                out,
                "{} ({}): accepted, {} processed",
                v.section,
                v.name,
                plural(v.processed, "instruction")
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{} ({}): rejected: {}",
            v.section,
            v.name,
            v.message.as_deref().unwrap_or("")
        );
        if let (Some(i), Some(d)) = (v.insn, &v.disasm) {
            let _ = writeln!(out, "  at insn {i}: {d}");
        }
        if let Some(l) = &v.line {
            let _ = writeln!(out, "  from {l}");
        }
    }
    out
}

fn json(verdicts: &[Verdict]) -> String {
    let programs = verdicts
        .iter()
        .map(|v| JsonVerdict {
            name: &v.name,
            section: &v.section,
            verdict: if v.accepted { "accept" } else { "reject" },
            message: v.message.as_deref(),
            insn: v.insn,
            disasm: v.disasm.as_deref(),
            line: v.line.as_deref(),
            processed: v.processed,
        })
        .collect();
    serde_json::to_string_pretty(&JsonReport { programs }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::insn::class;
    use probecc::lang::{compile, CompileOptions};

    const SPEC: &str = "kprobe:vfs_read\n{\n\t@x = arg0;\n}\n";

    fn object(corrupt: bool) -> Vec<u8> {
        let opts = CompileOptions {
            file: "t.bt".into(),
            ..Default::default()
        };
        let mut c = compile(SPEC, Arch::X86_64, &opts).expect("compiles");
        if corrupt {
            // Point the ctx read of arg0 past the end of x86_64's pt_regs.
            let insn = c.object.programs[0]
                .insns
                .iter_mut()
                .find(|i| i.class() == class::LDX && i.src == 1)
                .expect("a ctx load");
            insn.off = 400;
        }
        probecc::elf::write(&c.object).expect("writes")
    }

    /// `*bpf_map_lookup_elem(&array, &(u32)0)` without a NULL check: a
    /// NULL dereference to 6.1 and 6.12, a value that cannot be missing to
    /// 6.14 on.
    fn constant_key_lookup() -> Vec<u8> {
        use probecc::asm;
        use probecc::insn::{Reg, Size};
        use probecc::maps::MapDef;
        let ops = [
            asm::store_imm(Size::W, Reg::R10, -4, 0),
            asm::map_lookup_elem(asm::map("a"), asm::stack(-4)),
            asm::load_mem(Size::DW, Reg::R0, Reg::R0, 0),
            asm::exit(),
        ];
        let maps = [MapDef::array("a", probecc::ctype::CType::u64(), 4)];
        x86_object(&ops, "kprobe/vfs_read", &maps)
    }

    /// An x86_64 object of one program `ops` in `section`, with `maps`.
    fn x86_object(
        ops: &[probecc::asm::Op],
        section: &str,
        maps: &[probecc::maps::MapDef],
    ) -> Vec<u8> {
        let mut obj = probecc::program::Object::new(Arch::X86_64);
        obj.maps.extend_from_slice(maps);
        let assembled = probecc::asm::assemble(ops).expect("assembles");
        obj.programs.push(assembled.into_program("p", section));
        probecc::elf::write(&obj).expect("writes")
    }

    #[test]
    fn the_kernel_release_picks_the_verifier_rules() {
        let bytes = constant_key_lookup();
        for (kernel, accepted) in [((6, 1), false), ((6, 12), false), ((6, 18), true)] {
            let v = verdicts(
                &bytes,
                Arch::X86_64,
                KernelVersion(kernel.0, kernel.1),
                None,
            )
            .unwrap();
            assert_eq!(v[0].accepted, accepted, "{kernel:?}: {v:?}");
        }
    }

    #[test]
    fn rejections_name_the_rule_the_instruction_and_the_spec_line() {
        let good = verdicts(&object(false), Arch::X86_64, KernelVersion(6, 1), None).unwrap();
        assert!(good.iter().all(|v| v.accepted), "{good:?}");
        let bad = verdicts(&object(true), Arch::X86_64, KernelVersion(6, 1), None).unwrap();
        let text = report(&bad);
        assert!(
            text.contains("rejected: invalid bpf_context access off=400 size=8"),
            "{text}"
        );
        assert!(text.contains("= *(u64 *)(r1 + 400)"), "{text}");
        assert!(text.contains("from t.bt:3: @x = arg0;"), "{text}");
        let j: serde_json::Value = serde_json::from_str(&json(&bad)).unwrap();
        assert_eq!(j["programs"][0]["verdict"], "reject");
        assert_eq!(j["programs"][0]["section"], "kprobe/vfs_read");
        assert!(j["programs"][0]["insn"].is_u64());
    }

    /// An fentry program on `vfs_read` that reads `ctx` slot `slot`, then
    /// through it as a pointer a 4-byte member at 0 (`file->f_mode`).
    fn fentry_deref(slot: i16) -> Vec<u8> {
        use probecc::asm;
        use probecc::insn::{Reg, Size};
        let ops = [
            asm::load_mem(Size::DW, Reg::R1, Reg::R1, slot * 8),
            asm::load_mem(Size::W, Reg::R2, Reg::R1, 0),
            asm::mov(Reg::R0, 0),
            asm::exit(),
        ];
        x86_object(&ops, "fentry/vfs_read", &[])
    }

    #[test]
    fn fentry_objects_are_checked_with_the_prototypes_of_btf() {
        let dir = std::env::temp_dir().join(format!("probecc-check-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let btf = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/btf/kernel.btf");
        let check = |slot: i16, btf: Option<&str>| {
            let input = dir.join(format!("slot{slot}.o"));
            std::fs::write(&input, fentry_deref(slot)).unwrap();
            let target = Target {
                btf: btf.map(PathBuf::from),
                ..Target::default()
            };
            run(&Args {
                input,
                target,
                json: false,
            })
            .map_err(|e| e.downcast::<Rejected>().expect("a verdict").rejected)
        };
        // `struct file *file` is a struct pointer to the kernel: its
        // member read directly. Without the types it is a number.
        assert_eq!(check(0, Some(btf)), Ok(()));
        assert_eq!(check(0, None), Err(1));
        // vfs_read has four arguments; without the types, slot 4 is one
        // of twelve (a number, here dereferenced).
        assert_eq!(check(4, Some(btf)), Err(1));
        let k = KernelBtf::from_file(btf).unwrap();
        let v = verdicts(
            &fentry_deref(4),
            Arch::X86_64,
            KernelVersion(6, 1),
            Some(&k),
        )
        .unwrap();
        assert_eq!(
            v[0].message.as_deref(),
            Some("func 'vfs_read' doesn't have 5-th argument")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
