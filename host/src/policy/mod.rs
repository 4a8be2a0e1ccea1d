//! Where the operator's policy is decided: what plugins may do on this host.
//!
//! - this module: the policy itself, from a TOML file or the safe built-in default;
//! - `grant`: a plugin's grant = its manifest ∩ the policy entry that applies to it,
//!   computed before anything is instantiated;
//! - `rpc`: the check every RPC passes against that grant before it may reach a backend.
//!
//! ```toml
//! policy-version = 1
//! allow-taint = false        # may debug-write / debug-write-full be used on this host at all
//! require-signed = false     # refuse plugins no trusted key signed (also --require-signed)
//! allow-partial-signatures = false   # accept signatures covering only a prefix
//! taint-needs-countersignature = false  # tainting scopes need two trusted signers
//!
//! [limits]                   # host-wide ceilings for any plugin
//! memory-mib = 1024
//! timeout-ms = 300000
//! rpcs = 1000000
//!
//! [unsigned]                 # plugins nobody signed: kinds and the highest scope on each
//! devices = { mlx5 = "debug-read-only", cxl = "debug-read-only" }
//!
//! [signer.nvidia]            # a signer's plugins (used once signatures are verified)
//! devices = { mlx5 = "debug-write" }
//! writes = ["mlx5"]          # kinds on which they may make the writes their manifest declares
//! limits = { rpcs = 100000 }
//! ```
//!
//! Scope is not effect: configuration scope (below debug-read-only) carries setters, and
//! a counter read with its clear bit set resets what other readers see. So every RPC is
//! classified (`fwctl_proto::effect`) as read, write or unknown, and anything but a read
//! needs a write permission of its own: declared in the plugin's manifest **and** granted
//! here by `writes`. The built-in policy grants no writes to anyone.
//!
//! bnxt and pds cannot be named at all: their requests carry user-space addresses the
//! kernel copies to and from (`DeviceKind::carries_user_addresses`), so no plugin bytes
//! may reach them; a policy that grants them is refused, naming the field.

mod compare;
mod grant;
mod limits;
mod rpc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fwctl_devices::{DeviceKind, Scope};
use serde::{Deserialize, Serialize};

pub use self::compare::widening;
pub use self::grant::{Grant, GrantError, KindGrant, LimitOverrides, OperatorOptions, WriteGrant, grant};
pub use self::limits::Limits;
pub use self::rpc::Denial;
pub use self::rpc::classify;

/// The policy format this build reads.
const POLICY_VERSION: u32 = 1;

/// What the operator allows plugins on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Where it came from: a file, or `built-in`.
    pub origin: String,
    /// Whether scopes that taint the kernel may be used at all.
    pub allow_taint: bool,
    /// Refuse plugins that no trusted key signed.
    pub require_signed: bool,
    /// Accept signatures that cover only a prefix of the component.
    pub allow_partial_signatures: bool,
    /// Tainting scopes need a second trusted signer (an operator's countersignature).
    pub taint_needs_countersignature: bool,
    /// Host-wide ceilings for any plugin.
    pub max_limits: Limits,
    /// What unsigned plugins may do; `None`: they may not run.
    pub unsigned: Option<PolicyEntry>,
    /// What each signer's plugins may do, by signer name.
    pub signers: BTreeMap<String, PolicyEntry>,
}

/// What one class of plugins (unsigned, or one signer's) may be granted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyEntry {
    /// The device kinds they may touch, each with the highest scope.
    pub devices: BTreeMap<DeviceKind, Scope>,
    /// The kinds on which they may make the writes their manifest declares.
    #[serde(default)]
    pub writes: BTreeSet<DeviceKind>,
    /// Ceilings tighter than the host-wide ones.
    #[serde(default)]
    pub limits: LimitCeilings,
}

/// Limit ceilings; unset ones fall back to the next level up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitCeilings {
    /// Linear memory, in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock time per device, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// RPCs per device.
    pub rpcs: Option<u64>,
}

