//! The grant: what a plugin may do here = what its manifest asks ∩ what policy allows.
//!
//! Computed before anything is instantiated. A plugin whose required scope or limits
//! exceed policy does not run, and the refusal names the field at fault. An optional
//! `max-scope` is granted only as far as policy, `--allow-taint` and the process's
//! capabilities allow; what was withheld, and why, travels with the grant so a refused
//! RPC can say it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fwctl_devices::{DeviceKind, Scope};
use fwctl_proto::cxl::Uuid;
use serde::Serialize;

use super::Limits;
use super::{LimitCeilings, Policy};
use crate::plugin::{ANY_FEATURE, DeviceRequest, Manifest};

/// Limits the operator set on the command line; they override manifest and defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// `--memory-mib`.
    pub memory_mib: Option<u64>,
    /// `--timeout` (ms).
    pub timeout_ms: Option<u64>,
    /// `--rpc-budget`.
    pub rpcs: Option<u64>,
}

/// What the operator chose for this run, and what the process may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorOptions {
    /// Limit overrides.
    pub limits: LimitOverrides,
    /// `--allow-taint`: the operator accepts that this run may taint the kernel.
    pub allow_taint: bool,
    /// Whether the process holds CAP_SYS_RAWIO (debug-write-full needs it).
    pub cap_sys_rawio: bool,
    /// The verified signer, or `None` for an unsigned plugin.
    pub signer: Option<String>,
    /// How many distinct trusted signers vouch for the plugin.
    pub signer_count: usize,
}

/// Least privilege: no taint, no CAP_SYS_RAWIO, unsigned. Callers that have more (the
/// binary reads the process's capabilities) say so.
impl Default for OperatorOptions {
    fn default() -> Self {
        Self {
            limits: LimitOverrides::default(),
            allow_taint: false,
            cap_sys_rawio: false,
            signer: None,
            signer_count: 0,
        }
    }
}

/// What one plugin may do on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The policy entry that applied: `unsigned` or `signer.NAME`.
    pub policy_entry: String,
    /// Why that entry applied, in words.
    pub entry_reason: String,
    /// Per device kind; kinds not here are not granted.
    pub devices: BTreeMap<DeviceKind, KindGrant>,
    /// The limits every run of the plugin gets.
    pub limits: Limits,
}

/// What a plugin may do on one kind of device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindGrant {
    /// The highest scope granted.
    pub scope: Scope,
    /// Why the manifest's `max-scope` was not granted in full, if it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    /// The only opcodes allowed, if the manifest listed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcodes: Option<BTreeSet<u16>>,
    /// mlx5: the only registers `ACCESS_REG` may read, if listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_reg_read: Option<BTreeSet<u16>>,
    /// The RPCs that change device state it may make (absent from reports when the
    /// manifest declares none).
    #[serde(skip_serializing_if = "WriteGrant::declares_nothing")]
    pub writes: WriteGrant,
}

/// The writes a plugin may make on one kind: those its manifest declares, when the policy
/// entry grants writes on the kind. When it does not, the declared sets stay (so `inspect`
/// can show them) and `withheld` says why none of them may be made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteGrant {
    /// Commands that change state (mlx5 setters, counter queries with `clear` set).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub opcodes: BTreeSet<u16>,
    /// mlx5 registers written, or read with a clear bit set.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub registers: BTreeSet<u16>,
    /// CXL Features Set Feature may target.
    #[serde(skip_serializing_if = "BTreeSet::is_empty", serialize_with = "uuid_texts")]
    pub features: BTreeSet<[u8; 16]>,
    /// Every Feature the device lets be changed (`set-features = ["any"]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub any_feature: bool,
    /// Why the declared writes may not be made, if they may not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

impl WriteGrant {
    /// Whether the manifest declared no write at all.
    pub fn declares_nothing(&self) -> bool {
        self.opcodes.is_empty() && self.registers.is_empty() && self.features.is_empty() && !self.any_feature
    }

