//! Big-endian PRM bit fields. mlx5 structures are runs of big-endian 32-bit dwords;
//! "dwN[hi:lo]" is bits hi..lo of dword N, bit 31 being the MSB of byte 4N.
//!
//! Reads past the end of a buffer give 0 and writes past it are dropped, so a short or
//! hostile buffer never panics the reader or the writer.

/// Reads bits `hi..=lo` of dword `dw`.
pub fn get(buf: &[u8], dw: usize, hi: u32, lo: u32) -> u32 {
    let word = match buf.get(dw * 4..dw * 4 + 4) {
        Some(bytes) => u32::from_be_bytes(bytes.try_into().expect("4 bytes")),
        // A dword cut short by the buffer's end: what is there, zeros after.
        None => u32::from_be_bytes(std::array::from_fn(|i| buf.get(dw * 4 + i).copied().unwrap_or(0))),
    };
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { (1 << width) - 1 };
    (word >> lo) & mask
}

/// Writes bits `hi..=lo` of dword `dw`.
pub fn set(buf: &mut [u8], dw: usize, hi: u32, lo: u32, value: u32) {
    let Some(bytes) = buf.get_mut(dw * 4..dw * 4 + 4) else { return };
    let mut word = u32::from_be_bytes(bytes.try_into().expect("4 bytes"));
    let width = hi - lo + 1;
    let mask = if width == 32 { u32::MAX } else { ((1u32 << width) - 1) << lo };
    word = (word & !mask) | ((value << lo) & mask);
    bytes.copy_from_slice(&word.to_be_bytes());
}

/// Reads a big-endian u64 at byte `at` (PRM counters: high dword first).
pub fn get_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(std::array::from_fn(|i| buf.get(at + i).copied().unwrap_or(0)))
}

/// Writes a big-endian u64 at byte `at`.
pub fn set_u64(buf: &mut [u8], at: usize, value: u64) {
    if let Some(field) = buf.get_mut(at..at + 8) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

/// Reads NUL-terminated ASCII from `at..at + len`, trimmed.
pub fn get_ascii(buf: &[u8], at: usize, len: usize) -> String {
    let field = buf.get(at..(at + len).min(buf.len())).unwrap_or(&[]);
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).trim().to_string()
}

/// Writes ASCII into `at..at + len`, NUL-padded and cut to fit.
pub fn set_ascii(buf: &mut [u8], at: usize, len: usize, text: &str) {
    let Some(field) = buf.get_mut(at..at + len) else { return };
    field.fill(0);
    let n = text.len().min(len);
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_big_endian_msb_first() {
        let mut buf = [0u8; 8];
        set(&mut buf, 0, 31, 16, 0x0805);
        set(&mut buf, 1, 15, 0, 1);
        assert_eq!(buf, [0x08, 0x05, 0, 0, 0, 0, 0, 1]);
        assert_eq!(get(&buf, 0, 31, 16), 0x805);
        set(&mut buf, 0, 7, 4, 0xf);
        assert_eq!((buf[3], get(&buf, 0, 7, 4)), (0xf0, 0xf));
    }

    #[test]
    fn out_of_range_reads_are_zero_and_writes_are_dropped() {
        let mut buf = [0u8; 6];
        assert_eq!(get(&buf, 5, 31, 0), 0);
        set(&mut buf, 1, 31, 0, u32::MAX); // dword 1 would end at byte 8
        set_u64(&mut buf, 0, 1);
        set_ascii(&mut buf, 4, 4, "xy");
        assert_eq!(buf, [0; 6]);
        assert_eq!(get_u64(&[0, 0, 0, 0, 0, 0, 1, 2], 0), 0x102);
    }

    #[test]
    fn a_dword_cut_short_by_the_end_reads_what_is_there_and_zeros_after() {
        let buf = [0, 0, 0, 0, 0xab, 0xcd];
        assert_eq!(get(&buf, 1, 31, 0), 0xabcd_0000);
        assert_eq!(get(&buf, 1, 31, 24), 0xab);
        assert_eq!(get(&buf, 1, 15, 0), 0);
    }

    #[test]
    fn ascii_fields_are_nul_padded() {
        let mut buf = [0xffu8; 16];
        set_ascii(&mut buf, 0, 16, "MT_0000000834");
        assert_eq!(&buf[13..], &[0, 0, 0]);
        assert_eq!(get_ascii(&buf, 0, 16), "MT_0000000834");
    }
}
