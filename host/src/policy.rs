//! The grant: what a plugin may do here = what its manifest asks ∩ what policy allows.
//!
//! Computed before anything is instantiated. A plugin that asks for more than policy
//! allows does not run, and the refusal names the manifest field at fault. The grant is
//! what the sandbox enforces on every RPC.

use std::collections::BTreeMap;
use std::time::Duration;

use fwctl_devices::{DeviceKind, Scope};
use serde::Serialize;

use crate::plugin::Manifest;
use crate::sandbox::Limits;

/// What the operator allows plugins on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The highest scope any plugin may be granted.
    pub max_scope: Scope,
    /// Whether scopes that taint the kernel (debug-write, debug-write-full) may be used.
    pub allow_taint: bool,
    /// The largest limits a manifest may ask for.
    pub max_limits: Limits,
}

impl Policy {
    /// The built-in policy for plugins nobody vouches for: at most debug-read-only,
    /// never a tainting scope, and generous but finite limits.
    pub fn builtin() -> Self {
        Self {
            max_scope: Scope::DebugReadOnly,
            allow_taint: false,
            max_limits: Limits {
                memory_bytes: 1 << 30,
                timeout: Duration::from_secs(300),
                rpc_budget: 1_000_000,
                ..Limits::default()
            },
        }
    }
}

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

/// What one plugin may do on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The highest scope granted per device kind; kinds not here are not granted.
    pub scopes: BTreeMap<DeviceKind, Scope>,
    /// The limits every run of the plugin gets.
    pub limits: Limits,
}

impl Grant {
    /// The scope granted on a kind of device, if any.
    pub fn scope_for(&self, kind: DeviceKind) -> Option<Scope> {
        self.scopes.get(&kind).copied()
    }
}

/// Why a plugin was refused before it ran.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    /// A device kind's scope is above the policy's maximum.
    #[error("manifest field `devices.{kind}.scope` asks for {asked}, but policy allows at most {allowed}")]
    ScopeAbovePolicy {
        /// The kind.
        kind: DeviceKind,
        /// What the manifest asked.
        asked: Scope,
        /// The policy's maximum.
        allowed: Scope,
    },
    /// A tainting scope on a host whose policy forbids them.
    #[error("manifest field `devices.{kind}.scope` asks for {asked}, which taints the kernel, and policy forbids tainting scopes on this host")]
    TaintForbidden {
        /// The kind.
        kind: DeviceKind,
        /// What the manifest asked.
        asked: Scope,
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

/// Intersects a manifest with a policy, then applies the operator's overrides.
pub fn grant(manifest: &Manifest, policy: &Policy, overrides: &LimitOverrides) -> Result<Grant, GrantError> {
    let mut scopes = BTreeMap::new();
    for (&kind, request) in &manifest.devices {
        let asked = request.scope;
        if asked.taints_kernel() && !policy.allow_taint {
            return Err(GrantError::TaintForbidden { kind, asked });
        }
        if asked > policy.max_scope {
            return Err(GrantError::ScopeAbovePolicy { kind, asked, allowed: policy.max_scope });
        }
        scopes.insert(kind, asked);
    }

    let ceiling = policy.max_limits;
    let check = |field: &'static str, asked: Option<u64>, allowed: u64| match asked {
        Some(asked) if asked > allowed => Err(GrantError::LimitAbovePolicy { field, asked, allowed }),
        other => Ok(other),
    };
    let requested = manifest.limits;
    let memory_mib = check("memory-mib", requested.memory_mib, (ceiling.memory_bytes >> 20) as u64)?;
    let timeout_ms = check("timeout-ms", requested.timeout_ms, ceiling.timeout.as_millis() as u64)?;
    let rpcs = check("rpcs", requested.rpcs, ceiling.rpc_budget)?;

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
    Ok(Grant { scopes, limits })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(body: &str) -> Manifest {
        Manifest::from_toml(&format!(
            "manifest-version = 1\nname = \"p\"\nversion = \"1\"\nvendor = \"v\"\n{body}"
        ))
        .unwrap()
    }

    #[test]
    fn the_builtin_policy_grants_read_only_diagnostics_as_asked() {
        let m = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[devices.cxl]\nscope = \"configuration\"");
        let g = grant(&m, &Policy::builtin(), &LimitOverrides::default()).unwrap();
        assert_eq!(g.scope_for(DeviceKind::Mlx5), Some(Scope::DebugReadOnly));
        assert_eq!(g.scope_for(DeviceKind::Cxl), Some(Scope::Configuration));
        assert_eq!(g.scope_for(DeviceKind::Pds), None);
        assert_eq!(g.limits, Limits::default());
    }

    #[test]
    fn tainting_scopes_are_refused_naming_the_field() {
        let m = manifest("[devices.cxl]\nscope = \"debug-write\"");
        let err = grant(&m, &Policy::builtin(), &LimitOverrides::default()).unwrap_err();
        assert_eq!(err, GrantError::TaintForbidden { kind: DeviceKind::Cxl, asked: Scope::DebugWrite });
        assert!(err.to_string().contains("`devices.cxl.scope`"));

        let mut permissive = Policy::builtin();
        permissive.allow_taint = true;
        let err = grant(&m, &permissive, &LimitOverrides::default()).unwrap_err();
        assert!(matches!(err, GrantError::ScopeAbovePolicy { allowed: Scope::DebugReadOnly, .. }));
        permissive.max_scope = Scope::DebugWrite;
        assert!(grant(&m, &permissive, &LimitOverrides::default()).is_ok());
    }

    #[test]
    fn limits_come_from_the_manifest_within_policy_and_the_cli_overrides_them() {
        let m = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[limits]\nrpcs = 50\nmemory-mib = 32");
        let g = grant(&m, &Policy::builtin(), &LimitOverrides::default()).unwrap();
        assert_eq!((g.limits.rpc_budget, g.limits.memory_bytes), (50, 32 << 20));

        let cli = LimitOverrides { rpcs: Some(7), timeout_ms: Some(250), memory_mib: None };
        let g = grant(&m, &Policy::builtin(), &cli).unwrap();
        assert_eq!((g.limits.rpc_budget, g.limits.timeout), (7, Duration::from_millis(250)));

        let greedy = manifest("[devices.mlx5]\nscope = \"debug-read-only\"\n[limits]\nmemory-mib = 4096");
        let err = grant(&greedy, &Policy::builtin(), &LimitOverrides::default()).unwrap_err();
        assert_eq!(err, GrantError::LimitAbovePolicy { field: "memory-mib", asked: 4096, allowed: 1024 });
    }
}
