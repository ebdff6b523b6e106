//! `probecc`: the user-facing command. One module per subcommand; this file
//! only parses the command line, runs the subcommand and turns its error
//! into a message and an exit status (2 for bad input, 1 otherwise).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod build;
mod check;
mod disasm;
mod run;

/// Compiles kprobe programs into BPF objects for five architectures, and
/// inspects the objects.
#[derive(Parser, Debug)]
#[command(name = "probecc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile a probe specification into an object and manifest per arch.
    Build(build::Args),
    /// Print an object's sections, maps and disassembled programs (like
    /// `llvm-objdump -dr`).
    Disasm(disasm::Args),
    /// Check every program of an object or spec offline with verifier-sim,
    /// the kernel verifier's rules for kprobe programs.
    Check(check::Args),
    /// Run a spec or object offline in rbpf over events from a JSON Lines
    /// file, as one of the five architectures.
    Run(run::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(&args),
        Command::Disasm(args) => disasm::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("probecc: error: {e:#}");
            ExitCode::from(exit_status(&e))
        }
    }
}

/// 2 when the input was unreadable or malformed, 1 for anything else.
fn exit_status(e: &anyhow::Error) -> u8 {
    let bad_input = e.chain().any(|c| {
        c.is::<probecc::elf::ElfError>()
            || c.is::<probecc::btf::BtfError>()
            || c.is::<std::io::Error>()
            || c.is::<build::CompileFailed>()
            || c.is::<probecc::symbols::SymbolsError>()
            || c.is::<probecc::arch::ArchError>()
            || c.is::<verifier_sim::CheckError>()
            || c.is::<vm_tests::Error>()
    });
    if bad_input {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn bad_input_exits_with_two() {
        let e = Err::<(), _>(probecc::elf::ElfError::NotElf)
            .context("reading x.o")
            .unwrap_err();
        assert_eq!(exit_status(&e), 2);
        assert_eq!(format!("{e:#}"), "reading x.o: not an ELF file (bad magic)");
        assert_eq!(exit_status(&anyhow::anyhow!("internal")), 1);
    }

    #[test]
    fn command_line_parses() {
        let cli = Cli::try_parse_from(["probecc", "disasm", "x.o"]).unwrap();
        let Command::Disasm(args) = cli.command else {
            panic!("not disasm")
        };
        assert_eq!(args.obj.to_str(), Some("x.o"));
        assert!(Cli::try_parse_from(["probecc", "disasm"]).is_err());
    }
}
