//! Where a function's bytes come from: its address and size from a
//! kallsyms text (`/proc/kallsyms`, or a `System.map`: the next symbol's
//! address bounds it), and its bytes from `/proc/kcore`, the running
//! kernel's memory as an ELF core whose `PT_LOAD` segments map virtual
//! addresses to file offsets. Only the header, the program headers and the
//! function's own bytes are read: the file is as large as the address
//! space.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

/// The running kernel's symbols.
pub const KALLSYMS: &str = "/proc/kallsyms";
/// The running kernel's memory.
pub const KCORE: &str = "/proc/kcore";

/// The longest function read: far beyond any kernel function, and a
/// bound on what a wrong symbol list can make us read.
pub const MAX_FUNCTION: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no function `{name}` in the symbol list{}", did_you_mean(.suggestions))]
    Unknown {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("`{name}` names {count} functions (at {addrs}): the kernel refuses a kprobe on an ambiguous name")]
    Ambiguous {
        name: String,
        count: usize,
        addrs: String,
    },
    #[error("the symbol list shows `{name}` at address 0: the kernel hides its addresses from this user (kptr_restrict, perf_event_paranoid); read it as root")]
    Hidden { name: String },
    #[error("no symbol follows `{name}` in the symbol list, so its size is unknown")]
    NoEnd { name: String },
    #[error("`{name}` is {size} bytes by the symbol list, more than the {MAX_FUNCTION} a function can be")]
    TooLarge { name: String, size: u64 },
    #[error("{}: not an ELF core: {reason}", .path.display())]
    NotCore { path: PathBuf, reason: String },
    #[error("{}: no PT_LOAD segment holds {addr:#x}..{end:#x}", .path.display())]
    Unmapped { path: PathBuf, addr: u64, end: u64 },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        s => {
            let names: Vec<String> = s.iter().map(|n| format!("`{n}`")).collect();
            format!(" (did you mean {}?)", names.join(", "))
        }
    }
}

/// A function's place in kernel memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub addr: u64,
    pub size: u64,
}

/// `name`'s address and size in a kallsyms or System.map text: its
/// `t`/`T` line, bounded by the lowest higher address of any symbol of the
/// same module (vmlinux's own have none).
pub fn locate(symbols: &str, name: &str) -> Result<Symbol, SourceError> {
    let lines: Vec<(u64, char, &str, Option<&str>)> = symbols
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?.chars().next()?;
            let sym = f.next()?;
            Some((addr, kind, sym, f.next()))
        })
        .collect();
    let found: Vec<_> = lines
        .iter()
        .filter(|(_, kind, sym, _)| *sym == name && matches!(kind, 't' | 'T'))
        .collect();
    let &&(addr, _, _, module) = match found.as_slice() {
        [] => {
            let functions = lines
                .iter()
                .filter(|(_, k, _, _)| matches!(k, 't' | 'T'))
                .map(|(_, _, s, _)| *s);
            let suggestions = crate::suggest::nearest(name, functions)
                .into_iter()
                .map(str::to_string)
                .collect();
            return Err(SourceError::Unknown {
                name: name.to_string(),
                suggestions,
            });
        }
        [one] => one,
        many => {
            let addrs: Vec<String> = many.iter().map(|l| format!("{:#x}", l.0)).collect();
            return Err(SourceError::Ambiguous {
                name: name.to_string(),
                count: many.len(),
                addrs: addrs.join(", "),
            });
        }
    };
    if addr == 0 {
        return Err(SourceError::Hidden {
            name: name.to_string(),
        });
    }
    let end = lines
        .iter()
        .filter(|(a, _, _, m)| *a > addr && *m == module)
        .map(|(a, _, _, _)| *a)
        .min()
        .ok_or_else(|| SourceError::NoEnd {
            name: name.to_string(),
        })?;
    let size = end - addr;
    if size > MAX_FUNCTION {
        return Err(SourceError::TooLarge {
            name: name.to_string(),
            size,
        });
    }
    Ok(Symbol { addr, size })
}

/// An ELF core (`/proc/kcore`) open for reading kernel memory by virtual
/// address.
#[derive(Debug)]
pub struct Core {
    path: PathBuf,
    file: File,
    /// `(vaddr, file offset, size in the file)` of each `PT_LOAD`.
    loads: Vec<(u64, u64, u64)>,
}

