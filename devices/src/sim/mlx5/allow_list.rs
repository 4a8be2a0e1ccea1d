//! Which commands the mlx5 fwctl driver lets through at which scope: the table in
//! `mlx5ctl_validate_rpc()` (drivers/fwctl/mlx5/main.c, Linux 7.3), opcode for opcode.

use crate::backend::Scope;

/// `MLX5_CMD_OP_ACCESS_REG`.
pub const ACCESS_REG: u16 = 0x805;
/// `MLX5_CMD_OP_ACCESS_REGISTER_USER`.
pub const ACCESS_REGISTER_USER: u16 = 0xb0c;

/// Allowed at every scope: queries of configuration, and SET_HCA_CAP (which firmware
/// limits to other-function pre-configuration on the tools uid).
const CONFIGURATION: &[u16] = &[
    0x823, // MODIFY_CONG_STATUS
    0xb2e, // POSTPONE_CONNECTED_QP_TIMEOUT
    0x101, // QUERY_ADAPTER
    0x740, // QUERY_ESW_FUNCTIONS
    0x100, // QUERY_HCA_CAP
    0x762, // QUERY_HCA_VPORT_CONTEXT
    0x10e, // QUERY_OTHER_HCA_CAP
    0x760, // QUERY_ROCE_ADDRESS
    0xb22, // QUERY_VUID
    0x731, // DELEGATE_VHCA_MANAGEMENT
    0x109, // SET_HCA_CAP
];

/// Allowed from debug-read-only up: queries of objects, counters and state.
const DEBUG_READ_ONLY: &[u16] = &[
    0x964, 0x962, // FPGA_QUERY_QP_COUNTERS, FPGA_QUERY_QP
    0x80d, // NOP
    0x971, 0x813, 0x981, // QUERY_AFU, QUERY_BURST_SIZE, QUERY_CAPI_PEC
    0x824, 0x826, 0x822, // QUERY_CONG_PARAMS, QUERY_CONG_STATISTICS, QUERY_CONG_STATUS
    0x402, 0xb14, 0x716, 0x713, // QUERY_CQ, QUERY_CRYPTO_STATE, QUERY_DC_CNAK_TRACE, QUERY_DCT
    0x911, 0x821, 0x819, // QUERY_DELAY_DROP_PARAMS, QUERY_DIAGNOSTIC_COUNTERS, QUERY_DIAGNOSTIC_PARAMS
    0xb28, 0xb2a, 0x10c, // QUERY_DPA_PARTITION(S), QUERY_DRIVER_VERSION
    0xb03, 0xb2f, 0xb0f, // QUERY_EMULATED_FUNCTIONS_INFO, _RESOURCES_INFO, EMULATION_DEVICE_EQ_MSIX_MAPPING
    0x303, 0x752, // QUERY_EQ, QUERY_ESW_VPORT_CONTEXT
    0x93b, 0x935, 0x937, 0x932, // QUERY_FLOW_COUNTER, _GROUP, _TABLE_ENTRY, _TABLE
    0xa02, 0x764, 0x765, // QUERY_GENERAL_OBJECT, QUERY_HCA_VPORT_GID, QUERY_HCA_VPORT_PKEY
    0x10a, 0x82a, 0x842, 0x80b, // QUERY_ISSI, QUERY_L2_TABLE_ENTRY, QUERY_LAG, QUERY_MAD_DEMUX
    0xb13, 0x201, 0x942, 0x8001, // QUERY_MATCH_SAMPLE_INFO, QUERY_MKEY, QUERY_MODIFY_HEADER_CONTEXT, QUERY_MTT
    0x754, // QUERY_NIC_VPORT_CONTEXT
    0x722, 0xb02, 0x728, // QUERY_NVMF_BACKEND_CONTROLLER, _CC_RESPONSE, _NAMESPACE_CONTEXT
    0x93f, 0x107, 0x602, // QUERY_PACKET_REFORMAT_CONTEXT, QUERY_PAGES, QUERY_PSV
    0x773, 0x50b, 0x781, 0x512, // QUERY_Q_COUNTER, QUERY_QP, QUERY_RATE_LIMIT, QUERY_RDB
    0xb05, 0xb07, // QUERY_REGEXP_PARAMS, QUERY_REGEXP_REGISTER
    0x90f, 0x90b, 0x919, // QUERY_RMP, QUERY_RQ, QUERY_RQT
    0x8000, 0x8006, 0x784, // QUERY_RSV_RESOURCES, QUERY_SCHED_QUEUE, QUERY_SCHEDULING_ELEMENT
    0x111, 0x203, 0x907, 0x702, // QUERY_SF_PARTITION, QUERY_SPECIAL_CONTEXTS, QUERY_SQ, QUERY_SRQ
    0x903, 0x915, 0xa05, 0xa09, // QUERY_TIR, QUERY_TIS, QUERY_UCTX, QUERY_UMEM
    0x117, 0xb0d, 0x76f, // QUERY_VHCA_MIGRATION_STATE, QUERY_VHCA_STATE, QUERY_VNIC_ENV
    0x770, 0x750, 0x831, // QUERY_VPORT_COUNTER, QUERY_VPORT_STATE, QUERY_WOL_ROL
    0x707, 0x725, 0x727, 0x719, // QUERY_XRC_SRQ, QUERY_XRQ_DC_PARAMS_ENTRY, _ERROR_PARAMS, QUERY_XRQ
    0xb08, 0xb0a, // USER_QUERY_XRQ_DC_PARAMS_ENTRY, USER_QUERY_XRQ_ERROR_PARAMS
    0x730, 0x732, // QUERY_ADJACENT_FUNCTIONS_ID, QUERY_DELEGATED_VHCA
];

