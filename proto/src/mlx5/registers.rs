//! Access registers, and what reading each one does.
//!
//! The driver passes an ACCESS_REG read (op_mod != 0) at debug-read-only whatever the
//! register (`drivers/fwctl/mlx5/main.c` 296–300), but some "reads" change state: PPCNT
//! and MPCNT with `clr` set return the counters and reset them (the way `mlxlink -c
//! --clear` clears), MTMP with `mtr` resets the recorded maximum temperature and `mte`
//! turns its tracking on, and reading a module's latched flags through MCIA clears them
//! (so MCIA reads are plain only inside an allow-list of module memory).
//! A register not in this table is one the host cannot vouch for: its reads are treated
//! as writes. Ids are `MLX5_REG_*` of `include/linux/mlx5/driver.h` (MGIR, which the
//! kernel does not name, from mstflint's register database).

use std::fmt;

use super::commands::ClearBit;

/// Bytes 0–15 of an ACCESS_REG mailbox are the command header; the register follows.
pub const REGISTER_DATA: usize = 16;

/// What reading a register does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadEffect {
    /// Nothing: the register's state is reported as it is.
    Plain,
    /// Changes something when one of these fields of the request is set (offsets from the
    /// start of the request, register data at [`REGISTER_DATA`]): PPCNT's `clr` resets the
    /// counters, SLRG's `fom_measurement` runs a lane's eye-opening monitor. Such a read is
    /// granted as a write; with every field zero it is plain.
    ChangesWhenSet(&'static [ClearBit]),
    /// MCIA: reads a module's memory over I²C, whose latched flags clear on read.
    ModuleMemory,
}

/// One register the host knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register {
    /// Register id.
    pub id: u16,
    /// Its PRM name.
    pub name: &'static str,
    /// Bytes of its image, where the simulator and the SDK know it.
    pub size: Option<usize>,
    /// What a read does.
    pub read: ReadEffect,
}

/// `clr` at bit 0x20 of PPCNT and MPCNT (mlx5_ifc.h lines 10498 and 10559): register byte
/// 4, most significant bit.
const CLR: &[ClearBit] =
    &[ClearBit { byte: REGISTER_DATA + 4, mask: 0x80, field: "clr", does: "resets what it reports" }];
/// `mte` and `mtr` at bits 0x40 and 0x41 of MTMP (mlx5_ifc.h line 11789–11790).
const MTMP_RESETS: &[ClearBit] = &[
    ClearBit { byte: REGISTER_DATA + 8, mask: 0x80, field: "mte", does: "turns temperature tracking on" },
    ClearBit { byte: REGISTER_DATA + 8, mask: 0x40, field: "mtr", does: "resets the recorded maximum" },
];

/// SLRG's `fom_measurement` (7 nm and later pages: register byte 7, its low four bits):
/// which of a lane's eyes to measure now.
const FOM_MEASUREMENT: &[ClearBit] =
    &[ClearBit { byte: REGISTER_DATA + 7, mask: 0x0f, field: "fom_measurement", does: "starts a measurement" }];

