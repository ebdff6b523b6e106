//! fentry and fexit programs through aya: which sections they are, loading
//! one for the function its section names against the kernel's BTF, and
//! the attachments of every kind a `Loaded` keeps and undoes.

use aya::programs::fentry::FEntryLinkId;
use aya::programs::fexit::FExitLinkId;
use aya::programs::kprobe::KProbeLinkId;
use aya::programs::{Program, ProgramError};
use aya::Btf;

/// One attachment, of whichever kind of program made it.
pub enum Link {
    Kprobe(KProbeLinkId),
    Fentry(FEntryLinkId),
    Fexit(FExitLinkId),
}

/// Whether a program's ELF section makes it an fentry or fexit program.
pub fn is_tracing(section: &str) -> bool {
    section.starts_with("fentry/") || section.starts_with("fexit/")
}

/// `prog` loaded for kernel function `func` if it is an fentry or fexit
/// program (`None` otherwise).
pub fn load(prog: &mut Program, func: &str, btf: &Btf) -> Option<Result<(), ProgramError>> {
    match prog {
        Program::FEntry(p) => Some(p.load(func, btf)),
        Program::FExit(p) => Some(p.load(func, btf)),
        _ => None,
    }
}

/// `prog` attached where the kernel loaded it for (`None`: not an fentry
/// or fexit program).
pub fn attach(prog: &mut Program) -> Option<Result<Link, ProgramError>> {
    match prog {
        Program::FEntry(p) => Some(p.attach().map(Link::Fentry)),
        Program::FExit(p) => Some(p.attach().map(Link::Fexit)),
        _ => None,
    }
}

/// `link` of `prog` undone; a link aya no longer knows is already gone.
pub fn detach(prog: &mut Program, link: Link) {
    let _ = match (prog, link) {
        (Program::KProbe(p), Link::Kprobe(l)) => p.detach(l),
        (Program::FEntry(p), Link::Fentry(l)) => p.detach(l),
        (Program::FExit(p), Link::Fexit(l)) => p.detach(l),
        _ => Ok(()),
    };
}
