//! The check every RPC passes against the grant before it may reach a backend.
//!
//! In order: kinds whose requests carry user-space addresses never pass; the scope must be
//! within the grant; the opcode within the manifest's allow-list; then the RPC is
//! classified (`fwctl_proto::effect`) and anything but a read must be a write the
//! manifest declares and the policy grants. Defence in depth: these checks narrow what
//! the kernel would accept, they do not replace the kernel's own (which the simulator
//! keeps doing too).

use fwctl_devices::{DeviceKind, Scope};
use fwctl_proto::cxl::kernel_owned_name;
use fwctl_proto::effect::{self, Classification, Effect, WriteTarget};
use fwctl_proto::envelope::{CxlRequest, Mlx5Request};

use super::{KindGrant, WriteGrant};

/// Why an RPC was refused; the text the plugin and the audit trail get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial(pub String);

/// What an RPC to a device of `kind` does. Kinds the host never sends plugin bytes to
/// classify as unknown, with nothing a manifest could declare.
pub fn classify(kind: DeviceKind, request: &[u8]) -> Classification {
    match kind {
        DeviceKind::Mlx5 => effect::classify_mlx5(request),
        DeviceKind::Cxl => effect::classify_cxl(request),
        DeviceKind::Bnxt | DeviceKind::Pds => {
            Classification { effect: Effect::Unknown, target: None, action: format!("a {kind} request").into() }
        }
    }
}

impl KindGrant {
    /// Admits or refuses one RPC to a device of `kind` named `device`; `classification`
    /// is [`classify`]`(kind, request)`, made once by the caller so that the audit line
    /// records exactly what was judged.
    pub fn check(
        &self,
        kind: DeviceKind,
        device: &str,
        scope: Scope,
        request: &[u8],
        classification: &Classification,
    ) -> Result<(), Denial> {
        // First, and whatever the grant says: these drivers dereference addresses in the
        // request, so no plugin-made bytes may reach them.
        if let Some(why) = kind.carries_user_addresses() {
            return Err(Denial(format!("RPCs to {kind} devices are refused: {why}")));
        }
        if scope > self.scope {
            let mut reason = format!("scope {scope} is above the {} granted on {device}", self.scope);
            if let Some(why) = &self.withheld {
                reason.push_str(&format!(" ({why})"));
            }
            return Err(Denial(reason));
        }
        if let Some(opcode) = opcode(kind, request) {
            self.opcode_listed(opcode)?;
        }
        match classification.effect {
            Effect::Read => self.read_listed(kind, request),
            Effect::Write | Effect::Unknown => self.writes.admit(classification),
        }
    }

    fn opcode_listed(&self, opcode: u16) -> Result<(), Denial> {
        match &self.opcodes {
            Some(list) if !list.contains(&opcode) => {
                Err(Denial(format!("opcode {opcode:#06x} is not in the manifest's `opcodes` allow-list")))
            }
            _ => Ok(()),
        }
    }

    /// mlx5 register reads narrowed by the manifest's `access-reg-read`.
    fn read_listed(&self, kind: DeviceKind, request: &[u8]) -> Result<(), Denial> {
        let register = match kind {
            DeviceKind::Mlx5 => Mlx5Request::parse(request).and_then(|r| r.register_id),
            _ => None,
        };
        match (register, &self.access_reg_read) {
            (Some(register), Some(reads)) if !reads.contains(&register) => Err(Denial(format!(
                "reading register {register:#06x} is not in the manifest's `access-reg-read` allow-list"
            ))),
            _ => Ok(()),
        }
    }
}

/// The opcode an allow-list is checked against, when the request carries one.
fn opcode(kind: DeviceKind, request: &[u8]) -> Option<u16> {
    match kind {
        DeviceKind::Mlx5 => Mlx5Request::parse(request).map(|r| r.opcode),
        DeviceKind::Cxl => CxlRequest::parse(request).map(|r| r.opcode),
        DeviceKind::Bnxt | DeviceKind::Pds => None,
    }
}

