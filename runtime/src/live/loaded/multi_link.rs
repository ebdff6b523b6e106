//! The kprobe-multi side of [`Loaded`]: a kprobe-multi program loaded by
//! the runtime itself for the link (aya does not load them), attached by
//! one link on its functions or, where the kernel refuses the link, one
//! function at a time, and what was done instead and why.

use super::*;

impl Loaded {
    /// kprobe-multi program `name` loaded for the kprobe-multi link; where
    /// this kernel cannot load it so (no such attach type, a program this
    /// loader cannot link), loaded as a plain kprobe instead, and why kept.
    pub(super) fn verify_multi(&mut self, name: &str) -> Result<(), LiveError> {
        if self.multi_progs.contains_key(name) || self.verified.contains(name) {
            return Ok(());
        }
        let object = match self.relocated() {
            Ok(o) => o,
            Err(why) => {
                self.fallbacks.push((name.to_string(), why));
                return self.verify(name);
            }
        };
        match multi::load(&object, name, |symbol| self.fd_of(symbol), NATIVE) {
            Ok(fd) => {
                self.multi_progs.insert(name.to_string(), fd);
                Ok(())
            }
            Err((source, log)) if !log.is_empty() => Err(LiveError::Rejected {
                name: name.to_string(),
                log,
                source,
            }),
            Err((e, _)) => {
                self.fallbacks.push((
                    name.to_string(),
                    format!("loading it for the kprobe-multi link: {e}"),
                ));
                self.verify(name)
            }
        }
    }

    /// The object with its CO-RE relocations applied for this kernel.
    pub(super) fn relocated(&self) -> Result<Vec<u8>, String> {
        if !has_core_relocations(&self.object) {
            return Ok(self.object.clone());
        }
        let target = probecc::btf::kernel::KernelBtf::from_file(probecc::btf::kernel::HOST_VMLINUX)
            .map_err(|e| format!("reading the kernel's BTF: {e}"))?;
        probecc::load::relocate_object(&self.object, &target, probecc::load::OnMissing::Poison)
            .map(|(bytes, _)| bytes)
            .map_err(|e| format!("relocating the object: {e}"))
    }

    /// kprobe-multi program `name` (section `section`) attached: one link
    /// on `funcs`, or each function on its own where the kernel refuses
    /// the link (and why kept in [`fallbacks`](Self::fallbacks)).
    pub(super) fn attach_multi(
        &mut self,
        name: &str,
        section: &str,
        funcs: &[String],
    ) -> Vec<(String, LiveError)> {
        if let Err(e) = self.verify_multi(name) {
            return vec![(section.to_string(), e)];
        }
        if let Some(prog) = self.multi_progs.get(name) {
            match bpf::link_kprobe_multi(prog, funcs, multi::is_return(section)) {
                Ok(link) => {
                    self.multi_links.push((name.to_string(), link, funcs.len()));
                    return Vec::new();
                }
                Err(e) => self
                    .fallbacks
                    .push((name.to_string(), format!("the kprobe-multi link: {e}"))),
            }
        }
        if !kernel::has_kprobes() {
            return vec![(section.to_string(), LiveError::NoKprobes)];
        }
        let kind = if multi::is_return(section) {
            "kretprobe"
        } else {
            "kprobe"
        };
        funcs
            .iter()
            .filter_map(|f| {
                let one = format!("{kind}/{f}");
                self.attach(name, &one).err().map(|e| (one, e))
            })
            .collect()
    }

    /// kprobe-multi program `name` (section `section`) attached to
    /// `funcs` by one kprobe-multi link, with no fallback: a kernel without
    /// the link is an error (what the overhead loop measures is the link).
    pub fn attach_multi_link(
        &mut self,
        name: &str,
        section: &str,
        funcs: &[String],
    ) -> Result<(), LiveError> {
        self.verify_multi(name)?;
        let prog = self
            .multi_progs
            .get(name)
            .ok_or_else(|| LiveError::NoProgram(name.to_string()))?;
        let link =
            bpf::link_kprobe_multi(prog, funcs, multi::is_return(section)).map_err(|source| {
                LiveError::MultiLink {
                    name: name.to_string(),
                    source,
                }
            })?;
        self.multi_links.push((name.to_string(), link, funcs.len()));
        Ok(())
    }

    /// The kprobe-multi programs attached one function at a time instead
    /// of by one link, and why.
    pub fn fallbacks(&self) -> &[(String, String)] {
        &self.fallbacks
    }

    /// How many kprobe-multi links are in place, and the functions they
    /// hold.
    pub fn multi_links(&self) -> (usize, usize) {
        let funcs = self.multi_links.iter().map(|(_, _, n)| n).sum();
        (self.multi_links.len(), funcs)
    }
}