impl Core {
    /// The core at `path`, its program headers read.
    pub fn open(path: &Path) -> Result<Core, SourceError> {
        let read_err = |source| SourceError::Read {
            path: path.to_path_buf(),
            source,
        };
        let not_core = |reason: String| SourceError::NotCore {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(read_err)?;
        let mut head = vec![0u8; 64];
        file.read_exact_at(&mut head, 0).map_err(read_err)?;
        let header = FileHeader64::<Endianness>::parse(head.as_slice())
            .map_err(|e| not_core(e.to_string()))?;
        let endian = header.endian().map_err(|e| not_core(e.to_string()))?;
        let phoff = header.e_phoff(endian);
        let phnum = u64::from(header.e_phnum(endian));
        let phentsize = u64::from(header.e_phentsize(endian));
        let table_end = phnum
            .checked_mul(phentsize)
            .and_then(|n| n.checked_add(phoff))
            .filter(|&n| n <= 1 << 24)
            .ok_or_else(|| not_core("program header table out of range".into()))?;
        let mut prefix = vec![0u8; table_end as usize];
        file.read_exact_at(&mut prefix, 0).map_err(read_err)?;
        let header = FileHeader64::<Endianness>::parse(prefix.as_slice())
            .map_err(|e| not_core(e.to_string()))?;
        let loads = header
            .program_headers(endian, prefix.as_slice())
            .map_err(|e| not_core(e.to_string()))?
            .iter()
            .filter(|ph| ph.p_type(endian) == PT_LOAD)
            .map(|ph| (ph.p_vaddr(endian), ph.p_offset(endian), ph.p_filesz(endian)))
            .collect();
        Ok(Core {
            path: path.to_path_buf(),
            file,
            loads,
        })
    }

    /// The `len` bytes at virtual address `addr`.
    pub fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, SourceError> {
        let end = addr.saturating_add(len);
        let unmapped = || SourceError::Unmapped {
            path: self.path.clone(),
            addr,
            end,
        };
        let &(vaddr, offset, _) = self
            .loads
            .iter()
            .find(|&&(v, _, size)| addr >= v && end <= v.saturating_add(size))
            .ok_or_else(unmapped)?;
        let mut bytes = vec![0u8; usize::try_from(len).map_err(|_| unmapped())?];
        self.file
            .read_exact_at(&mut bytes, offset + (addr - vaddr))
            .map_err(|source| SourceError::Read {
                path: self.path.clone(),
                source,
            })?;
        Ok(bytes)
    }
}

/// The bytes of function `name` of the running kernel: its place from
/// `kallsyms`, its bytes from `kcore`.
pub fn function(kallsyms: &Path, kcore: &Path, name: &str) -> Result<Vec<u8>, SourceError> {
    let text = std::fs::read_to_string(kallsyms).map_err(|source| SourceError::Read {
        path: kallsyms.to_path_buf(),
        source,
    })?;
    let sym = locate(&text, name)?;
    Core::open(kcore)?.read(sym.addr, sym.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
ffffffff816dc4d0 t __pfx_vfs_read
ffffffff816dc4e0 T vfs_read
ffffffff816dc700 t __pfx_vfs_write
ffffffff816dc710 T vfs_write
ffffffff816dc710 T vfs_write_alias
ffffffffc0001000 t mod_fn\t[mymod]
ffffffffc0001040 t mod_other\t[mymod]
ffffffff81000000 t dup
ffffffff81000010 t dup
";

    #[test]
    fn the_next_symbol_bounds_a_function() {
        assert_eq!(
            locate(MAP, "vfs_read").unwrap(),
            Symbol {
                addr: 0xffff_ffff_816d_c4e0,
                size: 0x220
            }
        );
        // Only symbols of its own module bound a module's function.
        assert_eq!(locate(MAP, "mod_fn").unwrap().size, 0x40);
    }

    #[test]
    fn unknown_ambiguous_hidden_and_unbounded_names_are_errors() {
        let e = locate(MAP, "vfs_raed").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no function `vfs_raed` in the symbol list (did you mean `vfs_read`, `vfs_write`?)"
        );
        assert!(matches!(
            locate(MAP, "dup"),
            Err(SourceError::Ambiguous { count: 2, .. })
        ));
        let hidden = "0000000000000000 T vfs_read\n0000000000000000 T vfs_write\n";
        assert!(matches!(
            locate(hidden, "vfs_read"),
            Err(SourceError::Hidden { .. })
        ));
        assert!(matches!(
            locate(MAP, "mod_other"),
            Err(SourceError::NoEnd { .. })
        ));
    }

    #[test]
    fn a_core_maps_addresses_through_its_load_segments() {
        // A two-segment ELF64 core built by hand: 0x1000 bytes of "memory"
        // at vaddr 0xffff0000 from file offset 0x1000.
        let mut elf = vec![0u8; 0x2000];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little-endian
        elf[6] = 1; // EV_CURRENT
        elf[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let ph = &mut elf[64..120];
        ph[..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        ph[8..16].copy_from_slice(&0x1000u64.to_le_bytes()); // p_offset
        ph[16..24].copy_from_slice(&0xffff_0000u64.to_le_bytes()); // p_vaddr
        ph[32..40].copy_from_slice(&0x1000u64.to_le_bytes()); // p_filesz
        elf[0x1010..0x1014].copy_from_slice(&[1, 2, 3, 4]);
        let dir = std::env::temp_dir().join(format!("probecc-core-{}", std::process::id()));
        std::fs::write(&dir, &elf).unwrap();
        let core = Core::open(&dir).unwrap();
        assert_eq!(core.read(0xffff_0010, 4).unwrap(), [1, 2, 3, 4]);
        assert!(matches!(
            core.read(0xffff_0ffe, 4),
            Err(SourceError::Unmapped { .. })
        ));
        let not_core = Core::open(Path::new("Cargo.toml"));
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(not_core, Err(SourceError::NotCore { .. })));
    }
}
