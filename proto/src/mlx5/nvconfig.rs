//! Non-volatile configuration: the registers that read and write it (MNVDA, MNVQC,
//! MNVIA), the configuration items (TLVs) it is made of, and the mlxconfig parameters
//! this project knows, with where each fact comes from.
//!
//! Sources, all public:
//! - MNVDA (0x9024), its 12-byte `config_item` header and the items `nv_global_pci_conf`
//!   (class 0, 0x80), `nv_global_pci_cap` (class 0, 0x81), `nv_sw_offload_conf` (class 0,
//!   0x10a) and `nv_pf_pci_conf` (class 3, 0x80): Linux 7.3,
//!   `drivers/net/ethernet/mellanox/mlx5/core/lib/nv_param.c` (the kernel's own devlink
//!   parameters over MNVDA), id in `include/linux/mlx5/driver.h`.
//! - MNVQC (0x9030, 8 bytes: `reg_access_hca_mnvqc_reg_ext`) and MNVIA (0x9033, 8 bytes:
//!   `reg_access_hca_mnvia_reg_ext`): mstflint, `tools_layouts/reg_access_hca_layouts.h`,
//!   ids in `reg_access/reg_access.c`.
//! - The per-port item `nv_vpi_link_type` (class 1, 0x12, 4 bytes; `default_link_type`
//!   bits 3:2, IB 1, ETH 2), the per-port type word (`tools_open_per_port_type`) and the
//!   mlxconfig names and value names of every parameter: mstflint's mlxconfig database
//!   (`mlxconfig/mlxconfig_dbs/mlxconfig_host.db`, table `params`) and
//!   `tools_layouts/tools_open_layouts.h`.
//!
//! Bit positions are those of the kernel's `mlx5_ifc_*_bits` structs (dword, high bit, low
//! bit, bit 31 the most significant of a big-endian dword); mstflint's agree wherever
//! both describe a field.

use super::prm::Field;

/// Bytes of the `config_item` header that starts MNVDA.
pub const HEADER_LEN: usize = 12;
/// Bytes of item data MNVDA carries at most.
pub const DATA_MAX: usize = 256;
/// Bytes of the MNVDA register image: header and the largest item.
pub const MNVDA_SIZE: usize = HEADER_LEN + DATA_MAX;
/// Bytes of the MNVQC register image.
pub const MNVQC_SIZE: usize = 8;
/// Bytes of the MNVIA register image.
pub const MNVIA_SIZE: usize = 8;

/// `mlx5_ifc_config_item_bits`: the header of MNVDA (and of MNVDI).
pub mod header {
    use super::Field;
    /// Who set the stored value: 0 user, 1 OEM, 3 Mellanox (read only).
    pub const PRIORITY: Field = Field::new(0, 29, 28);
    /// Overrides a value of lower priority.
    pub const OVR_EN: Field = Field::new(0, 25, 25);
    /// Read enable.
    pub const RD_EN: Field = Field::new(0, 24, 24);
    /// Which value a read returns: see [`super::AccessMode`].
    pub const ACCESS_MODE: Field = Field::new(0, 23, 22);
    /// The tool that writes (mlxconfig writes 9, `ICMD_mlxconfig`).
    pub const WRITER_ID: Field = Field::new(0, 20, 16);
    /// The item's layout version.
    pub const VERSION: Field = Field::new(0, 15, 12);
    /// Bytes of item data that follow the header.
    pub const LENGTH: Field = Field::new(0, 8, 0);
    /// The item's type word (see [`super::ItemType`]).
    pub const TYPE: Field = Field::new(1, 31, 0);
}

/// `reg_access_hca_mnvqc_reg_ext`: what firmware supports of one item.
pub mod mnvqc {
    use super::Field;
    /// In: the item's type word.
    pub const TYPE: Field = Field::new(0, 31, 0);
    /// Out: the item can be read.
    pub const SUPPORT_RD: Field = Field::new(1, 0, 0);
    /// Out: the item can be written.
    pub const SUPPORT_WR: Field = Field::new(1, 1, 1);
    /// Out: the highest layout version firmware supports.
    pub const VERSION: Field = Field::new(1, 7, 4);
}

/// `reg_access_hca_mnvia_reg_ext`: invalidate (reset to default) stored values.
pub mod mnvia {
    use super::Field;
    /// 0: every non-volatile parameter (the only target defined).
    pub const TARGET: Field = Field::new(0, 2, 0);
    /// The writer, as in the MNVDA header.
    pub const WRITER_ID: Field = Field::new(0, 8, 4);
}

/// `writer_id` of mlxconfig (`ICMD_mlxconfig`), which this project writes as too.
pub const WRITER_ID_MLXCONFIG: u32 = 9;

