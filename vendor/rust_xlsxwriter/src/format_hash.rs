// chieftech: an addition to rust_xlsxwriter 0.102.0 (see vendor/README.md): the format maps'
// hasher, and a worksheet's memo of the formats it looked up last.
//
// Every cell written with a format looks its format up in a `HashMap<Format, u32>`, and the
// standard hasher (SipHash) over a whole `Format` (fonts, borders, fills, strings) was about
// a tenth of the CPU of writing a million-row bank file and summary. The index handed out for
// a format does not depend on the hasher (it is the map's length when the format is first
// seen), so the files written are byte for byte the same.

use std::hash::{BuildHasherDefault, Hasher};

use crate::format::Format;

/// The hasher of the format-index maps: the multiply-rotate mix of rustc's FxHasher, fed
/// eight bytes at a time. Not resistant to chosen collisions, which the formats a program
/// makes itself are not.
#[derive(Default, Clone, Copy)]
pub(crate) struct FormatHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FormatHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FormatHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The maps from a format to its index.
pub(crate) type FormatMap = std::collections::HashMap<crate::Format, u32, BuildHasherDefault<FormatHasher>>;

/// A map holding one format at index 0.
pub(crate) fn format_map_with(format: crate::Format) -> FormatMap {
    let mut map = FormatMap::default();
    map.insert(format, 0);
    map
}

/// How many formats a worksheet remembers by address ([`FormatMemo`]).
const MEMO: usize = 8;

/// The formats a worksheet looked up last, by the address they were passed at, with their
/// index (chieftech's second addition to this file, vendor/README.md). A program writes a
/// million rows with the same few `Format` values, passed by reference from where they live:
/// a format found here at the same address and equal to the one remembered (compared whole,
/// as the map compares the one it finds) has that index, without hashing it and probing the
/// map (still 5 % of a million-row export with the faster hasher). A format changed in place,
/// or another one at a freed address, is not equal, and is looked up in the map as before.
#[derive(Clone, Default)]
pub(crate) struct FormatMemo {
    slots: [Option<(usize, Format, u32)>; MEMO],
    next: usize,
}

impl FormatMemo {
    /// The index remembered for this format at this address, if it is still the same.
    #[inline]
    pub(crate) fn get(&self, format: &Format) -> Option<u32> {
        let address = std::ptr::from_ref(format) as usize;
        self.slots
            .iter()
            .flatten()
            .find_map(|(a, f, i)| (*a == address && f == format).then_some(*i))
    }

    /// Remembers the index of a format looked up in the map, in place of the oldest.
    pub(crate) fn remember(&mut self, format: &Format, xf_index: u32) {
        let address = std::ptr::from_ref(format) as usize;
        let slot = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|(a, _, _)| *a == address))
            .unwrap_or_else(|| {
                let slot = self.next;
                self.next = (self.next + 1) % MEMO;
                slot
            });
        self.slots[slot] = Some((address, format.clone(), xf_index));
    }
}
