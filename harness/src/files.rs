//! Files written whole: a reader (another run, a guest being staged)
//! sees the old file or the new one, never half of one.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Context, Result};

/// Writes `bytes` to a temporary file beside `path` and renames it over
/// (the temporary name is this call's own: threads of one run may write
/// the same file at once).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}