/// The file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    policy_version: u32,
    #[serde(default)]
    allow_taint: bool,
    #[serde(default)]
    require_signed: bool,
    #[serde(default)]
    allow_partial_signatures: bool,
    #[serde(default)]
    taint_needs_countersignature: bool,
    #[serde(default)]
    limits: LimitCeilings,
    unsigned: Option<PolicyEntry>,
    #[serde(default)]
    signer: BTreeMap<String, PolicyEntry>,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// It could not be read.
    #[error("cannot read policy {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It is not a valid policy; the message names the field.
    #[error("invalid policy {}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Policy {
    /// The built-in policy: unsigned plugins get every kind RPCs may reach at
    /// debug-read-only at most, no writes, never a tainting scope, and generous but finite
    /// limits.
    pub fn builtin() -> Self {
        let read_only = DeviceKind::ALL
            .iter()
            .filter(|kind| kind.carries_user_addresses().is_none())
            .map(|&kind| (kind, Scope::DebugReadOnly))
            .collect();
        Self {
            origin: "built-in".into(),
            allow_taint: false,
            require_signed: false,
            allow_partial_signatures: false,
            taint_needs_countersignature: false,
            max_limits: Self::builtin_ceilings(),
            unsigned: Some(PolicyEntry {
                devices: read_only,
                writes: BTreeSet::new(),
                limits: LimitCeilings::default(),
            }),
            signers: BTreeMap::new(),
        }
    }

    fn builtin_ceilings() -> Limits {
        Limits { memory_bytes: 1 << 30, timeout: Duration::from_secs(300), rpc_budget: 1_000_000, ..Limits::default() }
    }

    /// `--policy FILE` if given, else [`crate::paths::POLICY_FILE`] if it exists, else the
    /// built-in policy.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, PolicyError> {
        match explicit {
            Some(path) => Self::load(path),
            None if Path::new(crate::paths::POLICY_FILE).exists() => Self::load(Path::new(crate::paths::POLICY_FILE)),
            None => Ok(Self::builtin()),
        }
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.into(), source })?;
        Self::from_toml(&text, &path.display().to_string())
            .map_err(|reason| PolicyError::Invalid { path: path.into(), reason })
    }

    /// Parses policy TOML; `origin` names where it came from.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if file.policy_version != POLICY_VERSION {
            return Err(format!(
                "field `policy-version` is {}, this fwctl-run reads version {POLICY_VERSION}",
                file.policy_version
            ));
        }
        if let Some(entry) = &file.unsigned {
            entry.check("unsigned")?;
        }
        for (name, entry) in &file.signer {
            entry.check(&format!("signer.{name}"))?;
        }
        let builtin = Self::builtin_ceilings();
        let max_limits = Limits {
            memory_bytes: file.limits.memory_mib.map_or(builtin.memory_bytes, |m| (m as usize) << 20),
            timeout: file.limits.timeout_ms.map_or(builtin.timeout, Duration::from_millis),
            rpc_budget: file.limits.rpcs.unwrap_or(builtin.rpc_budget),
            ..builtin
        };
        Ok(Self {
            origin: origin.into(),
            allow_taint: file.allow_taint,
            require_signed: file.require_signed,
            allow_partial_signatures: file.allow_partial_signatures,
            taint_needs_countersignature: file.taint_needs_countersignature,
            max_limits,
            unsigned: file.unsigned,
            signers: file.signer,
        })
    }
}

