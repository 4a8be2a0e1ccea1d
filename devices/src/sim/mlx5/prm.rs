//! Big-endian PRM field access, in one place. mlx5 structures are runs of big-endian
//! 32-bit dwords; "dwN[hi:lo]" is bits hi..lo of dword N, bit 31 being the MSB of byte 4N.

/// Reads bits `hi..=lo` of big-endian dword `dw`; bytes beyond the buffer read as 0.
pub fn get(buf: &[u8], dw: usize, hi: u32, lo: u32) -> u32 {
    let word = u32::from_be_bytes(std::array::from_fn(|i| buf.get(dw * 4 + i).copied().unwrap_or(0)));
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { (1 << width) - 1 };
    (word >> lo) & mask
}

/// Writes bits `hi..=lo` of big-endian dword `dw` (the buffer must hold the dword).
pub fn set(buf: &mut [u8], dw: usize, hi: u32, lo: u32, value: u32) {
    let at = dw * 4;
    let mut word = u32::from_be_bytes(buf[at..at + 4].try_into().expect("dword in range"));
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { ((1u32 << width) - 1) << lo };
    word = (word & !mask) | ((value << lo) & mask);
    buf[at..at + 4].copy_from_slice(&word.to_be_bytes());
}

/// Writes a big-endian u64 at byte `at` (high dword first, as PRM counters are laid out).
pub fn set_u64(buf: &mut [u8], at: usize, value: u64) {
    buf[at..at + 8].copy_from_slice(&value.to_be_bytes());
}

/// Copies ASCII text into a fixed field, NUL-padded and cut to fit.
pub fn set_ascii(buf: &mut [u8], at: usize, len: usize, text: &str) {
    let field = &mut buf[at..at + len];
    field.fill(0);
    let bytes = text.as_bytes();
    let n = bytes.len().min(len);
    field[..n].copy_from_slice(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_big_endian_msb_first() {
        let mut buf = [0u8; 8];
        set(&mut buf, 0, 31, 16, 0x010a);
        set(&mut buf, 1, 15, 0, 0x0001);
        assert_eq!(buf, [0x01, 0x0a, 0, 0, 0, 0, 0, 1]);
        assert_eq!(get(&buf, 0, 31, 16), 0x010a);
        set(&mut buf, 0, 7, 4, 0xf);
        assert_eq!(buf[3], 0xf0);
        assert_eq!(get(&buf, 0, 7, 4), 0xf);
        assert_eq!(get(&buf, 5, 31, 0), 0, "past the end reads as zero");
    }
}
