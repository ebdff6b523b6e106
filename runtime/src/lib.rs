//! probecc-runtime: what a probecc object produces, made readable — its
//! maps and ring-buffer records decoded by the manifest beside it
//! ([`decode`], naming kernel addresses with [`ksyms`] and buckets with
//! [`buckets`]), each record acted on in arrival order ([`exec`]: printf
//! text formatted as C does, [`printf`]; times as strftime does,
//! [`strftime`]; maps to print, clear or zero), and the whole printed as
//! bpftrace prints it, in its text ([`text`]) or its JSON lines
//! ([`json`]), or as one JSON document of decoded entries ([`report`]);
//! [`output`] is what a run printed, in order; [`params`] makes the
//! read-only globals of the positional parameters a loader sets from a
//! command line's arguments.
//!
//! The offline runner (vm-tests, `probecc run`) and the QEMU guest agent
//! both print through this crate. With the `live` feature (Linux), [`live`]
//! loads an object into the running kernel, attaches its kprobes and reads
//! its ring buffer and maps back.

pub mod buckets;
pub mod decode;
pub mod exec;
pub mod host;
pub mod json;
pub mod ksyms;
#[cfg(all(feature = "live", target_os = "linux"))]
pub mod live;
pub mod output;
pub mod params;
pub mod printf;
pub mod report;
pub mod strftime;
pub mod text;