impl PolicyEntry {
    /// Refuses what no policy may grant: RPCs to kinds whose requests carry user-space
    /// addresses, and writes on a kind the entry does not grant at all.
    fn check(&self, table: &str) -> Result<(), String> {
        for kind in self.devices.keys().chain(&self.writes) {
            if let Some(why) = kind.carries_user_addresses() {
                let field = if self.devices.contains_key(kind) { "devices" } else { "writes" };
                return Err(format!(
                    "field `{table}.{field}` names {kind}, which fwctl-run never lets a plugin reach: {why} \
                     (`fwctl-run list` and `inspect` still show {kind} devices)"
                ));
            }
        }
        if let Some(kind) = self.writes.iter().find(|k| !self.devices.contains_key(k)) {
            return Err(format!("field `{table}.writes` names {kind}, which `{table}.devices` does not grant"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_parses_and_unknown_fields_are_named() {
        let p = Policy::from_toml(
            "policy-version = 1\nallow-taint = true\n[limits]\nrpcs = 10\n[unsigned]\ndevices = { cxl = \"debug-write\" }\n\
             [signer.nvidia]\ndevices = { mlx5 = \"debug-read-only\" }\nlimits = { timeout-ms = 5 }",
            "test",
        )
        .unwrap();
        assert!(p.allow_taint);
        assert_eq!(p.max_limits.rpc_budget, 10);
        assert_eq!(p.unsigned.unwrap().devices[&DeviceKind::Cxl], Scope::DebugWrite);
        assert_eq!(p.signers["nvidia"].limits.timeout_ms, Some(5));

        let err = Policy::from_toml("policy-version = 1\n[unsigned]\ndevices = {}\nscope = \"x\"", "t").unwrap_err();
        assert!(err.contains("unknown field `scope`"), "{err}");
        let err = Policy::from_toml("policy-version = 1\n[unsigned]\ndevices = { mlx5 = \"root\" }", "t").unwrap_err();
        assert!(err.contains("unknown variant `root`"), "{err}");
        let err = Policy::from_toml("policy-version = 2", "t").unwrap_err();
        assert!(err.contains("`policy-version` is 2"), "{err}");
        // No [unsigned] table: unsigned plugins may not run at all.
        assert_eq!(Policy::from_toml("policy-version = 1", "t").unwrap().unsigned, None);
    }

    #[test]
    fn the_builtin_policy_is_read_only_everywhere() {
        let p = Policy::builtin();
        assert!(!p.allow_taint);
        let unsigned = p.unsigned.unwrap();
        assert!(unsigned.devices.values().all(|&s| s == Scope::DebugReadOnly));
        assert!(unsigned.writes.is_empty(), "no writes for anyone");
        assert_eq!(unsigned.devices.keys().copied().collect::<Vec<_>>(), [DeviceKind::Mlx5, DeviceKind::Cxl]);
        assert!(p.signers.is_empty());
    }

    #[test]
    fn a_policy_naming_bnxt_or_pds_is_refused_with_the_risk() {
        for (text, field) in [
            (
                "[unsigned]\ndevices = { mlx5 = \"debug-read-only\", pds = \"debug-read-only\" }",
                "`unsigned.devices` names pds",
            ),
            ("[signer.v]\ndevices = { bnxt = \"configuration\" }", "`signer.v.devices` names bnxt"),
            ("[unsigned]\ndevices = { cxl = \"debug-read-only\" }\nwrites = [\"pds\"]", "`unsigned.writes` names pds"),
        ] {
            let err = Policy::from_toml(&format!("policy-version = 1\n{text}"), "t").unwrap_err();
            assert!(err.contains(field) && err.contains("fwctl-run's own memory"), "{err}");
        }
    }

    #[test]
    fn writes_are_granted_per_class_and_only_on_granted_kinds() {
        let p = Policy::from_toml(
            "policy-version = 1\n[signer.v]\ndevices = { mlx5 = \"debug-read-only\" }\nwrites = [\"mlx5\"]",
            "t",
        )
        .unwrap();
        assert_eq!(p.signers["v"].writes, [DeviceKind::Mlx5].into());
        let err = Policy::from_toml(
            "policy-version = 1\n[unsigned]\ndevices = { mlx5 = \"debug-read-only\" }\nwrites = [\"cxl\"]",
            "t",
        )
        .unwrap_err();
        assert!(err.contains("`unsigned.writes` names cxl, which `unsigned.devices` does not grant"), "{err}");
    }
}
