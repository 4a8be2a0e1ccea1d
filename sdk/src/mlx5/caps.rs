//! Decoders of query command outputs: QUERY_HCA_CAP (general capabilities),
//! QUERY_ADAPTER, QUERY_ISSI and QUERY_VPORT_STATE.

use super::bits::{get, get_ascii, get_u64};

/// Bytes of the QUERY_ADAPTER out mailbox.
pub const ADAPTER_OUT_SIZE: usize = fwctl_proto::mlx5::prm::query_adapter::OUT_LEN;
/// Bytes of the QUERY_ISSI out mailbox.
pub const ISSI_OUT_SIZE: usize = fwctl_proto::mlx5::prm::query_issi::OUT_LEN;

/// The general device capabilities a diagnostic cares about (`cmd_hca_cap`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralCaps {
    /// vhca_id.
    pub vhca_id: u16,
    /// Number of network ports.
    pub num_ports: u8,
    /// Port type: 0 InfiniBand, 1 Ethernet.
    pub port_type: u8,
    /// log2 of the QP limit.
    pub log_max_qp: u8,
    /// log2 of the CQ limit.
    pub log_max_cq: u8,
    /// log2 of the EQ limit.
    pub log_max_eq: u8,
    /// log2 of the PD limit.
    pub log_max_pd: u8,
    /// Most EQs the function may create.
    pub max_num_eqs: u16,
    /// Vport counters supported.
    pub vport_counters: bool,
    /// Debug capabilities present.
    pub debug: bool,
    /// P_Key table size (InfiniBand).
    pub pkey_table_size: u16,
    /// The function is an e-switch manager.
    pub eswitch_manager: bool,
    /// Most traffic classes.
    pub max_tc: u8,
    /// Sub-functions supported.
    pub sf: bool,
    /// General object types supported (bit mask).
    pub general_obj_types: u64,
    /// User-context capabilities (`uctx_cap`; bit 2 TOOLS_RESOURCES).
    pub uctx_cap: u32,
    /// MCAM register supported.
    pub mcam_reg: bool,
    /// PCAM register supported.
    pub pcam_reg: bool,
    /// Firmware raises temperature warning events.
    pub temp_warn_event: bool,
    /// RoCE supported.
    pub roce: bool,
    /// Core clock, MHz.
    pub device_frequency_mhz: u32,
}

impl GeneralCaps {
    /// Decodes the capability (the bytes after the 16-byte out header).
    pub fn decode(cap: &[u8]) -> Self {
        Self {
            vhca_id: get(cap, 1, 15, 0) as u16,
            num_ports: get(cap, 13, 7, 0) as u8,
            port_type: get(cap, 13, 9, 8) as u8,
            log_max_qp: get(cap, 4, 4, 0) as u8,
            log_max_cq: get(cap, 6, 4, 0) as u8,
            log_max_eq: get(cap, 7, 3, 0) as u8,
            log_max_pd: get(cap, 25, 20, 16) as u8,
            max_num_eqs: get(cap, 35, 15, 0) as u16,
            vport_counters: get(cap, 12, 30, 30) == 1,
            debug: get(cap, 12, 28, 28) == 1,
            pkey_table_size: get(cap, 12, 15, 0) as u16,
            eswitch_manager: get(cap, 13, 24, 24) == 1,
            max_tc: get(cap, 14, 19, 16) as u8,
            sf: get(cap, 52, 31, 31) == 1,
            general_obj_types: get_u64(cap, 128),
            uctx_cap: get(cap, 53, 31, 0),
            mcam_reg: get(cap, 13, 22, 22) == 1,
            pcam_reg: get(cap, 13, 21, 21) == 1,
            temp_warn_event: get(cap, 14, 15, 15) == 1,
            roce: get(cap, 16, 2, 2) == 1,
            device_frequency_mhz: get(cap, 38, 31, 0),
        }
    }

    /// `Ethernet`, `InfiniBand` or `unknown`.
    pub fn port_type_name(&self) -> &'static str {
        match self.port_type {
            0 => "InfiniBand",
            1 => "Ethernet",
            _ => "unknown",
        }
    }
}