impl WriteGrant {
    /// Admits a write (or an RPC that cannot be classified) only when the manifest
    /// declares its target and the policy grants writes on the kind.
    fn admit(&self, rpc: &Classification) -> Result<(), Denial> {
        let action = &rpc.action;
        let Some(target) = rpc.target else {
            return Err(Denial(format!("{action}: fwctl-run cannot tell what it would do, so it is refused")));
        };
        let what = match rpc.effect {
            Effect::Unknown => "treated as a write (fwctl-run cannot tell what it does)",
            _ => "a write",
        };
        let field = match target {
            WriteTarget::Feature(uuid) => {
                if let Some(name) = kernel_owned_name(&uuid) {
                    return Err(Denial(format!("Set Feature of {uuid} ({name}): the kernel owns that Feature")));
                }
                (!self.any_feature && !self.features.contains(&uuid.0)).then_some("set-features")
            }
            WriteTarget::Opcode(opcode) => (!self.opcodes.contains(&opcode)).then_some("write-opcodes"),
            WriteTarget::Register(register) => (!self.registers.contains(&register)).then_some("access-reg-write"),
        };
        if let Some(field) = field {
            return Err(Denial(format!("{action}: {what}, not declared in the manifest's `{field}`")));
        }
        if let Some(why) = &self.withheld {
            return Err(Denial(format!("{action}: {what}, and {why}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fwctl_proto::cxl::Uuid;

    use super::*;

    fn grant(scope: Scope) -> KindGrant {
        KindGrant { scope, withheld: None, opcodes: None, access_reg_read: None, writes: WriteGrant::default() }
    }

    fn mlx5(opcode: u16, op_mod: u16, register: u16) -> Vec<u8> {
        let mut r = vec![0u8; 32];
        r[0..2].copy_from_slice(&opcode.to_be_bytes());
        r[6..8].copy_from_slice(&op_mod.to_be_bytes());
        r[10..12].copy_from_slice(&register.to_be_bytes());
        r
    }

    fn cxl(opcode: u16, uuid: [u8; 16]) -> Vec<u8> {
        let mut r = vec![0u8; 16];
        r[0..2].copy_from_slice(&opcode.to_le_bytes());
        r.extend_from_slice(&uuid);
        r.extend_from_slice(&[0; 20]);
        r
    }

    /// Classifies and checks, as the device resource does.
    fn check(g: &KindGrant, kind: DeviceKind, scope: Scope, request: &[u8]) -> Result<(), Denial> {
        g.check(kind, "fwctl2", scope, request, &classify(kind, request))
    }

    fn denied(result: Result<(), Denial>) -> String {
        result.expect_err("should be denied").0
    }

    #[test]
    fn scope_above_the_grant_is_refused_with_what_was_withheld() {
        let mut g = grant(Scope::DebugReadOnly);
        g.withheld = Some("the run was not started with --allow-taint".into());
        let why = denied(check(&g, DeviceKind::Cxl, Scope::DebugWrite, &cxl(0x502, [0xff; 16])));
        assert_eq!(
            why,
            "scope debug-write is above the debug-read-only granted on fwctl2 (the run was not started with --allow-taint)"
        );
        assert!(check(&g, DeviceKind::Cxl, Scope::Configuration, &cxl(0x500, [0; 16])).is_ok());
    }

    #[test]
    fn bnxt_and_pds_requests_are_refused_whatever_the_grant() {
        // A grant no policy can produce: every scope, every write declared and granted.
        let mut g = grant(Scope::DebugWriteFull);
        g.writes.any_feature = true;
        for kind in [DeviceKind::Bnxt, DeviceKind::Pds] {
            for scope in Scope::ALL {
                let why = denied(check(&g, kind, scope, &[0u8; 64]));
                assert!(why.starts_with(&format!("RPCs to {kind} devices are refused")), "{why}");
                assert!(why.contains("fwctl-run's own memory"), "{why}");
            }
        }
    }

    #[test]
    fn a_read_only_grant_refuses_configuration_scope_setters() {
        let g = grant(Scope::DebugReadOnly);
        for (opcode, name) in [
            (0x109, "SET_HCA_CAP"),
            (0x823, "MODIFY_CONG_STATUS"),
            (0x731, "DELEGATE_VHCA_MANAGEMENT"),
            (0xb2e, "POSTPONE_CONNECTED_QP_TIMEOUT"),
        ] {
            let why = denied(check(&g, DeviceKind::Mlx5, Scope::Configuration, &mlx5(opcode, 0, 0)));
            assert_eq!(why, format!("{name}: a write, not declared in the manifest's `write-opcodes`"));
        }
        // Configuration-scope reads still pass.
        assert!(check(&g, DeviceKind::Mlx5, Scope::Configuration, &mlx5(0x100, 1, 0)).is_ok());
    }

    #[test]
    fn a_declared_write_passes_only_when_the_policy_grants_writes() {
        let mut g = grant(Scope::DebugReadOnly);
        g.writes.registers.insert(0x5006);
        g.writes.withheld = Some("policy entry `unsigned` grants no writes on mlx5 devices".into());
        let paos_write = mlx5(0x805, 0, 0x5006);
        assert_eq!(
            denied(check(&g, DeviceKind::Mlx5, Scope::Configuration, &paos_write)),
            "ACCESS_REG write of PAOS (0x5006): a write, and policy entry `unsigned` grants no writes on mlx5 devices"
        );
        g.writes.withheld = None;
        assert!(check(&g, DeviceKind::Mlx5, Scope::Configuration, &paos_write).is_ok());
        assert!(
            denied(check(&g, DeviceKind::Mlx5, Scope::Configuration, &mlx5(0x805, 0, 0x5004))).contains(
                "ACCESS_REG write of PTYS (0x5004): a write, not declared in the manifest's `access-reg-write`"
            )
        );
    }

    #[test]
    fn a_read_that_clears_counters_is_a_write() {
        let g = grant(Scope::DebugReadOnly);
        let mut ppcnt = mlx5(0x805, 1, 0x5008);
        assert!(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &ppcnt).is_ok());
        ppcnt[20] |= 0x80;
        assert_eq!(
            denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &ppcnt)),
            "ACCESS_REG read of PPCNT (0x5008) with `clr` set, which resets what it reports: a write, \
             not declared in the manifest's `access-reg-write`"
        );
        let mut vport = mlx5(0x770, 0, 0);
        vport[24] = 0x80;
        assert!(
            denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &vport))
                .contains("QUERY_VPORT_COUNTER with `clear` set")
        );
    }

