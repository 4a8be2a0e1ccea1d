//! What an errno means when fwctl returns it (`drivers/fwctl/main.c` and the drivers).
//!
//! Both backends report failures as a bare errno, exactly as the kernel does; this turns
//! one into words a person can act on, in fwctl's terms rather than libc's generic ones.

use nix::errno::Errno;

/// A one-line explanation of `errno` in fwctl's terms, for people reading an error.
///
/// The kernel's internal `ENOIOCTLCMD` (an ioctl number the file does not know) never
/// reaches user space: the VFS turns it into `ENOTTY`, which is explained here.
pub fn meaning(errno: Errno) -> &'static str {
    match errno {
        Errno::ENODEV => "the device was removed; this handle is orphaned (close it and discover again)",
        Errno::ENOENT => "no such fwctl node (the device is gone or was never there)",
        Errno::EMSGSIZE => {
            "a buffer is outside the limits (over 2 MiB, or under the driver's minimum, 16 bytes for mlx5)"
        }
        Errno::EBADMSG => "the driver does not allow this command at this scope",
        Errno::EOPNOTSUPP => "unknown scope, or non-zero flags in FWCTL_INFO",
        Errno::EPERM => "not permitted: debug-write-full needs CAP_SYS_RAWIO, or the Feature is kernel-owned",
        Errno::E2BIG => "the request struct has non-zero fields this kernel does not know",
        Errno::EINVAL => {
            "malformed request (struct shorter than the kernel's minimum, or an envelope or command the driver refuses)"
        }
        Errno::ENXIO => "the device's command interface is down",
        Errno::EIO => "the device failed to execute the command",
        Errno::ENOMEM => "the kernel could not allocate the buffers",
        Errno::EFAULT => "a buffer address was invalid",
        Errno::ENOTTY => "not a fwctl node (the file does not know the fwctl ioctls)",
        Errno::EACCES => "no permission to open the node (fwctl nodes are root-only by default)",
        _ => "unexpected error from fwctl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_errno_fwctl_returns_has_its_own_explanation() {
        let known = [
            Errno::ENODEV,
            Errno::ENOENT,
            Errno::EMSGSIZE,
            Errno::EBADMSG,
            Errno::EOPNOTSUPP,
            Errno::EPERM,
            Errno::E2BIG,
            Errno::EINVAL,
            Errno::ENXIO,
            Errno::EIO,
            Errno::ENOMEM,
            Errno::EFAULT,
            Errno::ENOTTY,
            Errno::EACCES,
        ];
        let fallback = meaning(Errno::EHOSTDOWN);
        for (i, e) in known.iter().enumerate() {
            assert_ne!(meaning(*e), fallback, "{e:?}");
            for other in &known[i + 1..] {
                assert_ne!(meaning(*e), meaning(*other), "{e:?} and {other:?}");
            }
        }
        assert!(meaning(Errno::EPERM).contains("CAP_SYS_RAWIO"));
        assert!(meaning(Errno::ENODEV).contains("removed"));
    }
}