    /// Whether the writes can actually be made (declared, and not withheld).
    pub fn granted(&self) -> bool {
        !self.declares_nothing() && self.withheld.is_none()
    }
}

fn uuid_texts<S: serde::Serializer>(set: &BTreeSet<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
    let texts: Vec<String> = set.iter().map(|u| Uuid(*u).to_string()).collect();
    texts.serialize(s)
}

impl Grant {
    /// The scope granted on a kind of device, if any.
    pub fn scope_for(&self, kind: DeviceKind) -> Option<Scope> {
        self.devices.get(&kind).map(|g| g.scope)
    }

    /// The grant on a kind of device, if any.
    pub fn for_kind(&self, kind: DeviceKind) -> Option<&KindGrant> {
        self.devices.get(&kind)
    }

    /// The kinds on which the grant includes a scope that taints the kernel.
    pub fn tainting(&self) -> Vec<(DeviceKind, Scope)> {
        self.devices.iter().filter(|(_, g)| g.scope.taints_kernel()).map(|(&k, g)| (k, g.scope)).collect()
    }
}

/// Why a plugin was refused before it ran.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Serialize)]
pub enum GrantError {
    /// Policy has no entry for this plugin's class.
    #[error("policy {origin} has no `{entry}` entry, so {what} may not run on this host")]
    NoPolicyEntry {
        /// The policy's origin.
        origin: String,
        /// `unsigned` or `signer.NAME`.
        entry: String,
        /// `unsigned plugins` or `plugins signed by NAME`.
        what: String,
    },
    /// The manifest needs a kind no plugin may reach (its requests carry addresses).
    #[error(
        "manifest table `devices.{kind}` asks for {kind} devices, which fwctl-run never lets a plugin reach: {why}"
    )]
    KindUnreachable {
        /// The kind.
        kind: DeviceKind,
        /// The risk.
        why: String,
    },
    /// Policy grants nothing on a kind the manifest needs.
    #[error("manifest table `devices.{kind}` asks for {kind} devices, but policy entry `{entry}` grants none")]
    KindNotAllowed {
        /// The kind.
        kind: DeviceKind,
        /// The policy entry.
        entry: String,
    },
    /// A required scope above the policy's maximum.
    #[error(
        "manifest field `devices.{kind}.scope` asks for {asked}, but policy entry `{entry}` allows at most {allowed}"
    )]
    ScopeAbovePolicy {
        /// The kind.
        kind: DeviceKind,
        /// What the manifest asked.
        asked: Scope,
        /// The policy's maximum.
        allowed: Scope,
        /// The policy entry.
        entry: String,
    },
    /// A required tainting scope without the operator's consent.
    #[error("manifest field `devices.{kind}.scope` asks for {asked}, which taints the kernel: {why}")]
    TaintNotAllowed {
        /// The kind.
        kind: DeviceKind,
        /// What the manifest asked.
        asked: Scope,
        /// Policy forbids it, or `--allow-taint` is missing.
        why: String,
    },
    /// debug-write-full required without CAP_SYS_RAWIO.
    #[error(
        "manifest field `devices.{kind}.scope` asks for debug-write-full, which needs CAP_SYS_RAWIO, and this process lacks it (run as root or grant the capability)"
    )]
    MissingRawIo {
        /// The kind.
        kind: DeviceKind,
    },
    /// A requested limit above the policy's ceiling.
    #[error("manifest field `limits.{field}` asks for {asked}, but policy allows at most {allowed}")]
    LimitAbovePolicy {
        /// The manifest field.
        field: &'static str,
        /// What was asked.
        asked: u64,
        /// The ceiling.
        allowed: u64,
    },
}

/// Why a tainting scope may not be used, if it may not.
fn taint_refusal(policy: &Policy, options: &OperatorOptions) -> Option<String> {
    if !policy.allow_taint {
        Some(format!("policy {} sets allow-taint = false", policy.origin))
    } else if !options.allow_taint {
        Some("the run was not started with --allow-taint".into())
    } else if policy.taint_needs_countersignature && options.signer_count < 2 {
        Some(format!(
            "policy {} requires two trusted signers (a countersignature) for tainting scopes, and this plugin has {}",
            policy.origin, options.signer_count
        ))
    } else {
        None
    }
}

