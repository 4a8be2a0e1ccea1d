//! Named bit fields of the mlx5 PRM structures: the layouts the simulator's firmware model
//! writes and the SDK's decoders read.
//!
//! Every layout either side touches is written down here once, as a [`Field`] (dword, high
//! bit, low bit) or a byte offset, each module named after its `mlx5_ifc_*_bits` struct in
//! `include/linux/mlx5/mlx5_ifc.h` (Linux 7.3). The reading and writing itself is
//! [`super::bits`], so the simulator and the plugins cannot disagree on what
//! "dwN[hi:lo]" means. Reads past the end of a buffer give 0
//! and writes past it are dropped: hostile or short mailboxes never panic here.
//!
//! Offsets of register fields are relative to the register image (the mailbox's byte 16).

#![allow(missing_docs, reason = "each constant is named as its field in mlx5_ifc.h, each module as its struct")]

use super::bits;

pub use super::bits::{set_ascii, set_u64};

/// Bits `hi..=lo` of big-endian dword `dw` (bit 31 is the MSB of byte `4 * dw`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    dw: usize,
    hi: u32,
    lo: u32,
}

impl Field {
    /// A field; malformed bounds fail to compile, since every field is a `const`.
    pub const fn new(dw: usize, hi: u32, lo: u32) -> Self {
        assert!(hi < 32 && lo <= hi, "PRM field bounds");
        Self { dw, hi, lo }
    }

    /// The field's value in `buf` (0 where `buf` is too short).
    pub fn get(self, buf: &[u8]) -> u32 {
        bits::get(buf, self.dw, self.hi, self.lo)
    }

    /// Stores `value` (cut to the field's width); dropped where `buf` is too short.
    pub fn set(self, buf: &mut [u8], value: u32) {
        bits::set(buf, self.dw, self.hi, self.lo, value)
    }

    /// The largest value the field holds.
    pub const fn max(self) -> u32 {
        u32::MAX >> (31 - (self.hi - self.lo))
    }

    /// Whether a one-bit field is set.
    pub fn is_set(self, buf: &[u8]) -> bool {
        self.get(buf) != 0
    }
}

const fn f(dw: usize, hi: u32, lo: u32) -> Field {
    Field::new(dw, hi, lo)
}

/// `mbox_in_hdr` / `mbox_out_hdr` (drivers/fwctl/mlx5/main.c): 16 bytes each.
pub mod header {
    use super::{Field, f};
    /// Bytes of either header.
    pub const LEN: usize = 16;
    /// In: command opcode.
    pub const OPCODE: Field = f(0, 31, 16);
    /// In: the user context the command runs under (forced by the driver).
    pub const UID: Field = f(0, 15, 0);
    /// In: opcode modifier.
    pub const OP_MOD: Field = f(1, 15, 0);
    /// Out: command status (0 = OK).
    pub const STATUS: Field = f(0, 31, 24);
    /// Out: syndrome, firmware's detail for a failed command.
    pub const SYNDROME: Field = f(1, 31, 0);
}

/// `create_uctx_in` / `create_uctx_out` (the driver's CREATE_UCTX on open).
pub mod create_uctx {
    use super::{Field, f};
    /// In bytes: header, 8 reserved, then `uctx` (48 bytes).
    pub const IN_LEN: usize = 0x60;
    /// Out bytes.
    pub const OUT_LEN: usize = 16;
    /// In: `uctx.cap` (dword 4).
    pub const CAP: Field = f(4, 31, 0);
    /// Out: the allocated uid.
    pub const UID: Field = f(2, 15, 0);
}

/// `destroy_uctx_in` (the driver's DESTROY_UCTX on close).
pub mod destroy_uctx {
    use super::{Field, f};
    /// In bytes.
    pub const IN_LEN: usize = 16;
    /// In: the uid to release (not the header uid).
    pub const UID: Field = f(2, 15, 0);
}

/// `query_hca_cap_in` / `set_hca_cap_in` and the `cmd_hca_cap` general capabilities.
pub mod hca_cap {
    use super::{Field, f};
    /// Out bytes: header + the 4096-byte capability union.
    pub const OUT_LEN: usize = 16 + 4096;
    /// In: asks for another function's capabilities.
    pub const OTHER_FUNCTION: Field = f(2, 31, 31);
    /// In: that function.
    pub const FUNCTION_ID: Field = f(2, 15, 0);

