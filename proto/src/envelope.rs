//! What an RPC is about, read from its bytes without trusting them: the opcode and its
//! target, and how the device answered. The host's grant checks and audit trail use it;
//! every read is bounds-checked, so a short or hostile request yields `None` fields.

use crate::cxl::Uuid;

pub use crate::cxl::{GET_FEATURE as CXL_GET_FEATURE, SET_FEATURE as CXL_SET_FEATURE};
pub use crate::mlx5::commands::{ACCESS_REG as MLX5_ACCESS_REG, ACCESS_REGISTER_USER as MLX5_ACCESS_REGISTER_USER};

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// An mlx5 command mailbox, as far as its bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mlx5Request {
    /// Opcode (bytes 0–1, big-endian).
    pub opcode: u16,
    /// op_mod (bytes 6–7); for register access 1 reads and 0 writes.
    pub op_mod: u16,
    /// The register id (bytes 10–11) of an `ACCESS_REG`/`ACCESS_REGISTER_USER`.
    pub register_id: Option<u16>,
}

impl Mlx5Request {
    /// Reads the header; `None` when shorter than its 8 bytes.
    pub fn parse(request: &[u8]) -> Option<Self> {
        let opcode = be16(request, 0)?;
        let op_mod = be16(request, 6)?;
        let register_id = match opcode {
            MLX5_ACCESS_REG | MLX5_ACCESS_REGISTER_USER => be16(request, 10),
            _ => None,
        };
        Some(Self { opcode, op_mod, register_id })
    }

    /// A register access that writes (op_mod 0).
    pub fn is_register_write(&self) -> bool {
        self.register_id.is_some() && self.op_mod == 0
    }
}

/// The firmware's answer in an mlx5 out mailbox: status (byte 0) and syndrome (4–7).
pub fn mlx5_status(response: &[u8]) -> Option<(u8, u32)> {
    let status = *response.first()?;
    let syndrome = u32::from_be_bytes(response.get(4..8)?.try_into().ok()?);
    Some((status, syndrome))
}

/// A `fwctl_rpc_cxl` request, as far as its bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CxlRequest {
    /// The opcode (the driver reads the low 16 bits of the word).
    pub opcode: u16,
    /// The Feature a Get or Set Feature targets (the payload's first 16 bytes).
    pub feature: Option<Uuid>,
}

impl CxlRequest {
    /// Reads the envelope; `None` when shorter than its 16-byte header.
    pub fn parse(request: &[u8]) -> Option<Self> {
        if request.len() < 16 {
            return None;
        }
        // `struct fwctl_rpc_cxl`'s header is native-endian `__u32`s; the driver takes the
        // opcode's low 16 bits (`u16 opcode = rpc_in->opcode`).
        let opcode = u32::from_ne_bytes(request.get(0..4)?.try_into().ok()?) as u16;
        let feature = match opcode {
            CXL_GET_FEATURE | CXL_SET_FEATURE => request.get(16..32).and_then(|b| b.try_into().ok()).map(Uuid),
            _ => None,
        };
        Some(Self { opcode, feature })
    }
}

/// The mailbox return code in a `fwctl_rpc_cxl_out` (bytes 4–7).
pub fn cxl_retval(response: &[u8]) -> Option<u32> {
    le32(response, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlx5_register_accesses_are_recognised() {
        // ACCESS_REG, op_mod 1 (read), register 0x9023 (MGIR).
        let mut req = [0u8; 16];
        req[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        req[6..8].copy_from_slice(&1u16.to_be_bytes());
        req[10..12].copy_from_slice(&0x9023u16.to_be_bytes());
        let r = Mlx5Request::parse(&req).unwrap();
        assert_eq!((r.opcode, r.op_mod, r.register_id, r.is_register_write()), (0x805, 1, Some(0x9023), false));
        req[6..8].copy_from_slice(&0u16.to_be_bytes());
        assert!(Mlx5Request::parse(&req).unwrap().is_register_write());
        // Not a register access: no id even when the bytes are there.
        req[0..2].copy_from_slice(&0x100u16.to_be_bytes());
        assert_eq!(Mlx5Request::parse(&req).unwrap().register_id, None);
        // Truncated: the header cannot be read, or the register id is missing.
        assert_eq!(Mlx5Request::parse(&req[..7]), None);
        req[0..2].copy_from_slice(&0x805u16.to_be_bytes());
        assert_eq!(Mlx5Request::parse(&req[..10]).unwrap().register_id, None);
        assert_eq!(mlx5_status(&[3, 0, 0, 0, 0, 0x12, 0x34, 0x56]), Some((3, 0x123456)));
        assert_eq!(mlx5_status(&[3]), None);
    }

    #[test]
    fn cxl_features_are_recognised() {
        let mut req = vec![0u8; 16 + 32 + 4];
        req[0..4].copy_from_slice(&0x1_0502u32.to_ne_bytes()); // the top half is ignored
        req[16..32].fill(0xff);
        let r = CxlRequest::parse(&req).unwrap();
        assert_eq!((r.opcode, r.feature), (CXL_SET_FEATURE, Some(Uuid([0xff; 16]))));
        assert_eq!(CxlRequest::parse(&req[..20]).unwrap().feature, None);
        assert_eq!(CxlRequest::parse(&req[..15]), None);
        req[0..4].copy_from_slice(&0x0500u32.to_ne_bytes());
        assert_eq!(CxlRequest::parse(&req).unwrap().feature, None);
        assert_eq!(cxl_retval(&[0, 0, 0, 0, 0x16, 0, 0, 0]), Some(0x16));
    }
}
