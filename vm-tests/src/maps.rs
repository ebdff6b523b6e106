//! maps: the emulated maps, with the kernel's semantics for each kind —
//! hash, LRU hash and array (per-CPU or not) with `max_entries` and the
//! `BPF_ANY` / `BPF_NOEXIST` / `BPF_EXIST` update flags, the ring buffer
//! (reserve/submit/discard/output within its byte size), perf event arrays
//! and the stack-trace map `bpf_get_stackid` fills.
//!
//! Values live in [`Arena`]s, one per CPU for per-CPU maps, made before a
//! run on a CPU needs them; a value's address never changes while its key
//! exists, as in the kernel. Errors are negative errnos, as helpers return.

use std::collections::HashMap;
use std::ops::Range;

use probecc::insn::Endian;
use probecc::maps::MapKind;

use crate::memory::Arena;
use crate::object::MapDef;

pub const EINVAL: i64 = 22;
pub const EEXIST: i64 = 17;
pub const ENOENT: i64 = 2;
pub const E2BIG: i64 = 7;
pub const EFAULT: i64 = 14;
pub const EAGAIN: i64 = 11;

const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;
/// The per-record header of a kernel ring buffer.
const RINGBUF_HDR: usize = 8;

/// Values of one map: one arena per CPU (per-CPU maps) or one in all.
struct Values {
    percpu: bool,
    size: usize,
    slots: usize,
    arenas: Vec<Option<Arena>>,
}

impl Values {
    fn new(def: &MapDef, percpu: bool) -> Values {
        Values {
            percpu,
            size: def.value_size as usize,
            slots: def.max_entries as usize,
            arenas: Vec::new(),
        }
    }

    fn index(&self, cpu: u32) -> usize {
        if self.percpu {
            cpu as usize
        } else {
            0
        }
    }

    /// Makes the arena `cpu` uses; returns its range if it is new.
    fn ensure(&mut self, cpu: u32) -> Option<Range<u64>> {
        let i = self.index(cpu);
        if self.arenas.len() <= i {
            self.arenas.resize_with(i + 1, || None);
        }
        if self.arenas[i].is_some() {
            return None;
        }
        let a = Arena::new(self.size * self.slots);
        let r = a.range();
        self.arenas[i] = Some(a);
        Some(r)
    }

    fn addr(&self, cpu: u32, slot: usize) -> Option<u64> {
        let a = self.arenas.get(self.index(cpu))?.as_ref()?;
        Some(a.addr() + (slot * self.size) as u64)
    }

    fn set(&mut self, cpu: u32, slot: usize, data: &[u8]) {
        let (size, i) = (self.size, self.index(cpu));
        if let Some(Some(a)) = self.arenas.get_mut(i) {
            a.write(slot * size, &data[..data.len().min(size)]);
        }
    }

    fn zero_slot(&mut self, slot: usize) {
        let size = self.size;
        for a in self.arenas.iter_mut().flatten() {
            a.zero(slot * size, size);
        }
    }

    /// The value of `slot` on every CPU that has an arena.
    fn per_cpu(&self, slot: usize) -> Vec<Vec<u8>> {
        self.arenas
            .iter()
            .flatten()
            .map(|a| a.bytes(slot * self.size, self.size).to_vec())
            .collect()
    }

    fn ranges(&self) -> Vec<Range<u64>> {
        self.arenas.iter().flatten().map(Arena::range).collect()
    }
}

/// Hash and LRU hash maps: keys to slots.
struct Hash {
    index: HashMap<Vec<u8>, usize>,
    keys: Vec<Option<Vec<u8>>>,
    free: Vec<usize>,
    stamps: Vec<u64>,
    clock: u64,
    lru: bool,
}

impl Hash {
    fn touch(&mut self, slot: usize) {
        if self.lru {
            self.clock += 1;
            self.stamps[slot] = self.clock;
        }
    }

    /// A slot for a new key, evicting the least recently used on a full
    /// LRU map.
    fn take_slot(&mut self, max: usize) -> Option<usize> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        if self.keys.len() < max {
            self.keys.push(None);
            self.stamps.push(0);
            return Some(self.keys.len() - 1);
        }
        if !self.lru {
            return None;
        }
        let victim = (0..self.keys.len()).min_by_key(|&s| self.stamps[s])?;
        if let Some(k) = self.keys[victim].take() {
            self.index.remove(&k);
        }
        Some(victim)
    }
}

