//! The mlx5 commands the fwctl driver passes, at which scope, and what each does to the
//! device: the one table both the simulator (which mirrors the driver's gate) and the
//! host (which classifies every RPC before it may reach a device) read.
//!
//! The gate column is the `switch` of `mlx5ctl_validate_rpc()`, Linux 7.3
//! `drivers/fwctl/mlx5/main.c`: lines 194–209 pass at every scope, 210–291 from
//! debug-read-only, 293–294 from debug-write; ACCESS_REG and ACCESS_REGISTER_USER
//! (296–300) are decided by op_mod and live in [`super::registers`]. Every other opcode
//! is refused with EBADMSG (302).
//!
//! The effect column is ours: a scope says who may send a command, not what it does, and
//! configuration scope (below debug-read-only) carries setters. Queries read, except the
//! counter queries whose input has a `clear` bit (`include/linux/mlx5/mlx5_ifc.h`), which
//! reset the counters another reader relies on when it is set.

/// The lowest fwctl scope at which the driver passes a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriverGate {
    /// `return true; /* scope >= FWCTL_RPC_CONFIGURATION */`.
    Configuration,
    /// `return scope >= FWCTL_RPC_DEBUG_READ_ONLY`.
    DebugReadOnly,
    /// `return scope >= FWCTL_RPC_DEBUG_WRITE`.
    DebugWrite,
}

/// A field of a request that turns a read into a change (a clear, a reset, a measurement
/// started): byte offset in the mailbox, mask, the field's name in the PRM, and what
/// setting it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearBit {
    /// Byte offset from the start of the request.
    pub byte: usize,
    /// The bits within that byte (PRM bit 31 of a dword is `0x80` of its first byte).
    pub mask: u8,
    /// The field, e.g. `clear` or `clr`.
    pub field: &'static str,
    /// What a read with the field set does, as the refusal says it ("which …").
    pub does: &'static str,
}

impl ClearBit {
    /// Whether `request` sets the bit; `None` when it is too short to hold it (what the
    /// firmware would make of the missing bytes is not the host's to guess).
    pub fn is_set(&self, request: &[u8]) -> Option<bool> {
        request.get(self.byte).map(|b| b & self.mask != 0)
    }
}

/// What a command does to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandEffect {
    /// Reads state; changes nothing.
    Read,
    /// Reads counters, and resets them when the bit is set.
    ReadClearing(ClearBit),
    /// Changes device or firmware state.
    Write,
    /// A counter query whose input layout the kernel does not carry, so whether it can
    /// clear cannot be checked: treated as a write.
    Opaque,
}

/// One command of the driver's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// `MLX5_CMD_OP_*` value.
    pub opcode: u16,
    /// `MLX5_CMD_OP_*` name, without the prefix.
    pub name: &'static str,
    /// The lowest scope the driver passes it at.
    pub gate: DriverGate,
    /// What it does.
    pub effect: CommandEffect,
}

/// `MLX5_CMD_OP_QUERY_HCA_CAP`: capabilities, by type in op_mod.
pub const QUERY_HCA_CAP: u16 = 0x100;
/// `MLX5_CMD_OP_QUERY_ADAPTER`: PSID, vendor and device ids.
pub const QUERY_ADAPTER: u16 = 0x101;
/// `MLX5_CMD_OP_SET_HCA_CAP`.
pub const SET_HCA_CAP: u16 = 0x109;
/// `MLX5_CMD_OP_QUERY_ISSI`.
pub const QUERY_ISSI: u16 = 0x10a;
/// `MLX5_CMD_OP_QUERY_VPORT_STATE`.
pub const QUERY_VPORT_STATE: u16 = 0x750;
/// `MLX5_CMD_OP_QUERY_NIC_VPORT_CONTEXT`.
pub const QUERY_NIC_VPORT_CONTEXT: u16 = 0x754;
/// `MLX5_CMD_OP_QUERY_VPORT_COUNTER`.
pub const QUERY_VPORT_COUNTER: u16 = 0x770;
/// `MLX5_CMD_OP_NOP`.
pub const NOP: u16 = 0x80d;
/// `MLX5_CMD_OP_CREATE_UCTX`: sent by the driver when a fwctl context opens; never passed
/// from user space.
pub const CREATE_UCTX: u16 = 0xa04;
/// `MLX5_CMD_OP_DESTROY_UCTX`: sent by the driver when the context closes.
pub const DESTROY_UCTX: u16 = 0xa06;
/// `MLX5_CMD_OP_ACCESS_REG`.
pub const ACCESS_REG: u16 = 0x805;
/// `MLX5_CMD_OP_ACCESS_REGISTER_USER`, the user-context twin of `ACCESS_REG`.
pub const ACCESS_REGISTER_USER: u16 = 0xb0c;
/// `MLX5_CMD_OP_SET_DIAGNOSTIC_PARAMS`, the one command that needs debug-write.
pub const SET_DIAGNOSTIC_PARAMS: u16 = 0x820;

