//! Reading and writing the little-endian, packed layouts the CXL fwctl driver and the
//! device exchange. The opcodes, sizes, return codes and bits themselves are written down
//! once, in [`fwctl_proto::cxl`].
//!
//! Parsers take whatever bytes arrive and return `None` when there are too few, so that no
//! input can make the model index out of bounds.

pub use fwctl_proto::cxl::{
    FEAT_ENTRY, GET_FEAT_IN, GET_FEATURE, GET_SUP_FEATS_IN, GET_SUP_FEATS_OUT_HEADER, GET_SUPPORTED_FEATURES,
    OUT_PAYLOAD, OUT_STRUCT, RPC_HEADER, SET_FEAT_HEADER, SET_FEATURE, effects, flags, rc,
};

/// Set Feature flags (`enum cxl_set_feat_flag_data_transfer` and friends).
pub mod set_flags {
    /// Bits 2:0: the data transfer action.
    pub const TRANSFER_MASK: u32 = 0b111;
    /// Full data transfer: all the data in one command.
    pub const FULL: u32 = 0;
    /// First part of a multi-part transfer.
    pub const INITIATE: u32 = 1;
    /// A middle part.
    pub const CONTINUE: u32 = 2;
    /// The last part; the device applies the data.
    pub const FINISH: u32 = 3;
    /// Drop the transfer in progress.
    pub const ABORT: u32 = 4;
    /// Keep the new value across resets (the saved value).
    pub const SAVED_ACROSS_RESET: u32 = 1 << 3;
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn uuid(bytes: &[u8], at: usize) -> Option<[u8; 16]> {
    bytes.get(at..at + 16)?.try_into().ok()
}

/// `struct fwctl_rpc_cxl_hdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcHeader {
    /// The whole 32-bit word; the driver keeps only the low 16 bits.
    pub opcode: u32,
    /// Not checked by the driver.
    pub flags: u32,
    /// Bytes of payload after the header.
    pub op_size: u32,
}

impl RpcHeader {
    /// Reads the header; `None` when fewer than 16 bytes arrived.
    pub fn parse(input: &[u8]) -> Option<Self> {
        if input.len() < RPC_HEADER {
            return None;
        }
        Some(Self { opcode: le32(input, 0)?, flags: le32(input, 4)?, op_size: le32(input, 8)? })
    }
}

/// Builds `struct fwctl_rpc_cxl_out` of `len` bytes: `size`, `retval`, then `payload`
/// (cut to fit; the rest zero, as the kernel's zeroed allocation is).
pub fn rpc_out(size: u32, retval: u32, payload: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.max(OUT_PAYLOAD)];
    out[0..4].copy_from_slice(&size.to_le_bytes());
    out[4..8].copy_from_slice(&retval.to_le_bytes());
    let room = out.len() - OUT_PAYLOAD;
    let take = payload.len().min(room);
    out[OUT_PAYLOAD..OUT_PAYLOAD + take].copy_from_slice(&payload[..take]);
    out
}

/// `struct cxl_mbox_get_sup_feats_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetSupFeatsIn {
    /// Bytes of output the caller can take, the 8-byte header included.
    pub count: u32,
    /// Index of the first entry wanted.
    pub start_idx: u16,
}

impl GetSupFeatsIn {
    /// Reads the input; `None` when short.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        Some(Self { count: le32(payload, 0)?, start_idx: le16(payload, 4)? })
    }

    /// The 8 wire bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut b = Vec::with_capacity(GET_SUP_FEATS_IN);
        b.extend_from_slice(&self.count.to_le_bytes());
        b.extend_from_slice(&self.start_idx.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b
    }
}

/// `struct cxl_feat_entry`: one Supported Feature Entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatEntry {
    /// The Feature's UUID, in wire (text) byte order.
    pub uuid: [u8; 16],
    /// The Feature's index on the device.
    pub id: u16,
    /// Bytes Get Feature can return.
    pub get_feat_size: u16,
    /// Bytes Set Feature takes.
    pub set_feat_size: u16,
    /// Attribute flags ([`flags`]).
    pub flags: u32,
    /// Version of the Get Feature data layout.
    pub get_feat_ver: u8,
    /// Version of the Set Feature data layout.
    pub set_feat_ver: u8,
    /// Set Feature effects ([`effects`]).
    pub effects: u16,
}

impl FeatEntry {
    /// Reads a 48-byte entry; `None` when short.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < FEAT_ENTRY {
            return None;
        }
        Some(Self {
            uuid: uuid(bytes, 0)?,
            id: le16(bytes, 16)?,
            get_feat_size: le16(bytes, 18)?,
            set_feat_size: le16(bytes, 20)?,
            flags: le32(bytes, 22)?,
            get_feat_ver: *bytes.get(26)?,
            set_feat_ver: *bytes.get(27)?,
            effects: le16(bytes, 28)?,
        })
    }

    /// Appends the 48 wire bytes (reserved bytes zero).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.uuid);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.get_feat_size.to_le_bytes());
        out.extend_from_slice(&self.set_feat_size.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.push(self.get_feat_ver);
        out.push(self.set_feat_ver);
        out.extend_from_slice(&self.effects.to_le_bytes());
        out.extend_from_slice(&[0; 18]);
    }
}

