//! QUERY_HCA_CAP (general capabilities) and QUERY_ADAPTER decoders.

use super::bits::{get, get_ascii};

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
