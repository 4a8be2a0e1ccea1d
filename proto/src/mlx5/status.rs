//! Firmware command statuses: byte 0 of every output mailbox (`MLX5_CMD_STAT_*`,
//! `drivers/net/ethernet/mellanox/mlx5/core/cmd.c`). The simulator answers with them and
//! the SDK names them to plugins.

/// `MLX5_CMD_STAT_OK`.
pub const OK: u8 = 0x00;
/// `MLX5_CMD_STAT_INT_ERR`: internal error.
pub const INT_ERR: u8 = 0x01;
/// `MLX5_CMD_STAT_BAD_OP_ERR`: unknown or unsupported opcode.
pub const BAD_OP: u8 = 0x02;
/// `MLX5_CMD_STAT_BAD_PARAM_ERR`: a parameter out of range (also what ConnectX firmware
/// answers for a register it does not implement).
pub const BAD_PARAM: u8 = 0x03;
/// `MLX5_CMD_STAT_BAD_SYS_STATE_ERR`.
pub const BAD_SYS_STATE: u8 = 0x04;
/// `MLX5_CMD_STAT_BAD_RES_ERR`: the named object does not exist or is not the caller's.
pub const BAD_RES: u8 = 0x05;
/// `MLX5_CMD_STAT_RES_BUSY`.
pub const RES_BUSY: u8 = 0x06;
/// `MLX5_CMD_STAT_NOT_READY`.
pub const NOT_READY: u8 = 0x07;
/// `MLX5_CMD_STAT_LIM_ERR`.
pub const LIM_ERR: u8 = 0x08;
/// `MLX5_CMD_STAT_BAD_RES_STATE_ERR`.
pub const BAD_RES_STATE: u8 = 0x09;
/// `MLX5_CMD_STAT_IX_ERR`.
pub const IX_ERR: u8 = 0x0a;
/// `MLX5_CMD_STAT_NO_RES_ERR`: out of resources (no free user context).
pub const NO_RES: u8 = 0x0f;
/// `MLX5_CMD_STAT_BAD_QP_STATE_ERR`.
pub const BAD_QP_STATE: u8 = 0x10;
/// `MLX5_CMD_STAT_BAD_PKT_ERR`.
pub const BAD_PKT: u8 = 0x30;
/// `MLX5_CMD_STAT_BAD_SIZE_OUTS_CQES_ERR`.
pub const BAD_SIZE_OUTS_CQES: u8 = 0x40;
/// `MLX5_CMD_STAT_BAD_INP_LEN_ERR`: the input mailbox is shorter than the command needs.
pub const BAD_INP_LEN: u8 = 0x50;
/// `MLX5_CMD_STAT_BAD_OUTP_LEN_ERR`: the output mailbox is shorter than the answer.
pub const BAD_OUTP_LEN: u8 = 0x51;

/// Every status with its name.
pub const STATUSES: &[(u8, &str)] = &[
    (OK, "OK"),
    (INT_ERR, "INT_ERR"),
    (BAD_OP, "BAD_OP"),
    (BAD_PARAM, "BAD_PARAM"),
    (BAD_SYS_STATE, "BAD_SYS_STATE"),
    (BAD_RES, "BAD_RES"),
    (RES_BUSY, "RES_BUSY"),
    (NOT_READY, "NOT_READY"),
    (LIM_ERR, "LIM_ERR"),
    (BAD_RES_STATE, "BAD_RES_STATE"),
    (IX_ERR, "IX_ERR"),
    (NO_RES, "NO_RES"),
    (BAD_QP_STATE, "BAD_QP_STATE"),
    (BAD_PKT, "BAD_PKT"),
    (BAD_SIZE_OUTS_CQES, "BAD_SIZE_OUTS_CQES"),
    (BAD_INP_LEN, "BAD_INP_LEN"),
    (BAD_OUTP_LEN, "BAD_OUTP_LEN"),
];

/// The name of a status, `UNKNOWN` for one the kernel does not define.
pub fn name(status: u8) -> &'static str {
    STATUSES.iter().find(|(s, _)| *s == status).map_or("UNKNOWN", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named_as_in_the_kernel_and_unknown_ones_say_so() {
        // Golden values from cmd.c's MLX5_CMD_STAT_* enum.
        assert_eq!((name(0x02), name(0x0f), name(0x51)), ("BAD_OP", "NO_RES", "BAD_OUTP_LEN"));
        assert_eq!(name(0x99), "UNKNOWN");
        let mut codes: Vec<u8> = STATUSES.iter().map(|(s, _)| *s).collect();
        codes.dedup();
        assert_eq!(codes.len(), STATUSES.len(), "each status once, in order");
    }
}
