//! `fwctl-run test PLUGIN --expect FILE.toml`: a plugin's expected behaviour on simulated
//! profiles, checked with the binary alone, so a vendor's CI need not compile the host.
//!
//! ```toml
//! [[case]]
//! name = "old firmware warns"          # optional
//! profile = "connectx6dx-old-firmware" # a built-in profile or a profile file
//! args = []                            # optional: the plugin's arguments
//! device = "fwctl0"                    # optional: one device; else every device it handles
//! status = "completed"                 # optional: completed, failed or not-applicable
//! findings = ["firmware.old"]          # optional: exactly these codes, in any order
//! facts = { firmware = "22.28.2006" }  # optional: these facts with these values
//! ```
//!
//! Each case runs as `fwctl-run PLUGIN --sim=PROFILE -- ARGS` would (same admission,
//! built-in policy, no trust store), through [`crate::testing::Simulation`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::outcome::{DeviceRun, RunStatus, Value};
use crate::testing::Simulation;

/// The expectations file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// The cases, in order.
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

/// One run and what it must show.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A name for the report.
    #[serde(default)]
    pub name: Option<String>,
    /// The simulated devices.
    pub profile: String,
    /// The plugin's arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Only this device's run.
    #[serde(default)]
    pub device: Option<String>,
    /// How the run must end.
    #[serde(default)]
    pub status: Option<String>,
    /// The finding codes, exactly.
    #[serde(default)]
    pub findings: Option<Vec<String>>,
    /// Facts and their values.
    #[serde(default)]
    pub facts: BTreeMap<String, toml::Value>,
}

/// What checking one case found.
#[derive(Debug)]
pub struct CaseResult {
    /// The case's name (or `case N (PROFILE)`).
    pub name: String,
    /// Each difference from what was expected; empty when it passed.
    pub failures: Vec<String>,
}

impl Expectations {
    /// Reads an expectations file; errors name the file and the field.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let parsed: Self = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        if parsed.cases.is_empty() {
            anyhow::bail!("{}: no [[case]] tables", path.display());
        }
        Ok(parsed)
    }

    /// Runs every case against `plugin`.
    pub fn check(&self, plugin: &Path) -> Vec<CaseResult> {
        self.cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let name = case.name.clone().unwrap_or_else(|| format!("case {} ({})", i + 1, case.profile));
                let failures = match run(case, plugin) {
                    Ok(runs) => case.differences(&runs),
                    Err(error) => vec![format!("could not run: {error:#}")],
                };
                CaseResult { name, failures }
            })
            .collect()
    }
}

fn run(case: &Case, plugin: &Path) -> anyhow::Result<Vec<DeviceRun>> {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    Simulation::profile(&case.profile)?.run(plugin, &args)
}

impl Case {
    /// What differs between `runs` and this case's expectations.
    fn differences(&self, runs: &[DeviceRun]) -> Vec<String> {
        let selected: Vec<&DeviceRun> = match &self.device {
            Some(name) => runs.iter().filter(|r| &r.device.name == name).collect(),
            None => runs.iter().filter(|r| !matches!(r.status, RunStatus::NotApplicable { .. })).collect(),
        };
        if selected.is_empty() {
            let which = self.device.as_deref().map_or("any device it handles".to_string(), |d| format!("device {d}"));
            return vec![format!("the profile has no run on {which}")];
        }
        let mut failures = Vec::new();
        for run in selected {
            let device = &run.device.name;
            let status = match &run.status {
                RunStatus::Completed => "completed",
                RunStatus::NotApplicable { .. } => "not-applicable",
                RunStatus::Failed { .. } => "failed",
            };
            if let Some(expected) = self.status.as_deref().filter(|s| *s != status) {
                let cause = match &run.status {
                    RunStatus::Failed { cause, .. } => format!(": {cause}"),
                    _ => String::new(),
                };
                failures.push(format!("{device}: status is {status}, expected {expected}{cause}"));
            }
            if let Some(expected) = &self.findings {
                let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
                let mut got = run.finding_codes();
                want.sort_unstable();
                got.sort_unstable();
                if want != got {
                    failures.push(format!("{device}: findings are {got:?}, expected {want:?}"));
                }
            }
            for (key, expected) in &self.facts {
                match run.fact(key) {
                    None => failures.push(format!("{device}: no fact `{key}`, expected {expected}")),
                    Some(actual) if !same(expected, actual) => {
                        failures.push(format!("{device}: fact `{key}` is {actual}, expected {expected}"))
                    }
                    Some(_) => {}
                }
            }
        }
        failures
    }
}

/// Whether a TOML value and a reported fact are the same value.
fn same(expected: &toml::Value, actual: &Value) -> bool {
    match (expected, actual) {
        (toml::Value::String(e), Value::Text(a)) => e == a,
        (toml::Value::Integer(e), Value::Integer(a)) => e == a,
        (toml::Value::Integer(e), Value::Unsigned(a)) => u64::try_from(*e).is_ok_and(|e| e == *a),
        (toml::Value::Float(e), Value::Real(a)) => e == a,
        (toml::Value::Boolean(e), Value::Boolean(a)) => e == a,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_matches_only_a_value_of_its_own_type() {
        assert!(same(&toml::Value::Integer(3), &Value::Unsigned(3)));
        assert!(same(&toml::Value::String("x".into()), &Value::Text("x".into())));
        assert!(!same(&toml::Value::String("3".into()), &Value::Unsigned(3)));
        assert!(!same(&toml::Value::Integer(-1), &Value::Unsigned(u64::MAX)));
    }
}