    /// `cmd_hca_cap` fields, relative to the capability (mailbox byte 16).
    pub mod general {
        use super::super::{Field, f};
        pub const VHCA_ID: Field = f(1, 15, 0);
        pub const LOG_MAX_QP_SZ: Field = f(4, 23, 16);
        pub const LOG_MAX_QP: Field = f(4, 4, 0);
        pub const LOG_MAX_CQ_SZ: Field = f(6, 23, 16);
        pub const LOG_MAX_CQ: Field = f(6, 4, 0);
        pub const LOG_MAX_EQ_SZ: Field = f(7, 31, 24);
        pub const LOG_MAX_EQ: Field = f(7, 3, 0);
        pub const VPORT_COUNTERS: Field = f(12, 30, 30);
        pub const DEBUG: Field = f(12, 28, 28);
        pub const PKEY_TABLE_SIZE: Field = f(12, 15, 0);
        pub const ESWITCH_MANAGER: Field = f(13, 24, 24);
        pub const MCAM_REG: Field = f(13, 22, 22);
        pub const PCAM_REG: Field = f(13, 21, 21);
        pub const PORT_TYPE: Field = f(13, 9, 8);
        pub const NUM_PORTS: Field = f(13, 7, 0);
        pub const MAX_TC: Field = f(14, 19, 16);
        pub const TEMP_WARN_EVENT: Field = f(14, 15, 15);
        pub const ROCE: Field = f(16, 2, 2);
        pub const LOG_MAX_PD: Field = f(25, 20, 16);
        /// `general_obj_types`, a u64 at this byte.
        pub const GENERAL_OBJ_TYPES_BYTE: usize = 128;
        pub const MAX_NUM_EQS: Field = f(35, 15, 0);
        pub const DEVICE_FREQUENCY_MHZ: Field = f(38, 31, 0);
        pub const UCTX_CAP: Field = f(53, 31, 0);
    }
}

/// `query_adapter_out`: the param block starts at byte 16.
pub mod query_adapter {
    /// Out bytes.
    pub const OUT_LEN: usize = 272;
    /// `ieee_vendor_id` (24 bits) starts at this byte.
    pub const IEEE_VENDOR_ID_BYTE: usize = 41;
    /// `vsd_vendor_id` (16 bits).
    pub const VSD_VENDOR_ID_BYTE: usize = 46;
    /// `vsd` text, 208 bytes.
    pub const VSD_BYTE: usize = 48;
    /// `vsd` length.
    pub const VSD_LEN: usize = 208;
    /// `vsd_contd_psid`, 16 ASCII bytes.
    pub const PSID_BYTE: usize = 256;
}

/// `query_issi_out`.
pub mod query_issi {
    use super::{Field, f};
    /// Out bytes.
    pub const OUT_LEN: usize = 112;
    pub const CURRENT_ISSI: Field = f(2, 15, 0);
    /// `supported_issi_dw0`: ISSI n is bit n.
    pub const SUPPORTED_ISSI_DW0: Field = f(27, 31, 0);
}

/// `query_vport_state_in` / `_out`.
pub mod query_vport_state {
    use super::{Field, f};
    /// Out bytes.
    pub const OUT_LEN: usize = 16;
    pub const OTHER_VPORT: Field = f(2, 31, 31);
    pub const VPORT_NUMBER: Field = f(2, 15, 0);
    pub const MAX_TX_SPEED: Field = f(3, 31, 16);
    pub const ADMIN_STATE: Field = f(3, 7, 4);
    pub const STATE: Field = f(3, 3, 0);
}

/// `query_vport_counter_in` / `_out`.
pub mod query_vport_counter {
    use super::{Field, f};
    /// In bytes.
    pub const IN_LEN: usize = 32;
    /// Out bytes.
    pub const OUT_LEN: usize = 528;
    pub const OTHER_VPORT: Field = f(2, 31, 31);
    pub const PORT_NUM: Field = f(2, 19, 16);
    pub const VPORT_NUMBER: Field = f(2, 15, 0);
    pub const CLEAR: Field = f(6, 31, 31);
    /// The 13 `traffic_counter` blocks ({packets, octets}, u64 each) start here.
    pub const COUNTERS_BYTE: usize = 16;
}

/// `query_nic_vport_context_in` / `_out` (context at byte 16).
pub mod query_nic_vport_context {
    use super::{Field, f};
    /// Out bytes.
    pub const OUT_LEN: usize = 272;
    pub const OTHER_VPORT: Field = f(2, 31, 31);
    pub const VPORT_NUMBER: Field = f(2, 15, 0);
    /// `nic_vport_context.mtu`.
    pub const MTU: Field = f(13, 15, 0);
    pub const SYSTEM_IMAGE_GUID_BYTE: usize = 56;
    pub const PORT_GUID_BYTE: usize = 64;
    pub const NODE_GUID_BYTE: usize = 72;
    /// `permanent_address`: the 6 MAC bytes start here.
    pub const PERMANENT_MAC_BYTE: usize = 262;
}

