//! The attach-and-measure harness: probecc objects attached in QEMU
//! guests of real Debian kernels of five arches, what they record checked
//! against a plan's expectations, what a probe hit costs measured in
//! guest instructions, and the reports. `probecc qemu`, probecc's own
//! `cargo xtask qemu`/`matrix`/`parity` and a user's xtask all run it.
//!
//! A run, in the order it happens:
//!
//! - [`plan::Plan`]: what to attach (specs, or objects with their
//!   manifests), the workload that exercises each (real commands: the
//!   guest carries Debian's static busybox) and what each must record;
//!   read from a TOML file (`Plan::load`) or made from paths
//!   (`Plan::of_paths`).
//! - [`matrix::targets`]: the arches × Debian releases to boot (or one
//!   kernel image of the user's), [`matrix::shard`] to split them over CI
//!   jobs.
//! - [`matrix::run`] with [`matrix::Settings`] (caches, output directory,
//!   accelerator, timeout) and [`matrix::Options`] (the plan, how specs
//!   compile: [`stage::Compiler`], extra guest files, what to measure):
//!   the tools checked ([`tools`]), the kernels fetched ([`kernels`],
//!   through [`private_apt`], whose mirror is the host's), the agent built
//!   ([`guest`]), each arch staged ([`stage`], [`initramfs`],
//!   [`packages`]), the boots run in parallel ([`boot`], up to
//!   [`matrix::Slots`]), each boot's `PROBECC` lines digested
//!   ([`results`]) and the reports written ([`report`]: JSON, Markdown,
//!   SVG).
//!
//! ```no_run
//! use probecc_harness::{matrix, plan::Plan, stage::Plain};
//! # fn main() -> Result<(), probecc_harness::Error> {
//! let plan = Plan::load("probes/plan.toml".as_ref())?;
//! let settings = matrix::Settings::new(&matrix::user_cache(), "target/qemu".as_ref());
//! let options = matrix::Options {
//!     plan: &plan,
//!     only: Vec::new(),
//!     compiler: &Plain::default(),
//!     guest_files: Vec::new(),
//!     loop_overhead: None,
//!     cost_rounds: Some(3),
//!     output: true,
//!     extra_subjects: &matrix::no_extra_subjects,
//! };
//! let arches = [probecc::arch::Arch::X86_64];
//! let targets = matrix::targets(&arches, None, matrix::Releases::One, None)?;
//! let outcome = matrix::run(&settings, &options, &targets, &matrix::Slots::per_cpu())?;
//! assert!(outcome.ok(), "{}", outcome.failures().join("\n"));
//! # Ok(())
//! # }
//! ```
//!
//! Errors are [`Error`] values (their causes kept); progress goes to
//! stdout as lines prefixed by the calling program's name
//! ([`say::set_prefix`]).

pub mod boot;
pub mod error;
pub mod files;
pub mod guest;
pub mod initramfs;
pub mod kernels;
pub mod lock;
pub mod machine;
pub mod matrix;
pub mod packages;
pub mod plan;
pub mod private_apt;
pub mod report;
pub mod results;
pub mod say;
pub mod stage;
pub mod stats;
pub mod tools;

pub use error::{Error, Result};