/// Which value an MNVDA read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessMode {
    /// The value the device boots with next (what a write changes).
    Next = 0,
    /// The value the device runs with now.
    Current = 1,
    /// The factory default.
    Default = 2,
}

impl AccessMode {
    /// The mode a header field value names.
    pub fn from_bits(bits: u32) -> Option<Self> {
        [Self::Next, Self::Current, Self::Default].into_iter().find(|m| *m as u32 == bits)
    }
}

/// A configuration item's type word: class in bits 31:24, the rest by class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemType(pub u32);

impl ItemType {
    /// Class 0, global: `parameter_index` in bits 23:0.
    pub const fn global(index: u32) -> Self {
        Self(index & 0x00ff_ffff)
    }
    /// Class 1, per physical port: port (from 1) in bits 23:16, index in 15:0.
    pub const fn per_port(port: u8, index: u32) -> Self {
        Self(1 << 24 | (port as u32) << 16 | (index & 0xffff))
    }
    /// Class 3, per host PF: this host's own PF (host and PF index 0), index in 9:0.
    pub const fn per_host_pf(index: u32) -> Self {
        Self(3 << 24 | (index & 0x3ff))
    }
    /// The class.
    pub const fn class(self) -> u8 {
        (self.0 >> 24) as u8
    }
}

/// How an item is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// One per device.
    Global,
    /// One per physical port.
    PerPort,
    /// One per PF of this host.
    PerHostPf,
}

/// One configuration item (TLV) this project knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its name in the kernel and mstflint (`nv_global_pci_conf`).
    pub name: &'static str,
    /// How it is addressed.
    pub class: Class,
    /// Its parameter index within the class.
    pub index: u32,
    /// Bytes of its data.
    pub size: usize,
    /// Its layout version.
    pub version: u32,
    /// A capability: firmware reports it, nothing writes it.
    pub capability: bool,
}

impl Item {
    /// The type word of this item (for a per-port item, of port `port`, from 1).
    pub const fn type_word(&self, port: u8) -> ItemType {
        match self.class {
            Class::Global => ItemType::global(self.index),
            Class::PerPort => ItemType::per_port(port, self.index),
            Class::PerHostPf => ItemType::per_host_pf(self.index),
        }
    }
}

/// `nv_global_pci_conf`: SR-IOV and the PCI functions (12 bytes).
pub const GLOBAL_PCI_CONF: Item =
    Item { name: "nv_global_pci_conf", class: Class::Global, index: 0x80, size: 12, version: 0, capability: false };
/// `nv_global_pci_cap`: what the device can do about SR-IOV (20 bytes, read only).
pub const GLOBAL_PCI_CAP: Item =
    Item { name: "nv_global_pci_cap", class: Class::Global, index: 0x81, size: 20, version: 0, capability: true };
/// `nv_sw_offload_conf`: offload settings, CQE compression among them (8 bytes).
pub const SW_OFFLOAD_CONF: Item =
    Item { name: "nv_sw_offload_conf", class: Class::Global, index: 0x10a, size: 8, version: 1, capability: false };
/// `nv_vpi_link_type`: what a VPI port speaks (4 bytes, per port).
pub const VPI_LINK_TYPE: Item =
    Item { name: "nv_vpi_link_type", class: Class::PerPort, index: 0x12, size: 4, version: 0, capability: false };
/// `nv_pf_pci_conf`: this PF's functions (16 bytes).
pub const PF_PCI_CONF: Item =
    Item { name: "nv_pf_pci_conf", class: Class::PerHostPf, index: 0x80, size: 16, version: 0, capability: false };

/// Every item known here.
pub const ITEMS: &[Item] = &[GLOBAL_PCI_CONF, GLOBAL_PCI_CAP, SW_OFFLOAD_CONF, VPI_LINK_TYPE, PF_PCI_CONF];

/// The item a type word names, and the port for a per-port one.
pub fn item_of(ty: ItemType) -> Option<(&'static Item, u8)> {
    ITEMS.iter().find_map(|item| match item.class {
        Class::PerPort if ty.class() == 1 && ty.0 & 0xffff == item.index => Some((item, (ty.0 >> 16) as u8)),
        Class::PerPort => None,
        _ => (item.type_word(0) == ty).then_some((item, 0)),
    })
}

