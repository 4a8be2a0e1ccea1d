//! JSON text written by hand where serde's per-field calls were the cost: the audit
//! trail's lines and the fleet's result lines. Every helper writes exactly what
//! serde_json writes for the same value (each caller tests its lines byte for byte
//! against serde), so readers see one format whichever path wrote it.

/// A JSON string, escaped as serde_json escapes it. Text that needs no escaping (nearly
/// all of it: names, labels, versions) is copied in one piece.
pub fn string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Whether `bytes` hold a control character, `"` or `\\`: eight bytes a step, since
/// most text is short and clean and a byte-by-byte test was most of a line's cost. The
/// last step reads the final eight bytes even where they overlap the step before (a byte
/// seen twice is harmless); text shorter than eight is padded with a clean byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `word` is below `n` (n <= 0x80); exact for "any byte".
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS != 0;
    let dirty = |word: u64| {
        below(word, 0x20) || below(word ^ (ONES * u64::from(b'"')), 1) || below(word ^ (ONES * u64::from(b'\\')), 1)
    };
    let word = |eight: &[u8]| u64::from_ne_bytes(eight.try_into().expect("eight bytes"));
    if bytes.len() < 8 {
        let mut padded = [b'a'; 8];
        padded[..bytes.len()].copy_from_slice(bytes);
        return dirty(u64::from_ne_bytes(padded));
    }
    let mut chunks = bytes.chunks_exact(8);
    if chunks.any(|chunk| dirty(word(chunk))) {
        return true;
    }
    !chunks.remainder().is_empty() && dirty(word(&bytes[bytes.len() - 8..]))
}

/// One of our own fixed names (a device kind, a status): nothing in it needs escaping.
pub fn name(out: &mut Vec<u8>, text: &'static str) {
    debug_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'), "{text}");
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// An unsigned integer.
pub fn unsigned(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A signed integer.
pub fn signed(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A real number; `null` when it is not finite, as serde_json writes it.
pub fn real(out: &mut Vec<u8>, value: f64) {
    // serde_json's own formatting, so that every digit matches.
    let _ = serde_json::to_writer(&mut *out, &value);
}

/// A boolean.
pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_helper_writes_what_serde_json_writes() {
        for text in ["", "plain", "quote \" back \\ slash", "tab\tnewline\n", "\u{1}\u{1f}", "ünïcødé ✓", "\u{7f}"]
        {
            assert_eq!(written(|o| string(o, text)), serde_json::to_string(text).unwrap(), "{text:?}");
        }
        for value in [0, 1, 9, 10, 12_345, u64::MAX] {
            assert_eq!(written(|o| unsigned(o, value)), serde_json::to_string(&value).unwrap());
        }
        for value in [0, -1, i64::MIN, i64::MAX] {
            assert_eq!(written(|o| signed(o, value)), serde_json::to_string(&value).unwrap());
        }
        for value in [0.0, -0.0, 1.5, 1e300, 7.5e-12, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(written(|o| real(o, value)), serde_json::to_string(&value).unwrap(), "{value}");
        }
        // Each byte value at each place of text of every length up to three words: short
        // (padded), whole words, and a tail read as an overlapping last word.
        for len in 1..=24 {
            for byte in 0u8..=0x7f {
                for at in 0..len {
                    let mut text = b"abcdefghijklmnopqrstuvwx"[..len].to_vec();
                    text[at] = byte;
                    let text = String::from_utf8(text).unwrap();
                    assert_eq!(written(|o| string(o, &text)), serde_json::to_string(&text).unwrap(), "{text:?}");
                }
            }
        }
        // A dirty byte beside multi-byte characters (bytes of 0x80 and above), on either
        // side, at every offset; and clean non-ASCII text is not taken for dirty.
        for wide in ["\u{80}", "\u{7ff}", "\u{ffff}", "\u{10ffff}", "é✓"] {
            for dirty in ["\"", "\\", "\n", "\u{1f}", "\u{0}"] {
                for pad in 0..9 {
                    let pad = "p".repeat(pad);
                    for text in
                        [format!("{pad}{wide}{dirty}"), format!("{pad}{dirty}{wide}"), format!("{wide}{pad}{dirty}")]
                    {
                        assert!(needs_escape(text.as_bytes()), "{text:?}");
                        assert_eq!(written(|o| string(o, &text)), serde_json::to_string(&text).unwrap(), "{text:?}");
                    }
                    assert!(!needs_escape(format!("{pad}{wide}{pad}{wide}").as_bytes()), "{wide:?}");
                }
            }
        }
        assert_eq!(written(|o| boolean(o, true)), "true");
        assert_eq!(written(|o| boolean(o, false)), "false");
        assert_eq!(written(|o| name(o, "rpc-budget")), "\"rpc-budget\"");
    }
}