/// Ring buffer state: the arena records are reserved in, and the records
/// reserved but not yet submitted or discarded.
struct Ring {
    arena: Arena,
    used: usize,
    pending: Vec<(u64, usize)>,
}

enum Store {
    Hash(Hash, Values),
    Array(Values),
    Ring(Ring),
    Perf,
    Stacks(HashMap<u32, Vec<u64>>),
}

/// One emulated map.
pub struct EmuMap {
    pub def: MapDef,
    endian: Endian,
    store: Store,
}

/// What a program's lookup finds.
pub type Lookup = Option<u64>;

impl EmuMap {
    pub fn new(def: &MapDef, endian: Endian) -> EmuMap {
        let hash = |lru| Hash {
            index: HashMap::new(),
            keys: Vec::new(),
            free: Vec::new(),
            stamps: Vec::new(),
            clock: 0,
            lru,
        };
        let store = match def.kind {
            MapKind::Hash => Store::Hash(hash(false), Values::new(def, false)),
            MapKind::LruHash => Store::Hash(hash(true), Values::new(def, false)),
            MapKind::PercpuHash => Store::Hash(hash(false), Values::new(def, true)),
            MapKind::Array => Store::Array(Values::new(def, false)),
            MapKind::PercpuArray => Store::Array(Values::new(def, true)),
            MapKind::Ringbuf => Store::Ring(Ring {
                arena: Arena::new(def.max_entries as usize),
                used: 0,
                pending: Vec::new(),
            }),
            MapKind::PerfEventArray => Store::Perf,
            MapKind::StackTrace => Store::Stacks(HashMap::new()),
        };
        EmuMap {
            def: def.clone(),
            endian,
            store,
        }
    }

    /// Makes the memory a run on `cpu` may need; returns new ranges.
    pub fn ensure_cpu(&mut self, cpu: u32) -> Vec<Range<u64>> {
        match &mut self.store {
            Store::Hash(_, v) | Store::Array(v) => v.ensure(cpu).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Every range of memory programs may address in this map.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        match &self.store {
            Store::Hash(_, v) | Store::Array(v) => v.ranges(),
            Store::Ring(r) => vec![r.arena.range()],
            _ => Vec::new(),
        }
    }

    fn array_index(&self, key: &[u8]) -> Option<usize> {
        let i = self.endian.read_uint(key.get(..4)?) as usize;
        (i < self.def.max_entries as usize).then_some(i)
    }

    pub fn lookup(&mut self, key: &[u8], cpu: u32) -> Lookup {
        let i = self.array_index(key);
        match &mut self.store {
            Store::Hash(h, v) => {
                let slot = *h.index.get(key)?;
                h.touch(slot);
                v.addr(cpu, slot)
            }
            Store::Array(v) => v.addr(cpu, i?),
            _ => None,
        }
    }

    /// `bpf_map_lookup_percpu_elem`: the value on `cpu` of a per-CPU
    /// map, none past the CPUs the run has (every CPU up to the highest
    /// one an event ran on).
    pub fn lookup_percpu(&mut self, key: &[u8], cpu: u32) -> Lookup {
        let cpus = match &self.store {
            Store::Hash(_, v) | Store::Array(v) if v.percpu => v.arenas.len(),
            _ => 0,
        };
        if cpu as usize >= cpus {
            return None;
        }
        self.lookup(key, cpu)
    }

    /// `bpf_map_update_elem` from a program on `cpu`.
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> i64 {
        if flags > BPF_EXIST {
            return -EINVAL;
        }
        let max = self.def.max_entries as usize;
        let i = self.array_index(key);
        match &mut self.store {
            Store::Hash(h, v) => {
                let existing = h.index.get(key).copied();
                let slot = match (existing, flags) {
                    (Some(_), BPF_NOEXIST) => return -EEXIST,
                    (None, BPF_EXIST) => return -ENOENT,
                    (Some(s), _) => s,
                    (None, _) => {
                        let Some(s) = h.take_slot(max) else {
                            return -E2BIG;
                        };
                        h.keys[s] = Some(key.to_vec());
                        h.index.insert(key.to_vec(), s);
                        v.zero_slot(s);
                        s
                    }
                };
                h.touch(slot);
                v.set(cpu, slot, value);
                0
            }
            Store::Array(v) => match (i, flags) {
                (None, _) => -E2BIG,
                (Some(_), BPF_NOEXIST) => -EEXIST,
                (Some(s), _) => {
                    v.set(cpu, s, value);
                    0
                }
            },
            _ => -EINVAL,
        }
    }

    pub fn delete(&mut self, key: &[u8]) -> i64 {
        match &mut self.store {
            Store::Hash(h, _) => match h.index.remove(key) {
                Some(s) => {
                    h.keys[s] = None;
                    h.free.push(s);
                    0
                }
                None => -ENOENT,
            },
            _ => -EINVAL,
        }
    }

    /// Every key with its value on each CPU, keys in byte order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        let endian = self.endian;
        let mut out: Vec<(Vec<u8>, Vec<Vec<u8>>)> = match &self.store {
            Store::Hash(h, v) => h
                .index
                .iter()
                .map(|(k, &s)| (k.clone(), v.per_cpu(s)))
                .collect(),
            Store::Array(v) => (0..v.slots)
                .map(|s| (endian.uint_bytes(s as u64, 4), v.per_cpu(s)))
                .filter(|(_, vals)| vals.iter().any(|b| b.iter().any(|&x| x != 0)))
                .collect(),
            _ => Vec::new(),
        };
        out.sort();
        out
    }