/// QUERY_ADAPTER's identity fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// IEEE OUI of the vendor.
    pub ieee_vendor_id: u32,
    /// PCI vendor id of the VSD's author.
    pub vsd_vendor_id: u16,
    /// Vendor-specific data text.
    pub vsd: String,
    /// Parameter-set id: the board's identity.
    pub psid: String,
}

impl Adapter {
    /// Decodes the full out mailbox (272 bytes).
    pub fn decode(out: &[u8]) -> Self {
        Self {
            ieee_vendor_id: get(out, 10, 23, 0),
            vsd_vendor_id: get(out, 11, 15, 0) as u16,
            vsd: get_ascii(out, 48, 208),
            psid: get_ascii(out, 256, 16),
        }
    }
}

/// QUERY_ISSI: the interface step sequence ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issi {
    /// The ISSI in use.
    pub current: u16,
    /// Every ISSI the firmware supports, ascending.
    pub supported: Vec<u16>,
}

impl Issi {
    /// Decodes the full out mailbox (112 bytes): current at bytes 10–11, the supported
    /// bitmap at 32–111 with ISSI n at bit n counted from the end.
    pub fn decode(out: &[u8]) -> Self {
        let bitmap = out.get(32..ISSI_OUT_SIZE.min(out.len())).unwrap_or(&[]);
        let supported = (0..bitmap.len() * 8)
            .filter(|n| bitmap[bitmap.len() - 1 - n / 8] & (1 << (n % 8)) != 0)
            .map(|n| n as u16)
            .collect();
        Self { current: get(out, 2, 15, 0) as u16, supported }
    }
}

/// QUERY_VPORT_STATE: a vport's link state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VportState {
    /// Highest transmit rate (bytes 12–13; Mb/s as far as is known).
    pub max_tx_speed: u16,
    /// 0 down, 1 up, 2 follow the uplink.
    pub admin_state: u8,
    /// 0 down, 1 up.
    pub state: u8,
}

impl VportState {
    /// Decodes the 16-byte out mailbox.
    pub fn decode(out: &[u8]) -> Self {
        Self {
            max_tx_speed: get(out, 3, 31, 16) as u16,
            admin_state: get(out, 3, 7, 4) as u8,
            state: get(out, 3, 3, 0) as u8,
        }
    }

    /// The operational state is up.
    pub fn up(&self) -> bool {
        self.state == 1
    }