/// The `clear` bit at bit 0xc0 of QUERY_VPORT_COUNTER, QUERY_Q_COUNTER and
/// QUERY_FLOW_COUNTER input (mlx5_ifc.h lines 5708, 6160, 7069).
const CLEAR_AT_24: ClearBit = ClearBit { byte: 24, mask: 0x80, field: "clear", does: CLEARS_COUNTERS };
/// The `clear` bit at bit 0x40 of QUERY_CONG_STATISTICS input (mlx5_ifc.h line 7578) and
/// FPGA_QUERY_QP_COUNTERS input (mlx5_ifc_fpga.h, `fpga_query_qp_counters_in`).
const CLEAR_AT_8: ClearBit = ClearBit { byte: 8, mask: 0x80, field: "clear", does: CLEARS_COUNTERS };
const CLEARS_COUNTERS: &str = "clears the counters it reads";

const fn cmd(opcode: u16, name: &'static str, gate: DriverGate, effect: CommandEffect) -> Command {
    Command { opcode, name, gate, effect }
}

use CommandEffect::{Opaque, Read, ReadClearing, Write};
use DriverGate::{Configuration, DebugReadOnly, DebugWrite};

/// The driver's table in its own order (register accesses aside).
pub const COMMANDS: &[Command] = &[
    // main.c 194–209: every scope.
    cmd(0x823, "MODIFY_CONG_STATUS", Configuration, Write),
    cmd(0xb2e, "POSTPONE_CONNECTED_QP_TIMEOUT", Configuration, Write),
    cmd(QUERY_ADAPTER, "QUERY_ADAPTER", Configuration, Read),
    cmd(0x740, "QUERY_ESW_FUNCTIONS", Configuration, Read),
    cmd(QUERY_HCA_CAP, "QUERY_HCA_CAP", Configuration, Read),
    cmd(0x762, "QUERY_HCA_VPORT_CONTEXT", Configuration, Read),
    cmd(0x10e, "QUERY_OTHER_HCA_CAP", Configuration, Read),
    cmd(0x760, "QUERY_ROCE_ADDRESS", Configuration, Read),
    cmd(0xb22, "QUERY_VUID", Configuration, Read),
    cmd(0x731, "DELEGATE_VHCA_MANAGEMENT", Configuration, Write),
    // Firmware limits SET_HCA_CAP on the tools uid to other-function pre-configuration:
    // still a change to how a function comes up.
    cmd(SET_HCA_CAP, "SET_HCA_CAP", Configuration, Write),
    // main.c 210–291: debug-read-only and up.
    cmd(0x964, "FPGA_QUERY_QP_COUNTERS", DebugReadOnly, ReadClearing(CLEAR_AT_8)),
    cmd(0x962, "FPGA_QUERY_QP", DebugReadOnly, Read),
    cmd(NOP, "NOP", DebugReadOnly, Read),
    cmd(0x971, "QUERY_AFU", DebugReadOnly, Read),
    cmd(0x813, "QUERY_BURST_SIZE", DebugReadOnly, Read),
    cmd(0x981, "QUERY_CAPI_PEC", DebugReadOnly, Read),
    cmd(0x824, "QUERY_CONG_PARAMS", DebugReadOnly, Read),
    cmd(0x826, "QUERY_CONG_STATISTICS", DebugReadOnly, ReadClearing(CLEAR_AT_8)),
    cmd(0x822, "QUERY_CONG_STATUS", DebugReadOnly, Read),
    cmd(0x402, "QUERY_CQ", DebugReadOnly, Read),
    cmd(0xb14, "QUERY_CRYPTO_STATE", DebugReadOnly, Read),
    cmd(0x716, "QUERY_DC_CNAK_TRACE", DebugReadOnly, Read),
    cmd(0x713, "QUERY_DCT", DebugReadOnly, Read),
    cmd(0x911, "QUERY_DELAY_DROP_PARAMS", DebugReadOnly, Read),
    // No `query_diagnostic_counters_in` layout in mlx5_ifc.h: cannot check for a clear.
    cmd(0x821, "QUERY_DIAGNOSTIC_COUNTERS", DebugReadOnly, Opaque),
    cmd(0x819, "QUERY_DIAGNOSTIC_PARAMS", DebugReadOnly, Read),
    cmd(0xb28, "QUERY_DPA_PARTITION", DebugReadOnly, Read),
    cmd(0xb2a, "QUERY_DPA_PARTITIONS", DebugReadOnly, Read),
    cmd(0x10c, "QUERY_DRIVER_VERSION", DebugReadOnly, Read),
    cmd(0xb03, "QUERY_EMULATED_FUNCTIONS_INFO", DebugReadOnly, Read),
    cmd(0xb2f, "QUERY_EMULATED_RESOURCES_INFO", DebugReadOnly, Read),
    cmd(0xb0f, "QUERY_EMULATION_DEVICE_EQ_MSIX_MAPPING", DebugReadOnly, Read),
    cmd(0x303, "QUERY_EQ", DebugReadOnly, Read),
    cmd(0x752, "QUERY_ESW_VPORT_CONTEXT", DebugReadOnly, Read),
    cmd(0x93b, "QUERY_FLOW_COUNTER", DebugReadOnly, ReadClearing(CLEAR_AT_24)),
    cmd(0x935, "QUERY_FLOW_GROUP", DebugReadOnly, Read),
    cmd(0x937, "QUERY_FLOW_TABLE_ENTRY", DebugReadOnly, Read),
    cmd(0x932, "QUERY_FLOW_TABLE", DebugReadOnly, Read),
    cmd(0xa02, "QUERY_GENERAL_OBJECT", DebugReadOnly, Read),
    cmd(0x764, "QUERY_HCA_VPORT_GID", DebugReadOnly, Read),
    cmd(0x765, "QUERY_HCA_VPORT_PKEY", DebugReadOnly, Read),
    cmd(QUERY_ISSI, "QUERY_ISSI", DebugReadOnly, Read),
    cmd(0x82a, "QUERY_L2_TABLE_ENTRY", DebugReadOnly, Read),
    cmd(0x842, "QUERY_LAG", DebugReadOnly, Read),
    cmd(0x80b, "QUERY_MAD_DEMUX", DebugReadOnly, Read),
    cmd(0xb13, "QUERY_MATCH_SAMPLE_INFO", DebugReadOnly, Read),
    cmd(0x201, "QUERY_MKEY", DebugReadOnly, Read),
    cmd(0x942, "QUERY_MODIFY_HEADER_CONTEXT", DebugReadOnly, Read),
    cmd(0x8001, "QUERY_MTT", DebugReadOnly, Read),
    cmd(QUERY_NIC_VPORT_CONTEXT, "QUERY_NIC_VPORT_CONTEXT", DebugReadOnly, Read),
    cmd(0x722, "QUERY_NVMF_BACKEND_CONTROLLER", DebugReadOnly, Read),
    cmd(0xb02, "QUERY_NVMF_CC_RESPONSE", DebugReadOnly, Read),
    cmd(0x728, "QUERY_NVMF_NAMESPACE_CONTEXT", DebugReadOnly, Read),
    cmd(0x93f, "QUERY_PACKET_REFORMAT_CONTEXT", DebugReadOnly, Read),
    cmd(0x107, "QUERY_PAGES", DebugReadOnly, Read),
    cmd(0x602, "QUERY_PSV", DebugReadOnly, Read),
    cmd(0x773, "QUERY_Q_COUNTER", DebugReadOnly, ReadClearing(CLEAR_AT_24)),
    cmd(0x50b, "QUERY_QP", DebugReadOnly, Read),
    cmd(0x781, "QUERY_RATE_LIMIT", DebugReadOnly, Read),
    cmd(0x512, "QUERY_RDB", DebugReadOnly, Read),
    cmd(0xb05, "QUERY_REGEXP_PARAMS", DebugReadOnly, Read),
    cmd(0xb07, "QUERY_REGEXP_REGISTER", DebugReadOnly, Read),
    cmd(0x90f, "QUERY_RMP", DebugReadOnly, Read),
    cmd(0x90b, "QUERY_RQ", DebugReadOnly, Read),
    cmd(0x919, "QUERY_RQT", DebugReadOnly, Read),
    cmd(0x8000, "QUERY_RSV_RESOURCES", DebugReadOnly, Read),
    cmd(0x8006, "QUERY_SCHED_QUEUE", DebugReadOnly, Read),
    cmd(0x784, "QUERY_SCHEDULING_ELEMENT", DebugReadOnly, Read),
    cmd(0x111, "QUERY_SF_PARTITION", DebugReadOnly, Read),
    cmd(0x203, "QUERY_SPECIAL_CONTEXTS", DebugReadOnly, Read),
    cmd(0x907, "QUERY_SQ", DebugReadOnly, Read),
    cmd(0x702, "QUERY_SRQ", DebugReadOnly, Read),
    cmd(0x903, "QUERY_TIR", DebugReadOnly, Read),
    cmd(0x915, "QUERY_TIS", DebugReadOnly, Read),
    cmd(0xa05, "QUERY_UCTX", DebugReadOnly, Read),
    cmd(0xa09, "QUERY_UMEM", DebugReadOnly, Read),
    cmd(0x117, "QUERY_VHCA_MIGRATION_STATE", DebugReadOnly, Read),
    cmd(0xb0d, "QUERY_VHCA_STATE", DebugReadOnly, Read),
    cmd(0x76f, "QUERY_VNIC_ENV", DebugReadOnly, Read),
    cmd(QUERY_VPORT_COUNTER, "QUERY_VPORT_COUNTER", DebugReadOnly, ReadClearing(CLEAR_AT_24)),
    cmd(QUERY_VPORT_STATE, "QUERY_VPORT_STATE", DebugReadOnly, Read),
    cmd(0x831, "QUERY_WOL_ROL", DebugReadOnly, Read),
    cmd(0x707, "QUERY_XRC_SRQ", DebugReadOnly, Read),
    cmd(0x725, "QUERY_XRQ_DC_PARAMS_ENTRY", DebugReadOnly, Read),
    cmd(0x727, "QUERY_XRQ_ERROR_PARAMS", DebugReadOnly, Read),
    cmd(0x719, "QUERY_XRQ", DebugReadOnly, Read),
    cmd(0xb08, "USER_QUERY_XRQ_DC_PARAMS_ENTRY", DebugReadOnly, Read),
    cmd(0xb0a, "USER_QUERY_XRQ_ERROR_PARAMS", DebugReadOnly, Read),
    cmd(0x730, "QUERY_ADJACENT_FUNCTIONS_ID", DebugReadOnly, Read),
    cmd(0x732, "QUERY_DELEGATED_VHCA", DebugReadOnly, Read),
    // main.c 293–294: debug-write and up.
    cmd(SET_DIAGNOSTIC_PARAMS, "SET_DIAGNOSTIC_PARAMS", DebugWrite, Write),
];

