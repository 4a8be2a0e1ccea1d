//! The check every RPC passes against the grant before it may reach a backend.
//!
//! Defence in depth: these checks narrow what the kernel would accept, they do not
//! replace the kernel's own (which the simulator keeps doing too).

use fwctl_devices::{DeviceKind, Scope};
use fwctl_proto::cxl::{Uuid, kernel_owned_name};
use fwctl_proto::envelope::{CXL_SET_FEATURE, CxlRequest, Mlx5Request};

use super::KindGrant;

/// Why an RPC was refused; the text the plugin and the audit trail get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial(pub String);

impl KindGrant {
    /// Admits or refuses one RPC to a device of `kind` named `device`.
    pub fn check(
        &self,
        kind: DeviceKind,
        device: &str,
        scope: Scope,
        request: &[u8],
    ) -> Result<(), Denial> {
        if scope > self.scope {
            let mut reason = format!(
                "scope {scope} is above the {} granted on {device}",
                self.scope
            );
            if let Some(why) = &self.withheld {
                reason.push_str(&format!(" ({why})"));
            }
            return Err(Denial(reason));
        }
        match kind {
            DeviceKind::Mlx5 => self.check_mlx5(request),
            DeviceKind::Cxl => self.check_cxl(request),
            // Kinds without a decoder: only the opcode list could apply, and their
            // envelopes are not modelled, so a listed opcode set cannot be enforced.
            DeviceKind::Bnxt | DeviceKind::Pds if self.opcodes.is_some() => Err(Denial(format!(
                "opcode allow-lists are not supported for {kind} devices"
            ))),
            DeviceKind::Bnxt | DeviceKind::Pds => Ok(()),
        }
    }

    fn opcode_listed(&self, opcode: u16) -> Result<(), Denial> {
        match &self.opcodes {
            Some(list) if !list.contains(&opcode) => Err(Denial(format!(
                "opcode {opcode:#06x} is not in the manifest's `opcodes` allow-list"
            ))),
            _ => Ok(()),
        }
    }

    fn check_mlx5(&self, request: &[u8]) -> Result<(), Denial> {
        // A mailbox too short to read is the kernel's to refuse (it answers EINVAL).
        let Some(rpc) = Mlx5Request::parse(request) else {
            return Ok(());
        };
        self.opcode_listed(rpc.opcode)?;
        let Some(register) = rpc.register_id else {
            if rpc.opcode == fwctl_proto::envelope::MLX5_ACCESS_REG
                || rpc.opcode == fwctl_proto::envelope::MLX5_ACCESS_REGISTER_USER
            {
                return Err(Denial(
                    "register access too short to carry a register id".into(),
                ));
            }
            return Ok(());
        };
        if rpc.is_register_write() {
            if !self.access_reg_write.contains(&register) {
                return Err(Denial(format!(
                    "writing register {register:#06x} is not declared in the manifest's `access-reg-write`"
                )));
            }
        } else if let Some(reads) = &self.access_reg_read
            && !reads.contains(&register)
        {
            return Err(Denial(format!(
                "reading register {register:#06x} is not in the manifest's `access-reg-read` allow-list"
            )));
        }
        Ok(())
    }