    #[test]
    fn unknown_and_unclassifiable_requests_are_treated_as_writes() {
        let g = grant(Scope::DebugReadOnly);
        let why = denied(check(&g, DeviceKind::Mlx5, Scope::Configuration, &mlx5(0xa04, 0, 0)));
        assert_eq!(
            why,
            "mlx5 opcode 0x0a04, which the mlx5 fwctl driver does not pass: treated as a write \
             (fwctl-run cannot tell what it does), not declared in the manifest's `write-opcodes`"
        );
        let why = denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &[0x01, 0x0a, 0, 0]));
        assert!(why.contains("shorter than its 8-byte command header") && why.contains("cannot tell"), "{why}");
        let why = denied(check(&g, DeviceKind::Cxl, Scope::DebugReadOnly, &cxl(0x502, [0xff; 16])[..24]));
        assert!(why.contains("too short to carry its Feature UUID"), "{why}");
        let why = denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &mlx5(0x805, 1, 0)[..9]));
        assert!(why.contains("too short to carry a register id"), "{why}");
    }

    #[test]
    fn mlx5_opcode_and_register_allow_lists_narrow_reads() {
        let mut g = grant(Scope::DebugReadOnly);
        g.opcodes = Some([0x100, 0x805].into());
        g.access_reg_read = Some([0x9020].into());
        assert!(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &mlx5(0x100, 1, 0)).is_ok());
        assert!(
            denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &mlx5(0x101, 0, 0))).contains("opcode 0x0101")
        );
        assert!(
            denied(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &mlx5(0x805, 1, 0x5006)))
                .contains("register 0x5006")
        );
        assert!(check(&g, DeviceKind::Mlx5, Scope::DebugReadOnly, &mlx5(0x805, 1, 0x9020)).is_ok());
    }

    #[test]
    fn cxl_set_feature_targets_follow_the_manifest_and_kernel_features_never_pass() {
        let mut g = grant(Scope::DebugWrite);
        let scrub = Uuid::parse("96dad7d6-fde8-482b-a733-75774e06db8a").unwrap().0;
        g.writes.any_feature = true;
        assert!(denied(check(&g, DeviceKind::Cxl, Scope::DebugWrite, &cxl(0x502, scrub))).contains("kernel owns"));
        // Reading it is fine.
        assert!(check(&g, DeviceKind::Cxl, Scope::DebugReadOnly, &cxl(0x501, scrub)).is_ok());
        assert!(check(&g, DeviceKind::Cxl, Scope::DebugWrite, &cxl(0x502, [0x11; 16])).is_ok());
        g.writes.any_feature = false;
        g.writes.features = BTreeSet::from([[0xff; 16]]);
        assert!(check(&g, DeviceKind::Cxl, Scope::DebugWrite, &cxl(0x502, [0xff; 16])).is_ok());
        assert!(
            denied(check(&g, DeviceKind::Cxl, Scope::DebugWrite, &cxl(0x502, [0x11; 16]))).contains("`set-features`")
        );
        g.opcodes = Some([0x500].into());
        assert!(denied(check(&g, DeviceKind::Cxl, Scope::DebugReadOnly, &cxl(0x501, scrub))).contains("opcode 0x0501"));
    }
}
