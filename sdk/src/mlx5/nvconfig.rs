//! Non-volatile configuration, what `mlxconfig` queries and sets: read an item's
//! default, current or next-boot value (MNVDA), ask whether it can be written (MNVQC),
//! write its next-boot value (MNVDA at configuration scope).
//!
//! The layouts, items and parameters, each with its public source (the kernel's
//! `nv_param.c`, mstflint's register layouts and mlxconfig database), are
//! [`fwctl_proto::mlx5::nvconfig`], re-exported here. A write is a state change: the
//! plugin's manifest must list MNVDA (0x9024) in `access-reg-write`, and the operator's
//! policy must grant writes on mlx5 (`writes = ["mlx5"]`), or the host refuses it before
//! it reaches the device.

pub use fwctl_proto::mlx5::nvconfig::{
    AccessMode, Class, GLOBAL_PCI_CAP, ITEMS, Item, ItemType, PARAMETERS, Parameter, Values, WRITER_ID_MLXCONFIG,
    global_pci_cap, parameter,
};
use fwctl_proto::mlx5::nvconfig::{HEADER_LEN, MNVDA_SIZE, MNVQC_SIZE, header, mnvqc};

use super::registers::{MNVDA, MNVQC};
use super::{Error, HEADER, Mailbox, Mlx5, opcode};
use crate::Scope;

/// ACCESS_REG `op_mod` of a write.
const ACCESS_REG_WRITE: u16 = 0;

/// What firmware supports of one item (MNVQC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// The item can be read: firmware has it.
    pub readable: bool,
    /// The item can be written.
    pub writable: bool,
    /// The highest layout version firmware supports.
    pub version: u32,
}

/// One copy of an item's data, as MNVDA returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemData {
    /// The item's data, as long as the header's length says.
    pub data: Vec<u8>,
    /// The layout version firmware reported.
    pub version: u32,
}

impl ItemData {
    /// `p`'s value in this data.
    pub fn value(&self, p: &Parameter) -> u32 {
        p.field.get(&self.data)
    }
}

/// The MNVDA image that asks for item `ty` (`length` bytes of data, `mode`'s copy).
fn mnvda_image(ty: ItemType, length: usize, mode: AccessMode) -> Vec<u8> {
    let mut image = vec![0u8; MNVDA_SIZE];
    header::TYPE.set(&mut image, ty.0);
    header::LENGTH.set(&mut image, length as u32);
    header::ACCESS_MODE.set(&mut image, mode as u32);
    image
}

impl Mlx5<'_, '_> {
    /// MNVQC for item `ty`.
    pub fn nv_capability(&self, ty: ItemType) -> Result<Capability, Error> {
        let r = self.read_register(MNVQC, MNVQC_SIZE, |r| mnvqc::TYPE.set(r, ty.0))?;
        Ok(Capability {
            readable: mnvqc::SUPPORT_RD.is_set(&r),
            writable: mnvqc::SUPPORT_WR.is_set(&r),
            version: mnvqc::VERSION.get(&r),
        })
    }

    /// MNVDA read of `item` (addressed by `ty`): the copy `mode` names.
    pub fn nv_read(&self, item: &Item, ty: ItemType, mode: AccessMode) -> Result<ItemData, Error> {
        let r = self.read_register(MNVDA, MNVDA_SIZE, |r| r.copy_from_slice(&mnvda_image(ty, item.size, mode)))?;
        let length = (header::LENGTH.get(&r) as usize).min(MNVDA_SIZE - HEADER_LEN);
        Ok(ItemData { data: r[HEADER_LEN..HEADER_LEN + length].to_vec(), version: header::VERSION.get(&r) })
    }

    /// MNVDA write of `data`, `item`'s whole next-boot value, as mlxconfig writes it
    /// (its writer id, overriding lower priorities). Sent at configuration scope, the
    /// kernel's scope for register writes.
    pub fn nv_write(&self, item: &Item, ty: ItemType, data: &[u8]) -> Result<(), Error> {
        let mut image = mnvda_image(ty, data.len(), AccessMode::Next);
        header::VERSION.set(&mut image, item.version);
        header::WRITER_ID.set(&mut image, WRITER_ID_MLXCONFIG);
        header::OVR_EN.set(&mut image, 1);
        image[HEADER_LEN..HEADER_LEN + data.len()].copy_from_slice(data);
        let mut input = Mailbox::new(opcode::ACCESS_REG, ACCESS_REG_WRITE)
            .with_len(HEADER + MNVDA_SIZE)
            .set(2, 15, 0, u32::from(MNVDA))
            .into_bytes();
        input[HEADER..].copy_from_slice(&image);
        self.command_at(Scope::Configuration, &input, HEADER + MNVDA_SIZE).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_image_carries_the_type_length_and_mode() {
        let image = mnvda_image(ItemType::per_port(2, 0x12), 4, AccessMode::Default);
        assert_eq!(&image[..8], &[0x00, 0x80, 0x00, 0x04, 0x01, 0x02, 0x00, 0x12]);
        assert_eq!(image.len(), MNVDA_SIZE);
    }
}
