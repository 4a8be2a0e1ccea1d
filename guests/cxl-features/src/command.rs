//! The plugin's arguments: `list`, `get FEATURE [--selection S]`,
//! `set FEATURE VALUE... [--offset N] [--dry-run]`.

use fwctl_sdk::cxl::Selection;

/// What the operator asked for.
#[derive(Debug, PartialEq)]
pub enum Command {
    List,
    Get { feature: String, selection: Selection },
    Set(SetRequest),
}

/// A Set Feature the operator asked for.
#[derive(Debug, PartialEq)]
pub struct SetRequest {
    pub feature: String,
    /// The bytes to write, in wire order.
    pub data: Vec<u8>,
    pub offset: u16,
    pub dry_run: bool,
}

const USAGE: &str = "expected `list`, `get FEATURE [--selection current|default|saved]` or \
                     `set FEATURE VALUE... [--offset N] [--dry-run]`";

pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    let command = match args.next() {
        None | Some("list") => Command::List,
        Some("get") => {
            let feature = args.next().ok_or("`get` needs a Feature UUID or name")?.to_string();
            let mut selection = Selection::Current;
            while let Some(arg) = args.next() {
                match arg {
                    "--selection" => {
                        let name = args.next().ok_or("`--selection` needs current, default or saved")?;
                        selection = Selection::parse(name)
                            .ok_or_else(|| format!("unknown selection `{name}` (current, default or saved)"))?;
                    }
                    other => return Err(format!("unexpected argument `{other}` to `get`")),
                }
            }
            Command::Get { feature, selection }
        }
        Some("set") => {
            let feature = args.next().ok_or("`set` needs a Feature UUID or name")?.to_string();
            let mut request = SetRequest { feature, data: Vec::new(), offset: 0, dry_run: false };
            while let Some(arg) = args.next() {
                match arg {
                    "--dry-run" => request.dry_run = true,
                    "--offset" => {
                        let n = args.next().ok_or("`--offset` needs a byte offset")?;
                        request.offset = parse_number(n)
                            .and_then(|v| u16::try_from(v).ok())
                            .ok_or_else(|| format!("`--offset {n}` is not a 16-bit byte offset"))?;
                    }
                    value => request.data.extend(parse_value(value)?),
                }
            }
            if request.data.is_empty() {
                return Err("`set` needs a VALUE: hex bytes in wire order (`efbeadde`) or little-endian \
                            integers (`u32:0xdeadbeef`)"
                    .into());
            }
            Command::Set(request)
        }
        Some(other) => return Err(format!("unknown command `{other}` ({USAGE})")),
    };
    if let Command::List = command
        && let Some(extra) = args.next()
    {
        return Err(format!("unexpected argument `{extra}` to `list`"));
    }
    Ok(command)
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// One VALUE: `u8:N`, `u16:N`, `u32:N`, `u64:N` (little-endian, as CXL stores them) or
/// an even number of hex digits, taken as bytes in wire order.
fn parse_value(text: &str) -> Result<Vec<u8>, String> {
    if let Some((width, number)) = text.split_once(':') {
        let bytes: usize = match width {
            "u8" => 1,
            "u16" => 2,
            "u32" => 4,
            "u64" => 8,
            _ => {
                return Err(format!("`{text}`: unknown width `{width}` (u8, u16, u32 or u64)"));
            }
        };
        let value = parse_number(number).ok_or_else(|| format!("`{text}`: `{number}` is not a number"))?;
        if bytes < 8 && value >> (bytes * 8) != 0 {
            return Err(format!("`{text}`: {value:#x} does not fit in {width}"));
        }
        return Ok(value.to_le_bytes()[..bytes].to_vec());
    }
    if text.is_empty() || !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{text}` is not a VALUE: give hex bytes in wire order (`efbeadde`) or a little-endian integer (`u32:0xdeadbeef`)"
        ));
    }
    Ok((0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&[]), Ok(Command::List));
        assert_eq!(
            parse(&args(&["get", "cxl-test", "--selection", "saved"])),
            Ok(Command::Get { feature: "cxl-test".into(), selection: Selection::Saved })
        );
        assert_eq!(
            parse(&args(&["set", "cxl-test", "u32:0xabcdabcd", "--dry-run"])),
            Ok(Command::Set(SetRequest {
                feature: "cxl-test".into(),
                data: vec![0xcd, 0xab, 0xcd, 0xab],
                offset: 0,
                dry_run: true
            }))
        );
        let Ok(Command::Set(r)) = parse(&args(&["set", "x", "--offset", "0x10", "0102", "u16:3"])) else { panic!() };
        assert_eq!((r.offset, r.data), (16, vec![1, 2, 3, 0]));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let err = |a: &[&str]| parse(&args(a)).unwrap_err();
        assert!(err(&["frobnicate"]).contains("unknown command `frobnicate`"));
        assert!(err(&["get"]).contains("needs a Feature"));
        assert!(err(&["get", "x", "--selection", "future"]).contains("unknown selection `future`"));
        assert!(err(&["set", "x"]).contains("needs a VALUE"));
        assert!(err(&["set", "x", "abc"]).contains("`abc` is not a VALUE"));
        assert!(err(&["set", "x", "u8:256"]).contains("does not fit in u8"));
        assert!(err(&["set", "x", "u24:1"]).contains("unknown width"));
        assert!(err(&["set", "x", "00", "--offset", "70000"]).contains("not a 16-bit byte offset"));
        assert!(err(&["list", "extra"]).contains("unexpected argument `extra`"));
    }
}