/// Fields of `nv_global_pci_cap` (offsets in the item's data).
pub mod global_pci_cap {
    use super::Field;
    /// `max_vfs_per_pf` is meaningful.
    pub const MAX_VFS_PER_PF_VALID: Field = Field::new(0, 31, 31);
    /// SR-IOV can be configured per PF.
    pub const PER_PF_TOTAL_VF_SUPPORTED: Field = Field::new(0, 11, 11);
    /// The device supports SR-IOV.
    pub const SRIOV_SUPPORT: Field = Field::new(1, 31, 31);
    /// The most VFs one PF may have.
    pub const MAX_VFS_PER_PF: Field = Field::new(1, 15, 0);
}

/// Fields of `nv_global_pci_conf` that qualify others.
pub mod global_pci_conf {
    use super::Field;
    /// `sriov_en` and `total_vfs` are set (mlxconfig sets it when writing either).
    pub const SRIOV_VALID: Field = Field::new(0, 31, 31);
}

/// Fields of `nv_pf_pci_conf` that qualify others.
pub mod pf_pci_conf {
    use super::Field;
    /// `total_sf` and `log_sf_bar_size` are set.
    pub const PF_TOTAL_SF_EN: Field = Field::new(0, 23, 23);
}

/// The values a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// `True` / `False` (1 / 0), as mlxconfig prints them.
    Boolean,
    /// A number up to the field's width.
    Number,
    /// Named values, as mlxconfig prints them: `(name, value)`.
    Named(&'static [(&'static str, u32)]),
}

/// One mlxconfig parameter: a field of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// mlxconfig's name (`SRIOV_EN`, `LINK_TYPE_P1`).
    pub name: &'static str,
    /// The item that holds it.
    pub item: &'static Item,
    /// For a per-port item, the port (from 1).
    pub port: u8,
    /// Where it sits in the item's data.
    pub field: Field,
    /// A bit the writer sets with it, telling firmware the field is meant.
    pub valid: Option<Field>,
    /// What values it takes.
    pub values: Values,
    /// One line on what it does.
    pub about: &'static str,
}

impl Parameter {
    /// The value `text` names (`True`, `ETH`, `8`; names case-insensitively), or why not.
    pub fn parse(&self, text: &str) -> Result<u32, String> {
        let max = self.field.max();
        let parsed = match self.values {
            Values::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(1),
                "false" | "0" => Some(0),
                _ => None,
            },
            Values::Number => text.parse::<u32>().ok().filter(|&n| n <= max),
            Values::Named(names) => names
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(text))
                .map(|&(_, value)| value)
                .or_else(|| text.parse::<u32>().ok().filter(|v| names.iter().any(|(_, n)| n == v))),
        };
        parsed.ok_or_else(|| format!("{} takes {}, not `{text}`", self.name, self.describe_values()))
    }

    /// `value` as mlxconfig prints it (`True`, `ETH(2)`, `8`).
    pub fn show(&self, value: u32) -> String {
        match self.values {
            Values::Boolean => if value != 0 { "True" } else { "False" }.to_string(),
            Values::Number => value.to_string(),
            Values::Named(names) => match names.iter().find(|(_, n)| *n == value) {
                Some((name, _)) => format!("{name}({value})"),
                None => format!("unknown({value})"),
            },
        }
    }

    /// What values it takes, in words.
    pub fn describe_values(&self) -> String {
        match self.values {
            Values::Boolean => "True or False".into(),
            Values::Number => format!("a number from 0 to {}", self.field.max()),
            Values::Named(names) => {
                let names: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
                format!("one of {}", names.join(", "))
            }
        }
    }

    /// The type word of its item.
    pub fn item_type(&self) -> ItemType {
        self.item.type_word(self.port)
    }
}

/// `LINK_TYPE` values: what the port speaks.
const LINK_TYPES: &[(&str, u32)] = &[("IB", 1), ("ETH", 2)];
/// `CQE_COMPRESSION` values.
const CQE_COMPRESSION: &[(&str, u32)] = &[("BALANCED", 0), ("AGGRESSIVE", 1)];