/// `MLX5_REG_QCAM`.
pub const QCAM: u16 = 0x4019;
/// `MLX5_REG_PCAP`.
pub const PCAP: u16 = 0x5001;
/// `MLX5_REG_PMLP`.
pub const PMLP: u16 = 0x5002;
/// `MLX5_REG_PMTU`.
pub const PMTU: u16 = 0x5003;
/// Bytes of the PMTU register image.
pub const PMTU_SIZE: usize = 16;
/// `MLX5_REG_PTYS`.
pub const PTYS: u16 = 0x5004;
/// Bytes of the PTYS register image.
pub const PTYS_SIZE: usize = 64;
/// `MLX5_REG_PAOS`.
pub const PAOS: u16 = 0x5006;
/// Bytes of the PAOS register image.
pub const PAOS_SIZE: usize = 16;
/// `MLX5_REG_PFCC`.
pub const PFCC: u16 = 0x5007;
/// `MLX5_REG_PPCNT`.
pub const PPCNT: u16 = 0x5008;
/// Bytes of the PPCNT register image.
pub const PPCNT_SIZE: usize = 256;
/// `MLX5_REG_PPTB`.
pub const PPTB: u16 = 0x500b;
/// `MLX5_REG_PBMC`.
pub const PBMC: u16 = 0x500c;
/// `MLX5_REG_PMAOS`.
pub const PMAOS: u16 = 0x5012;
/// `MLX5_REG_PPLM`.
pub const PPLM: u16 = 0x5023;
/// SLRG, SerDes Lane Receive Grade: one lane's receive eye (not named by the kernel's
/// `driver.h`; its layout is `mlx5_ifc_slrg_reg_bits`, the id mstflint's register database).
pub const SLRG: u16 = 0x5028;
/// `MLX5_REG_PDDR`.
pub const PDDR: u16 = 0x5031;
/// Bytes of the PDDR register image.
pub const PDDR_SIZE: usize = 256;
/// `MLX5_REG_PCAM`.
pub const PCAM: u16 = 0x507f;
/// Bytes of the PCAM register image.
pub const PCAM_SIZE: usize = 80;
/// `MLX5_REG_MTCAP`.
pub const MTCAP: u16 = 0x9009;
/// Bytes of the MTCAP register image.
pub const MTCAP_SIZE: usize = 16;
/// `MLX5_REG_MTMP`.
pub const MTMP: u16 = 0x900a;
/// Bytes of the MTMP register image.
pub const MTMP_SIZE: usize = 32;
/// `MLX5_REG_MCIA`.
pub const MCIA: u16 = 0x9014;
/// Bytes of the MCIA register image.
pub const MCIA_SIZE: usize = 144;
/// `MLX5_REG_MGIR` (not in the kernel headers; mstflint's register database).
pub const MGIR: u16 = 0x9020;
/// Bytes of the MGIR register image.
pub const MGIR_SIZE: usize = 0xa0;
/// MSGI: the board's serial and part number (not in the kernel headers; mstflint's
/// register database).
pub const MSGI: u16 = 0x9021;
/// `MLX5_REG_MNVDA`: non-volatile configuration data (see [`super::nvconfig`]).
pub const MNVDA: u16 = 0x9024;
/// MNVQC: what firmware supports of a configuration item (mstflint's register database).
pub const MNVQC: u16 = 0x9030;
/// MNVIA: resets every stored configuration value to its default (mstflint's database).
pub const MNVIA: u16 = 0x9033;
/// `MLX5_REG_MFRL`.
pub const MFRL: u16 = 0x9028;
/// `MLX5_REG_MPEIN`.
pub const MPEIN: u16 = 0x9050;
/// Bytes of the MPEIN register image.
pub const MPEIN_SIZE: usize = 48;
/// `MLX5_REG_MPCNT`.
pub const MPCNT: u16 = 0x9051;
/// Bytes of the MPCNT register image (`mpcnt_reg`: 8 bytes, then a 248-byte counter set).
pub const MPCNT_SIZE: usize = 256;
/// `MLX5_REG_MCQS`.
pub const MCQS: u16 = 0x9060;
/// Bytes of the MCQS register image.
pub const MCQS_SIZE: usize = 16;
/// `MLX5_REG_MCQI`.
pub const MCQI: u16 = 0x9061;
/// Bytes of the MCQI register image (the 24-byte head a request carries; a reply adds the data it asks for).
pub const MCQI_SIZE: usize = 24;
/// `MLX5_REG_MCAM`.
pub const MCAM: u16 = 0x907f;
/// Bytes of the MCAM register image.
pub const MCAM_SIZE: usize = 72;

/// The first register id MCAM's capability mask describes (the 0x9000 group).
pub const MCAM_BASE: u16 = 0x9000;
/// The first register id PCAM's capability mask describes (the 0x5000 group).
pub const PCAM_BASE: u16 = 0x5000;

