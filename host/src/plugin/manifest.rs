//! The manifest a plugin carries in its `fwctl-manifest` custom section.
//!
//! ```toml
//! manifest-version = 1
//! name = "mlx5-diag"
//! version = "0.1.0"
//! vendor = "fwctl-run project"
//! description = "ConnectX health diagnostics"
//!
//! [devices.mlx5]            # one table per device kind the plugin handles
//! scope = "debug-read-only" # the scope it needs to run at all
//! opcodes = [0x100, 0x101, 0x805]      # optional: the only opcodes it sends
//! access-reg-read = [0x9020, 0x9014]   # optional: the only registers ACCESS_REG reads
//! # The writes it makes (none unless listed; the policy must grant writes too):
//! access-reg-write = [0x5006]          # registers it writes, or reads with a clear bit
//! write-opcodes = [0x109]              # commands that change state (SET_HCA_CAP, a
//!                                      # counter query with `clear` set, ...)
//!
//! [devices.cxl]
//! scope = "debug-read-only"
//! max-scope = "debug-write"   # optional: the most it can use when the operator allows
//! set-features = ["ffffffff-ffff-ffff-ffff-ffffffffffff"]  # Set Feature targets, or ["any"]
//!
//! [limits]                  # optional: what it expects to need
//! memory-mib = 64
//! timeout-ms = 10000
//! rpcs = 4096
//! ```
//!
//! The manifest travels inside the component so that one file (later: one signed file)
//! is the unit of distribution.

use std::collections::BTreeMap;

use fwctl_devices::{DeviceKind, Scope};
use serde::{Deserialize, Serialize};

/// The custom section name.
pub const MANIFEST_SECTION: &str = "fwctl-manifest";

/// The manifest format this build reads.
const MANIFEST_VERSION: u32 = 1;

/// What a plugin declares about itself.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// Format version; must be 1.
    pub manifest_version: u32,
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// Who publishes it.
    pub vendor: String,
    /// One line about what it does.
    #[serde(default)]
    pub description: String,
    /// The device kinds it handles, each with the highest scope it will use.
    pub devices: BTreeMap<DeviceKind, DeviceRequest>,
    /// Resources it expects to need.
    #[serde(default)]
    pub limits: RequestedLimits,
    /// The fwctl-run versions it runs on, a semver requirement such as `">=0.2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_fwctl_run: Option<String>,
}

/// What a plugin asks for on one device kind.
///
/// `scope` is what it needs to run at all; `max-scope` what optional operations (a
/// provisioning command, say) can use when the operator's policy and `--allow-taint`
/// allow it. The allow-lists narrow what the kernel would accept at the granted scope;
/// an absent list does not narrow. Writes are different: an RPC that changes device
/// state (see `fwctl_proto::effect`) must be declared here, and granted by policy.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceRequest {
    /// The scope it needs to run.
    pub scope: Scope,
    /// The highest scope it can use; at least `scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scope: Option<Scope>,
    /// The only opcodes it sends (mlx5 command opcodes, CXL mailbox opcodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opcodes: Option<Vec<u16>>,
    /// mlx5: the only register ids `ACCESS_REG` may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_reg_read: Option<Vec<u16>>,
    /// mlx5: the register ids `ACCESS_REG` may write, or read with a clear bit set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_reg_write: Vec<u16>,
    /// The opcodes it may send that change device state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_opcodes: Vec<u16>,
    /// CXL: the Feature UUIDs Set Feature may target; [`ANY_FEATURE`] for every Feature
    /// the device lets be changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_features: Vec<String>,
}

/// The most bytes of `name`, `version` and `vendor`.
pub const MAX_IDENTITY_BYTES: usize = 128;
/// The most bytes of `description`.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;

/// The `set-features` entry that declares every changeable Feature (a provisioning tool
/// that sets what the operator names).
pub const ANY_FEATURE: &str = "any";

impl DeviceRequest {
    /// The highest scope it can use.
    pub fn highest_scope(&self) -> Scope {
        self.max_scope.unwrap_or(self.scope).max(self.scope)
    }
}