    /// `clear()`: every key goes (array values become zero).
    pub fn clear(&mut self) {
        match &mut self.store {
            Store::Hash(h, _) => {
                let slots: Vec<usize> = h.index.drain().map(|(_, s)| s).collect();
                for s in slots {
                    h.keys[s] = None;
                    h.free.push(s);
                }
            }
            Store::Array(v) => (0..v.slots).for_each(|s| v.zero_slot(s)),
            Store::Stacks(s) => s.clear(),
            _ => {}
        }
    }

    /// `zero()`: every value becomes zero, keys stay.
    pub fn zero(&mut self) {
        match &mut self.store {
            Store::Hash(h, v) => h.index.values().for_each(|&s| v.zero_slot(s)),
            Store::Array(v) => (0..v.slots).for_each(|s| v.zero_slot(s)),
            _ => {}
        }
    }

    /// `bpf_ringbuf_reserve`: the record's address, or 0.
    pub fn reserve(&mut self, size: u64, flags: u64) -> u64 {
        let Store::Ring(r) = &mut self.store else {
            return 0;
        };
        let need = RINGBUF_HDR as u64 + size.div_ceil(8) * 8;
        if flags != 0 || size == 0 || r.used as u64 + need > r.arena.len() as u64 {
            return 0;
        }
        let addr = r.arena.addr() + (r.used + RINGBUF_HDR) as u64;
        r.used += need as usize;
        r.pending.push((addr, size as usize));
        addr
    }

    /// Takes the reserved record at `addr`: its size, if it is one.
    pub fn release(&mut self, addr: u64) -> Option<usize> {
        let Store::Ring(r) = &mut self.store else {
            return None;
        };
        let i = r.pending.iter().position(|(a, _)| *a == addr)?;
        Some(r.pending.swap_remove(i).1)
    }

    /// Room for a `bpf_ringbuf_output` of `size` bytes.
    pub fn ring_room(&mut self, size: u64) -> bool {
        match &mut self.store {
            Store::Ring(r) => {
                let need = RINGBUF_HDR as u64 + size.div_ceil(8) * 8;
                let ok = r.used as u64 + need <= r.arena.len() as u64;
                if ok {
                    r.used += need as usize;
                }
                ok
            }
            _ => false,
        }
    }

    /// User space consumed everything: the ring is empty again.
    pub fn drain_ring(&mut self) {
        if let Store::Ring(r) = &mut self.store {
            r.used = 0;
            r.pending.clear();
            let n = r.arena.len();
            r.arena.zero(0, n);
        }
    }

    pub fn is_ring(&self) -> bool {
        matches!(self.store, Store::Ring(_))
    }

    pub fn is_perf(&self) -> bool {
        matches!(self.store, Store::Perf)
    }

    /// `bpf_get_stackid` with the frames `ips` (innermost first).
    pub fn stack_id(&mut self, ips: &[u64], flags: u64) -> i64 {
        const USER_STACK: u64 = 1 << 8;
        const REUSE: u64 = 1 << 10;
        let depth = (self.def.value_size / 8) as usize;
        let buckets = self.def.max_entries.max(1);
        let Store::Stacks(stacks) = &mut self.store else {
            return -EINVAL;
        };
        if flags & USER_STACK != 0 {
            return -EFAULT;
        }
        let skip = (flags & 0xff) as usize;
        let frames: Vec<u64> = ips.iter().skip(skip).take(depth).copied().collect();
        if frames.is_empty() {
            return -EFAULT;
        }
        let id = (fnv(&frames) % buckets as u64) as u32;
        match stacks.get(&id) {
            Some(old) if *old != frames && flags & REUSE == 0 => -EEXIST,
            _ => {
                stacks.insert(id, frames);
                id as i64
            }
        }
    }

