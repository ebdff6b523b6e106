//! vm-tests: reads BPF objects from their bytes (goblin) and, once the
//! offline runner lands, executes their programs in rbpf against synthetic
//! `pt_regs`. Today it offers the object reader the runner starts from.

use goblin::elf::Elf;

/// The BPF program sections (`kprobe/...`, `kretprobe/...`) of an object.
pub fn program_sections(bytes: &[u8]) -> Result<Vec<String>, goblin::error::Error> {
    let elf = Elf::parse(bytes)?;
    Ok(elf
        .section_headers
        .iter()
        .filter_map(|sh| elf.shdr_strtab.get_at(sh.sh_name))
        .filter(|n| n.starts_with("kprobe/") || n.starts_with("kretprobe/"))
        .map(str::to_string)
        .collect())
}
