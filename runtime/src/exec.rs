//! exec: what one ring-buffer record asks of user space, decided in the
//! order records arrive, as bpftrace's user space acts on them — the text
//! of a `printf`, `time`, `cat`, `system` or `print(value)`; a map to
//! print as it is now (`print(@m)`), to clear or to zero; the end of the
//! run (`exit`). The text comes from here, the same in every runner; what
//! touches maps, the runner does with its own ([`Step`]), and what comes
//! from the machine (the time, a file, a command's output) from the
//! decoder's [`Host`](crate::host::Host).

use probecc::lang::manifest::{ArgKind, OutputAction};

use crate::decode::{DecodeError, Decoder, MapDump, Value};
use crate::output::Chunk;
use crate::printf::{self, Arg};
use crate::strftime;

/// What `cat()` reads of a file at most (bpftrace's `max_cat_bytes`).
pub const CAT_MAX: usize = 10_240;

/// What a record asks for; maps by their index in the manifest's `maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Text to print.
    Print(Chunk),
    /// Print this map as it is now, `top` and `div` applied
    /// ([`MapDump::shown`]).
    PrintMap { map: usize, top: u32, div: u32 },
    /// Delete every entry of this map.
    Clear(usize),
    /// Set every value of this map to zero.
    Zero(usize),
    /// Stop, with this exit status.
    Exit(i64),
}

/// Why a record cannot be acted on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("record kind {id} names map {map}, which the manifest does not list")]
    NoMap { id: usize, map: String },
}

/// What the record `bytes` asks for.
pub fn step(bytes: &[u8], decoder: &Decoder) -> Result<Step, ExecError> {
    let (entry, args) = decoder.record_args(bytes)?;
    let host = decoder.host;
    let map = |name: &str| {
        decoder
            .manifest
            .maps
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| ExecError::NoMap {
                id: entry.id,
                map: name.to_string(),
            })
    };
    Ok(match &entry.action {
        OutputAction::Printf { format } => {
            Step::Print(Chunk::Printf(printf::format(format, &args)))
        }
        OutputAction::Time { format } => {
            Step::Print(Chunk::Time(strftime::format(format, &host.now())))
        }
        OutputAction::Cat { format } => {
            let path = printf::format(format, &args);
            Step::Print(Chunk::Cat(host.cat(&path, CAT_MAX)))
        }
        OutputAction::System { format } => {
            let command = printf::format(format, &args);
            Step::Print(Chunk::System(host.system(&command)))
        }
        OutputAction::Value => {
            let first = entry.args.first();
            let signed = first.is_some_and(|a| a.signed);
            let value = match args.into_iter().next() {
                Some(_) if first.is_some_and(|a| a.kind == ArgKind::Tuple) => {
                    first.map_or(Value::Tuple(Vec::new()), |a| decoder.arg_tuple(a, bytes))
                }
                Some(Arg::Int(v)) if signed => Value::Int(i128::from(v as i64)),
                Some(Arg::Int(v)) => Value::Int(i128::from(v)),
                Some(Arg::Str(s)) => Value::Str(s),
                None => Value::Str(String::new()),
            };
            Step::Print(Chunk::Value(value))
        }
        OutputAction::Print { map: m, top, div } => Step::PrintMap {
            map: map(m)?,
            top: *top,
            div: *div,
        },
        OutputAction::Clear { map: m } => Step::Clear(map(m)?),
        OutputAction::Zero { map: m } => Step::Zero(map(m)?),
        OutputAction::Exit => {
            let code = match args.first() {
                Some(Arg::Int(v)) => *v as i64,
                _ => 0,
            };
            Step::Exit(code)
        }
    })
}

impl MapDump {
    /// The map as `print(@m, top, div)` shows it: only its last `top`
    /// entries in printed order (all for 0), each number divided by `div`
    /// (as it is for 0 or 1).
    pub fn shown(mut self, top: u32, div: u32) -> MapDump {
        if top > 0 {
            let keep: Vec<_> = self
                .printed()
                .into_iter()
                .rev()
                .take(top as usize)
                .cloned()
                .collect();
            self.entries.retain(|e| keep.contains(e));
        }
        if div > 1 {
            let d = i128::from(div);
            for e in &mut self.entries {
                match &mut e.value {
                    Value::Int(v) => *v /= d,
                    Value::Stats { count, avg, total } => {
                        *count /= u64::from(div);
                        *avg /= i64::from(div);
                        *total /= i64::from(div);
                    }
                    Value::Buckets(b) => b.iter_mut().for_each(|b| b.count /= u64::from(div)),
                    Value::Str(_) | Value::Tuple(_) => {}
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests;
