//! Big-endian PRM bit fields: "dwN[hi:lo]" is bits hi..lo of dword N, bit 31 the MSB of
//! byte 4N. Reads past the end of a buffer give 0, so short responses never panic.

/// Reads bits `hi..=lo` of dword `dw`.
pub fn get(buf: &[u8], dw: usize, hi: u32, lo: u32) -> u32 {
    let word = u32::from_be_bytes(std::array::from_fn(|i| buf.get(dw * 4 + i).copied().unwrap_or(0)));
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { (1 << width) - 1 };
    (word >> lo) & mask
}

/// Writes bits `hi..=lo` of dword `dw`; a dword past the end is ignored.
pub fn set(buf: &mut [u8], dw: usize, hi: u32, lo: u32, value: u32) {
    let Some(bytes) = buf.get_mut(dw * 4..dw * 4 + 4) else { return };
    let mut word = u32::from_be_bytes(bytes.try_into().expect("4 bytes"));
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { ((1u32 << width) - 1) << lo };
    word = (word & !mask) | ((value << lo) & mask);
    bytes.copy_from_slice(&word.to_be_bytes());
}

/// A big-endian u64 at byte `at` (0 past the end).
pub fn get_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(std::array::from_fn(|i| buf.get(at + i).copied().unwrap_or(0)))
}

/// NUL-terminated ASCII at `at..at + len`, trimmed.
pub fn get_ascii(buf: &[u8], at: usize, len: usize) -> String {
    let field = buf.get(at..(at + len).min(buf.len())).unwrap_or(&[]);
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_msb_first() {
        let mut buf = [0u8; 8];
        set(&mut buf, 0, 31, 16, 0x0805);
        set(&mut buf, 1, 15, 0, 1);
        assert_eq!(buf, [0x08, 0x05, 0, 0, 0, 0, 0, 1]);
        assert_eq!(get(&buf, 0, 31, 16), 0x805);
        assert_eq!(get(&buf, 9, 31, 0), 0, "past the end reads 0");
        set(&mut buf, 9, 31, 0, 7); // ignored, no panic
        assert_eq!(get_u64(&[0, 0, 0, 0, 0, 0, 1, 2], 0), 0x102);
        assert_eq!(get_ascii(b"MT_0000000834\0\0\0", 0, 16), "MT_0000000834");
    }
}
