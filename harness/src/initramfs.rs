//! A cpio archive in the `newc` format, the kernel's initramfs:
//! directories, regular files and symlinks, written in order (parents
//! first), owned by root, ending with the `TRAILER!!!` entry. It is not
//! compressed: the kernel takes a plain archive, and unpacking one costs
//! the emulated guest nothing where gunzip costs it seconds.

use std::io::Write;

use crate::error::Result;

/// An archive being assembled in memory.
#[derive(Default)]
pub struct Initramfs {
    entries: Vec<Entry>,
}

struct Entry {
    path: String,
    mode: u32,
    data: Vec<u8>,
}

const DIR: u32 = 0o040000;
const FILE: u32 = 0o100000;
const LINK: u32 = 0o120000;

impl Initramfs {
    pub fn dir(&mut self, path: &str) {
        self.push(path, DIR | 0o755, Vec::new());
    }

    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        self.push(path, FILE | mode, data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.push(path, LINK | 0o777, target.as_bytes().to_vec());
    }

    fn push(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        let path = path.trim_start_matches('/').to_string();
        self.entries.push(Entry { path, mode, data });
    }

    /// Whether the archive holds `path`.
    pub fn has(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        self.entries.iter().any(|e| e.path == path)
    }

    /// The archive.
    pub fn finish(&self) -> Result<Vec<u8>> {
        let size: usize = self.entries.iter().map(|e| e.data.len() + 128).sum();
        let mut out = Vec::with_capacity(size + 128);
        for (ino, e) in self.entries.iter().enumerate() {
            write_entry(&mut out, ino as u32 + 1, &e.path, e.mode, &e.data)?;
        }
        write_entry(&mut out, 0, "TRAILER!!!", 0, &[])?;
        Ok(out)
    }
}

fn write_entry(w: &mut impl Write, ino: u32, path: &str, mode: u32, data: &[u8]) -> Result<()> {
    let nlink = if mode & DIR == DIR { 2 } else { 1 };
    let name_len = path.len() + 1;
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name_len as u32,
        0,
    ];
    let mut header = String::from("070701");
    for f in fields {
        header.push_str(&format!("{f:08x}"));
    }
    w.write_all(header.as_bytes())?;
    w.write_all(path.as_bytes())?;
    w.write_all(&[0])?;
    pad(w, 110 + name_len)?;
    w.write_all(data)?;
    pad(w, data.len())?;
    Ok(())
}

/// Zero bytes up to the next multiple of four.
fn pad(w: &mut impl Write, len: usize) -> Result<()> {
    let n = (4 - len % 4) % 4;
    w.write_all(&[0u8; 3][..n])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_newc_and_four_byte_aligned() {
        let mut i = Initramfs::default();
        i.dir("/bin");
        i.file("/init", 0o755, b"abcde".to_vec());
        i.symlink("/bin/dd", "/init");
        let raw = i.finish().unwrap();
        assert!(raw.starts_with(b"070701"));
        assert_eq!(raw.len() % 4, 0);
        let text = String::from_utf8_lossy(&raw);
        for name in ["bin\0", "init\0", "bin/dd\0", "TRAILER!!!\0"] {
            assert!(text.contains(name), "{name}");
        }
        // The file's data follows its padded header and name.
        let at = text.find("init\0").unwrap();
        let data = (at + 5).div_ceil(4) * 4;
        assert_eq!(&raw[data..data + 5], b"abcde");
    }
}
