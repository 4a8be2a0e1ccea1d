//! Which commands the mlx5 fwctl driver lets through at which scope: the gate of
//! `mlx5ctl_validate_rpc()` (drivers/fwctl/mlx5/main.c, Linux 7.3), read from the one
//! table of the driver's commands in `fwctl_proto::mlx5::commands`.
//!
//! The driver cannot track objects a command would create in firmware, so it passes only
//! queries and a few setters that change no object; everything else (CREATE_UCTX,
//! DESTROY_UCTX, every create/destroy/modify) is refused at every scope with EBADMSG.

use fwctl_proto::mlx5::commands::{self, DriverGate};

use crate::backend::Scope;

pub use fwctl_proto::mlx5::commands::{ACCESS_REG, ACCESS_REGISTER_USER, SET_DIAGNOSTIC_PARAMS, name, opcodes};

/// Whether the driver passes `opcode`/`op_mod` at `scope` (`mlx5ctl_validate_rpc()`).
///
/// Register writes (op_mod 0) pass at every scope and reads need debug-read-only; the
/// driver does not look at the register id, firmware restricts further through the uid.
pub fn allows(opcode: u16, op_mod: u16, scope: Scope) -> bool {
    match min_scope(opcode, op_mod) {
        Some(needed) => scope >= needed,
        None => false,
    }
}

/// The lowest scope at which the driver passes the command; `None` for never.
pub fn min_scope(opcode: u16, op_mod: u16) -> Option<Scope> {
    commands::gate(opcode, op_mod).map(|gate| match gate {
        DriverGate::Configuration => Scope::Configuration,
        DriverGate::DebugReadOnly => Scope::DebugReadOnly,
        DriverGate::DebugWrite => Scope::DebugWrite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_gate_as_the_driver_does() {
        for scope in Scope::ALL {
            assert!(allows(0x100, 0, scope), "QUERY_HCA_CAP at {scope}");
            assert!(allows(ACCESS_REG, 0, scope), "register writes pass at {scope}");
            assert!(allows(ACCESS_REGISTER_USER, 0, scope));
            assert_eq!(allows(ACCESS_REG, 1, scope), scope >= Scope::DebugReadOnly);
            assert_eq!(allows(ACCESS_REG, 0xffff, scope), scope >= Scope::DebugReadOnly, "any op_mod != 0 reads");
            assert_eq!(allows(0x10a, 0, scope), scope >= Scope::DebugReadOnly, "QUERY_ISSI");
            assert_eq!(allows(SET_DIAGNOSTIC_PARAMS, 0, scope), scope >= Scope::DebugWrite);
            // CREATE_UCTX, DESTROY_UCTX, CREATE_MKEY, CREATE_QP, CREATE_CQ, MODIFY_NIC_VPORT_CONTEXT,
            // and flow-table creation next to the allowed flow queries.
            for refused in [0xa04, 0xa06, 0x200, 0x500, 0x400, 0x755, 0x930, 0x933, 0x936] {
                assert!(!allows(refused, 0, scope), "{refused:#x} at {scope}");
            }
        }
        // op_mod matters only for register access.
        assert!(allows(0x101, 0xffff, Scope::Configuration));
        assert_eq!(name(0x8001), Some("QUERY_MTT"));
        assert_eq!(name(0xa04), None);
        assert_eq!(min_scope(0x820, 0), Some(Scope::DebugWrite));
    }
}
