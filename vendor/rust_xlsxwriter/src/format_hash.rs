// chieftech: the one addition to rust_xlsxwriter 0.102.0 (see vendor/README.md).
//
// Every cell written with a format looks its format up in a `HashMap<Format, u32>`, and the
// standard hasher (SipHash) over a whole `Format` (fonts, borders, fills, strings) was about
// a tenth of the CPU of writing a million-row bank file and summary. The index handed out for
// a format does not depend on the hasher (it is the map's length when the format is first
// seen), so the files written are byte for byte the same.

use std::hash::{BuildHasherDefault, Hasher};

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
