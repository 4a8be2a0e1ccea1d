//! The file node_exporter's textfile collector reads: `DIR/fwctl.prom`, replaced whole
//! on every run so that a finding that cleared disappears with it.
//!
//! The collector may read the directory at any moment, so the new file is written
//! under a name it ignores (not ending in `.prom`) in the same directory, synced, and
//! renamed over the old one: a reader sees the old file or the new one, never half.

use std::path::{Path, PathBuf};

/// The file name in the textfile directory.
pub const TEXTFILE_NAME: &str = "fwctl.prom";

/// The family whose value survives a failed run.
const LAST_SUCCESS: &str = "fwctl_run_last_success_timestamp_seconds";

/// Why the textfile could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct TextfileError {
    /// The file (or directory) that failed.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// The last-success time the current `DIR/fwctl.prom` records, if it exists and has one,
/// so a failed run can carry it over instead of losing it.
pub fn previous_last_success(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(TEXTFILE_NAME)).ok()?;
    text.lines().find_map(|line| line.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Replaces `DIR/fwctl.prom` with `contents` atomically; returns the file's path.
pub fn write_textfile(dir: &Path, contents: &str) -> Result<PathBuf, TextfileError> {
    write_textfile_with(dir, |out| out.write_all(contents.as_bytes()))
}

/// [`write_textfile`] with the contents written by `write` as they are made, e.g. by
/// [`crate::report::Exposition::write_prometheus`].
pub fn write_textfile_with(
    dir: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<PathBuf, TextfileError> {
    let target = dir.join(TEXTFILE_NAME);
    // Readable by the collector, which may run as another user. The temporary file ends
    // in .tmp, which the collector ignores.
    crate::atomic_file::replace_with(&target, 0o644, write)
        .map_err(|e| TextfileError { path: e.path, source: e.source })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        write_textfile(dir.path(), "a 1\nfwctl_run_last_success_timestamp_seconds 1700000000\n").unwrap();
        assert_eq!(previous_last_success(dir.path()), Some(1_700_000_000.0));
        let path = write_textfile(dir.path(), "b 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b 2\n");
        assert_eq!(previous_last_success(dir.path()), None);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(TEXTFILE_NAME)]);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let error = write_textfile(Path::new("/nonexistent/textfiles"), "").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/textfiles"), "{error}");
    }
}
