//! What an errno means when fwctl returns it (`drivers/fwctl/main.c` and the drivers), in
//! fwctl's terms rather than libc's generic ones. Keyed by the errno's name (`"EPERM"`):
//! the host hands plugins the name, and this crate has no libc to map numbers with.

/// A one-line explanation of the errno named `name`, or `None` for one fwctl does not
/// return.
///
/// The kernel's internal `ENOIOCTLCMD` (an ioctl number the file does not know) never
/// reaches user space: the VFS turns it into `ENOTTY`, which is explained here.
pub fn meaning(name: &str) -> Option<&'static str> {
    Some(match name {
        "ENODEV" => "the device was removed; this handle is orphaned (close it and discover again)",
        "ENOENT" => "no such fwctl node (the device is gone or was never there)",
        "EMSGSIZE" => "a buffer is outside the limits (over 2 MiB, or under the driver's minimum, 16 bytes for mlx5)",
        "EBADMSG" => "the driver does not allow this command at this scope",
        "EOPNOTSUPP" => "unknown scope, or non-zero flags in FWCTL_INFO",
        "EPERM" => "not permitted: debug-write-full needs CAP_SYS_RAWIO, or the Feature is kernel-owned",
        "E2BIG" => "the request struct has non-zero fields this kernel does not know",
        "EINVAL" => {
            "malformed request (struct shorter than the kernel's minimum, or an envelope or command the driver refuses)"
        }
        "ENXIO" => "the device's command interface is down",
        "EIO" => "the device failed to execute the command",
        "ENOMEM" => "the kernel could not allocate the buffers",
        "EFAULT" => "a buffer address was invalid",
        "ENOTTY" => "not a fwctl node (the file does not know the fwctl ioctls)",
        "EACCES" => "no permission to open the node (fwctl nodes are root-only by default)",
        "ETIMEDOUT" => "the device did not answer in time",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_errno_fwctl_returns_has_its_own_explanation() {
        let known = [
            "ENODEV",
            "ENOENT",
            "EMSGSIZE",
            "EBADMSG",
            "EOPNOTSUPP",
            "EPERM",
            "E2BIG",
            "EINVAL",
            "ENXIO",
            "EIO",
            "ENOMEM",
            "EFAULT",
            "ENOTTY",
            "EACCES",
            "ETIMEDOUT",
        ];
        for (i, e) in known.iter().enumerate() {
            let this = meaning(e).unwrap_or_else(|| panic!("{e} has no explanation"));
            for other in &known[i + 1..] {
                assert_ne!(Some(this), meaning(other), "{e} and {other}");
            }
        }
        assert_eq!(meaning("EHOSTDOWN"), None);
        assert!(meaning("EPERM").unwrap().contains("CAP_SYS_RAWIO"));
        assert!(meaning("ENODEV").unwrap().contains("removed"));
    }
}
