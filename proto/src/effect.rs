//! What an RPC does to a device, read from its bytes: a read, a write (it changes device
//! state, a counter clear included), or unknown (the host cannot tell, and treats it as
//! a write). The host's grant check and audit trail both classify through here, so what
//! is refused and what is recorded can never disagree.

use std::borrow::Cow;
use std::fmt;

use crate::cxl::Uuid;
use crate::envelope::{CXL_GET_FEATURE, CXL_SET_FEATURE, CxlRequest, Mlx5Request};
use crate::mlx5::commands::{self, ACCESS_REG, ACCESS_REGISTER_USER, CommandEffect};
use crate::mlx5::registers::{self, ReadEffect};

use crate::cxl::GET_SUPPORTED_FEATURES as CXL_GET_SUPPORTED_FEATURES;

/// The three classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Reads state; changes nothing on the device.
    Read,
    /// Changes device state: a setter, a register write, a read that clears.
    Write,
    /// The host cannot tell what it does; treated as a write.
    Unknown,
}

impl Effect {
    /// `read`, `write` or `unknown`: the audit trail's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a state-changing RPC acts on: the unit a manifest declares a write by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteTarget {
    /// A command (mlx5 opcode, or a CXL opcode the host does not know).
    Opcode(u16),
    /// An mlx5 access register, written or cleared.
    Register(u16),
    /// A CXL Feature, by UUID.
    Feature(Uuid),
}

/// One RPC, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// Read, write or unknown.
    pub effect: Effect,
    /// What a write or unknown RPC acts on; `None` when the request is too short to say
    /// (such a request can never be granted).
    pub target: Option<WriteTarget>,
    /// What it does, in words: `ACCESS_REG read of PPCNT (0x5008) with \`clr\` set`. For
    /// a read, only the command (nothing is refused or recorded by it, and the per-RPC
    /// path then allocates nothing).
    pub action: Cow<'static, str>,
}

impl Classification {
    fn read(command: &'static str) -> Self {
        Self { effect: Effect::Read, target: None, action: Cow::Borrowed(command) }
    }

    fn write(target: WriteTarget, action: String) -> Self {
        Self { effect: Effect::Write, target: Some(target), action: Cow::Owned(action) }
    }

    fn unknown(target: Option<WriteTarget>, action: String) -> Self {
        Self { effect: Effect::Unknown, target, action: Cow::Owned(action) }
    }

    /// Whether it may change device state (writes and unknowns).
    pub fn changes_state(&self) -> bool {
        self.effect != Effect::Read
    }
}

/// Classifies an mlx5 command mailbox.
pub fn classify_mlx5(request: &[u8]) -> Classification {
    let Some(rpc) = Mlx5Request::parse(request) else {
        return Classification::unknown(None, "an mlx5 request shorter than its 8-byte command header".into());
    };
    if rpc.opcode == ACCESS_REG || rpc.opcode == ACCESS_REGISTER_USER {
        return classify_register_access(&rpc, request);
    }
    let opcode = rpc.opcode;
    let Some(command) = commands::lookup(opcode) else {
        return Classification::unknown(
            Some(WriteTarget::Opcode(opcode)),
            format!("mlx5 opcode {opcode:#06x}, which the mlx5 fwctl driver does not pass"),
        );
    };
    let name = command.name;
    match command.effect {
        CommandEffect::Read => Classification::read(name),
        CommandEffect::ReadClearing(bit) => match bit.is_set(request) {
            Some(false) => Classification::read(name),
            Some(true) => Classification::write(
                WriteTarget::Opcode(opcode),
                format!("{name} with `{}` set, which {}", bit.field, bit.does),
            ),
            None => Classification::unknown(
                Some(WriteTarget::Opcode(opcode)),
                format!("{name} too short to show its `{}` bit", bit.field),
            ),
        },
        CommandEffect::Write => Classification::write(WriteTarget::Opcode(opcode), name.into()),
        CommandEffect::Opaque => Classification::unknown(
            Some(WriteTarget::Opcode(opcode)),
            format!("{name}, whose input the kernel does not describe, so it may clear what it reads"),
        ),
    }
}

