//! Which commands the mlx5 fwctl driver lets through at which scope: the table of
//! `mlx5ctl_validate_rpc()` (drivers/fwctl/mlx5/main.c, Linux 7.3), opcode for opcode.
//!
//! The driver cannot track objects a command would create in firmware, so it passes only
//! queries and a few setters that change no object; everything else (CREATE_UCTX,
//! DESTROY_UCTX, every create/destroy/modify) is refused at every scope with EBADMSG.

use crate::backend::Scope;

/// `MLX5_CMD_OP_ACCESS_REG`.
pub const ACCESS_REG: u16 = 0x805;
/// `MLX5_CMD_OP_ACCESS_REGISTER_USER`.
pub const ACCESS_REGISTER_USER: u16 = 0xb0c;
/// `MLX5_CMD_OP_SET_DIAGNOSTIC_PARAMS`, the one command that needs debug-write.
pub const SET_DIAGNOSTIC_PARAMS: u16 = 0x820;

/// The lowest scope at which the driver passes an opcode (register accesses aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// `return true`: configuration and up.
    Any,
    /// `scope >= FWCTL_RPC_DEBUG_READ_ONLY`.
    DebugReadOnly,
    /// `scope >= FWCTL_RPC_DEBUG_WRITE`.
    DebugWrite,
}

use Gate::{Any, DebugReadOnly, DebugWrite};