    fn check_cxl(&self, request: &[u8]) -> Result<(), Denial> {
        let Some(rpc) = CxlRequest::parse(request) else {
            return Ok(());
        };
        self.opcode_listed(rpc.opcode)?;
        if rpc.opcode != CXL_SET_FEATURE {
            return Ok(());
        }
        let Some(feature) = rpc.feature else {
            return Ok(());
        };
        if let Some(name) = kernel_owned_name(&feature) {
            return Err(Denial(format!(
                "Set Feature of {feature} ({name}): the kernel owns that Feature"
            )));
        }
        match &self.set_features {
            Some(list) if !list.contains(&feature.0) => Err(Denial(format!(
                "Set Feature of {} is not in the manifest's `set-features` allow-list",
                Uuid(feature.0)
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn grant(scope: Scope) -> KindGrant {
        KindGrant {
            scope,
            withheld: None,
            opcodes: None,
            access_reg_read: None,
            access_reg_write: BTreeSet::new(),
            set_features: None,
        }
    }

    fn mlx5(opcode: u16, op_mod: u16, register: u16) -> Vec<u8> {
        let mut r = vec![0u8; 16];
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

    fn denied(result: Result<(), Denial>) -> String {
        result.expect_err("should be denied").0
    }

    #[test]
    fn scope_above_the_grant_is_refused_with_what_was_withheld() {
        let mut g = grant(Scope::DebugReadOnly);
        g.withheld = Some("the run was not started with --allow-taint".into());
        let why = denied(g.check(
            DeviceKind::Cxl,
            "fwctl2",
            Scope::DebugWrite,
            &cxl(0x502, [0xff; 16]),
        ));
        assert_eq!(
            why,
            "scope debug-write is above the debug-read-only granted on fwctl2 (the run was not started with --allow-taint)"
        );
        assert!(
            g.check(
                DeviceKind::Cxl,
                "fwctl2",
                Scope::Configuration,
                &cxl(0x500, [0; 16])
            )
            .is_ok()
        );
    }

    #[test]
    fn mlx5_opcodes_registers_and_writes_follow_the_manifest() {
        let mut g = grant(Scope::DebugReadOnly);
        // Without lists: any read, but never an undeclared register write.
        assert!(
            g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x805, 1, 0x5006)
            )
            .is_ok()
        );
        assert!(
            denied(g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::Configuration,
                &mlx5(0x805, 0, 0x5006)
            ))
            .contains("`access-reg-write`")
        );
        g.access_reg_write.insert(0x5006);
        assert!(
            g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::Configuration,
                &mlx5(0x805, 0, 0x5006)
            )
            .is_ok()
        );

        g.opcodes = Some([0x100, 0x805].into());
        g.access_reg_read = Some([0x9023].into());
        assert!(
            g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x100, 1, 0)
            )
            .is_ok()
        );
        assert!(
            denied(g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x101, 0, 0)
            ))
            .contains("opcode 0x0101")
        );
        assert!(
            denied(g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x805, 1, 0x5006)
            ))
            .contains("register 0x5006")
        );
        assert!(
            g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x805, 1, 0x9023)
            )
            .is_ok()
        );
        // Truncated before the register id.
        assert!(
            denied(g.check(
                DeviceKind::Mlx5,
                "d",
                Scope::DebugReadOnly,
                &mlx5(0x805, 1, 0)[..9]
            ))
            .contains("too short")
        );
    }

    #[test]
    fn cxl_set_feature_targets_follow_the_manifest_and_kernel_features_never_pass() {
        let mut g = grant(Scope::DebugWrite);
        let scrub = Uuid::parse("96dad7d6-fde8-482b-a733-75774e06db8a")
            .unwrap()
            .0;
        assert!(
            denied(g.check(DeviceKind::Cxl, "d", Scope::DebugWrite, &cxl(0x502, scrub)))
                .contains("kernel owns")
        );
        // Reading it is fine.
        assert!(
            g.check(
                DeviceKind::Cxl,
                "d",
                Scope::DebugReadOnly,
                &cxl(0x501, scrub)
            )
            .is_ok()
        );
        g.set_features = Some([[0xff; 16]].into());
        assert!(
            g.check(
                DeviceKind::Cxl,
                "d",
                Scope::DebugWrite,
                &cxl(0x502, [0xff; 16])
            )
            .is_ok()
        );
        assert!(
            denied(g.check(
                DeviceKind::Cxl,
                "d",
                Scope::DebugWrite,
                &cxl(0x502, [0x11; 16])
            ))
            .contains("`set-features`")
        );
        g.opcodes = Some([0x500].into());
        assert!(
            denied(g.check(
                DeviceKind::Cxl,
                "d",
                Scope::DebugReadOnly,
                &cxl(0x501, scrub)
            ))
            .contains("opcode 0x0501")
        );
    }
}