/// `access_register_in` / `_out`: the register image starts at byte 16 of both.
pub mod access_reg {
    use super::{Field, f};
    pub const REGISTER_ID: Field = f(2, 15, 0);
    pub const ARGUMENT: Field = f(3, 31, 0);
    /// op_mod values.
    pub const WRITE: u16 = 0;
    /// op_mod values.
    pub const READ: u16 = 1;
}

/// `paos_reg` (16 bytes).
pub mod paos {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    pub const ADMIN_STATUS: Field = f(0, 11, 8);
    pub const OPER_STATUS: Field = f(0, 3, 0);
    /// Admin status enable: a write changes admin_status only with this set.
    pub const ASE: Field = f(1, 31, 31);
    pub const EE: Field = f(1, 30, 30);
    pub const E: Field = f(1, 1, 0);
}

/// `ptys_reg` (64 bytes).
pub mod ptys {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    pub const PROTO_MASK: Field = f(0, 2, 0);
    pub const AN_STATUS: Field = f(1, 31, 28);
    /// Units of 100 Mb/s.
    pub const DATA_RATE_OPER: Field = f(1, 15, 0);
    pub const EXT_ETH_PROTO_CAPABILITY: Field = f(2, 31, 0);
    pub const ETH_PROTO_CAPABILITY: Field = f(3, 31, 0);
    pub const IB_LINK_WIDTH_CAPABILITY: Field = f(4, 31, 16);
    pub const IB_PROTO_CAPABILITY: Field = f(4, 15, 0);
    pub const EXT_ETH_PROTO_ADMIN: Field = f(5, 31, 0);
    pub const IB_LINK_WIDTH_ADMIN: Field = f(7, 31, 16);
    pub const IB_PROTO_ADMIN: Field = f(7, 15, 0);
    pub const EXT_ETH_PROTO_OPER: Field = f(8, 31, 0);
    pub const ETH_PROTO_OPER: Field = f(9, 31, 0);
    pub const IB_LINK_WIDTH_OPER: Field = f(10, 31, 16);
    pub const IB_PROTO_OPER: Field = f(10, 15, 0);
    pub const CONNECTOR_TYPE: Field = f(11, 3, 0);
    /// proto_mask values.
    pub const PROTO_IB: u32 = 1;
    /// proto_mask values.
    pub const PROTO_ETH: u32 = 4;
}

/// `pmtu_reg` (16 bytes).
pub mod pmtu {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    pub const MAX_MTU: Field = f(1, 31, 16);
    pub const ADMIN_MTU: Field = f(2, 31, 16);
    pub const OPER_MTU: Field = f(3, 31, 16);
}

/// `ppcnt_reg` (256 bytes); counter sets start at byte 8, u64s high dword first.
pub mod ppcnt {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    pub const GRP: Field = f(0, 5, 0);
    pub const CLR: Field = f(1, 31, 31);
    pub const PRIO_TC: Field = f(1, 4, 0);
    /// Where the group's counter set starts.
    pub const DATA_BYTE: usize = 8;
    /// `eth_802_3_cntrs_grp_data_layout`.
    pub const GROUP_IEEE_802_3: u32 = 0x00;
    /// `phys_layer_cntrs`.
    pub const GROUP_PHYSICAL_LAYER: u32 = 0x12;
    /// `phys_layer_statistical_cntrs`.
    pub const GROUP_PHYSICAL_STATISTICAL: u32 = 0x16;
    /// Offsets inside the counter set (bytes).
    pub mod ieee {
        pub const FRAMES_TRANSMITTED_OK: usize = 0;
        pub const FRAMES_RECEIVED_OK: usize = 8;
        pub const FRAME_CHECK_SEQUENCE_ERRORS: usize = 16;
        pub const OCTETS_TRANSMITTED_OK: usize = 32;
        pub const OCTETS_RECEIVED_OK: usize = 40;
    }
    /// Offsets inside the counter set (bytes).
    pub mod physical {
        pub const TIME_SINCE_LAST_CLEAR: usize = 0;
        pub const SYMBOL_ERRORS: usize = 8;
        pub const RS_FEC_CORRECTED_BLOCKS: usize = 120;
        pub const RS_FEC_UNCORRECTABLE_BLOCKS: usize = 128;
        pub const RS_FEC_NO_ERRORS_BLOCKS: usize = 136;
        /// u32.
        pub const LINK_DOWN_EVENTS: usize = 192;
        /// u32.
        pub const SUCCESSFUL_RECOVERY_EVENTS: usize = 196;
    }
    /// Offsets inside the counter set (bytes).
    pub mod statistical {
        pub const TIME_SINCE_LAST_CLEAR: usize = 0;
        pub const PHY_RECEIVED_BITS: usize = 8;
        pub const PHY_SYMBOL_ERRORS: usize = 16;
        pub const PHY_CORRECTED_BITS: usize = 24;
        /// `phy_corrected_bits_lane0`; lanes 1–3 follow, 8 bytes each (mlx5_ifc.h
        /// `phys_layer_statistical_cntrs_bits`: four lanes, whatever the port's width).
        pub const PHY_CORRECTED_BITS_LANE0: usize = 32;
        /// Lanes the counter set has.
        pub const LANES: usize = 4;
    }
}