/// Intersects a manifest with the policy entry for the plugin's signer (or `unsigned`),
/// then applies the operator's overrides.
pub fn grant(manifest: &Manifest, policy: &Policy, options: &OperatorOptions) -> Result<Grant, GrantError> {
    // A signer without an entry of its own is held to the unsigned entry: a signature
    // never grants less than no signature would.
    let (entry_name, entry) = match options.signer.as_ref().and_then(|n| policy.signers.get(n).map(|e| (n, e))) {
        Some((name, entry)) => (format!("signer.{name}"), Some(entry)),
        None => ("unsigned".to_string(), policy.unsigned.as_ref()),
    };
    let entry_reason = match &options.signer {
        Some(name) if entry_name != "unsigned" => format!("the entry of trusted signer {name}"),
        Some(name) => format!(
            "because trusted signer {name} has no `[signer.{name}]` entry in policy {}: a signature never grants less than none",
            policy.origin
        ),
        None => "because no trusted key signed the plugin".to_string(),
    };
    let entry = entry.ok_or_else(|| GrantError::NoPolicyEntry {
        origin: policy.origin.clone(),
        entry: entry_name.clone(),
        what: options.signer.as_ref().map_or("unsigned plugins".into(), |n| format!("plugins signed by {n}")),
    })?;

    let mut devices = BTreeMap::new();
    for (&kind, request) in &manifest.devices {
        // Whatever a policy says: no plugin bytes reach a driver that dereferences them.
        if let Some(why) = kind.carries_user_addresses() {
            return Err(GrantError::KindUnreachable { kind, why: why.into() });
        }
        let allowed =
            *entry.devices.get(&kind).ok_or_else(|| GrantError::KindNotAllowed { kind, entry: entry_name.clone() })?;
        let mut kind_grant = grant_kind(kind, request, allowed, &entry_name, policy, options)?;
        if !kind_grant.writes.declares_nothing() && !entry.writes.contains(&kind) {
            kind_grant.writes.withheld =
                Some(format!("policy entry `{entry_name}` grants no writes on {kind} devices"));
        }
        devices.insert(kind, kind_grant);
    }
    let limits = grant_limits(manifest, policy, &entry.limits, &options.limits)?;
    Ok(Grant { policy_entry: entry_name, entry_reason, devices, limits })
}

fn grant_kind(
    kind: DeviceKind,
    request: &DeviceRequest,
    allowed: Scope,
    entry: &str,
    policy: &Policy,
    options: &OperatorOptions,
) -> Result<KindGrant, GrantError> {
    let needed = request.scope;
    if needed > allowed {
        return Err(GrantError::ScopeAbovePolicy { kind, asked: needed, allowed, entry: entry.into() });
    }
    let taint_refused = taint_refusal(policy, options);
    if needed.taints_kernel()
        && let Some(why) = &taint_refused
    {
        return Err(GrantError::TaintNotAllowed { kind, asked: needed, why: why.clone() });
    }
    if needed == Scope::DebugWriteFull && !options.cap_sys_rawio {
        return Err(GrantError::MissingRawIo { kind });
    }

    // The optional part: as much of max-scope as every gate allows.
    let wanted = request.highest_scope();
    let mut scope = wanted.min(allowed);
    let mut withheld = (scope < wanted).then(|| format!("policy entry `{entry}` allows at most {allowed} on {kind}"));
    if scope.taints_kernel()
        && let Some(why) = taint_refused
    {
        scope = needed.max(Scope::DebugReadOnly).min(scope);
        withheld = Some(format!("{wanted} taints the kernel and {why}"));
    }
    if scope == Scope::DebugWriteFull && !options.cap_sys_rawio {
        scope = Scope::DebugWrite;
        withheld = Some("debug-write-full needs CAP_SYS_RAWIO, which this process lacks".into());
    }

    Ok(KindGrant {
        scope,
        withheld,
        opcodes: request.opcodes.as_ref().map(|o| o.iter().copied().collect()),
        access_reg_read: request.access_reg_read.as_ref().map(|r| r.iter().copied().collect()),
        writes: WriteGrant {
            opcodes: request.write_opcodes.iter().copied().collect(),
            registers: request.access_reg_write.iter().copied().collect(),
            // The manifest checked every entry when it was parsed.
            features: request.set_features.iter().filter_map(|u| Uuid::parse(u)).map(|u| u.0).collect(),
            any_feature: request.set_features.iter().any(|u| u == ANY_FEATURE),
            withheld: None,
        },
    })
}

