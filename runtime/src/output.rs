//! What a run printed, in order — each record's text (`printf`, `time`,
//! `cat`, `system`, `print` of a value) and each map `print()` showed —
//! and every map when it ended ([`Output`]); and the two ways bpftrace
//! prints it ([`Style`]): its text, or its JSON lines.
//! A loader that streams calls the style's methods as things happen; a
//! run that is over renders its whole [`Output`].

use crate::decode::{MapDump, Value};
use crate::{json, text};

/// One thing a run printed before it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// One printf's text.
    Printf(String),
    /// A map as `print()` showed it.
    Print(MapDump),
    /// `time()`'s text.
    Time(String),
    /// A file's contents, from `cat()`.
    Cat(String),
    /// A command's output, from `system()`.
    System(String),
    /// A value `print()` showed.
    Value(Value),
}

impl Chunk {
    /// The chunk as bpftrace's text shows it.
    pub fn text(&self) -> String {
        match self {
            Chunk::Printf(t) | Chunk::Time(t) | Chunk::Cat(t) | Chunk::System(t) => t.clone(),
            Chunk::Print(m) => text::map(m),
            Chunk::Value(v) => text::value(v),
        }
    }
}

/// Everything a run printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub chunks: Vec<Chunk>,
    /// Every map when the run ended, by name.
    pub maps: Vec<MapDump>,
}

/// bpftrace's output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// bpftrace's text (`-f text`, the default).
    Text,
    /// bpftrace's JSON lines (`-f json`).
    Json,
}

impl Style {
    /// One printf's text.
    pub fn printf(self, text: &str) -> String {
        self.chunk(&Chunk::Printf(text.to_string()))
    }

    /// One chunk of output.
    pub fn chunk(self, c: &Chunk) -> String {
        match self {
            Style::Text => c.text(),
            Style::Json => json::chunk(c),
        }
    }

    /// A map, as `print()` shows it.
    pub fn print(self, m: &MapDump) -> String {
        match self {
            Style::Text => text::map(m),
            Style::Json => json::map(m),
        }
    }

    /// What bpftrace prints when it ends: every map.
    pub fn exit(self, maps: &[MapDump]) -> String {
        match self {
            Style::Text => text::exit(maps),
            Style::Json => json::exit(maps),
        }
    }

    /// The line that says how many probes were attached.
    pub fn attached_probes(self, n: usize) -> String {
        match self {
            Style::Text => text::attached_probes(n),
            Style::Json => json::attached_probes(n),
        }
    }

    /// The line that says how many ring-buffer records were lost.
    pub fn lost_events(self, n: u64) -> String {
        match self {
            Style::Text => text::lost_events(n),
            Style::Json => json::lost_events(n),
        }
    }
}

impl Output {
    /// The whole run in `style`, as bpftrace would have printed it.
    pub fn render(&self, style: Style) -> String {
        let mut out: String = self.chunks.iter().map(|c| style.chunk(c)).collect();
        out.push_str(&style.exit(&self.maps));
        out
    }

    /// The text of every chunk but the maps `print()` showed, line by line
    /// (a last line without its newline included): what printf, time,
    /// cat, system and `print` of a value wrote, in order.
    pub fn lines(&self) -> Vec<String> {
        let text: String = self
            .chunks
            .iter()
            .filter(|c| !matches!(c, Chunk::Print(_)))
            .map(Chunk::text)
            .collect();
        text.split_inclusive('\n')
            .map(|l| l.strip_suffix('\n').unwrap_or(l).to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests;
