//! `probecc`: the user-facing command. One module per subcommand (`trace`
//! on Linux only), `target` for the arguments they share and `input` for
//! what they read; this file
//! parses the command line (and prints completion scripts for it), runs the
//! subcommand and turns its error into a message and an exit status: 2 for
//! [`input::BadInput`], 1 otherwise.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod build;
mod check;
mod disasm;
mod input;
mod multi;
mod offsets;
#[cfg(feature = "qemu")]
mod qemu;
mod run;
mod target;
#[cfg(target_os = "linux")]
mod trace;

/// Compiles kprobe programs into BPF objects for five architectures,
/// inspects the objects, and traces the running kernel with them.
#[derive(Parser, Debug)]
#[command(name = "probecc", version)]
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
    /// List a kernel function's instruction boundaries and whether the
    /// kernel takes a kprobe at each (`kprobe:FUNC+OFFSET`)
    Offsets(offsets::Args),
    /// Run a spec or object offline in rbpf over events from a JSON Lines
    /// file, as one of the five architectures.
    Run(run::Args),
    /// Compile a spec for the running kernel (or take an object), attach
    /// it and print what it records as bpftrace does, until Ctrl-C,
    /// exit(), --duration or the end of -c CMD
    #[cfg(target_os = "linux")]
    Trace(trace::Args),
    /// Attach specs or objects in QEMU guests of real kernels (five
    /// arches): run workloads, print what bpftrace would, check a plan's
    /// expectations, measure each probe hit's cost, write reports.
    #[cfg(feature = "qemu")]
    Qemu(qemu::Args),
    /// Print a completion script for a shell (e.g. `probecc completions
    /// bash > /etc/bash_completion.d/probecc`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(&args),
        Command::Disasm(args) => disasm::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Offsets(args) => offsets::run(&args),
        #[cfg(target_os = "linux")]
        Command::Trace(args) => trace::run(&args),
        #[cfg(feature = "qemu")]
        Command::Qemu(args) => qemu::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "probecc", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("probecc: error: {e:#}");
            ExitCode::from(exit_status(&e))
        }
    }
}

/// 2 when the input was unusable, 1 for anything else.
fn exit_status(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<input::BadInput>()) {
        2
    } else {
        1
    }
}

/// `n noun`, the noun plural unless `n` is 1: "1 map", "2 maps".
pub fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn bad_input_exits_with_two_wherever_it_is_in_the_chain() {
        let e = Err::<(), _>(input::BadInput::file(
            "reading x.o",
            probecc::elf::ElfError::NotElf,
        ))
        .context("checking")
        .unwrap_err();
        assert_eq!(exit_status(&e), 2);
        assert_eq!(
            format!("{e:#}"),
            "checking: reading x.o: not an ELF file (bad magic)"
        );
        // The same library error, not from input, is probecc's own failure.
        let e = anyhow::Error::new(probecc::elf::ElfError::NotElf).context("writing");
        assert_eq!(exit_status(&e), 1);
        assert_eq!(exit_status(&anyhow::anyhow!("internal")), 1);
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(plural(0, "map"), "0 maps");
        assert_eq!(plural(1, "map"), "1 map");
        assert_eq!(plural(2, "program"), "2 programs");
    }

    #[test]
    fn help_describes_the_command_and_lists_the_arches() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let help = cmd.render_help().to_string();
        assert!(
            help.starts_with("Compiles kprobe programs into BPF objects"),
            "{help}"
        );
        let build = cmd.find_subcommand_mut("build").expect("build");
        let help = build.render_long_help().to_string();
        assert!(
            help.contains("[possible values: x86_64, arm64, s390x, ppc64le, riscv64, all]"),
            "{help}"
        );
        assert!(!help.contains("(6.1; riscv64 6.12)"), "{help}");
    }

    #[test]
    fn completions_offer_the_arches() {
        use clap::CommandFactory;
        let mut script = Vec::new();
        let shell = clap_complete::Shell::Bash;
        clap_complete::generate(shell, &mut Cli::command(), "probecc", &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(
            script.contains("x86_64 arm64 s390x ppc64le riscv64 all"),
            "{script}"
        );
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