/// Limits a plugin asks for; unset ones take the host's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestedLimits {
    /// Linear memory, in MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock time per device, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// RPCs per device.
    pub rpcs: Option<u64>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// No `fwctl-manifest` section.
    #[error(
        "no `{MANIFEST_SECTION}` custom section: the plugin does not declare what it needs (the SDK's export_plugin! macro embeds one)"
    )]
    Missing,
    /// More than one section.
    #[error("{0} `{MANIFEST_SECTION}` custom sections; a plugin carries exactly one")]
    Duplicate(usize),
    /// Not UTF-8.
    #[error("the `{MANIFEST_SECTION}` section is not UTF-8 text")]
    NotText,
    /// TOML or field errors; the message names the field.
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Parses the section's contents (`None` when the section is absent).
    pub fn from_section(section: Option<&[u8]>) -> Result<Self, ManifestError> {
        let bytes = section.ok_or(ManifestError::Missing)?;
        let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotText)?;
        Self::from_toml(text)
    }

    /// Parses manifest TOML.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| ManifestError::Invalid(e.message().to_string() + &span_hint(text, e.span())))?;
        if manifest.manifest_version != MANIFEST_VERSION {
            return Err(ManifestError::Invalid(format!(
                "field `manifest-version` is {}, this fwctl-run reads version {MANIFEST_VERSION}",
                manifest.manifest_version
            )));
        }
        if manifest.name.trim().is_empty() {
            return Err(ManifestError::Invalid("field `name` is empty".into()));
        }
        // These travel into every audit line and onto operators' terminals: bounded, and
        // no control characters that could forge lines or move the cursor.
        for (field, text, limit) in [
            ("name", &manifest.name, MAX_IDENTITY_BYTES),
            ("version", &manifest.version, MAX_IDENTITY_BYTES),
            ("vendor", &manifest.vendor, MAX_IDENTITY_BYTES),
            ("description", &manifest.description, MAX_DESCRIPTION_BYTES),
        ] {
            if text.len() > limit {
                return Err(ManifestError::Invalid(format!(
                    "field `{field}` is {} bytes; at most {limit} are allowed",
                    text.len()
                )));
            }
            if let Some(c) = text.chars().find(|c| c.is_control()) {
                return Err(ManifestError::Invalid(format!("field `{field}` contains the control character {c:?}")));
            }
        }
        if manifest.devices.is_empty() {
            return Err(ManifestError::Invalid("table `devices` names no device kind".into()));
        }
        if let Some(requirement) = &manifest.requires_fwctl_run
            && let Err(e) = semver::VersionReq::parse(requirement)
        {
            return Err(ManifestError::Invalid(format!(
                "field `requires-fwctl-run`: `{requirement}` is not a version requirement such as \">=0.2\" ({e})"
            )));
        }
        for (kind, request) in &manifest.devices {
            if request.max_scope.is_some_and(|max| max < request.scope) {
                return Err(ManifestError::Invalid(format!(
                    "field `devices.{kind}.max-scope` is below `devices.{kind}.scope`"
                )));
            }
            let mlx5_only = [
                ("access-reg-read", request.access_reg_read.is_some()),
                ("access-reg-write", !request.access_reg_write.is_empty()),
            ];
            for (field, present) in mlx5_only {
                if present && *kind != DeviceKind::Mlx5 {
                    return Err(ManifestError::Invalid(format!(
                        "field `devices.{kind}.{field}` applies to mlx5 devices only"
                    )));
                }
            }
            if !request.set_features.is_empty() {
                if *kind != DeviceKind::Cxl {
                    return Err(ManifestError::Invalid(format!(
                        "field `devices.{kind}.set-features` applies to cxl devices only"
                    )));
                }
                if let Some(bad) = request
                    .set_features
                    .iter()
                    .find(|u| *u != ANY_FEATURE && fwctl_proto::cxl::Uuid::parse(u).is_none())
                {
                    return Err(ManifestError::Invalid(format!(
                        "field `devices.cxl.set-features`: `{bad}` is neither a UUID nor \"{ANY_FEATURE}\""
                    )));
                }
            }
        }
        Ok(manifest)
    }

    /// Why this fwctl-run (`running`, its own version) is not one the plugin runs on, if
    /// it is not (`requires-fwctl-run`).
    pub fn host_version_refusal(&self, running: &str) -> Option<String> {
        let requirement = semver::VersionReq::parse(self.requires_fwctl_run.as_deref()?).ok()?;
        let running_version = semver::Version::parse(running).ok()?;
        (!requirement.matches(&running_version)).then(|| {
            format!(
                "it requires fwctl-run {requirement} (its manifest's `requires-fwctl-run`), and this is fwctl-run \
                 {running}: update fwctl-run, or use a version of the plugin made for this one"
            )
        })
    }

    /// The scope requested for a kind, if the plugin handles it.
    pub fn scope_for(&self, kind: DeviceKind) -> Option<Scope> {
        self.devices.get(&kind).map(|d| d.scope)
    }
}

