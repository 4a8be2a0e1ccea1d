//! Classifying a plain read is on every RPC's path (the grant check and the audit record
//! both call it), so it must not allocate: only refusals and records of writes need words.
//! `allocation-counter` counts the allocations of this thread through its global allocator.

use fwctl_proto::effect::{Effect, classify_cxl, classify_mlx5};

/// What `f` returns, and how many allocations it made on this thread.
fn allocations_of(f: impl FnOnce() -> Effect) -> (Effect, u64) {
    let mut effect = None;
    let info = allocation_counter::measure(|| effect = Some(f()));
    (effect.expect("measured"), info.count_total)
}

/// An ACCESS_REG read (op_mod 1) of `register`, 64 bytes.
fn register_read(register: u16) -> Vec<u8> {
    let mut r = vec![0u8; 64];
    r[0..2].copy_from_slice(&0x805u16.to_be_bytes());
    r[6..8].copy_from_slice(&1u16.to_be_bytes());
    r[10..12].copy_from_slice(&register.to_be_bytes());
    r
}

#[test]
fn classifying_plain_register_reads_allocates_nothing() {
    // PAOS (plain), PPCNT and MTMP (reads that would change state with a bit set, unset here).
    for register in [0x5006u16, 0x5008, 0x900a] {
        let request = register_read(register);
        let (effect, allocations) = allocations_of(|| classify_mlx5(&request).effect);
        assert_eq!(effect, Effect::Read, "register {register:#06x}");
        assert_eq!(allocations, 0, "register {register:#06x}");
    }
}

#[test]
fn classifying_a_module_memory_read_inside_the_plain_list_allocates_nothing() {
    // MCIA (0x9014) of the A0h lower memory's identifier (address 0x50, page 0, 3 bytes).
    let mut request = register_read(0x9014);
    request[16 + 4] = 0x50;
    request[16 + 10..16 + 12].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(allocations_of(|| classify_mlx5(&request).effect), (Effect::Read, 0));
}

#[test]
fn classifying_a_plain_command_or_cxl_read_allocates_nothing() {
    let mut query_hca_cap = vec![0u8; 16];
    query_hca_cap[0..2].copy_from_slice(&0x100u16.to_be_bytes());
    query_hca_cap[6..8].copy_from_slice(&1u16.to_be_bytes());
    assert_eq!(allocations_of(|| classify_mlx5(&query_hca_cap).effect), (Effect::Read, 0));

    // Get Supported Features (opcode 0x0500) asking for no entries.
    let mut get_supported = vec![0u8; 24];
    get_supported[0..2].copy_from_slice(&0x0500u16.to_le_bytes());
    assert_eq!(allocations_of(|| classify_cxl(&get_supported).effect), (Effect::Read, 0));
    // Get Feature (opcode 0x0501).
    let mut get_feature = vec![0u8; 16 + 24];
    get_feature[0..2].copy_from_slice(&0x0501u16.to_le_bytes());
    assert_eq!(allocations_of(|| classify_cxl(&get_feature).effect), (Effect::Read, 0));
}

#[test]
fn a_register_write_is_described_in_words() {
    // The counter is live: a write's words are allocated, so a count of 0 above means
    // nothing was written out, not that nothing is counted.
    let mut write = register_read(0x5006);
    write[6..8].copy_from_slice(&0u16.to_be_bytes());
    let (effect, allocations) = allocations_of(|| {
        let c = classify_mlx5(&write);
        assert_eq!(c.action, "ACCESS_REG write of PAOS (0x5006)");
        c.effect
    });
    assert_eq!(effect, Effect::Write);
    assert!(allocations > 0);
}