/// The switch of `mlx5ctl_validate_rpc()`, in the kernel's order (ACCESS_REG and
/// ACCESS_REGISTER_USER are decided by op_mod in [`allows`]).
const TABLE: &[(u16, &str, Gate)] = &[
    (0x823, "MODIFY_CONG_STATUS", Any),
    (0xb2e, "POSTPONE_CONNECTED_QP_TIMEOUT", Any),
    (0x101, "QUERY_ADAPTER", Any),
    (0x740, "QUERY_ESW_FUNCTIONS", Any),
    (0x100, "QUERY_HCA_CAP", Any),
    (0x762, "QUERY_HCA_VPORT_CONTEXT", Any),
    (0x10e, "QUERY_OTHER_HCA_CAP", Any),
    (0x760, "QUERY_ROCE_ADDRESS", Any),
    (0xb22, "QUERY_VUID", Any),
    (0x731, "DELEGATE_VHCA_MANAGEMENT", Any),
    // Firmware limits SET_HCA_CAP on the tools uid to other-function pre-configuration.
    (0x109, "SET_HCA_CAP", Any),
    (0x964, "FPGA_QUERY_QP_COUNTERS", DebugReadOnly),
    (0x962, "FPGA_QUERY_QP", DebugReadOnly),
    (0x80d, "NOP", DebugReadOnly),
    (0x971, "QUERY_AFU", DebugReadOnly),
    (0x813, "QUERY_BURST_SIZE", DebugReadOnly),
    (0x981, "QUERY_CAPI_PEC", DebugReadOnly),
    (0x824, "QUERY_CONG_PARAMS", DebugReadOnly),
    (0x826, "QUERY_CONG_STATISTICS", DebugReadOnly),
    (0x822, "QUERY_CONG_STATUS", DebugReadOnly),
    (0x402, "QUERY_CQ", DebugReadOnly),
    (0xb14, "QUERY_CRYPTO_STATE", DebugReadOnly),
    (0x716, "QUERY_DC_CNAK_TRACE", DebugReadOnly),
    (0x713, "QUERY_DCT", DebugReadOnly),
    (0x911, "QUERY_DELAY_DROP_PARAMS", DebugReadOnly),
    (0x821, "QUERY_DIAGNOSTIC_COUNTERS", DebugReadOnly),
    (0x819, "QUERY_DIAGNOSTIC_PARAMS", DebugReadOnly),
    (0xb28, "QUERY_DPA_PARTITION", DebugReadOnly),
    (0xb2a, "QUERY_DPA_PARTITIONS", DebugReadOnly),
    (0x10c, "QUERY_DRIVER_VERSION", DebugReadOnly),
    (0xb03, "QUERY_EMULATED_FUNCTIONS_INFO", DebugReadOnly),
    (0xb2f, "QUERY_EMULATED_RESOURCES_INFO", DebugReadOnly),
    (0xb0f, "QUERY_EMULATION_DEVICE_EQ_MSIX_MAPPING", DebugReadOnly),
    (0x303, "QUERY_EQ", DebugReadOnly),
    (0x752, "QUERY_ESW_VPORT_CONTEXT", DebugReadOnly),
    (0x93b, "QUERY_FLOW_COUNTER", DebugReadOnly),
    (0x935, "QUERY_FLOW_GROUP", DebugReadOnly),
    (0x937, "QUERY_FLOW_TABLE_ENTRY", DebugReadOnly),
    (0x932, "QUERY_FLOW_TABLE", DebugReadOnly),
    (0xa02, "QUERY_GENERAL_OBJECT", DebugReadOnly),
    (0x764, "QUERY_HCA_VPORT_GID", DebugReadOnly),
    (0x765, "QUERY_HCA_VPORT_PKEY", DebugReadOnly),
    (0x10a, "QUERY_ISSI", DebugReadOnly),
    (0x82a, "QUERY_L2_TABLE_ENTRY", DebugReadOnly),
    (0x842, "QUERY_LAG", DebugReadOnly),
    (0x80b, "QUERY_MAD_DEMUX", DebugReadOnly),
    (0xb13, "QUERY_MATCH_SAMPLE_INFO", DebugReadOnly),
    (0x201, "QUERY_MKEY", DebugReadOnly),
    (0x942, "QUERY_MODIFY_HEADER_CONTEXT", DebugReadOnly),
    (0x8001, "QUERY_MTT", DebugReadOnly),
    (0x754, "QUERY_NIC_VPORT_CONTEXT", DebugReadOnly),
    (0x722, "QUERY_NVMF_BACKEND_CONTROLLER", DebugReadOnly),
    (0xb02, "QUERY_NVMF_CC_RESPONSE", DebugReadOnly),
    (0x728, "QUERY_NVMF_NAMESPACE_CONTEXT", DebugReadOnly),
    (0x93f, "QUERY_PACKET_REFORMAT_CONTEXT", DebugReadOnly),
    (0x107, "QUERY_PAGES", DebugReadOnly),
    (0x602, "QUERY_PSV", DebugReadOnly),
    (0x773, "QUERY_Q_COUNTER", DebugReadOnly),
    (0x50b, "QUERY_QP", DebugReadOnly),
    (0x781, "QUERY_RATE_LIMIT", DebugReadOnly),
    (0x512, "QUERY_RDB", DebugReadOnly),
    (0xb05, "QUERY_REGEXP_PARAMS", DebugReadOnly),
    (0xb07, "QUERY_REGEXP_REGISTER", DebugReadOnly),
    (0x90f, "QUERY_RMP", DebugReadOnly),
    (0x90b, "QUERY_RQ", DebugReadOnly),
    (0x919, "QUERY_RQT", DebugReadOnly),
    (0x8000, "QUERY_RSV_RESOURCES", DebugReadOnly),
    (0x8006, "QUERY_SCHED_QUEUE", DebugReadOnly),
    (0x784, "QUERY_SCHEDULING_ELEMENT", DebugReadOnly),
    (0x111, "QUERY_SF_PARTITION", DebugReadOnly),
    (0x203, "QUERY_SPECIAL_CONTEXTS", DebugReadOnly),
    (0x907, "QUERY_SQ", DebugReadOnly),
    (0x702, "QUERY_SRQ", DebugReadOnly),
    (0x903, "QUERY_TIR", DebugReadOnly),
    (0x915, "QUERY_TIS", DebugReadOnly),
    (0xa05, "QUERY_UCTX", DebugReadOnly),
    (0xa09, "QUERY_UMEM", DebugReadOnly),
    (0x117, "QUERY_VHCA_MIGRATION_STATE", DebugReadOnly),
    (0xb0d, "QUERY_VHCA_STATE", DebugReadOnly),
    (0x76f, "QUERY_VNIC_ENV", DebugReadOnly),
    (0x770, "QUERY_VPORT_COUNTER", DebugReadOnly),
    (0x750, "QUERY_VPORT_STATE", DebugReadOnly),
    (0x831, "QUERY_WOL_ROL", DebugReadOnly),
    (0x707, "QUERY_XRC_SRQ", DebugReadOnly),
    (0x725, "QUERY_XRQ_DC_PARAMS_ENTRY", DebugReadOnly),
    (0x727, "QUERY_XRQ_ERROR_PARAMS", DebugReadOnly),
    (0x719, "QUERY_XRQ", DebugReadOnly),
    (0xb08, "USER_QUERY_XRQ_DC_PARAMS_ENTRY", DebugReadOnly),
    (0xb0a, "USER_QUERY_XRQ_ERROR_PARAMS", DebugReadOnly),
    (0x730, "QUERY_ADJACENT_FUNCTIONS_ID", DebugReadOnly),
    (0x732, "QUERY_DELEGATED_VHCA", DebugReadOnly),
    (SET_DIAGNOSTIC_PARAMS, "SET_DIAGNOSTIC_PARAMS", DebugWrite),
];

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
    if opcode == ACCESS_REG || opcode == ACCESS_REGISTER_USER {
        return Some(if op_mod == 0 { Scope::Configuration } else { Scope::DebugReadOnly });
    }
    TABLE.iter().find(|(op, _, _)| *op == opcode).map(|(_, _, gate)| match gate {
        Any => Scope::Configuration,
        DebugReadOnly => Scope::DebugReadOnly,
        DebugWrite => Scope::DebugWrite,
    })
}

/// The `MLX5_CMD_OP_*` name of an opcode the driver allows at some scope.
pub fn name(opcode: u16) -> Option<&'static str> {
    match opcode {
        ACCESS_REG => Some("ACCESS_REG"),
        ACCESS_REGISTER_USER => Some("ACCESS_REGISTER_USER"),
        _ => TABLE.iter().find(|(op, _, _)| *op == opcode).map(|(_, name, _)| *name),
    }
}

/// Every opcode the driver allows at some scope (for tests and documentation).
pub fn opcodes() -> impl Iterator<Item = u16> {
    TABLE.iter().map(|(op, _, _)| *op).chain([ACCESS_REG, ACCESS_REGISTER_USER])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_kernels_case_labels() {
        // 11 + 80 + 1 + 2 case labels in mlx5ctl_validate_rpc(), no opcode twice.
        let count = |g: Gate| TABLE.iter().filter(|(_, _, gate)| *gate == g).count();
        assert_eq!((count(Any), count(DebugReadOnly), count(DebugWrite)), (11, 80, 1));
        let mut all: Vec<u16> = opcodes().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 94);
    }

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