/// `pplm_reg` (120 bytes): the port's FEC. Only what the kernel reads
/// (`mlx5e_get_fec_mode()`, `drivers/net/ethernet/mellanox/mlx5/core/en/port.c`).
pub mod pplm {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    /// A bit per mode (`MLX5E_FEC_*` of `en/port.h`); none while the link is down.
    pub const FEC_MODE_ACTIVE: Field = f(3, 23, 0);
    /// Bytes of the register image (`MLX5_ST_SZ_BYTES(pplm_reg)`).
    pub const SIZE: usize = 120;
    /// `MLX5E_FEC_NOFEC`.
    pub const NO_FEC: u32 = 0;
    /// `MLX5E_FEC_FIRECODE`.
    pub const FIRECODE: u32 = 1;
    /// `MLX5E_FEC_RS_528_514`.
    pub const RS_528_514: u32 = 2;
    /// `MLX5E_FEC_RS_544_514_INTERLEAVED_QUAD`.
    pub const RS_544_514_INTERLEAVED_QUAD: u32 = 4;
    /// `MLX5E_FEC_RS_544_514`.
    pub const RS_544_514: u32 = 7;
    /// `MLX5E_FEC_LLRS_272_257_1`.
    pub const LLRS_272_257_1: u32 = 9;

    /// The name of an active-mode bit, as ethtool and mlxlink spell it.
    pub fn mode_name(bit: u32) -> Option<&'static str> {
        Some(match bit {
            NO_FEC => "No FEC",
            FIRECODE => "Firecode FEC",
            RS_528_514 => "RS-FEC (528,514)",
            RS_544_514_INTERLEAVED_QUAD => "RS-FEC (544,514) interleaved quad",
            RS_544_514 => "RS-FEC (544,514)",
            LLRS_272_257_1 => "LL-RS-FEC (272,257+1)",
            _ => return None,
        })
    }
}

/// `slrg_reg` (40 bytes): the receive eye of one SerDes lane. The head (status, version,
/// port, lane) is `mlx5_ifc_slrg_reg_bits`; what follows depends on the SerDes generation
/// `VERSION` names, and the kernel spells out only the 40/28 nm page. The 16 nm and 7 nm
/// pages are mstflint's register database (`register_access_table.adb`, `slrg_16nm_ext`,
/// `slrg_7nm_ext`), whose `page_data` starts at register byte 4: page dword N is register
/// dword N + 1 below.
pub mod slrg {
    use super::{Field, f};
    /// 1 when the page holds a measurement, 0 when not (e.g. the link is down).
    pub const STATUS: Field = f(0, 31, 28);
    pub const VERSION: Field = f(0, 27, 24);
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    /// Port number access type: 0 the local port.
    pub const PNAT: Field = f(0, 15, 14);
    pub const LANE: Field = f(0, 11, 8);
    /// Bytes of the register image (`MLX5_ST_SZ_BYTES(slrg_reg)`).
    pub const SIZE: usize = 40;
    pub const STATUS_VALID: u32 = 1;
    /// `version` values (the adb's enum): 40 nm, 28 nm, 16 nm, 7 nm, 5 nm SerDes.
    pub const VERSION_40NM: u32 = 0;
    pub const VERSION_28NM: u32 = 1;
    pub const VERSION_16NM: u32 = 3;
    pub const VERSION_7NM: u32 = 4;
    pub const VERSION_5NM: u32 = 5;

