//! The mutated half of the corpus: every fixture spec compiled for x86_64
//! (`probecc_fixtures::compile`), each program written alone as it is, then
//! changed by each mutation operator at an instruction a seeded generator
//! picks. Mutations replace one slot and never touch `ld_imm64` slots, so
//! map relocations and line info stay valid and the object writes as usual.
//! Same seed, same corpus.

use anyhow::Result;
use probecc::arch::Arch;
use probecc::insn::{alu, class, jmp, mode, size, Insn};
use probecc::program::{Object, Program};

use super::Entry;

/// The seed `cargo xtask verifier-diff` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x7072_6f62_6563_6301;

/// splitmix64: small, fixed, good enough to pick instructions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

/// `goto +0`: what a dropped instruction becomes, so that no offset moves.
const NOP: Insn = Insn::new(class::JMP | jmp::JA, 0, 0, 0, 0);

/// One way of breaking (or not) a program: where it applies, and the new
/// slot with a description of the change.
pub struct Operator {
    pub name: &'static str,
    candidates: fn(&[Insn], &[bool]) -> Vec<usize>,
    apply: fn(&[Insn], usize, &mut Rng) -> (Insn, String),
}

/// Which slots belong to an `ld_imm64` (either half).
pub fn wide_slots(insns: &[Insn]) -> Vec<bool> {
    let mut wide = vec![false; insns.len()];
    let mut i = 0;
    while i < insns.len() {
        if insns[i].is_ld_imm64() {
            wide[i] = true;
            if i + 1 < insns.len() {
                wide[i + 1] = true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    wide
}

fn where_(insns: &[Insn], wide: &[bool], f: impl Fn(usize, &Insn) -> bool) -> Vec<usize> {
    insns
        .iter()
        .enumerate()
        .filter(|(i, insn)| !wide[*i] && f(*i, insn))
        .map(|(i, _)| i)
        .collect()
}

fn is_mem(insn: &Insn, cls: u8) -> bool {
    insn.class() == cls && insn.mode() == mode::MEM
}

fn is_cond_jump(insn: &Insn) -> bool {
    insn.is_jump() && insn.op() != jmp::JA
}

fn writes_reg(insn: &Insn, r: u8) -> bool {
    match insn.class() {
        class::ALU | class::ALU64 | class::LDX => insn.dst == r,
        class::LD => insn.is_ld_imm64() && insn.dst == r,
        class::JMP => insn.is_call() && r <= 5,
        _ => false,
    }
}

/// ctx loads: LDX through r1 before anything redefines r1.
fn ctx_loads(insns: &[Insn], wide: &[bool]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, insn) in insns.iter().enumerate() {
        if wide[i] {
            continue;
        }
        if is_mem(insn, class::LDX) && insn.src == 1 {
            out.push(i);
        }
        if writes_reg(insn, 1) || insn.is_jump() {
            break;
        }
    }
    out
}

/// fp-relative loads and stores.
fn stack_accesses(insns: &[Insn], wide: &[bool]) -> Vec<usize> {
    where_(insns, wide, |_, i| {
        (is_mem(i, class::LDX) && i.src == 10)
            || ((is_mem(i, class::STX) || is_mem(i, class::ST)) && i.dst == 10)
    })
}

fn set_off(insn: &Insn, off: i64) -> Insn {
    Insn {
        off: off.clamp(i16::MIN as i64, i16::MAX as i64) as i16,
        ..*insn
    }
}

pub fn operators() -> Vec<Operator> {
    vec![
        Operator {
            name: "ctx_off",
            candidates: ctx_loads,
            apply: |insns, i, rng| {
                let old = insns[i].off as i64;
                let choices = [168, 176, 200, 256, 336, 384, old + 4, -8];
                let off = rng.pick(&choices).unwrap_or(168);
                (
                    set_off(&insns[i], off),
                    format!("ctx load off {old} -> {off}"),
                )
            },
        },
        Operator {
            name: "ctx_write",
            candidates: ctx_loads,
            apply: |insns, i, _| {
                let l = insns[i];
                // LDX dst, [r1 + off] becomes STX [r1 + off], dst
                let st = Insn::new(class::STX | mode::MEM | l.size(), 1, l.dst, l.off, 0);
                (st, "ctx load turned into a store".into())
            },
        },
        Operator {
            name: "drop_null_check",
            candidates: |insns, wide| {
                where_(insns, wide, |i, insn| {
                    is_cond_jump(insn)
                        && matches!(insn.op(), jmp::JEQ | jmp::JNE)
                        && insn.source() == 0
                        && insn.imm == 0
                        && insns[i.saturating_sub(3)..i].iter().any(|p| p.is_call())
                })
            },
            apply: |_, _, _| (NOP, "null check after a call dropped".into()),
        },
        Operator {
            name: "drop_init",
            candidates: |insns, wide| {
                where_(insns, wide, |_, i| {
                    (matches!(i.class(), class::ALU | class::ALU64) && i.op() == alu::MOV)
                        || ((is_mem(i, class::STX) || is_mem(i, class::ST)) && i.dst == 10)
                })
            },
            apply: |insns, i, _| (NOP, format!("dropped `{}`", text(insns, i))),
        },
        Operator {
            name: "no_r0",
            candidates: |insns, wide| {
                where_(insns, wide, |i, insn| {
                    insn.class() == class::ALU64
                        && insn.op() == alu::MOV
                        && insn.dst == 0
                        && insns.get(i + 1).is_some_and(|n| n.is_exit())
                })
            },
            apply: |_, _, _| (NOP, "r0 no longer set before exit".into()),
        },
        Operator {
            name: "retarget_jump",
            candidates: |insns, wide| where_(insns, wide, |_, i| i.is_jump() && i.code != 0x06),
            apply: |insns, i, rng| {
                let n = insns.len() as i64;
                let lo = -(i as i64) - 3;
                let hi = n - i as i64 + 2;
                let old = insns[i].off as i64;
                let mut off = lo + rng.below((hi - lo + 1) as usize) as i64;
                if off == old {
                    off = hi;
                }
                (
                    set_off(&insns[i], off),
                    format!("jump offset {old} -> {off}"),
                )
            },
        },
        Operator {
            name: "jump_into_ld_imm64",
            candidates: |insns, wide| {
                if insns.iter().any(|i| i.is_ld_imm64()) {
                    where_(insns, wide, |_, i| i.is_jump() && i.code != 0x06)
                } else {
                    vec![]
                }
            },
            apply: |insns, i, rng| {
                let wides: Vec<usize> = (0..insns.len())
                    .filter(|&k| insns[k].is_ld_imm64())
                    .collect();
                let k = rng.pick(&wides).unwrap_or(0);
                let off = (k as i64 + 1) - (i as i64 + 1);
                (
                    set_off(&insns[i], off),
                    format!("jump retargeted to the second slot of the ld_imm64 at {k}"),
                )
            },
        },
        Operator {
            name: "flip_condition",
            candidates: |insns, wide| where_(insns, wide, |_, i| is_cond_jump(i)),
            apply: |insns, i, rng| {
                let ops = [
                    jmp::JEQ,
                    jmp::JNE,
                    jmp::JGT,
                    jmp::JGE,
                    jmp::JLT,
                    jmp::JLE,
                    jmp::JSGT,
                    jmp::JSLT,
                    jmp::JSET,
                ];
                let old = insns[i];
                let mut op = rng.pick(&ops).unwrap_or(jmp::JNE);
                if op == old.op() {
                    op = if op == jmp::JNE { jmp::JEQ } else { jmp::JNE };
                }
                let new = Insn {
                    code: (old.code & 0x0f) | op,
                    ..old
                };
                (new, format!("condition {:#x} -> {op:#x}", old.op()))
            },
        },
        Operator {
            name: "corrupt_helper",
            candidates: |insns, wide| where_(insns, wide, |_, i| i.is_call() && i.src == 0),
            apply: |insns, i, rng| {
                let ids = [
                    0, 6, 9, 12, 26, 44, 58, 113, 131, 132, 166, 211, 100_000, -1,
                ];
                let old = insns[i].imm;
                let mut id = rng.pick(&ids).unwrap_or(0);
                if id == old {
                    id = 100_000;
                }
                (
                    Insn {
                        imm: id,
                        ..insns[i]
                    },
                    format!("helper {old} -> {id}"),
                )
            },
        },
        Operator {
            name: "stack_off",
            candidates: stack_accesses,
            apply: |insns, i, rng| {
                let old = insns[i].off as i64;
                let choices = [-520, -512, 0, 8, old - 3, old + 4, old - 256];
                let off = rng.pick(&choices).unwrap_or(-520);
                (set_off(&insns[i], off), format!("stack off {old} -> {off}"))
            },
        },
        Operator {
            name: "wrong_src_reg",
            candidates: |insns, wide| {
                where_(insns, wide, |_, i| {
                    is_mem(i, class::LDX)
                        || is_mem(i, class::STX)
                        || (matches!(i.class(), class::ALU | class::ALU64)
                            && i.source() != 0
                            && i.op() != alu::END)
                })
            },
            apply: |insns, i, rng| {
                let old = insns[i].src;
                let mut src = rng.below(11) as u8;
                if src == old {
                    src = (src + 1) % 11;
                }
                (
                    Insn { src, ..insns[i] },
                    format!("source register r{old} -> r{src}"),
                )
            },
        },
        Operator {
            name: "access_size",
            candidates: |insns, wide| {
                where_(insns, wide, |_, i| {
                    is_mem(i, class::LDX) || is_mem(i, class::STX) || is_mem(i, class::ST)
                })
            },
            apply: |insns, i, rng| {
                let sizes = [size::B, size::H, size::W, size::DW];
                let old = insns[i];
                let mut sz = rng.pick(&sizes).unwrap_or(size::DW);
                if sz == old.size() {
                    sz = if sz == size::DW { size::W } else { size::DW };
                }
                (
                    Insn {
                        code: (old.code & !0x18) | sz,
                        ..old
                    },
                    format!("access size {:#x} -> {sz:#x}", old.size()),
                )
            },
        },
        Operator {
            name: "drop_bound",
            candidates: |insns, wide| {
                where_(insns, wide, |_, i| {
                    (i.class() == class::ALU64 && i.op() == alu::AND && i.source() == 0)
                        || (is_cond_jump(i)
                            && matches!(i.op(), jmp::JGT | jmp::JGE | jmp::JLT | jmp::JLE))
                })
            },
            apply: |insns, i, _| (NOP, format!("bound `{}` dropped", text(insns, i))),
        },
        Operator {
            name: "early_exit",
            candidates: |insns, wide| where_(insns, wide, |i, _| i > 0 && i + 1 < insns.len()),
            apply: |insns, i, _| {
                (
                    Insn::new(class::JMP | jmp::EXIT, 0, 0, 0, 0),
                    format!("`{}` replaced by exit", text(insns, i)),
                )
            },
        },
        Operator {
            name: "div_or_shift",
            candidates: |insns, wide| {
                where_(insns, wide, |_, i| {
                    matches!(i.class(), class::ALU | class::ALU64)
                        && i.source() == 0
                        && !matches!(i.op(), alu::MOV | alu::END | alu::NEG)
                })
            },
            apply: |insns, i, rng| {
                let old = insns[i];
                let (op, imm) = match rng.below(3) {
                    0 => (alu::DIV, 0),
                    1 => (alu::MOD, 0),
                    _ => (alu::LSH, if old.class() == class::ALU64 { 64 } else { 32 }),
                };
                (
                    Insn {
                        code: old.class() | op,
                        imm,
                        ..old
                    },
                    format!("`{}` -> op {op:#x} imm {imm}", text(insns, i)),
                )
            },
        },
    ]
}

fn text(insns: &[Insn], i: usize) -> String {
    probecc::disasm::insn_text(insns, i).0
}

/// The program `p` of `obj` alone in an object.
fn alone(obj: &Object, p: &Program) -> Object {
    Object {
        programs: vec![p.clone()],
        core: obj.core.for_program(&p.name),
        ..obj.clone()
    }
}

/// Every fixture spec's programs as they are, then once per operator with
/// a mutation, for `arch`. `only` keeps the entries whose name contains it.
pub fn build(
    out: &std::path::Path,
    seed: u64,
    only: Option<&str>,
    arch: Arch,
) -> Result<Vec<Entry>> {
    let dir = out.join("obj").join("mutants");
    std::fs::create_dir_all(&dir)?;
    let root = crate::workspace_root();
    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::new();
    let mut push =
        |name: String, origin: String, obj: &Object, entries: &mut Vec<Entry>| -> Result<()> {
            let bytes = probecc::elf::write(obj)?;
            if !seen.insert(probecc::insn::encode_all(
                &obj.programs[0].insns,
                obj.arch.endian(),
            )) {
                return Ok(());
            }
            if only.is_some_and(|o| !name.contains(o)) {
                return Ok(());
            }
            let object = dir.join(format!("{name}.o"));
            std::fs::write(&object, &bytes)?;
            entries.push(Entry {
                program: obj.programs[0].name.clone(),
                rule: if name.starts_with("orig_") {
                    "fixtures"
                } else {
                    "mutants"
                }
                .to_string(),
                name,
                origin,
                object,
                bytes,
            });
            Ok(())
        };
    for (stem, path) in probecc_fixtures::specs()? {
        let compiled = probecc_fixtures::compile(&path, arch)?;
        let obj = compiled.object;
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (k, p) in obj.programs.iter().enumerate() {
            push(
                format!("orig_{stem}_{k}"),
                format!("{rel}: program {} as compiled", p.name),
                &alone(&obj, p),
                &mut entries,
            )?;
        }
        for op in operators() {
            let choices: Vec<(usize, Vec<usize>)> = obj
                .programs
                .iter()
                .enumerate()
                .map(|(k, p)| (k, (op.candidates)(&p.insns, &wide_slots(&p.insns))))
                .filter(|(_, c)| !c.is_empty())
                .collect();
            let Some((k, candidates)) = choices.get(rng.below(choices.len())) else {
                continue;
            };
            let Some(i) = rng.pick(candidates) else {
                continue;
            };
            let p = &obj.programs[*k];
            let (new, what) = (op.apply)(&p.insns, i, &mut rng);
            let mut mutated = p.clone();
            mutated.insns[i] = new;
            push(
                format!("mut_{stem}_{}", op.name),
                format!("{rel}: program {}, insn {i}: {what}", p.name),
                &alone(&obj, &mutated),
                &mut entries,
            )?;
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_fixed_by_its_seed() {
        let a: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .scan(Rng::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = Rng::new(1);
        assert!((0..100).all(|_| r.below(3) < 3));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn ld_imm64_slots_are_never_candidates() {
        let insns = vec![
            Insn::new(0x18, 1, 0, 0, 0),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ];
        let wide = wide_slots(&insns);
        assert_eq!(wide, [true, true, false, false]);
        for op in operators() {
            let c = (op.candidates)(&insns, &wide);
            assert!(c.iter().all(|&i| i >= 2), "{}: {c:?}", op.name);
        }
    }
}