    /// The frames stored under stack id `id`.
    pub fn stack(&self, id: u32) -> Option<&[u64]> {
        match &self.store {
            Store::Stacks(s) => s.get(&id).map(Vec::as_slice),
            _ => None,
        }
    }
}

fn fnv(words: &[u64]) -> u64 {
    words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BPF_ANY: u64 = 0;

    fn def(kind: MapKind, max: u32) -> MapDef {
        MapDef {
            name: "m".into(),
            kind,
            key_size: 4,
            value_size: 8,
            max_entries: max,
        }
    }

    fn key(i: u32) -> Vec<u8> {
        i.to_le_bytes().to_vec()
    }

    #[test]
    fn hash_flags_and_capacity_follow_the_kernel() {
        let mut m = EmuMap::new(&def(MapKind::Hash, 2), Endian::Little);
        m.ensure_cpu(0);
        assert_eq!(m.update(&key(1), &[1; 8], BPF_EXIST, 0), -ENOENT);
        assert_eq!(m.update(&key(1), &[1; 8], BPF_NOEXIST, 0), 0);
        assert_eq!(m.update(&key(1), &[2; 8], BPF_NOEXIST, 0), -EEXIST);
        assert_eq!(m.update(&key(1), &[2; 8], BPF_EXIST, 0), 0);
        assert_eq!(m.update(&key(2), &[3; 8], BPF_ANY, 0), 0);
        assert_eq!(m.update(&key(3), &[4; 8], BPF_ANY, 0), -E2BIG);
        assert_eq!(m.update(&key(3), &[4; 8], 4, 0), -EINVAL);
        assert_eq!(m.delete(&key(1)), 0);
        assert_eq!(m.delete(&key(1)), -ENOENT);
        assert_eq!(m.update(&key(3), &[4; 8], BPF_ANY, 0), 0);
        assert!(m.lookup(&key(1), 0).is_none());
        assert_eq!(m.entries().len(), 2);
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut m = EmuMap::new(&def(MapKind::LruHash, 2), Endian::Little);
        m.ensure_cpu(0);
        m.update(&key(1), &[1; 8], BPF_ANY, 0);
        m.update(&key(2), &[2; 8], BPF_ANY, 0);
        assert!(m.lookup(&key(1), 0).is_some());
        assert_eq!(m.update(&key(3), &[3; 8], BPF_ANY, 0), 0);
        assert!(m.lookup(&key(2), 0).is_none());
        assert!(m.lookup(&key(1), 0).is_some());
    }

    #[test]
    fn percpu_values_are_separate_and_new_keys_zero_other_cpus() {
        let mut m = EmuMap::new(&def(MapKind::PercpuHash, 4), Endian::Little);
        m.ensure_cpu(0);
        m.ensure_cpu(1);
        m.update(&key(1), &[7; 8], BPF_ANY, 1);
        let e = m.entries();
        assert_eq!(e[0].1, vec![vec![0; 8], vec![7; 8]]);
    }

    #[test]
    fn arrays_exist_up_to_max_entries() {
        let mut m = EmuMap::new(&def(MapKind::Array, 2), Endian::Little);
        m.ensure_cpu(0);
        assert!(m.lookup(&key(1), 0).is_some());
        assert!(m.lookup(&key(2), 0).is_none());
        assert_eq!(m.update(&key(0), &[1; 8], BPF_NOEXIST, 0), -EEXIST);
        assert_eq!(m.update(&key(2), &[1; 8], BPF_ANY, 0), -E2BIG);
        assert_eq!(m.delete(&key(0)), -EINVAL);
    }

    #[test]
    fn ring_reservations_fit_the_buffer() {
        let mut m = EmuMap::new(&def(MapKind::Ringbuf, 64), Endian::Little);
        let a = m.reserve(20, 0);
        assert_ne!(a, 0);
        assert_eq!(m.reserve(40, 0), 0, "8 + 24 used, 8 + 40 does not fit");
        assert_eq!(m.reserve(8, 1), 0, "flags must be 0");
        assert_eq!(m.release(a), Some(20));
        assert_eq!(m.release(a), None);
        m.drain_ring();
        assert_ne!(m.reserve(40, 0), 0);
    }
}