    /// The 7 nm page (ConnectX-7): figures of merit of the lane's eye-opening monitor.
    pub mod nm7 {
        use super::super::{Field, f};
        /// Request: which eyes to measure, a bit each ([`UPPER`] … [`COMPOSITE`]).
        pub const FOM_MEASUREMENT: Field = f(1, 3, 0);
        /// 1 when the lane carries NRZ (only the composite eye), 0 for PAM4.
        pub const FOM_MEAS_TYPE_READ: Field = f(2, 31, 31);
        pub const FOM_MODE: Field = f(2, 18, 16);
        /// The figure of merit measured after the lane's equaliser was trained.
        pub const INITIAL_FOM: Field = f(2, 7, 0);
        pub const LAST_FOM: Field = f(3, 31, 24);
        pub const UPPER_EYE: Field = f(3, 23, 16);
        pub const MID_EYE: Field = f(3, 15, 8);
        pub const LOWER_EYE: Field = f(3, 7, 0);
        pub const UPPER: u32 = 1;
        pub const MIDDLE: u32 = 2;
        pub const LOWER: u32 = 4;
        pub const COMPOSITE: u32 = 8;

        /// The name of a `fom_mode` (the adb's enum, as mlxlink prints it).
        pub fn mode_name(mode: u32) -> &'static str {
            match mode {
                0 => "EYEC",
                1 => "EYEO",
                2 => "EYEM",
                3 => "BER",
                4 => "EYEC_VN",
                5 => "EYEC_VP",
                6 => "EYEM_VN",
                _ => "EYEM_VP",
            }
        }
    }

    /// The 16 nm page (ConnectX-6 Dx): the lane's grade and the eye's opening, in mV of
    /// height and ps of phase either side of its centre (as mlxlink prints them).
    pub mod nm16 {
        use super::super::{Field, f};
        /// The lane rate the grade was measured at (5 EDR/25G, 6 HDR/50G, ...).
        pub const GRADE_LANE_SPEED: Field = f(1, 3, 0);
        pub const GRADE_VERSION: Field = f(2, 31, 24);
        pub const GRADE: Field = f(2, 23, 0);
        pub const HEIGHT_EO_POS_UP: Field = f(3, 31, 16);
        pub const HEIGHT_EO_NEG_UP: Field = f(3, 15, 0);
        pub const PHASE_EO_POS_UP: Field = f(4, 31, 24);
        pub const PHASE_EO_NEG_UP: Field = f(4, 23, 16);
        pub const HEIGHT_EO_POS_MID: Field = f(4, 15, 0);
        pub const HEIGHT_EO_NEG_MID: Field = f(5, 31, 16);
        pub const PHASE_EO_POS_MID: Field = f(5, 15, 8);
        pub const PHASE_EO_NEG_MID: Field = f(5, 7, 0);
        pub const HEIGHT_EO_POS_LOW: Field = f(6, 31, 16);
        pub const HEIGHT_EO_NEG_LOW: Field = f(6, 15, 0);
        pub const PHASE_EO_POS_LOW: Field = f(7, 31, 24);
        pub const PHASE_EO_NEG_LOW: Field = f(7, 23, 16);
        pub const MID_EYE_GRADE: Field = f(8, 31, 16);
        pub const UP_EYE_GRADE: Field = f(8, 15, 0);
        pub const DN_EYE_GRADE: Field = f(9, 15, 0);
    }
}

/// `pddr_reg` (256 bytes) and its troubleshooting page (page data at byte 8).
pub mod pddr {
    use super::{Field, f};
    pub const LOCAL_PORT: Field = f(0, 23, 16);
    pub const PAGE_SELECT: Field = f(1, 7, 0);
    /// page_select value of the troubleshooting page.
    pub const PAGE_TROUBLESHOOTING: u32 = 1;
    pub const GROUP_OPCODE: Field = f(2, 15, 0);
    /// `status_opcode.monitor_opcode`.
    pub const MONITOR_OPCODE: Field = f(3, 15, 0);
    /// `status_message`: 59 dwords of ASCII.
    pub const STATUS_MESSAGE_BYTE: usize = 20;
    /// Its length.
    pub const STATUS_MESSAGE_LEN: usize = 236;
}

/// `mtcap_reg` (16 bytes).
pub mod mtcap {
    use super::{Field, f};
    pub const SENSOR_COUNT: Field = f(0, 6, 0);
    /// `sensor_map`, a u64 at this byte.
    pub const SENSOR_MAP_BYTE: usize = 8;
}

