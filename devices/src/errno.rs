//! What an errno means when fwctl returns it. Both backends report failures as a bare
//! errno, exactly as the kernel does; the words live in [`fwctl_proto::errno`], shared
//! with the SDK, and this maps `nix`'s errno onto them.

use nix::errno::Errno;

/// A one-line explanation of `errno` in fwctl's terms, for people reading an error.
pub fn meaning(errno: Errno) -> &'static str {
    fwctl_proto::errno::meaning(&format!("{errno:?}")).unwrap_or("unexpected error from fwctl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_errnos_map_onto_the_shared_explanations_by_name() {
        assert!(meaning(Errno::EPERM).contains("CAP_SYS_RAWIO"));
        assert!(meaning(Errno::ENOTTY).contains("not a fwctl node"));
        assert_eq!(meaning(Errno::EHOSTDOWN), "unexpected error from fwctl");
    }
}