/// The parameters this project reads and writes, in mlxconfig's names: SR-IOV, scalable
/// functions, CQE compression and the VPI port link types.
pub const PARAMETERS: &[Parameter] = &[
    Parameter {
        name: "SRIOV_EN",
        item: &GLOBAL_PCI_CONF,
        port: 0,
        field: Field::new(1, 31, 31),
        valid: Some(global_pci_conf::SRIOV_VALID),
        values: Values::Boolean,
        about: "SR-IOV virtual functions are offered",
    },
    Parameter {
        name: "NUM_OF_VFS",
        item: &GLOBAL_PCI_CONF,
        port: 0,
        field: Field::new(1, 15, 0),
        valid: Some(global_pci_conf::SRIOV_VALID),
        values: Values::Number,
        about: "virtual functions per PF",
    },
    Parameter {
        name: "PER_PF_NUM_SF",
        item: &GLOBAL_PCI_CONF,
        port: 0,
        field: Field::new(0, 20, 20),
        valid: None,
        values: Values::Boolean,
        about: "scalable functions are configured per PF",
    },
    Parameter {
        name: "PF_TOTAL_SF",
        item: &PF_PCI_CONF,
        port: 0,
        field: Field::new(0, 15, 0),
        valid: Some(pf_pci_conf::PF_TOTAL_SF_EN),
        values: Values::Number,
        about: "scalable functions of this PF",
    },
    Parameter {
        name: "PF_SF_BAR_SIZE",
        item: &PF_PCI_CONF,
        port: 0,
        field: Field::new(0, 31, 24),
        valid: Some(pf_pci_conf::PF_TOTAL_SF_EN),
        values: Values::Number,
        about: "log2 of the BAR size of each scalable function, in 4 KiB pages",
    },
    Parameter {
        name: "CQE_COMPRESSION",
        item: &SW_OFFLOAD_CONF,
        port: 0,
        field: Field::new(0, 2, 0),
        valid: None,
        values: Values::Named(CQE_COMPRESSION),
        about: "completion queue entry compression",
    },
    Parameter {
        name: "LINK_TYPE_P1",
        item: &VPI_LINK_TYPE,
        port: 1,
        field: Field::new(0, 3, 2),
        valid: None,
        values: Values::Named(LINK_TYPES),
        about: "what port 1 speaks (VPI adapters)",
    },
    Parameter {
        name: "LINK_TYPE_P2",
        item: &VPI_LINK_TYPE,
        port: 2,
        field: Field::new(0, 3, 2),
        valid: None,
        values: Values::Named(LINK_TYPES),
        about: "what port 2 speaks (VPI adapters)",
    },
];

/// The parameter named `name` (case-insensitively).
pub fn parameter(name: &str) -> Option<&'static Parameter> {
    PARAMETERS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_words_are_the_ones_mlxconfig_and_the_kernel_send() {
        assert_eq!(GLOBAL_PCI_CONF.type_word(0), ItemType(0x0000_0080));
        assert_eq!(SW_OFFLOAD_CONF.type_word(0), ItemType(0x0000_010a));
        assert_eq!(PF_PCI_CONF.type_word(0), ItemType(0x0300_0080));
        assert_eq!(parameter("link_type_p1").unwrap().item_type(), ItemType(0x0101_0012));
        assert_eq!(parameter("LINK_TYPE_P2").unwrap().item_type(), ItemType(0x0102_0012));
    }

    #[test]
    fn every_type_word_finds_its_item_and_port_again() {
        for p in PARAMETERS {
            assert_eq!(item_of(p.item_type()), Some((p.item, p.port)), "{}", p.name);
        }
        assert_eq!(item_of(ItemType(0x0000_0099)), None);
        assert_eq!(item_of(ItemType(0x0100_0080)), None, "class 1 has no item 0x80 here");
    }

    #[test]
    fn every_field_fits_its_item() {
        for p in PARAMETERS {
            let mut data = vec![0u8; p.item.size];
            p.field.set(&mut data, u32::MAX);
            assert_eq!(p.field.get(&data), p.field.max(), "{} lies inside {} bytes", p.name, p.item.size);
        }
    }

    #[test]
    fn values_parse_and_show_as_mlxconfig_writes_them() {
        let link = parameter("LINK_TYPE_P1").unwrap();
        assert_eq!(link.parse("eth"), Ok(2));
        assert_eq!(link.show(2), "ETH(2)");
        assert!(link.parse("VPI").unwrap_err().contains("one of IB, ETH"));
        let vfs = parameter("NUM_OF_VFS").unwrap();
        assert_eq!(vfs.parse("16"), Ok(16));
        assert!(vfs.parse("70000").unwrap_err().contains("0 to 65535"));
        let sriov = parameter("SRIOV_EN").unwrap();
        assert_eq!((sriov.parse("True"), sriov.parse("0")), (Ok(1), Ok(0)));
        assert_eq!(sriov.show(1), "True");
    }

    #[test]
    fn the_header_is_the_kernels_config_item() {
        // nv_param.c: MLX5_SET_CFG_HDR_LEN for nv_global_pci_conf, type class 0 index
        // 0x80, access mode CURRENT.
        let mut h = [0u8; HEADER_LEN];
        header::LENGTH.set(&mut h, 12);
        header::ACCESS_MODE.set(&mut h, AccessMode::Current as u32);
        header::TYPE.set(&mut h, 0x80);
        assert_eq!(h, [0x00, 0x40, 0x00, 0x0c, 0, 0, 0, 0x80, 0, 0, 0, 0]);
    }
}