/// `mtmp_reg` (32 bytes); temperatures in 0.125 °C.
pub mod mtmp {
    use super::{Field, f};
    pub const SENSOR_INDEX: Field = f(0, 11, 0);
    pub const TEMPERATURE: Field = f(1, 15, 0);
    pub const MTE: Field = f(2, 31, 31);
    pub const MTR: Field = f(2, 30, 30);
    pub const MAX_TEMPERATURE: Field = f(2, 15, 0);
    pub const TEE: Field = f(3, 31, 30);
    pub const TEMP_THRESHOLD_HI: Field = f(3, 15, 0);
    pub const TEMP_THRESHOLD_LO: Field = f(4, 15, 0);
    /// `sensor_name_hi` + `_lo`: 8 ASCII bytes.
    pub const SENSOR_NAME_BYTE: usize = 24;
    /// Sensor index of module 0 (module N is this + N).
    pub const MODULE_SENSOR_BASE: u32 = 64;
}

/// `mcia_reg` (144 bytes).
pub mod mcia {
    use super::{Field, f};
    pub const MODULE: Field = f(0, 23, 16);
    pub const STATUS: Field = f(0, 7, 0);
    pub const I2C_DEVICE_ADDRESS: Field = f(1, 31, 24);
    pub const PAGE_NUMBER: Field = f(1, 23, 16);
    pub const DEVICE_ADDRESS: Field = f(1, 15, 0);
    pub const SIZE: Field = f(2, 15, 0);
    /// EEPROM bytes start here.
    pub const DATA_BYTE: usize = 16;
    /// status values.
    pub const STATUS_GOOD: u32 = 0;
    /// status values.
    pub const STATUS_NOT_CONNECTED: u32 = 3;
    /// Lower I2C address (pages 00h and up; SFP A0h).
    pub const I2C_LOW: u32 = 0x50;
    /// SFP diagnostics (A2h).
    pub const I2C_HIGH: u32 = 0x51;
}

/// `mcam_reg` (72 bytes) and `pcam_reg` (80 bytes): same head.
pub mod cam {
    use super::{Field, f};
    pub const FEATURE_GROUP: Field = f(0, 23, 16);
    pub const ACCESS_REG_GROUP: Field = f(0, 7, 0);
    /// The 128-bit register mask is dwords 2..=5: register `base + n` is bit `n % 32` of
    /// dword `5 - n / 32`.
    pub const fn register_bit(n: usize) -> Field {
        let bit = (n % 32) as u32;
        Field::new(5 - (n / 32) % 4, bit, bit)
    }
    /// The 128-bit feature mask is dwords 10..=13, PRM bit order as above.
    pub const fn feature_bit(dw_in_mask: usize, bit: u32) -> Field {
        Field::new(10 + dw_in_mask, bit, bit)
    }
}

/// `mcqs_reg` (16 bytes).
pub mod mcqs {
    use super::{Field, f};
    pub const LAST_INDEX_FLAG: Field = f(0, 31, 31);
    pub const COMPONENT_INDEX: Field = f(0, 15, 0);
    pub const IDENTIFIER: Field = f(1, 15, 0);
    pub const COMPONENT_STATUS: Field = f(2, 8, 4);
    pub const COMPONENT_UPDATE_STATE: Field = f(2, 3, 0);
}

/// `mcqi_reg` (24 bytes + data) and its data layouts.
pub mod mcqi {
    use super::{Field, f};
    /// The fixed part, all a request carries.
    pub const HEAD_LEN: usize = 24;
    pub const READ_PENDING_COMPONENT: Field = f(0, 31, 31);
    pub const COMPONENT_INDEX: Field = f(0, 15, 0);
    pub const INFO_TYPE: Field = f(2, 4, 0);
    pub const INFO_SIZE: Field = f(3, 31, 0);
    pub const OFFSET: Field = f(4, 31, 0);
    pub const DATA_SIZE: Field = f(5, 15, 0);
    /// info_type values.
    pub const INFO_CAPABILITIES: u32 = 0;
    /// info_type values.
    pub const INFO_VERSION: u32 = 1;
    /// info_type values.
    pub const INFO_ACTIVATION_METHOD: u32 = 5;
    /// `mcqi_version`, relative to the data.
    pub mod version {
        use super::super::{Field, f};
        pub const LEN: usize = 0x7c;
        pub const BUILD_TIME_VALID: Field = f(0, 29, 29);
        pub const VERSION_STRING_LENGTH: Field = f(0, 7, 0);
        /// major [31:24], minor [23:16], subminor [15:0].
        pub const VERSION: Field = f(1, 31, 0);
        pub const BUILD_TIME_BYTE: usize = 8;
        pub const VERSION_STRING_BYTE: usize = 32;
        pub const VERSION_STRING_LEN: usize = 92;
    }
    /// `mcqi_cap`, relative to the data.
    pub mod cap {
        use super::super::{Field, f};
        pub const LEN: usize = 20;
        pub const SUPPORTED_INFO_BITMASK: Field = f(0, 31, 0);
        pub const COMPONENT_SIZE: Field = f(1, 31, 0);
        pub const MAX_COMPONENT_SIZE: Field = f(2, 31, 0);
        pub const LOG_MCDA_WORD_SIZE: Field = f(3, 31, 28);
        pub const MCDA_MAX_WRITE_SIZE: Field = f(3, 15, 0);
        pub const RD_EN: Field = f(4, 31, 31);
        pub const MATCH_CHIP_ID: Field = f(4, 29, 29);
        pub const MATCH_PSID: Field = f(4, 28, 28);
    }
    /// `mcqi_activation_method`, relative to the data.
    pub mod activation {
        use super::super::{Field, f};
        pub const LEN: usize = 4;
        pub const PENDING_FW_RESET: Field = f(0, 28, 28);
    }
}