/// Points at the offending text (TOML errors carry a byte span).
fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) if span.start < text.len() => {
            let line = text[..span.start].matches('\n').count() + 1;
            let snippet = text[span.start..span.end.min(text.len())].trim();
            format!(" (line {line}: `{snippet}`)")
        }
        _ => String::new(),
    }
}

/// Finds the manifest section anywhere in the component, nested core modules included
/// (Rust guests embed it in their core module; `wasm-component-ld` keeps it there).
/// Returns a parse error as text when the binary is malformed.
pub(super) fn find_section(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::CustomSection(section) if section.name() == MANIFEST_SECTION => {
                found.push(section.data().to_vec());
            }
            _ => {}
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(ManifestError::Duplicate(n).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_version_requirement_is_checked_against_the_running_fwctl_run() {
        let with = |requirement: &str| {
            Manifest::from_toml(&format!(
                "manifest-version = 1\nname = \"p\"\nversion = \"1\"\nvendor = \"v\"\n\
                 requires-fwctl-run = \"{requirement}\"\n[devices.mlx5]\nscope = \"debug-read-only\"\n"
            ))
        };
        assert_eq!(with(">=0.1").unwrap().host_version_refusal("0.1.0"), None);
        let why = with(">=0.2").unwrap().host_version_refusal("0.1.0").unwrap();
        assert!(why.starts_with("it requires fwctl-run >=0.2") && why.contains("this is fwctl-run 0.1.0"), "{why}");
        let err = with("newer please").unwrap_err().to_string();
        assert!(err.contains("field `requires-fwctl-run`: `newer please` is not a version requirement"), "{err}");
    }

    const GOOD: &str = r#"
        manifest-version = 1
        name = "diag"
        version = "1.0.0"
        vendor = "Example"
        [devices.mlx5]
        scope = "debug-read-only"
        [devices.cxl]
        scope = "debug-write"
        [limits]
        rpcs = 12
    "#;

    #[test]
    fn a_complete_manifest_parses() {
        let m = Manifest::from_toml(GOOD).unwrap();
        assert_eq!(m.name, "diag");
        assert_eq!(m.scope_for(DeviceKind::Mlx5), Some(Scope::DebugReadOnly));
        assert_eq!(m.scope_for(DeviceKind::Cxl), Some(Scope::DebugWrite));
        assert_eq!(m.scope_for(DeviceKind::Pds), None);
        assert_eq!(m.limits.rpcs, Some(12));
        assert_eq!(m.limits.memory_mib, None);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let bad_scope = GOOD.replace("debug-write\"", "root\"");
        let err = Manifest::from_toml(&bad_scope).unwrap_err().to_string();
        assert!(err.contains("unknown variant `root`") && err.contains("line"), "{err}");

        let unknown = GOOD.replace("rpcs = 12", "rpcs = 12\ncolour = 3");
        let err = Manifest::from_toml(&unknown).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");

        let kind = GOOD.replace("[devices.cxl]", "[devices.gpu]");
        let err = Manifest::from_toml(&kind).unwrap_err().to_string();
        assert!(err.contains("gpu"), "{err}");

        let version = GOOD.replace("manifest-version = 1", "manifest-version = 2");
        let err = Manifest::from_toml(&version).unwrap_err().to_string();
        assert!(err.contains("`manifest-version` is 2"), "{err}");

        let long = GOOD.replace("name = \"diag\"", &format!("name = \"{}\"", "n".repeat(129)));
        let err = Manifest::from_toml(&long).unwrap_err().to_string();
        assert!(err.contains("field `name` is 129 bytes; at most 128"), "{err}");
        let forged = GOOD.replace("vendor = \"Example\"", "vendor = \"Example\\r\\u001b[2K\"");
        let err = Manifest::from_toml(&forged).unwrap_err().to_string();
        assert!(err.contains("field `vendor` contains the control character '\\r'"), "{err}");

        assert_eq!(Manifest::from_section(None), Err(ManifestError::Missing));
        assert_eq!(Manifest::from_section(Some(&[0xff, 0xfe])), Err(ManifestError::NotText));
    }
}
