//! Feature UUIDs the kernel keeps for itself (EDAC/RAS): listed with set size 0 and the
//! changeable flag cleared, and never settable through fwctl (`is_cxl_feature_exclusive`).

use super::Uuid;

/// Kernel-owned Features, by name.
pub const KERNEL_OWNED: &[(&str, &str)] = &[
    ("patrol-scrub", "96dad7d6-fde8-482b-a733-75774e06db8a"),
    ("ecs", "e5b13f22-2328-4a14-b8ba-b9691e893386"),
    ("soft-ppr", "892ba475-fad8-474e-9d3e-692c917568bb"),
    ("hard-ppr", "80ea4521-786f-4127-afb1-ec7459fb0e24"),
    ("cacheline-sparing", "96c33386-91dd-44c7-9ecb-fdaf6503bac4"),
    ("row-sparing", "450ebf67-b135-4f97-a498-c2d57f279bed"),
    ("bank-sparing", "78b79636-90ac-4b64-a4ef-faac5d18a863"),
    ("rank-sparing", "34dbaff5-0552-4281-8f76-da0b5e7a76a7"),
];

/// Whether the kernel owns this Feature.
pub fn is_kernel_owned(uuid: &Uuid) -> bool {
    KERNEL_OWNED.iter().any(|(_, text)| Uuid::parse(text).as_ref() == Ok(uuid))
}
