//! Reading parameters: each item once (MNVQC, then its default, current and next-boot
//! copies from MNVDA), however many of its parameters are asked for.

use std::collections::BTreeMap;

use fwctl_sdk::mlx5::nvconfig::{AccessMode, Capability, ItemData, ItemType, Parameter};
use fwctl_sdk::mlx5::{Error, Mlx5};

/// One item as the device holds it.
#[derive(Clone, Debug)]
pub struct Copies {
    pub capability: Capability,
    pub default: ItemData,
    pub current: ItemData,
    pub next: ItemData,
}

/// A parameter's values, or that the device does not have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    NotSupported,
    Present { default: u32, current: u32, next: u32, writable: bool },
}

/// The items read so far, by type word (`None`: the device does not have it).
pub struct Reader<'m, 'd, 'a> {
    mlx5: &'m Mlx5<'d, 'a>,
    items: BTreeMap<ItemType, Option<Copies>>,
}

impl<'m, 'd, 'a> Reader<'m, 'd, 'a> {
    pub fn new(mlx5: &'m Mlx5<'d, 'a>) -> Self {
        Self { mlx5, items: BTreeMap::new() }
    }

    /// The item holding `p`, read on first use.
    pub fn item(&mut self, p: &Parameter) -> Result<Option<&Copies>, String> {
        let ty = p.item_type();
        if !self.items.contains_key(&ty) {
            let copies =
                read_item(self.mlx5, p).map_err(|e| format!("reading {} ({:#010x}): {e}", p.item.name, ty.0))?;
            self.items.insert(ty, copies);
        }
        Ok(self.items[&ty].as_ref())
    }

    /// `p`'s values.
    pub fn values(&mut self, p: &Parameter) -> Result<Values, String> {
        Ok(match self.item(p)? {
            None => Values::NotSupported,
            Some(c) => Values::Present {
                default: c.default.value(p),
                current: c.current.value(p),
                next: c.next.value(p),
                writable: c.capability.writable,
            },
        })
    }
}

fn read_item(mlx5: &Mlx5, p: &Parameter) -> Result<Option<Copies>, Error> {
    let ty = p.item_type();
    let capability = mlx5.nv_capability(ty)?;
    if !capability.readable {
        return Ok(None);
    }
    let read = |mode| mlx5.nv_read(p.item, ty, mode);
    Ok(Some(Copies {
        capability,
        default: read(AccessMode::Default)?,
        current: read(AccessMode::Current)?,
        next: read(AccessMode::Next)?,
    }))
}