/// The table entry of an opcode (register accesses are not in it).
pub fn lookup(opcode: u16) -> Option<&'static Command> {
    let at = BY_OPCODE.binary_search_by_key(&opcode, |&(opcode, _)| opcode).ok()?;
    Some(&COMMANDS[BY_OPCODE[at].1 as usize])
}

/// `COMMANDS` sorted by opcode, as (opcode, index): every RPC is looked up, by the host's
/// policy and classification and by the simulator, and the table keeps the driver's order.
const BY_OPCODE: [(u16, u8); COMMANDS.len()] = {
    assert!(COMMANDS.len() <= u8::MAX as usize, "indexes in BY_OPCODE are bytes");
    let mut sorted = [(0u16, 0u8); COMMANDS.len()];
    let mut i = 0;
    while i < COMMANDS.len() {
        let opcode = COMMANDS[i].opcode;
        let mut j = i;
        while j > 0 && sorted[j - 1].0 > opcode {
            sorted[j] = sorted[j - 1];
            j -= 1;
        }
        sorted[j] = (opcode, i as u8);
        i += 1;
    }
    sorted
};

/// The `MLX5_CMD_OP_*` name of an opcode the driver passes at some scope.
pub fn name(opcode: u16) -> Option<&'static str> {
    match opcode {
        ACCESS_REG => Some("ACCESS_REG"),
        ACCESS_REGISTER_USER => Some("ACCESS_REGISTER_USER"),
        _ => lookup(opcode).map(|c| c.name),
    }
}

