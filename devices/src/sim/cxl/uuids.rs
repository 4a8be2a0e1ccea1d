//! Feature UUIDs the driver treats specially.
//!
//! The table of kernel-owned Features lives in `fwctl_proto::cxl` (shared with the plugin
//! SDK, so both sides agree); this module asks it about raw wire bytes, and holds the
//! cxl_test vendor Feature's UUID.

use fwctl_proto::cxl::{Uuid, kernel_owned_name};

/// The vendor Feature of the kernel's mock device (`CXL_VENDOR_FEATURE_TEST` in
/// `tools/testing/cxl/test/mem.c`): all ones.
pub const CXL_TEST_VENDOR_FEATURE: [u8; 16] = [0xff; 16];

/// The name of a Feature the kernel keeps for itself (`cxl_exclusive_feats[]` in
/// `drivers/cxl/core/features.c`: EDAC scrub, ECS, PPR and sparing), or `None`.
pub fn kernel_owned(uuid: &[u8; 16]) -> Option<&'static str> {
    kernel_owned_name(&Uuid(*uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UUID_INIT(a, b, c, d0..d7)` as the kernel lays it out: a, b, c big-endian.
    fn uuid_init(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
        let mut u = [0u8; 16];
        u[0..4].copy_from_slice(&a.to_be_bytes());
        u[4..6].copy_from_slice(&b.to_be_bytes());
        u[6..8].copy_from_slice(&c.to_be_bytes());
        u[8..].copy_from_slice(&d);
        u
    }

    #[test]
    fn the_shared_table_matches_include_cxl_features_h() {
        // Transcribed from the CXL_FEAT_*_UUID macros of Linux 7.3.
        let kernel = [
            uuid_init(0x96dad7d6, 0xfde8, 0x482b, [0xa7, 0x33, 0x75, 0x77, 0x4e, 0x06, 0xdb, 0x8a]),
            uuid_init(0xe5b13f22, 0x2328, 0x4a14, [0xb8, 0xba, 0xb9, 0x69, 0x1e, 0x89, 0x33, 0x86]),
            uuid_init(0x892ba475, 0xfad8, 0x474e, [0x9d, 0x3e, 0x69, 0x2c, 0x91, 0x75, 0x68, 0xbb]),
            uuid_init(0x80ea4521, 0x786f, 0x4127, [0xaf, 0xb1, 0xec, 0x74, 0x59, 0xfb, 0x0e, 0x24]),
            uuid_init(0x96c33386, 0x91dd, 0x44c7, [0x9e, 0xcb, 0xfd, 0xaf, 0x65, 0x03, 0xba, 0xc4]),
            uuid_init(0x450ebf67, 0xb135, 0x4f97, [0xa4, 0x98, 0xc2, 0xd5, 0x7f, 0x27, 0x9b, 0xed]),
            uuid_init(0x78b79636, 0x90ac, 0x4b64, [0xa4, 0xef, 0xfa, 0xac, 0x5d, 0x18, 0xa8, 0x63]),
            uuid_init(0x34dbaff5, 0x0552, 0x4281, [0x8f, 0x76, 0xda, 0x0b, 0x5e, 0x7a, 0x76, 0xa7]),
        ];
        let names: Vec<_> = kernel.iter().map(|u| kernel_owned(u).expect("kernel-owned")).collect();
        assert_eq!(
            names,
            [
                "patrol-scrub",
                "ecs",
                "soft-ppr",
                "hard-ppr",
                "cacheline-sparing",
                "row-sparing",
                "bank-sparing",
                "rank-sparing"
            ]
        );
        assert_eq!(fwctl_proto::cxl::KERNEL_OWNED.len(), kernel.len());
        assert_eq!(kernel_owned(&CXL_TEST_VENDOR_FEATURE), None);
    }
}