fn classify_register_access(rpc: &Mlx5Request, request: &[u8]) -> Classification {
    let command = commands::name(rpc.opcode).unwrap_or("ACCESS_REG");
    let Some(id) = rpc.register_id else {
        return Classification::unknown(None, format!("{command} too short to carry a register id"));
    };
    let register = registers::describe(id);
    let target = WriteTarget::Register(id);
    match rpc.op_mod {
        0 if id == registers::MNVDA && rpc.opcode == ACCESS_REG => {
            // Name the configuration item, so the record says what was provisioned.
            let at = registers::REGISTER_DATA;
            let item = request.get(at..at + crate::mlx5::nvconfig::HEADER_LEN).map(|header| {
                let ty = crate::mlx5::nvconfig::ItemType(crate::mlx5::nvconfig::header::TYPE.get(header));
                match crate::mlx5::nvconfig::item_of(ty) {
                    Some((item, 0)) => format!(", item {} ({:#010x})", item.name, ty.0),
                    Some((item, port)) => format!(", item {} of port {port} ({:#010x})", item.name, ty.0),
                    None => format!(", item {:#010x}", ty.0),
                }
            });
            Classification::write(target, format!("{command} write of {register}{}", item.unwrap_or_default()))
        }
        0 => Classification::write(target, format!("{command} write of {register}")),
        // The kernel carries no layout for ACCESS_REGISTER_USER, so its register data
        // (and any clear bit in it) cannot be located with certainty.
        1 if rpc.opcode == ACCESS_REGISTER_USER => Classification::unknown(
            Some(target),
            format!("{command} read of {register}, whose input layout the kernel does not describe"),
        ),
        1 => match registers::lookup(id).map(|r| r.read) {
            Some(ReadEffect::Plain) => Classification::read(command),
            Some(ReadEffect::ChangesWhenSet(fields)) => {
                if let Some(short) = fields.iter().find(|f| f.is_set(request).is_none()) {
                    return Classification::unknown(
                        Some(target),
                        format!("{command} read of {register} too short to show its `{}` field", short.field),
                    );
                }
                match fields.iter().find(|f| f.is_set(request) == Some(true)) {
                    Some(set) => Classification::write(
                        target,
                        format!("{command} read of {register} with `{}` set, which {}", set.field, set.does),
                    ),
                    None => Classification::read(command),
                }
            }
            Some(ReadEffect::ModuleMemory) => match registers::mcia_read_is_plain(request) {
                Some(true) => Classification::read(command),
                Some(false) => Classification::unknown(
                    Some(target),
                    format!(
                        "{command} read of {register} outside the module memory known not to clear when read \
                         (latched flags do)"
                    ),
                ),
                None => Classification::unknown(
                    Some(target),
                    format!("{command} read of {register} too short to show what it reads"),
                ),
            },
            None => Classification::unknown(
                Some(target),
                format!("{command} read of {register}, which fwctl-run cannot vouch changes nothing"),
            ),
        },
        other => Classification::unknown(Some(target), format!("{command} of {register} with op_mod {other}")),
    }
}

