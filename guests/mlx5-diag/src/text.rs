//! Text pushed together in pieces rather than formatted. In the plugin a `format!` goes
//! through core's formatting machinery (a `dyn Write`, padding, a growing buffer): about
//! 2,500 wasm instructions for `port1`, where pushing the pieces costs a few dozen. A
//! device's report builds some seventy such strings (keys, labels, per-lane lists), so
//! these helpers are used where text is built on every run; one-off messages of findings
//! keep `format!`, which reads better.

/// `prefix` followed by `n` in decimal: `port1`, `module2`.
pub fn numbered(prefix: &str, n: impl itoa::Integer) -> String {
    let mut text = String::with_capacity(prefix.len() + 4);
    text.push_str(prefix);
    push_integer(&mut text, n);
    text
}

/// `parts` one after another, in a buffer of their size: `port1-mtu`. A slice's `concat`
/// cost ~330 wasm instructions a key, pushing into a buffer of the right size a third of
/// that.
pub fn joined(parts: &[&str]) -> String {
    let mut text = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text
}

/// `n` in decimal, as `Display` writes it.
pub fn push_integer(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Each of `items` written by `write`, separated by `, `: `12, 40, 41, 39`.
pub fn listed<T>(items: impl IntoIterator<Item = T>, mut write: impl FnMut(&mut String, T)) -> String {
    let mut text = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        write(&mut text, item);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_display_writes_them() {
        for n in [0u64, 1, 9, 10, 255, 1_000_000, u64::MAX] {
            assert_eq!(numbered("port", n), format!("port{n}"));
        }
        for n in [i32::MIN, -1, 0, 1, i32::MAX] {
            let mut text = String::new();
            push_integer(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }

    #[test]
    fn joined_parts_are_the_parts_in_order_and_nothing_else() {
        let key = joined(&["port1", "-", "mtu"]);
        assert_eq!(key, "port1-mtu");
        assert_eq!(key.capacity(), key.len());
        assert_eq!(joined(&[]), "");
    }

    #[test]
    fn a_list_is_its_items_joined_by_a_comma_and_a_space() {
        assert_eq!(listed([1u32, 22, 333], push_integer), "1, 22, 333");
        assert_eq!(listed([7u8], push_integer), "7");
        assert_eq!(listed(Vec::<u8>::new(), push_integer), "");
    }
}