/// The registers the host knows, by id.
pub const REGISTERS: &[Register] = &[
    Register { id: QCAM, name: "QCAM", size: None, read: ReadEffect::Plain },
    Register { id: PCAP, name: "PCAP", size: None, read: ReadEffect::Plain },
    Register { id: PMLP, name: "PMLP", size: None, read: ReadEffect::Plain },
    Register { id: PMTU, name: "PMTU", size: Some(PMTU_SIZE), read: ReadEffect::Plain },
    Register { id: PTYS, name: "PTYS", size: Some(PTYS_SIZE), read: ReadEffect::Plain },
    Register { id: PAOS, name: "PAOS", size: Some(PAOS_SIZE), read: ReadEffect::Plain },
    Register { id: PFCC, name: "PFCC", size: None, read: ReadEffect::Plain },
    Register { id: PPCNT, name: "PPCNT", size: Some(PPCNT_SIZE), read: ReadEffect::ChangesWhenSet(CLR) },
    Register { id: PPTB, name: "PPTB", size: None, read: ReadEffect::Plain },
    Register { id: PBMC, name: "PBMC", size: None, read: ReadEffect::Plain },
    Register { id: PMAOS, name: "PMAOS", size: None, read: ReadEffect::Plain },
    Register { id: PPLM, name: "PPLM", size: Some(super::prm::pplm::SIZE), read: ReadEffect::Plain },
    Register { id: PDDR, name: "PDDR", size: Some(PDDR_SIZE), read: ReadEffect::Plain },
    Register {
        id: SLRG,
        name: "SLRG",
        size: Some(super::prm::slrg::SIZE),
        read: ReadEffect::ChangesWhenSet(FOM_MEASUREMENT),
    },
    Register { id: PCAM, name: "PCAM", size: Some(PCAM_SIZE), read: ReadEffect::Plain },
    Register { id: MTCAP, name: "MTCAP", size: Some(MTCAP_SIZE), read: ReadEffect::Plain },
    Register { id: MTMP, name: "MTMP", size: Some(MTMP_SIZE), read: ReadEffect::ChangesWhenSet(MTMP_RESETS) },
    Register { id: MCIA, name: "MCIA", size: Some(MCIA_SIZE), read: ReadEffect::ModuleMemory },
    Register { id: MGIR, name: "MGIR", size: Some(MGIR_SIZE), read: ReadEffect::Plain },
    Register { id: MSGI, name: "MSGI", size: Some(super::prm::msgi::SIZE), read: ReadEffect::Plain },
    Register { id: MNVDA, name: "MNVDA", size: Some(super::nvconfig::MNVDA_SIZE), read: ReadEffect::Plain },
    Register { id: MFRL, name: "MFRL", size: None, read: ReadEffect::Plain },
    Register { id: MNVQC, name: "MNVQC", size: Some(super::nvconfig::MNVQC_SIZE), read: ReadEffect::Plain },
    Register { id: MNVIA, name: "MNVIA", size: Some(super::nvconfig::MNVIA_SIZE), read: ReadEffect::Plain },
    Register { id: MPEIN, name: "MPEIN", size: Some(MPEIN_SIZE), read: ReadEffect::Plain },
    Register { id: MPCNT, name: "MPCNT", size: Some(MPCNT_SIZE), read: ReadEffect::ChangesWhenSet(CLR) },
    Register { id: MCQS, name: "MCQS", size: Some(MCQS_SIZE), read: ReadEffect::Plain },
    Register { id: MCQI, name: "MCQI", size: Some(MCQI_SIZE), read: ReadEffect::Plain },
    Register { id: MCAM, name: "MCAM", size: Some(MCAM_SIZE), read: ReadEffect::Plain },
];

/// The table entry of a register id.
pub fn lookup(id: u16) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.id == id)
}

/// The PRM name of a register id the host knows.
pub fn name(id: u16) -> Option<&'static str> {
    lookup(id).map(|r| r.name)
}

/// The id of a register by its PRM name.
pub fn id_of(name: &str) -> Option<u16> {
    REGISTERS.iter().find(|r| r.name == name).map(|r| r.id)
}

/// `PPCNT (0x5008)`, or `register 0x1234` for one the host does not know: written out
/// only where it is used, so classifying a plain read formats nothing.
pub fn describe(id: u16) -> Described {
    Described(id)
}

/// A register id as its name and number; see [`describe`].
#[derive(Clone, Copy, Debug)]
pub struct Described(u16);

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.0;
        match lookup(id) {
            Some(r) => write!(f, "{} ({id:#06x})", r.name),
            None => write!(f, "register {id:#06x}"),
        }
    }
}

/// Module memory a read is known to leave as it was (an allow-list: the latched flags that
/// clear on read sit outside it). Per I²C address (8-bit form), the lower memory (bytes
/// 0–127, the same whatever page is selected) and the upper pages (128–255) by page:
/// - 0x50 (A0h) lower: identifier and status (0–2) and monitors, controls and the page
///   select (22–127), but not SFF-8636's interrupt flags (3–21) nor CMIS's (8–13);
/// - 0x50 upper: SFF-8636 page 00h (serial ID) and 03h (thresholds), CMIS 00h, 01h
///   (advertising), 02h (thresholds) and 10h (lane controls), and of CMIS 11h only the
///   lane monitors (154–201), not its lane flags (134–153, clear on read), nor any page
///   this list does not name;
/// - 0x51 (A2h, SFF-8472 diagnostics) page 0: its alarm and warning flags do not latch.
const PLAIN_MODULE_MEMORY: &[(u8, Option<u8>, std::ops::RangeInclusive<u16>)] = &[
    (0x50, None, 0..=2),
    (0x50, None, 22..=127),
    (0x50, Some(0x00), 128..=255),
    (0x50, Some(0x01), 128..=255),
    (0x50, Some(0x02), 128..=255),
    (0x50, Some(0x03), 128..=255),
    (0x50, Some(0x10), 128..=255),
    (0x50, Some(0x11), 154..=201),
    (0x51, Some(0x00), 0..=255),
];