/// `mpein_reg` (48 bytes).
pub mod mpein {
    use super::{Field, f};
    pub const DEPTH: Field = f(0, 29, 24);
    pub const PCIE_INDEX: Field = f(0, 23, 16);
    pub const NODE: Field = f(0, 15, 8);
    pub const LINK_WIDTH_ENABLED: Field = f(2, 23, 16);
    pub const LINK_SPEED_ENABLED: Field = f(2, 15, 0);
    pub const LINK_WIDTH_ACTIVE: Field = f(3, 23, 16);
    pub const LINK_SPEED_ACTIVE: Field = f(3, 15, 0);
    pub const NUM_OF_PFS: Field = f(4, 31, 16);
    pub const NUM_OF_VFS: Field = f(4, 15, 0);
    pub const MAX_READ_REQUEST_SIZE: Field = f(6, 31, 28);
    pub const MAX_PAYLOAD_SIZE: Field = f(6, 27, 24);
    pub const PCI_POWER: Field = f(7, 11, 0);
    pub const DEVICE_STATUS: Field = f(9, 31, 16);
    pub const PORT_STATE: Field = f(9, 15, 8);
}

/// `mpcnt_reg` with `pcie_perf_cntrs_grp_data_layout` (group 0), 256 bytes: the PCIe
/// link's error counters since the device came up.
pub mod mpcnt {
    use super::{Field, f};
    pub const PCIE_INDEX: Field = f(0, 23, 16);
    pub const GRP: Field = f(0, 5, 0);
    pub const CLR: Field = f(1, 31, 31);
    /// `grp` of the PCIe performance counters (`MLX5_PCIE_PERFORMANCE_COUNTERS_GROUP`).
    pub const GROUP_PERFORMANCE: u32 = 0x0;
    /// `life_time_counter`, a u64 at this byte (ticks since the counters started).
    pub const LIFE_TIME_BYTE: usize = 8;
    pub const RX_ERRORS: Field = f(4, 31, 0);
    pub const TX_ERRORS: Field = f(5, 31, 0);
    pub const L0_TO_RECOVERY_EIEOS: Field = f(6, 31, 0);
    pub const L0_TO_RECOVERY_TS: Field = f(7, 31, 0);
    pub const L0_TO_RECOVERY_FRAMING: Field = f(8, 31, 0);
    pub const L0_TO_RECOVERY_RETRAIN: Field = f(9, 31, 0);
    pub const CRC_ERROR_DLLP: Field = f(10, 31, 0);
    pub const CRC_ERROR_TLP: Field = f(11, 31, 0);
}

/// MGIR (0x9020, 0xa0 bytes): not in mlx5_ifc.h; layout from mstflint / mlxsw `reg.h`.
pub mod mgir {
    use super::{Field, f};
    pub const DEVICE_HW_REVISION: Field = f(0, 31, 16);
    pub const DEVICE_ID: Field = f(0, 15, 0);
    /// fw_info flags (dword 8).
    pub const SECURED: Field = f(8, 24, 24);
    pub const SIGNED_FW: Field = f(8, 25, 25);
    pub const DEBUG: Field = f(8, 26, 26);
    pub const DEV: Field = f(8, 27, 27);
    pub const BUILD_ID: Field = f(9, 31, 0);
    pub const BUILD_DATE: Field = f(10, 31, 0);
    pub const PSID_BYTE: usize = 0x30;
    pub const EXTENDED_MAJOR: Field = f(0x44 / 4, 31, 0);
    pub const EXTENDED_MINOR: Field = f(0x48 / 4, 31, 0);
    pub const EXTENDED_SUB_MINOR: Field = f(0x4c / 4, 31, 0);
}