/// Allowed from debug-write up.
const DEBUG_WRITE: &[u16] = &[0x820]; // SET_DIAGNOSTIC_PARAMS

/// Whether the driver passes `opcode`/`op_mod` at `scope`. Everything not listed
/// (object creation and destruction above all) is refused at every scope.
pub fn allows(opcode: u16, op_mod: u16, scope: Scope) -> bool {
    match opcode {
        // Register writes (op_mod 0) pass at every scope; firmware restricts them by uid.
        ACCESS_REG | ACCESS_REGISTER_USER => op_mod == 0 || scope >= Scope::DebugReadOnly,
        op if CONFIGURATION.contains(&op) => true,
        op if DEBUG_READ_ONLY.contains(&op) => scope >= Scope::DebugReadOnly,
        op if DEBUG_WRITE.contains(&op) => scope >= Scope::DebugWrite,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_kernels_size() {
        // 11 + 80 + 1 + 2 case labels in mlx5ctl_validate_rpc().
        assert_eq!(CONFIGURATION.len(), 11);
        assert_eq!(DEBUG_READ_ONLY.len(), 80);
        let mut all: Vec<u16> = CONFIGURATION.iter().chain(DEBUG_READ_ONLY).chain(DEBUG_WRITE).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 92, "no opcode listed twice");
    }

    #[test]
    fn scopes_gate_as_the_driver_does() {
        assert!(allows(0x100, 0, Scope::Configuration));
        assert!(!allows(0x10a, 0, Scope::Configuration));
        assert!(allows(0x10a, 0, Scope::DebugReadOnly));
        assert!(!allows(0x820, 0, Scope::DebugReadOnly));
        assert!(allows(0x820, 0, Scope::DebugWrite));
        assert!(allows(ACCESS_REG, 0, Scope::Configuration), "writes pass at every scope");
        assert!(!allows(ACCESS_REG, 1, Scope::Configuration));
        assert!(allows(ACCESS_REGISTER_USER, 1, Scope::DebugReadOnly));
        for create_or_destroy in [0xa04, 0xa06, 0x500, 0x501, 0x400] {
            assert!(!allows(create_or_destroy, 0, Scope::DebugWriteFull));
        }
    }
}