/// Whether an MCIA read request reads only module memory that does not change when read;
/// `None` when the request is too short to say. MCIA register layout (mlx5_ifc.h
/// `mcia_reg_bits`): byte 4 I²C address, 5 page, 6–7 offset, 10–11 size.
pub fn mcia_read_is_plain(request: &[u8]) -> Option<bool> {
    let field = |at: usize| request.get(REGISTER_DATA + at).copied();
    let be16 = |at: usize| Some(u16::from_be_bytes([field(at)?, field(at + 1)?]));
    let (address, page, offset, size) = (field(4)?, field(5)?, be16(6)?, be16(10)?);
    if size == 0 {
        return Some(true);
    }
    let last = u32::from(offset) + u32::from(size) - 1;
    Some(PLAIN_MODULE_MEMORY.iter().any(|(on_address, on_page, bytes)| {
        let page_matches = on_page.is_none_or(|p| p == page);
        *on_address == address
            && page_matches
            && u32::from(*bytes.start()) <= u32::from(offset)
            && last <= u32::from(*bytes.end())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mcia(address: u8, page: u8, offset: u16, size: u16) -> Vec<u8> {
        let mut r = vec![0u8; REGISTER_DATA + 16];
        r[REGISTER_DATA + 4] = address;
        r[REGISTER_DATA + 5] = page;
        r[REGISTER_DATA + 6..REGISTER_DATA + 8].copy_from_slice(&offset.to_be_bytes());
        r[REGISTER_DATA + 10..REGISTER_DATA + 12].copy_from_slice(&size.to_be_bytes());
        r
    }

    #[test]
    fn module_reads_are_plain_only_where_nothing_latches() {
        let plain = |address, page, offset, size| mcia_read_is_plain(&mcia(address, page, offset, size));
        assert_eq!(plain(0x50, 0, 0, 1), Some(true), "the identifier byte");
        assert_eq!(plain(0x50, 0, 22, 2), Some(true), "SFF-8636 temperature");
        assert_eq!(plain(0x50, 0, 0, 4), Some(false), "reaches byte 3, a latched flag");
        assert_eq!(plain(0x50, 3, 8, 1), Some(false), "lower memory, whatever the page select");
        assert_eq!(plain(0x50, 0x11, 128, 48), Some(false), "CMIS lane flags");
        assert_eq!(plain(0x50, 0x10, 128, 48), Some(true), "CMIS lane controls");
        assert_eq!(plain(0x50, 0x11, 154, 48), Some(true), "CMIS lane monitors");
        assert_eq!(plain(0x50, 0x11, 150, 8), Some(false), "CMIS lane monitors and the flags before them");
        assert_eq!(plain(0x50, 0x2c, 128, 16), Some(false), "a page the list does not name");
        assert_eq!(plain(0x50, 0, 250, 16), Some(false), "past the end of the page");
        assert_eq!(plain(0x51, 0, 0, 128), Some(true), "SFF-8472 A2h does not latch");
        assert_eq!(plain(0x52, 0, 0, 1), Some(false), "an address the list does not name");
        assert_eq!(plain(0x50, 0, 3, 0), Some(true), "nothing read");
        assert_eq!(mcia_read_is_plain(&[0u8; 8]), None, "too short to say");
    }

    #[test]
    fn clear_bits_sit_where_mlx5_ifc_puts_them() {
        let bits = |id| match lookup(id).unwrap().read {
            ReadEffect::ChangesWhenSet(bits) => bits.iter().map(|b| (b.byte, b.mask, b.field)).collect::<Vec<_>>(),
            other => panic!("{id:#x}: {other:?}"),
        };
        assert_eq!(bits(0x5008), [(20, 0x80, "clr")], "PPCNT");
        assert_eq!(bits(0x9051), [(20, 0x80, "clr")], "MPCNT");
        assert_eq!(bits(0x900a), [(24, 0x80, "mte"), (24, 0x40, "mtr")], "MTMP");
        assert_eq!(bits(0x5028), [(23, 0x0f, "fom_measurement")], "SLRG");
        assert_eq!(describe(0x5006).to_string(), "PAOS (0x5006)");
        assert_eq!(describe(0x1234).to_string(), "register 0x1234");
        let mut ids: Vec<u16> = REGISTERS.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), REGISTERS.len(), "sorted, no id twice");
    }
}
