//! A specified hash for hashes meant to be kept: SipHash-2-4 (Aumasson and Bernstein) with
//! the all-zero key, fed integers as fixed-width little-endian bytes, so that the same
//! sequence of writes gives the same hash on every platform, compiler and build.

use std::hash::Hasher;

/// SipHash-2-4 with key 0, integers written little-endian at their full width (`usize` and
/// `isize` as 64 bits).
pub(crate) struct StableHasher {
    v: [u64; 4],
    /// Bytes not yet absorbed (fewer than 8), in the low bytes.
    tail: u64,
    ntail: usize,
    length: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::with_keys(0, 0)
    }
}

impl StableHasher {
    pub(crate) fn with_keys(k0: u64, k1: u64) -> Self {
        Self {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.v;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    fn absorb(&mut self, m: u64) {
        self.v[3] ^= m;
        self.round();
        self.round();
        self.v[0] ^= m;
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.absorb(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    fn finish(&self) -> u64 {
        let mut h = Self {
            v: self.v,
            tail: self.tail,
            ntail: self.ntail,
            length: self.length,
        };
        let b = (h.length << 56) | h.tail;
        h.absorb(b);
        h.v[2] ^= 0xff;
        for _ in 0..4 {
            h.round();
        }
        h.v[0] ^ h.v[1] ^ h.v[2] ^ h.v[3]
    }

    fn write_u8(&mut self, n: u8) {
        self.write(&[n]);
    }
    fn write_u16(&mut self, n: u16) {
        self.write(&n.to_le_bytes());
    }
    fn write_u32(&mut self, n: u32) {
        self.write(&n.to_le_bytes());
    }
    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }
    fn write_u128(&mut self, n: u128) {
        self.write(&n.to_le_bytes());
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_i8(&mut self, n: i8) {
        self.write_u8(n as u8);
    }
    fn write_i16(&mut self, n: i16) {
        self.write_u16(n as u16);
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u32(n as u32);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_i128(&mut self, n: i128) {
        self.write_u128(n as u128);
    }
    fn write_isize(&mut self, n: isize) {
        self.write_i64(n as i64);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use super::StableHasher;

    /// The reference implementation's vectors (key 00..0f, messages 00, 00 01, ...): the
    /// first eight of `vectors.h`, and the paper's example (15 bytes).
    #[test]
    fn siphash_2_4_reference_vectors() {
        let key = |b: [u8; 8]| u64::from_le_bytes(b);
        let (k0, k1) = (
            key([0, 1, 2, 3, 4, 5, 6, 7]),
            key([8, 9, 10, 11, 12, 13, 14, 15]),
        );
        let expected: [u64; 8] = [
            0x726f_db47_dd0e_0e31,
            0x74f8_39c5_93dc_67fd,
            0x0d6c_8009_d9a9_4f5a,
            0x8567_6696_d7fb_7e2d,
            0xcf27_94e0_2771_87b7,
            0x1876_5564_cd99_a68d,
            0xcbc9_466e_58fe_e3ce,
            0xab02_00f5_8b01_d137,
        ];
        let message: Vec<u8> = (0..64).collect();
        for (len, &want) in expected.iter().enumerate() {
            let mut h = StableHasher::with_keys(k0, k1);
            h.write(&message[..len]);
            assert_eq!(h.finish(), want, "message of {len} bytes");
        }
        let mut h = StableHasher::with_keys(k0, k1);
        h.write(&message[..15]);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    /// Writes split anywhere give the hash of their concatenation; integers are their
    /// little-endian bytes.
    #[test]
    fn writes_are_a_byte_stream() {
        let mut whole = StableHasher::default();
        whole.write(b"steadfast, stable");
        let mut split = StableHasher::default();
        split.write(b"stead");
        split.write(b"");
        split.write(b"fast, stable");
        assert_eq!(whole.finish(), split.finish());

        let mut a = StableHasher::default();
        a.write_usize(0x0102);
        let mut b = StableHasher::default();
        b.write(&[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(a.finish(), b.finish());
    }
}