/// `msgi` (128 bytes): the board's identity, ASCII and NUL-padded. Not in the kernel's
/// headers: mstflint's register database (`msgi_ext`).
pub mod msgi {
    pub const SERIAL_NUMBER_BYTE: usize = 0x00;
    pub const SERIAL_NUMBER_LEN: usize = 0x18;
    pub const PART_NUMBER_BYTE: usize = 0x20;
    pub const PART_NUMBER_LEN: usize = 0x14;
    pub const REVISION_BYTE: usize = 0x38;
    pub const REVISION_LEN: usize = 0x04;
    pub const PRODUCT_NAME_BYTE: usize = 0x40;
    pub const PRODUCT_NAME_LEN: usize = 0x40;
    /// Bytes of the register image.
    pub const SIZE: usize = 0x80;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_address_the_prm_bits() {
        let mut buf = [0u8; 16];
        header::OPCODE.set(&mut buf, 0x805);
        header::OP_MOD.set(&mut buf, 1);
        access_reg::REGISTER_ID.set(&mut buf, 0x9020);
        assert_eq!(&buf[..12], &[0x08, 0x05, 0, 0, 0, 0, 0, 1, 0, 0, 0x90, 0x20]);
        assert_eq!(header::OPCODE.get(&buf), 0x805);
        // Values wider than the field are cut, never spilled into neighbours.
        paos::ADMIN_STATUS.set(&mut buf, 0xff);
        assert_eq!(buf[2], 0x0f);
        assert_eq!(header::OPCODE.get(&buf), 0x805);
    }

    #[test]
    fn cam_mask_bits_follow_the_kernels_struct() {
        // mcam_access_reg_bits: mtmp (0x900a) is dword 3 bit 10 of the mask, mcqs (0x9060)
        // dword 0 bit 0; the mask starts at register dword 2.
        assert_eq!(cam::register_bit(0x0a), Field::new(5, 10, 10));
        assert_eq!(cam::register_bit(0x60), Field::new(2, 0, 0));
        // pcam: ppcnt (0x5008) is dword 3 bit 8.
        assert_eq!(cam::register_bit(0x08), Field::new(5, 8, 8));
    }

    #[test]
    fn slrg_head_is_the_kernels_and_pages_start_at_register_byte_four() {
        let mut buf = [0u8; slrg::SIZE];
        // mlx5_ifc_slrg_reg_bits: status[0x4] version[0x4] local_port[0x8] pnat[0x2]
        // reserved[0x2] lane[0x4]: bits 0-3, 4-7, 8-15, 16-17, 20-23 from the MSB.
        slrg::STATUS.set(&mut buf, slrg::STATUS_VALID);
        slrg::VERSION.set(&mut buf, slrg::VERSION_7NM);
        slrg::LOCAL_PORT.set(&mut buf, 1);
        slrg::LANE.set(&mut buf, 2);
        assert_eq!(&buf[..4], &[0x14, 0x01, 0x02, 0x00]);
        // 7 nm: fom_measurement at page 0x0.0 (byte 7), initial_fom at 0x4.0 (byte 11),
        // last/upper/mid/lower at 0x8.24/.16/.8/.0 (bytes 12-15).
        slrg::nm7::FOM_MEASUREMENT.set(&mut buf, 0xf);
        slrg::nm7::INITIAL_FOM.set(&mut buf, 0x11);
        slrg::nm7::LAST_FOM.set(&mut buf, 0x22);
        slrg::nm7::UPPER_EYE.set(&mut buf, 0x33);
        slrg::nm7::MID_EYE.set(&mut buf, 0x44);
        slrg::nm7::LOWER_EYE.set(&mut buf, 0x55);
        assert_eq!(&buf[4..16], &[0, 0, 0, 0x0f, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        // 16 nm: `grade` is where the kernel's struct has it (bits 0x48-0x5f), and the last
        // field, dn_eye_grade, ends the 40-byte register.
        let mut buf = [0u8; slrg::SIZE];
        slrg::nm16::GRADE.set(&mut buf, 0x00ab_cdef);
        assert_eq!(&buf[8..12], &[0, 0xab, 0xcd, 0xef]);
        slrg::nm16::DN_EYE_GRADE.set(&mut buf, 0xffff);
        assert_eq!(&buf[36..40], &[0, 0, 0xff, 0xff]);
    }

    #[test]
    fn short_buffers_read_zero_and_ignore_writes() {
        let mut buf = [0u8; 3];
        mgir::EXTENDED_MAJOR.set(&mut buf, 28);
        assert_eq!(buf, [0; 3]);
        assert_eq!(mgir::EXTENDED_MAJOR.get(&buf), 0);
    }
}
