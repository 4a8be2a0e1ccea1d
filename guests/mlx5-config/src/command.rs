//! The plugin's arguments: `query [PARAM...]`, `set PARAM=VALUE... [--dry-run]`,
//! `check --expect TOML`. Names and values are checked here, before any RPC.

use fwctl_sdk::mlx5::nvconfig::{PARAMETERS, Parameter, parameter};

/// What the operator asked for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// The parameters to show (all when none were named).
    Query(Vec<&'static Parameter>),
    /// New next-boot values.
    Set { changes: Vec<Change>, dry_run: bool },
    /// Expected values.
    Check(Baseline),
}

/// One `PARAM=VALUE` of `set`.
#[derive(Debug, PartialEq)]
pub struct Change {
    pub parameter: &'static Parameter,
    pub value: u32,
}

/// What `check` expects: values for every device, and values for devices of one PSID
/// (which win).
#[derive(Debug, Default, PartialEq)]
pub struct Baseline {
    pub expect: Vec<Change>,
    pub by_psid: Vec<(String, Vec<Change>)>,
}

const USAGE: &str = "expected `query [PARAM...]`, `set PARAM=VALUE... [--dry-run]` or `check --expect TOML`";

pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    match args.next() {
        None => Ok(Command::Query(PARAMETERS.iter().collect())),
        Some("query") => {
            let names: Result<Vec<_>, _> = args.map(known).collect();
            let names = names?;
            Ok(Command::Query(if names.is_empty() { PARAMETERS.iter().collect() } else { names }))
        }
        Some("set") => {
            let (mut changes, mut dry_run) = (Vec::new(), false);
            for arg in args {
                if arg == "--dry-run" {
                    dry_run = true;
                    continue;
                }
                let (name, value) = arg.split_once('=').ok_or_else(|| format!("`{arg}` is not PARAM=VALUE"))?;
                let parameter = known(name)?;
                if changes.iter().any(|c: &Change| c.parameter == parameter) {
                    return Err(format!("{} is set twice", parameter.name));
                }
                changes.push(Change { parameter, value: parameter.parse(value)? });
            }
            if changes.is_empty() {
                return Err("`set` needs at least one PARAM=VALUE".into());
            }
            Ok(Command::Set { changes, dry_run })
        }
        Some("check") => {
            match (args.next(), args.next(), args.next()) {
                (Some("--expect"), Some(toml), None) => Ok(Command::Check(baseline(toml)?)),
                _ => Err("`check` takes `--expect TOML`, the baseline's text (e.g. --expect \"$(cat baseline.toml)\")"
                    .into()),
            }
        }
        Some(other) => Err(format!("unknown command `{other}`: {USAGE}")),
    }
}

fn known(name: &str) -> Result<&'static Parameter, String> {
    parameter(name).ok_or_else(|| {
        let names: Vec<&str> = PARAMETERS.iter().map(|p| p.name).collect();
        format!("unknown parameter `{name}`; this plugin knows {}", names.join(", "))
    })
}

/// The baseline's TOML: `[expect]` for every device, `[psid.NAME]` for one board type.
///
/// ```toml
/// [expect]
/// SRIOV_EN = true
/// NUM_OF_VFS = 8
/// [psid.MT_0000000834]
/// NUM_OF_VFS = 16
/// ```
fn baseline(text: &str) -> Result<Baseline, String> {
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| format!("the baseline is not TOML: {}", e.message()))?;
    let mut baseline = Baseline::default();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("expect", toml::Value::Table(values)) => baseline.expect = changes(values, "expect")?,
            ("psid", toml::Value::Table(boards)) => {
                for (psid, values) in boards {
                    let values = values.as_table().ok_or_else(|| format!("`psid.{psid}` is not a table"))?;
                    baseline.by_psid.push((psid.clone(), changes(values, &format!("psid.{psid}"))?));
                }
            }
            (other, _) => {
                return Err(format!("the baseline has `{other}`; it takes `[expect]` and `[psid.NAME]` tables"));
            }
        }
    }
    if baseline.expect.is_empty() && baseline.by_psid.is_empty() {
        return Err("the baseline expects nothing: give an `[expect]` or `[psid.NAME]` table".into());
    }
    Ok(baseline)
}

fn changes(values: &toml::Table, table: &str) -> Result<Vec<Change>, String> {
    values
        .iter()
        .map(|(name, value)| {
            let parameter = known(name).map_err(|e| format!("`{table}`: {e}"))?;
            let text = match value {
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::String(s) => s.clone(),
                other => return Err(format!("`{table}.{name}` is a {}, not a value", other.type_str())),
            };
            let value = parameter.parse(&text).map_err(|e| format!("`{table}.{name}`: {e}"))?;
            Ok(Change { parameter, value })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn set_takes_names_and_values_in_mlxconfigs_spelling() {
        let Command::Set { changes, dry_run } = parse(&args("set sriov_en=False NUM_OF_VFS=16 --dry-run")).unwrap()
        else {
            panic!("a set");
        };
        assert!(dry_run);
        assert_eq!((changes[0].parameter.name, changes[0].value), ("SRIOV_EN", 0));
        assert_eq!((changes[1].parameter.name, changes[1].value), ("NUM_OF_VFS", 16));
    }

    #[test]
    fn bad_names_values_and_repeats_are_refused_with_the_reason() {
        assert!(parse(&args("set SRIOV=1")).unwrap_err().contains("unknown parameter `SRIOV`"));
        assert!(parse(&args("set LINK_TYPE_P1=VPI")).unwrap_err().contains("one of IB, ETH"));
        assert!(parse(&args("set NUM_OF_VFS=1 NUM_OF_VFS=2")).unwrap_err().contains("set twice"));
        assert!(parse(&args("set")).unwrap_err().contains("at least one"));
        assert!(parse(&args("frobnicate")).unwrap_err().contains("unknown command"));
    }

    #[test]
    fn a_baseline_has_values_for_all_and_per_psid() {
        let text =
            "[expect]\nSRIOV_EN = true\nCQE_COMPRESSION = \"AGGRESSIVE\"\n[psid.MT_0000000834]\nNUM_OF_VFS = 16\n";
        let Command::Check(b) = parse(&["check".into(), "--expect".into(), text.into()]).unwrap() else {
            panic!("a check");
        };
        assert_eq!(b.expect.len(), 2);
        assert_eq!(b.by_psid[0].0, "MT_0000000834");
        assert_eq!(b.by_psid[0].1[0].value, 16);
        let wrong = parse(&["check".into(), "--expect".into(), "[expect]\nNUM_OF_VFS = \"many\"".into()]);
        assert!(wrong.unwrap_err().contains("`expect.NUM_OF_VFS`"));
    }
}
