//! What an errno means when fwctl returns it (drivers/fwctl/main.c and the drivers).

use nix::errno::Errno;

/// A one-line explanation of `errno` in fwctl's terms, for people reading an error.
pub fn meaning(errno: Errno) -> &'static str {
    match errno {
        Errno::ENODEV => "the device was removed; this handle is orphaned",
        Errno::ENOENT => "no such fwctl node (the device is gone or was never there)",
        Errno::EMSGSIZE => "a buffer is outside the limits (over 2 MiB, or under the driver's minimum)",
        Errno::EBADMSG => "the driver does not allow this command at this scope",
        Errno::EOPNOTSUPP => "unknown scope or flags",
        Errno::EPERM => "not permitted: debug-write-full needs CAP_SYS_RAWIO, or the Feature is kernel-owned",
        Errno::E2BIG => "the request struct has non-zero fields this kernel does not know",
        Errno::EINVAL => "the driver found the request malformed or not allowed",
        Errno::ENXIO => "the device's command interface is down",
        Errno::EIO => "the device failed to execute the command",
        Errno::ENOMEM => "the kernel could not allocate the buffers",
        Errno::EFAULT => "a buffer address was invalid",
        Errno::ENOTTY => "not a fwctl node (the ioctl is unknown to this file)",
        Errno::EACCES => "no permission to open the node",
        _ => "unexpected error from fwctl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errnos_fwctl_returns_are_explained() {
        for e in [Errno::ENODEV, Errno::EMSGSIZE, Errno::EBADMSG, Errno::EOPNOTSUPP, Errno::EPERM, Errno::EINVAL] {
            assert_ne!(meaning(e), meaning(Errno::EHOSTDOWN), "{e:?}");
        }
    }
}