/// Builds `struct cxl_mbox_get_sup_feats_out`: the 8-byte header and the entries.
pub fn get_sup_feats_out(supported_feats: u16, entries: &[FeatEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(GET_SUP_FEATS_OUT_HEADER + entries.len() * FEAT_ENTRY);
    // The callers never hold more than u16::MAX entries (supported_feats is a u16).
    out.extend_from_slice(&(entries.len().min(u16::MAX as usize) as u16).to_le_bytes());
    out.extend_from_slice(&supported_feats.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    for entry in entries {
        entry.write_to(&mut out);
    }
    out
}

/// `struct cxl_mbox_get_feat_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetFeatIn {
    /// The Feature.
    pub uuid: [u8; 16],
    /// First byte of the Feature data wanted.
    pub offset: u16,
    /// Bytes wanted.
    pub count: u16,
    /// 0 current, 1 default, 2 saved.
    pub selection: u8,
}

impl GetFeatIn {
    /// Reads the input; `None` when short.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        Some(Self {
            uuid: uuid(payload, 0)?,
            offset: le16(payload, 16)?,
            count: le16(payload, 18)?,
            selection: *payload.get(20)?,
        })
    }

    /// The 21 wire bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut b = Vec::with_capacity(GET_FEAT_IN);
        b.extend_from_slice(&self.uuid);
        b.extend_from_slice(&self.offset.to_le_bytes());
        b.extend_from_slice(&self.count.to_le_bytes());
        b.push(self.selection);
        b
    }
}

/// `struct cxl_mbox_set_feat_hdr`; the Feature data follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetFeatHeader {
    /// The Feature.
    pub uuid: [u8; 16],
    /// Transfer action and "saved across reset" ([`set_flags`]).
    pub flags: u32,
    /// Where in the Feature data this part goes.
    pub offset: u16,
    /// Version of the data layout (the entry's `set_feat_ver`).
    pub version: u8,
}

impl SetFeatHeader {
    /// Reads the header; `None` when shorter than 32 bytes.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        if payload.len() < SET_FEAT_HEADER {
            return None;
        }
        Some(Self {
            uuid: uuid(payload, 0)?,
            flags: le32(payload, 16)?,
            offset: le16(payload, 20)?,
            version: *payload.get(22)?,
        })
    }

    /// The 32 header bytes followed by `data` (reserved bytes zero).
    pub fn with_data(self, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(SET_FEAT_HEADER + data.len());
        b.extend_from_slice(&self.uuid);
        b.extend_from_slice(&self.flags.to_le_bytes());
        b.extend_from_slice(&self.offset.to_le_bytes());
        b.push(self.version);
        b.extend_from_slice(&[0; 9]);
        b.extend_from_slice(data);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_the_uapi_sizes_and_offsets() {
        let entry = FeatEntry {
            uuid: [0xff; 16],
            id: 0x0102,
            get_feat_size: 4,
            set_feat_size: 4,
            flags: 0x61,
            get_feat_ver: 1,
            set_feat_ver: 1,
            effects: 0x201,
        };
        let mut bytes = Vec::new();
        entry.write_to(&mut bytes);
        assert_eq!(bytes.len(), FEAT_ENTRY);
        assert_eq!(&bytes[16..30], &[0x02, 0x01, 4, 0, 4, 0, 0x61, 0, 0, 0, 1, 1, 0x01, 0x02]);
        assert!(bytes[30..].iter().all(|b| *b == 0));
        assert_eq!(FeatEntry::parse(&bytes), Some(entry));
        assert_eq!(FeatEntry::parse(&bytes[..47]), None);

        let get = GetFeatIn { uuid: [7; 16], offset: 0x0203, count: 0x0405, selection: 2 };
        let bytes = get.to_bytes();
        assert_eq!(bytes.len(), GET_FEAT_IN);
        assert_eq!(&bytes[16..], &[3, 2, 5, 4, 2]);
        assert_eq!(GetFeatIn::parse(&bytes), Some(get));
        assert_eq!(GetFeatIn::parse(&bytes[..20]), None);

        let set = SetFeatHeader { uuid: [9; 16], flags: 0x0b, offset: 0x1234, version: 3 };
        let bytes = set.with_data(&[0xaa]);
        assert_eq!(bytes.len(), SET_FEAT_HEADER + 1);
        assert_eq!(&bytes[16..23], &[0x0b, 0, 0, 0, 0x34, 0x12, 3]);
        assert_eq!(SetFeatHeader::parse(&bytes), Some(set));
        assert_eq!(SetFeatHeader::parse(&bytes[..31]), None);

        let sup = GetSupFeatsIn { count: 56, start_idx: 1 };
        assert_eq!(sup.to_bytes(), [56, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(GetSupFeatsIn::parse(&sup.to_bytes()), Some(sup));
        assert_eq!(get_sup_feats_out(3, &[entry]).len(), 56);
    }

    #[test]
    fn the_envelope_header_and_out_struct() {
        let mut input = vec![0x00, 0x05, 0xad, 0xde, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RpcHeader::parse(&input), Some(RpcHeader { opcode: 0xdead_0500, flags: 1, op_size: 8 }));
        input.truncate(15);
        assert_eq!(RpcHeader::parse(&input), None);
        assert_eq!(rpc_out(4, 0, &[1, 2, 3, 4], 20), [4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Cut to the length asked for, never past it.
        assert_eq!(rpc_out(4, 2, &[1, 2, 3, 4], 10).len(), 10);
        assert_eq!(rpc_out(0, 0, &[], 0).len(), OUT_PAYLOAD);
    }
}