fn grant_limits(
    manifest: &Manifest,
    policy: &Policy,
    entry: &LimitCeilings,
    overrides: &LimitOverrides,
) -> Result<Limits, GrantError> {
    let host = policy.max_limits;
    let ceiling = |entry: Option<u64>, host: u64| entry.map_or(host, |e| e.min(host));
    let check = |field: &'static str, asked: Option<u64>, allowed: u64| match asked {
        Some(asked) if asked > allowed => Err(GrantError::LimitAbovePolicy { field, asked, allowed }),
        other => Ok(other),
    };
    let requested = manifest.limits;
    let memory_mib =
        check("memory-mib", requested.memory_mib, ceiling(entry.memory_mib, (host.memory_bytes >> 20) as u64))?;
    let timeout_ms =
        check("timeout-ms", requested.timeout_ms, ceiling(entry.timeout_ms, host.timeout.as_millis() as u64))?;
    let rpcs = check("rpcs", requested.rpcs, ceiling(entry.rpcs, host.rpc_budget))?;

    let mut limits = Limits::default();
    if let Some(mib) = overrides.memory_mib.or(memory_mib) {
        limits.memory_bytes = usize::try_from(mib).unwrap_or(usize::MAX >> 20) << 20;
    }
    if let Some(ms) = overrides.timeout_ms.or(timeout_ms) {
        limits.timeout = Duration::from_millis(ms);
    }
    if let Some(n) = overrides.rpcs.or(rpcs) {
        limits.rpc_budget = n;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(body: &str) -> Manifest {
        Manifest::from_toml(&format!("manifest-version = 1\nname = \"p\"\nversion = \"1\"\nvendor = \"v\"\n{body}"))
            .unwrap()
    }

    fn policy(text: &str) -> Policy {
        Policy::from_toml(&format!("policy-version = 1\n{text}"), "test.toml").unwrap()
    }

    /// `--allow-taint`, run by a process that holds CAP_SYS_RAWIO (root).
    fn allow_taint() -> OperatorOptions {
        OperatorOptions { allow_taint: true, cap_sys_rawio: true, ..OperatorOptions::default() }
    }

    #[test]
    fn the_builtin_policy_grants_read_only_diagnostics_as_asked() {
        let m = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[devices.cxl]\nscope = \"configuration\"");
        let g = grant(&m, &Policy::builtin(), &OperatorOptions::default()).unwrap();
        assert_eq!(g.scope_for(DeviceKind::Mlx5), Some(Scope::DebugReadOnly));
        assert_eq!(g.scope_for(DeviceKind::Cxl), Some(Scope::Configuration));
        assert_eq!(g.scope_for(DeviceKind::Pds), None);
        assert_eq!(g.limits, Limits::default());
        assert_eq!(g.policy_entry, "unsigned");
    }

    #[test]
    fn required_tainting_scopes_need_policy_and_the_operator() {
        let m = manifest("[devices.cxl]\nscope = \"debug-write\"");
        let err = grant(&m, &Policy::builtin(), &allow_taint()).unwrap_err();
        assert!(matches!(err, GrantError::ScopeAbovePolicy { allowed: Scope::DebugReadOnly, .. }));
        assert!(err.to_string().contains("`devices.cxl.scope`"), "{err}");

        let p = policy("allow-taint = false\n[unsigned]\ndevices = { cxl = \"debug-write\" }");
        let err = grant(&m, &p, &allow_taint()).unwrap_err().to_string();
        assert!(err.contains("taints the kernel") && err.contains("allow-taint = false"), "{err}");

        let p = policy("allow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write\" }");
        let err = grant(&m, &p, &OperatorOptions::default()).unwrap_err().to_string();
        assert!(err.contains("--allow-taint"), "{err}");
        assert_eq!(grant(&m, &p, &allow_taint()).unwrap().tainting(), [(DeviceKind::Cxl, Scope::DebugWrite)]);
    }

    #[test]
    fn an_optional_max_scope_is_granted_as_far_as_every_gate_allows() {
        let m = manifest("[devices.cxl]\nscope = \"debug-read-only\"\nmax-scope = \"debug-write-full\"");
        let open = policy("allow-taint = true\n[unsigned]\ndevices = { cxl = \"debug-write-full\" }");
        let no_rawio = OperatorOptions { cap_sys_rawio: false, ..allow_taint() };
        // (policy, operator, scope granted, why the rest was withheld)
        let cases = [
            (Policy::builtin(), allow_taint(), Scope::DebugReadOnly, Some("allows at most debug-read-only")),
            (open.clone(), OperatorOptions::default(), Scope::DebugReadOnly, Some("--allow-taint")),
            (open.clone(), allow_taint(), Scope::DebugWriteFull, None),
            (open.clone(), no_rawio.clone(), Scope::DebugWrite, Some("CAP_SYS_RAWIO")),
        ];
        for (policy, options, scope, withheld) in cases {
            let g = grant(&m, &policy, &options).unwrap();
            let why = g.devices[&DeviceKind::Cxl].withheld.as_deref();
            assert_eq!(g.scope_for(DeviceKind::Cxl), Some(scope), "{options:?}");
            match withheld {
                Some(expected) => assert!(why.is_some_and(|w| w.contains(expected)), "{why:?} lacks {expected}"),
                None => assert_eq!(why, None),
            }
        }
        // Asked as the base scope rather than the optional one, it is refused outright.
        let needs_full = manifest("[devices.cxl]\nscope = \"debug-write-full\"");
        let err = grant(&needs_full, &open, &no_rawio).unwrap_err();
        assert_eq!(err, GrantError::MissingRawIo { kind: DeviceKind::Cxl });
    }

    #[test]
    fn tainting_scopes_can_require_a_countersignature() {
        let m = manifest("[devices.cxl]\nscope = \"debug-read-only\"\nmax-scope = \"debug-write\"");
        let p = policy(
            "allow-taint = true\ntaint-needs-countersignature = true\n[signer.v]\ndevices = { cxl = \"debug-write\" }",
        );
        let once = OperatorOptions { signer: Some("v".into()), signer_count: 1, ..allow_taint() };
        let g = grant(&m, &p, &once).unwrap();
        assert_eq!(g.scope_for(DeviceKind::Cxl), Some(Scope::DebugReadOnly));
        assert!(g.devices[&DeviceKind::Cxl].withheld.as_ref().unwrap().contains("countersignature"));
        let twice = OperatorOptions { signer_count: 2, ..once };
        assert_eq!(grant(&m, &p, &twice).unwrap().scope_for(DeviceKind::Cxl), Some(Scope::DebugWrite));
    }

    #[test]
    fn a_manifest_alone_never_grants_a_write() {
        let m = manifest(
            "[devices.mlx5]\nscope = \"debug-read-only\"\naccess-reg-write = [0x5006]\nwrite-opcodes = [0x109]",
        );
        let g = grant(&m, &Policy::builtin(), &OperatorOptions::default()).unwrap();
        let writes = &g.devices[&DeviceKind::Mlx5].writes;
        assert_eq!((writes.registers.len(), writes.opcodes.len()), (1, 1), "declared");
        assert!(!writes.granted());
        assert_eq!(writes.withheld.as_deref(), Some("policy entry `unsigned` grants no writes on mlx5 devices"));

        let p = policy("[signer.v]\ndevices = { mlx5 = \"debug-read-only\" }\nwrites = [\"mlx5\"]");
        let signed = OperatorOptions { signer: Some("v".into()), signer_count: 1, ..OperatorOptions::default() };
        assert!(grant(&m, &p, &signed).unwrap().devices[&DeviceKind::Mlx5].writes.granted());
        // Nothing declared, nothing granted, whatever the policy allows.
        let reader = manifest("[devices.mlx5]\nscope = \"debug-read-only\"");
        assert!(grant(&reader, &p, &signed).unwrap().devices[&DeviceKind::Mlx5].writes.declares_nothing());
    }

    #[test]
    fn kinds_whose_requests_carry_addresses_are_never_granted() {
        let m = manifest("[devices.pds]\nscope = \"debug-read-only\"");
        // Even a policy built in code (not from a file, which refuses the kind) cannot.
        let mut p = Policy::builtin();
        p.unsigned.as_mut().unwrap().devices.insert(DeviceKind::Pds, Scope::DebugReadOnly);
        let err = grant(&m, &p, &OperatorOptions::default()).unwrap_err();
        assert!(matches!(err, GrantError::KindUnreachable { kind: DeviceKind::Pds, .. }), "{err}");
        assert!(err.to_string().contains("user-space pointers"), "{err}");
    }

    #[test]
    fn kinds_and_signers_follow_their_policy_entry() {
        let m = manifest("[devices.mlx5]\nscope = \"debug-read-only\"");
        let p = policy(
            "[unsigned]\ndevices = { cxl = \"debug-read-only\" }\n[signer.nvidia]\ndevices = { mlx5 = \"debug-read-only\" }",
        );
        let err = grant(&m, &p, &OperatorOptions::default()).unwrap_err().to_string();
        assert!(err.contains("`devices.mlx5`") && err.contains("`unsigned` grants none"), "{err}");
        let signed = OperatorOptions { signer: Some("nvidia".into()), ..OperatorOptions::default() };
        assert_eq!(grant(&m, &p, &signed).unwrap().policy_entry, "signer.nvidia");

        let err = grant(&m, &policy(""), &OperatorOptions::default()).unwrap_err().to_string();
        assert!(err.contains("no `unsigned` entry"), "{err}");
    }

    #[test]
    fn limits_come_from_the_manifest_within_policy_and_the_cli_overrides_them() {
        let m = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[limits]\nrpcs = 50\nmemory-mib = 32");
        let g = grant(&m, &Policy::builtin(), &OperatorOptions::default()).unwrap();
        assert_eq!((g.limits.rpc_budget, g.limits.memory_bytes), (50, 32 << 20));

        let cli = OperatorOptions {
            limits: LimitOverrides { rpcs: Some(7), timeout_ms: Some(250), memory_mib: None },
            ..OperatorOptions::default()
        };
        let g = grant(&m, &Policy::builtin(), &cli).unwrap();
        assert_eq!((g.limits.rpc_budget, g.limits.timeout), (7, Duration::from_millis(250)));

        let greedy = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[limits]\nmemory-mib = 4096");
        let err = grant(&greedy, &Policy::builtin(), &OperatorOptions::default()).unwrap_err();
        assert_eq!(err, GrantError::LimitAbovePolicy { field: "memory-mib", asked: 4096, allowed: 1024 });

        // A signer entry's ceiling is tighter than the host's.
        let p = policy("[unsigned]\ndevices = { mlx5 = \"debug-read-only\" }\nlimits = { rpcs = 20 }");
        let err = grant(&m, &p, &OperatorOptions::default()).unwrap_err();
        assert_eq!(err, GrantError::LimitAbovePolicy { field: "rpcs", asked: 50, allowed: 20 });
    }
}
