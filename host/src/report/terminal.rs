//! Text from plugins and registries, made safe to print on an operator's terminal.
//!
//! A plugin's finding summary, fact, log line or error is data, not terminal control:
//! with a carriage return, cursor movement, OSC 52 or the alternate screen it could
//! rewrite other devices' lines and the summary, and a newline could forge a row.
//! Every control character (newline included: a field is one line) and every
//! bidirectional-text control is shown as a visible escape, as `ls` and `git` do.

use std::borrow::Cow;

/// Unicode's bidirectional formatting characters, which reorder what follows them
/// (the "Trojan Source" characters) and the implicit marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control and bidi characters escaped (`\n`, `\r`, `\t`, `\x1b`,
/// `\u{202e}`); borrowed when there is nothing to escape.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_cursor_tricks_become_visible_text() {
        assert!(matches!(visible("mlx5.link.down on port 1"), Cow::Borrowed(_)));
        assert_eq!(visible("ok\r\x1b[2Khealthy (exit 0)"), "ok\\r\\x1b[2Khealthy (exit 0)");
        assert_eq!(visible("\x1b]52;c;ZXZpbA==\x07"), "\\x1b]52;c;ZXZpbA==\\x07", "OSC 52 clipboard write");
        assert_eq!(visible("a\nmlx5-diag fwctl9 ok"), "a\\nmlx5-diag fwctl9 ok");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(visible("\u{9b}31m"), "\\u{9b}31m", "a C1 control sequence introducer");
        assert_eq!(visible("température 61 °C"), "température 61 °C");
    }
}