/// Classifies a `struct fwctl_rpc_cxl` request (the driver reads the opcode's low 16
/// bits: `drivers/cxl/core/features.c` 667; Get Supported Features and Get Feature read,
/// Set Feature writes: 626–632; anything else is refused with EINVAL).
pub fn classify_cxl(request: &[u8]) -> Classification {
    let Some(rpc) = CxlRequest::parse(request) else {
        return Classification::unknown(None, "a CXL request shorter than its 16-byte header".into());
    };
    match rpc.opcode {
        CXL_GET_SUPPORTED_FEATURES => Classification::read("Get Supported Features"),
        CXL_GET_FEATURE => Classification::read("Get Feature"),
        CXL_SET_FEATURE => match rpc.feature {
            Some(uuid) => Classification::write(WriteTarget::Feature(uuid), format!("Set Feature of {uuid}")),
            None => Classification::unknown(None, "a Set Feature too short to carry its Feature UUID".into()),
        },
        other => Classification::unknown(
            Some(WriteTarget::Opcode(other)),
            format!("CXL opcode {other:#06x}, which the CXL fwctl driver does not pass"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mailbox image as the PRM lays it out: opcode, op_mod, register id, then `tail`.
    fn mlx5(opcode: u16, op_mod: u16, register: u16, len: usize) -> Vec<u8> {
        let mut r = vec![0u8; len.max(16)];
        r[0..2].copy_from_slice(&opcode.to_be_bytes());
        r[6..8].copy_from_slice(&op_mod.to_be_bytes());
        r[10..12].copy_from_slice(&register.to_be_bytes());
        r.truncate(len);
        r
    }

    #[test]
    fn configuration_scope_setters_are_writes() {
        for (opcode, name) in
            [(0x109, "SET_HCA_CAP"), (0x823, "MODIFY_CONG_STATUS"), (0x731, "DELEGATE_VHCA_MANAGEMENT")]
        {
            let c = classify_mlx5(&mlx5(opcode, 0, 0, 64));
            assert_eq!((c.effect, c.target, &*c.action), (Effect::Write, Some(WriteTarget::Opcode(opcode)), name));
        }
        assert_eq!(classify_mlx5(&mlx5(0x100, 1, 0, 16)).effect, Effect::Read, "QUERY_HCA_CAP");
    }

    #[test]
    fn a_counter_query_with_its_clear_bit_is_a_write() {
        let mut q = mlx5(0x773, 0, 0, 32);
        assert_eq!(classify_mlx5(&q).effect, Effect::Read, "QUERY_Q_COUNTER without clear");
        q[24] |= 0x80;
        let c = classify_mlx5(&q);
        assert_eq!((c.effect, c.target), (Effect::Write, Some(WriteTarget::Opcode(0x773))));
        assert!(c.action.contains("`clear` set"), "{}", c.action);
        // Too short to show the bit: what firmware makes of missing bytes is not ours to guess.
        assert_eq!(classify_mlx5(&q[..20]).effect, Effect::Unknown);
    }

    #[test]
    fn an_nv_configuration_write_names_its_item() {
        let mut r = mlx5(0x805, 0, 0x9024, 16 + 268);
        r[16 + 4..16 + 8].copy_from_slice(&0x0101_0012u32.to_be_bytes());
        let c = classify_mlx5(&r);
        assert_eq!((c.effect, c.target), (Effect::Write, Some(WriteTarget::Register(0x9024))));
        assert_eq!(c.action, "ACCESS_REG write of MNVDA (0x9024), item nv_vpi_link_type of port 1 (0x01010012)");
    }

    #[test]
    fn register_reads_follow_the_register_table() {
        let mut ppcnt = mlx5(0x805, 1, 0x5008, 16 + 0x100);
        assert_eq!(classify_mlx5(&ppcnt).effect, Effect::Read);
        ppcnt[20] |= 0x80;
        let c = classify_mlx5(&ppcnt);
        assert_eq!((c.effect, c.target), (Effect::Write, Some(WriteTarget::Register(0x5008))));
        assert_eq!(c.action, "ACCESS_REG read of PPCNT (0x5008) with `clr` set, which resets what it reports");

        let write = classify_mlx5(&mlx5(0x805, 0, 0x5006, 32));
        assert_eq!((write.effect, &*write.action), (Effect::Write, "ACCESS_REG write of PAOS (0x5006)"));
        let user = classify_mlx5(&mlx5(0xb0c, 0, 0x5006, 32));
        assert_eq!(user.action, "ACCESS_REGISTER_USER write of PAOS (0x5006)");
        assert_eq!(classify_mlx5(&mlx5(0xb0c, 1, 0x5006, 32)).effect, Effect::Unknown, "no layout in the kernel");
        let mut mtmp = mlx5(0x805, 1, 0x900a, 16 + 0x20);
        assert_eq!(classify_mlx5(&mtmp).effect, Effect::Read);
        mtmp[24] = 0x40;
        assert!(classify_mlx5(&mtmp).action.contains("`mtr` set, which resets the recorded maximum"));
        mtmp[24] = 0x80;
        assert!(classify_mlx5(&mtmp).action.contains("`mte` set, which turns temperature tracking on"));
        assert_eq!(classify_mlx5(&mtmp[..20]).effect, Effect::Unknown, "too short to show `mte`");
        // SLRG: reading a lane's eye is plain; asking its monitor to measure is granted as a write.
        let mut slrg = mlx5(0x805, 1, 0x5028, 16 + 40);
        assert_eq!(classify_mlx5(&slrg).effect, Effect::Read);
        slrg[23] = 0x08;
        let c = classify_mlx5(&slrg);
        assert_eq!((c.effect, c.target), (Effect::Write, Some(WriteTarget::Register(0x5028))));
        assert_eq!(c.action, "ACCESS_REG read of SLRG (0x5028) with `fom_measurement` set, which starts a measurement");
        assert_eq!(classify_mlx5(&slrg[..23]).effect, Effect::Unknown, "too short to show `fom_measurement`");

        let unknown = classify_mlx5(&mlx5(0x805, 1, 0xb001, 32));
        assert_eq!((unknown.effect, unknown.target), (Effect::Unknown, Some(WriteTarget::Register(0xb001))));
        assert_eq!(classify_mlx5(&mlx5(0x805, 2, 0x5006, 32)).effect, Effect::Unknown, "op_mod 2");
        let short = classify_mlx5(&mlx5(0x805, 1, 0x5006, 10));
        assert_eq!((short.effect, short.target), (Effect::Unknown, None));
    }

    #[test]
    fn unknown_and_short_mlx5_requests_are_unknown() {
        let c = classify_mlx5(&mlx5(0xa04, 0, 0, 16));
        assert_eq!((c.effect, c.target), (Effect::Unknown, Some(WriteTarget::Opcode(0xa04))), "CREATE_UCTX");
        let c = classify_mlx5(&[0x01, 0x0a, 0, 0, 0, 0, 0]);
        assert_eq!((c.effect, c.target), (Effect::Unknown, None));
        assert_eq!(classify_mlx5(&mlx5(0x821, 0, 0, 16)).effect, Effect::Unknown, "QUERY_DIAGNOSTIC_COUNTERS");
    }

    #[test]
    fn cxl_gets_read_and_sets_write_their_feature() {
        let mut req = vec![0u8; 16 + 32];
        req[0..2].copy_from_slice(&0x0501u16.to_le_bytes());
        req[16..32].fill(0xab);
        assert_eq!(classify_cxl(&req).effect, Effect::Read);
        req[0..2].copy_from_slice(&0x0502u16.to_le_bytes());
        let c = classify_cxl(&req);
        assert_eq!((c.effect, c.target), (Effect::Write, Some(WriteTarget::Feature(Uuid([0xab; 16])))));
        assert_eq!(classify_cxl(&req[..20]).target, None, "a Set Feature without its UUID");
        req[0..2].copy_from_slice(&0x0400u16.to_le_bytes());
        assert_eq!(classify_cxl(&req).effect, Effect::Unknown);
        assert_eq!(classify_cxl(&req[..8]).effect, Effect::Unknown);
        req[0..4].copy_from_slice(&0x0001_0500u32.to_ne_bytes());
        assert_eq!(classify_cxl(&req).effect, Effect::Read, "the driver reads the low 16 bits");
    }
}
