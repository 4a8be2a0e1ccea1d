//! The caller's credentials as fwctl sees them: `drivers/fwctl/main.c` asks
//! `capable(CAP_SYS_RAWIO)` before a debug-write-full RPC. Read by the simulator (to refuse
//! as the kernel does) and by the host (to grant no more than the kernel would allow).

/// What the kernel knows about the calling process that fwctl checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Whether the caller holds `CAP_SYS_RAWIO` (needed for debug-write-full).
    pub cap_sys_rawio: bool,
}

impl Credentials {
    /// The credentials of this process, read from `/proc/self/status` (`CapEff`): the
    /// simulator refuses debug-write-full exactly when the kernel would, and the grant
    /// offers it only where the kernel would allow it.
    pub fn of_current_process() -> Self {
        const CAP_SYS_RAWIO: u32 = 17;
        let cap_eff = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    let hex = line.strip_prefix("CapEff:")?.trim();
                    u64::from_str_radix(hex, 16).ok()
                })
            })
            .unwrap_or(0);
        Self { cap_sys_rawio: cap_eff & (1 << CAP_SYS_RAWIO) != 0 }
    }
}