/// The lowest scope at which the driver passes the command; `None` for never.
///
/// Register writes (op_mod 0) pass at every scope and reads need debug-read-only; the
/// driver does not look at the register id, firmware restricts further through the uid.
pub fn gate(opcode: u16, op_mod: u16) -> Option<DriverGate> {
    if opcode == ACCESS_REG || opcode == ACCESS_REGISTER_USER {
        return Some(if op_mod == 0 { Configuration } else { DebugReadOnly });
    }
    lookup(opcode).map(|c| c.gate)
}

/// Every opcode the driver passes at some scope.
pub fn opcodes() -> impl Iterator<Item = u16> {
    COMMANDS.iter().map(|c| c.opcode).chain([ACCESS_REG, ACCESS_REGISTER_USER])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_by_its_opcode_and_no_other_opcode_finds_one() {
        for command in COMMANDS {
            assert_eq!(lookup(command.opcode).map(|c| c.name), Some(command.name));
        }
        let known: std::collections::HashSet<u16> = COMMANDS.iter().map(|c| c.opcode).collect();
        for opcode in (0..=u16::MAX).filter(|op| !known.contains(op)) {
            assert!(lookup(opcode).is_none(), "{opcode:#06x}");
        }
    }

    #[test]
    fn the_table_has_the_kernels_case_labels() {
        // 11 + 80 + 1 + 2 case labels in mlx5ctl_validate_rpc(), no opcode twice.
        let count = |g: DriverGate| COMMANDS.iter().filter(|c| c.gate == g).count();
        assert_eq!((count(Configuration), count(DebugReadOnly), count(DebugWrite)), (11, 80, 1));
        let mut all: Vec<u16> = opcodes().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 94);
    }

    #[test]
    fn every_setter_is_a_write_and_every_counter_query_is_checked_for_its_clear_bit() {
        let writes: Vec<&str> = COMMANDS.iter().filter(|c| c.effect == Write).map(|c| c.name).collect();
        assert_eq!(
            writes,
            [
                "MODIFY_CONG_STATUS",
                "POSTPONE_CONNECTED_QP_TIMEOUT",
                "DELEGATE_VHCA_MANAGEMENT",
                "SET_HCA_CAP",
                "SET_DIAGNOSTIC_PARAMS"
            ]
        );
        // Whatever carries "COUNTER" or "STATISTICS" in its name can clear, or is opaque.
        for c in COMMANDS.iter().filter(|c| c.name.contains("COUNTER") || c.name.contains("STATISTICS")) {
            assert!(matches!(c.effect, ReadClearing(_) | Opaque), "{}", c.name);
        }
        // Golden byte positions, from the bit offsets in mlx5_ifc.h: `clear` at 0xc0 is
        // byte 24, at 0x40 byte 8; both the most significant bit of their byte.
        let clear = |op| match lookup(op).unwrap().effect {
            ReadClearing(bit) => (bit.byte, bit.mask),
            other => panic!("{op:#x}: {other:?}"),
        };
        assert_eq!(clear(0x770), (24, 0x80), "QUERY_VPORT_COUNTER");
        assert_eq!(clear(0x773), (24, 0x80), "QUERY_Q_COUNTER");
        assert_eq!(clear(0x93b), (24, 0x80), "QUERY_FLOW_COUNTER");
        assert_eq!(clear(0x826), (8, 0x80), "QUERY_CONG_STATISTICS");
        assert_eq!(clear(0x964), (8, 0x80), "FPGA_QUERY_QP_COUNTERS");
    }

    #[test]
    fn register_accesses_are_gated_by_op_mod() {
        assert_eq!(gate(ACCESS_REG, 0), Some(Configuration));
        assert_eq!(gate(ACCESS_REGISTER_USER, 1), Some(DebugReadOnly));
        assert_eq!(gate(ACCESS_REG, 0xffff), Some(DebugReadOnly), "any op_mod but 0 reads");
        assert_eq!(gate(CREATE_UCTX, 0), None, "the driver sends it itself");
        assert_eq!(name(0x8001), Some("QUERY_MTT"));
    }
}
