//! `fwctl-run rpc`: one raw firmware RPC from the operator, under the rules plugins meet.
//!
//! There is no plugin and no grant: the operator typed the bytes. What still holds is what
//! protects the host and the record: nothing taints the kernel unless the policy allows
//! it on this host and the operator says so for this call; devices whose RPCs carry user
//! addresses get none; a node reused by another device since discovery is not written to;
//! and the call is on the audit trail before it reaches the device.

use std::sync::Arc;

use nix::errno::Errno;

use crate::audit::{self, AuditLog, AuditTrail, PluginIdentity};
use crate::devices::uapi::MAX_RPC_LEN;
use crate::devices::{DeviceKind, Scope};
use crate::policy::{Policy, classify};
use crate::source::DeviceSource;

/// The call the operator asked for.
#[derive(Clone, Debug)]
pub struct RawRpc<'a> {
    /// The device node name, e.g. `fwctl0`.
    pub device: &'a str,
    /// The scope to send it at.
    pub scope: Scope,
    /// The request bytes.
    pub request: &'a [u8],
    /// The response buffer size.
    pub out_len: usize,
    /// `--allow-taint`.
    pub allow_taint: bool,
}

/// What the device answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The length the driver reported (may exceed the buffer).
    pub out_len: usize,
    /// The bytes that fitted.
    pub response: Vec<u8>,
}

/// Why the call was not sent, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RawRpcError {
    /// A tainting scope the policy forbids on this host.
    #[error("scope {scope} taints the kernel, and policy {policy} sets allow-taint = false")]
    TaintForbidden {
        /// The scope asked for.
        scope: Scope,
        /// The policy in force.
        policy: String,
    },
    /// A tainting scope without `--allow-taint`.
    #[error("scope {scope} taints the kernel; pass --allow-taint to send this RPC anyway")]
    TaintNotAccepted {
        /// The scope asked for.
        scope: Scope,
    },
    /// A response buffer above what fwctl accepts.
    #[error("--out-len {0} is above fwctl's {MAX_RPC_LEN}-byte limit")]
    OutLenTooLarge(usize),
    /// No device of that name.
    #[error("no device `{0}`")]
    NoDevice(String),
    /// A device whose RPCs carry user addresses.
    #[error("fwctl-run sends no raw RPCs to {device}: {why}")]
    UserAddresses {
        /// The device.
        device: String,
        /// The risk.
        why: &'static str,
    },
    /// The node could not be opened.
    #[error("opening {node}: {error}")]
    Open {
        /// The node.
        node: String,
        /// The errno.
        error: crate::devices::DeviceError,
    },
    /// `FWCTL_INFO` failed.
    #[error("FWCTL_INFO on {node}: {error}")]
    Info {
        /// The node.
        node: String,
        /// The errno.
        error: crate::devices::DeviceError,
    },
    /// The node now belongs to another kind of device.
    #[error("{device} was discovered as a {kind} device but now answers as device type {raw}; nothing was sent")]
    DeviceChanged {
        /// The device.
        device: String,
        /// The kind found at discovery.
        kind: DeviceKind,
        /// The device type it answers with now.
        raw: u32,
    },
    /// The audit log refused the `sent` record (its path).
    #[error("cannot write the audit log {0}, so the RPC was not sent")]
    Unrecorded(String),
    /// The kernel (or simulator) answered with an errno.
    #[error("FWCTL_RPC on {device} failed: {errno:?}: {}", crate::devices::errno::meaning(*errno))]
    Failed {
        /// The device.
        device: String,
        /// The errno.
        errno: Errno,
    },
    /// The audit log could not be synced after the call.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
}

/// The rules that need no device: taint under `policy` and the operator's word, and the
/// buffer size.
pub fn check(call: &RawRpc<'_>, policy: &Policy) -> Result<(), RawRpcError> {
    let scope = call.scope;
    if scope.taints_kernel() {
        if !policy.allow_taint {
            return Err(RawRpcError::TaintForbidden { scope, policy: policy.origin.clone() });
        }
        if !call.allow_taint {
            return Err(RawRpcError::TaintNotAccepted { scope });
        }
    }
    // Checked before anything is allocated: the kernel refuses more with EMSGSIZE anyway.
    if call.out_len > MAX_RPC_LEN {
        return Err(RawRpcError::OutLenTooLarge(call.out_len));
    }
    Ok(())
}

/// Sends `call` to its device in `source` if the rules allow it, recording it in
/// `audit_log` first and its outcome after.
pub fn send(
    call: &RawRpc<'_>,
    policy: &Policy,
    source: &DeviceSource,
    audit_log: &Arc<AuditLog>,
) -> Result<Answer, RawRpcError> {
    check(call, policy)?;
    let scope = call.scope;
    let descriptor = source
        .devices
        .iter()
        .find(|d| d.name == call.device)
        .ok_or_else(|| RawRpcError::NoDevice(call.device.to_string()))?;
    if let Some(why) = descriptor.kind.carries_user_addresses() {
        return Err(RawRpcError::UserAddresses { device: call.device.to_string(), why });
    }
    let node = descriptor.node.clone();
    let mut handle =
        source.backend.open(descriptor).map_err(|error| RawRpcError::Open { node: node.clone(), error })?;
    // The node may have been reused by another device since discovery (hot plug).
    let info = handle.info().map_err(|error| RawRpcError::Info { node, error })?;
    if DeviceKind::from_raw(info.device_type) != Some(descriptor.kind) {
        return Err(RawRpcError::DeviceChanged {
            device: call.device.to_string(),
            kind: descriptor.kind,
            raw: info.device_type,
        });
    }
    // The operator's own call: no plugin, so the tool itself is named.
    let operator = PluginIdentity {
        name: "fwctl-run rpc".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        digest: String::new(),
        signer: None,
    };
    let trail = AuditTrail::new(audit_log.clone(), operator);
    let classification = classify(descriptor.kind, call.request);
    let attempt = audit::Attempt {
        scope,
        request: call.request,
        response_capacity: call.out_len,
        classification: &classification,
    };
    // On the record before it reaches the device, as for plugins.
    let Some(sent) = trail.record_sent(descriptor, attempt) else {
        let _ = audit_log.finish();
        return Err(RawRpcError::Unrecorded(audit_log.path().display().to_string()));
    };
    let mut response = vec![0u8; call.out_len];
    let started = std::time::Instant::now();
    let result = handle.rpc(scope.raw(), call.request, &mut response);
    let outcome = match &result {
        Ok(length) => audit::answered(descriptor.kind, &response, *length),
        Err(Errno::ENODEV) => audit::RpcOutcome::Gone,
        Err(errno) => audit::RpcOutcome::Errno(*errno),
    };
    trail.record_answer(descriptor, attempt, sent, outcome, started.elapsed());
    audit_log.finish()?;
    match result {
        Ok(length) => {
            response.truncate(length.min(call.out_len));
            Ok(Answer { out_len: length, response })
        }
        Err(errno) => Err(RawRpcError::Failed { device: call.device.to_string(), errno }),
    }
}