    /// `down`, `up`, `auto` or `unknown`, for the administrative state.
    pub fn admin_state_name(&self) -> &'static str {
        match self.admin_state {
            0 => "down",
            1 => "up",
            2 => "auto",
            _ => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::bits::set;

    #[test]
    fn general_caps_follow_the_reference_offsets() {
        let mut cap = vec![0u8; 4096];
        cap[55] = 2; // num_ports, byte 55
        cap[54] = 0x01; // port_type 1 in bits 9:8 of dword 13
        cap[53] = 0x60; // mcam_reg bit 22, pcam_reg bit 21
        set(&mut cap, 38, 31, 0, 1000);
        let caps = GeneralCaps::decode(&cap);
        assert_eq!((caps.num_ports, caps.port_type_name()), (2, "Ethernet"));
        assert!(caps.mcam_reg && caps.pcam_reg);
        assert_eq!(caps.device_frequency_mhz, 1000);
        assert_eq!((caps.vhca_id, caps.log_max_qp, caps.uctx_cap), (0, 0, 0));

        let mut cap = vec![0u8; 4096];
        cap[6..8].copy_from_slice(&0x0007u16.to_be_bytes()); // vhca_id
        cap[19] = 0x12; // log_max_qp 18 (bits 4:0)
        cap[48] = 0x50; // vport_counters (30) and debug (28)
        cap[52] = 0x01; // eswitch_manager, dw13[24]
        cap[57] = 0x08; // max_tc, dw14[19:16]
        cap[58] = 0x80; // temp_warn_event, dw14[15]
        cap[67] = 0x04; // roce, dw16[2]
        cap[208] = 0x80; // sf
        set(&mut cap, 53, 31, 0, 0x4); // uctx_cap TOOLS_RESOURCES
        let caps = GeneralCaps::decode(&cap);
        assert_eq!((caps.vhca_id, caps.log_max_qp, caps.max_tc), (7, 18, 8));
        assert!(
            caps.vport_counters && caps.debug && caps.eswitch_manager && caps.temp_warn_event && caps.roce && caps.sf
        );
        assert_eq!((caps.num_ports, caps.port_type_name(), caps.uctx_cap), (0, "InfiniBand", 4));
    }

    #[test]
    fn issi_and_vport_state_decode() {
        let mut out = vec![0u8; ISSI_OUT_SIZE];
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
        out[111] = 0b11; // ISSI 0 and 1
        let issi = Issi::decode(&out);
        assert_eq!((issi.current, issi.supported), (1, vec![0, 1]));

        let mut out = [0u8; 16];
        out[12..14].copy_from_slice(&25_000u16.to_be_bytes());
        out[15] = 0x21; // admin auto, state up
        let v = VportState::decode(&out);
        assert_eq!((v.max_tx_speed, v.admin_state_name(), v.up()), (25_000, "auto", true));
    }

    #[test]
    fn adapter_psid_is_at_byte_256() {
        let mut out = vec![0u8; 272];
        out[256..269].copy_from_slice(b"MT_0000000834");
        out[41..44].copy_from_slice(&[0x00, 0x02, 0xc9]);
        let a = Adapter::decode(&out);
        assert_eq!(a.psid, "MT_0000000834");
        assert_eq!(a.ieee_vendor_id, 0x0002c9);
    }
}

/// QUERY_VPORT_COUNTER input bytes.
pub const VPORT_COUNTER_IN_SIZE: usize = fwctl_proto::mlx5::prm::query_vport_counter::IN_LEN;
/// QUERY_VPORT_COUNTER output bytes.
pub const VPORT_COUNTER_OUT_SIZE: usize = fwctl_proto::mlx5::prm::query_vport_counter::OUT_LEN;

/// One `traffic_counter` block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub octets: u64,
}

/// QUERY_VPORT_COUNTER: a vport's traffic, in the order of `query_vport_counter_out`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VportCounters {
    /// Received with errors.
    pub received_errors: Traffic,
    /// Transmit errors.
    pub transmit_errors: Traffic,
    /// InfiniBand unicast received / sent.
    pub ib_unicast: [Traffic; 2],
    /// InfiniBand multicast received / sent.
    pub ib_multicast: [Traffic; 2],
    /// Ethernet broadcast received / sent.
    pub eth_broadcast: [Traffic; 2],
    /// Ethernet unicast received / sent.
    pub eth_unicast: [Traffic; 2],
    /// Ethernet multicast received / sent.
    pub eth_multicast: [Traffic; 2],
    /// Local loopback.
    pub local_loopback: Traffic,
}

impl VportCounters {
    /// Decodes a QUERY_VPORT_COUNTER output mailbox (13 blocks from byte 16).
    pub fn decode(out: &[u8]) -> Self {
        let block = |n: usize| Traffic { packets: get_u64(out, 16 + n * 16), octets: get_u64(out, 16 + n * 16 + 8) };
        Self {
            received_errors: block(0),
            transmit_errors: block(1),
            ib_unicast: [block(2), block(3)],
            ib_multicast: [block(4), block(5)],
            eth_broadcast: [block(6), block(7)],
            eth_unicast: [block(8), block(9)],
            eth_multicast: [block(10), block(11)],
            local_loopback: block(12),
        }
    }
}

#[cfg(test)]
mod vport_counter_tests {
    use super::*;
    use crate::mlx5::bits::set_u64;

    #[test]
    fn blocks_decode_in_reference_order() {
        let mut out = [0u8; VPORT_COUNTER_OUT_SIZE];
        set_u64(&mut out, 16, 7); // received_errors.packets
        set_u64(&mut out, 16 + 9 * 16 + 8, 1_000_000); // transmitted eth unicast octets
        set_u64(&mut out, 16 + 12 * 16, 3); // local loopback packets
        let c = VportCounters::decode(&out);
        assert_eq!((c.received_errors.packets, c.eth_unicast[1].octets, c.local_loopback.packets), (7, 1_000_000, 3));
    }
}
