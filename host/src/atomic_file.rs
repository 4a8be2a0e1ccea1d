//! Replacing a file so that a crash leaves the old one or the new one, never a mix: the
//! bytes go to a temporary file in the same directory, which is synced, given its mode,
//! renamed over the target, and the directory synced so the rename itself is durable.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a file could not be replaced: the path at fault and the I/O error.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ReplaceError {
    /// The file or directory.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Replaces (or creates) `target` with `contents`, with permission bits `mode`
/// (whatever the umask).
pub fn replace(target: &Path, contents: &[u8], mode: u32) -> Result<(), ReplaceError> {
    replace_with(target, mode, |out| out.write_all(contents))
}

/// [`replace`] with the contents written by `write` (through a buffer), so that a large
/// file need not first be made in memory.
pub fn replace_with(
    target: &Path,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ReplaceError> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReplaceError { path, source }
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp =
        tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir).map_err(fail(dir))?;
    let temp_path = temp.path().to_path_buf();
    let mut buffered = std::io::BufWriter::with_capacity(64 << 10, temp.as_file_mut());
    write(&mut buffered).and_then(|()| buffered.flush()).map_err(fail(&temp_path))?;
    drop(buffered);
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode)).map_err(fail(temp.path()))?;
    temp.as_file().sync_all().map_err(fail(temp.path()))?;
    temp.persist(target).map_err(|e| ReplaceError { path: target.to_path_buf(), source: e.error })?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail(dir))?;
    Ok(())
}

/// The permission bits a rewritten file keeps: `target`'s own when it exists, else
/// `like`'s (the file it was made from), else 0644.
pub fn mode_to_keep(target: &Path, like: &Path) -> u32 {
    [target, like].iter().find_map(|p| std::fs::metadata(p).ok()).map_or(0o644, |m| m.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_has_the_new_bytes_the_mode_asked_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("plugin.wasm");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mode = mode_to_keep(&target, &target);
        replace(&target, b"new", mode).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        // A new file made from another takes that one's mode.
        let output = dir.path().join("copy.wasm");
        replace(&output, b"x", mode_to_keep(&output, &target)).unwrap();
        assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o640);
        let err = replace(&dir.path().join("missing/dir/f"), b"x", 0o644).unwrap_err();
        assert!(err.to_string().contains("missing/dir"), "{err}");
    }
}
