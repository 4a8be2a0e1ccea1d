//! A signed component's two hashes: the file's own SHA-256 and the running hash over the
//! content a signature covers. They are two passes over different byte streams (the
//! second skips the signature section at the front), so they cannot share work, but they
//! can run side by side on two threads.
//!
//! A new thread can take a tenth of a millisecond to start, and as long to wake once it
//! sleeps (on a virtual machine whose other CPU idles, more), nearly a tenth of a 2 MiB
//! pass. So the loader never waits for the helper: it takes turns on both passes, a chunk
//! of each, until the helper arrives and takes over the file's pass; at the end the two
//! share what is left of it turn by turn, and the loader returns without joining the
//! helper, which ends on its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use sha2::{Digest, Sha256};

use super::sections::{ContentPass, SignedContent};

/// How much of a pass one turn hashes: small enough that a thread finding the file's
/// pass taken spins only a few microseconds for it.
const TURN: usize = 16 << 10;

/// The file's digest, hashed a turn at a time by whichever thread holds it.
struct FilePass {
    bytes: Arc<Vec<u8>>,
    pass: Mutex<FileDigest>,
    helper_here: AtomicBool,
}

/// The file's digest so far.
#[derive(Default)]
struct FileDigest {
    hasher: Sha256,
    at: usize,
}

impl FilePass {
    /// Hashes a turn of the file unless the other thread is at it; `false` once the whole
    /// file is hashed.
    fn take_turn(&self) -> bool {
        let mut digest = match self.pass.try_lock() {
            Ok(digest) => digest,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                std::hint::spin_loop();
                return true;
            }
        };
        let (at, end) = (digest.at, self.bytes.len().min(digest.at + TURN));
        digest.hasher.update(&self.bytes[at..end]);
        digest.at = end;
        end < self.bytes.len()
    }
}

/// The SHA-256 of `bytes`, and its signed content read and hashed
/// ([`SignedContent::read`]), computed on this thread and a helper; `meanwhile` runs
/// here while the helper starts, and its result is returned first.
pub(super) fn file_and_content<T>(
    bytes: &Arc<Vec<u8>>,
    meanwhile: impl FnOnce() -> T,
) -> (T, [u8; 32], Result<SignedContent, String>) {
    let file =
        Arc::new(FilePass { bytes: Arc::clone(bytes), pass: Mutex::default(), helper_here: AtomicBool::new(false) });
    let helper = {
        let file = Arc::clone(&file);
        move || {
            file.helper_here.store(true, Ordering::Relaxed);
            while file.take_turn() {}
        }
    };
    // Should no thread start, this one does both passes.
    let _ = std::thread::Builder::new().name("fwctl-run-digest".into()).spawn(helper);
    let early = meanwhile();
    let content = ContentPass::new(bytes).map(|mut content| {
        loop {
            if !file.helper_here.load(Ordering::Relaxed) {
                file.take_turn();
            }
            if !content.advance(TURN) {
                break content.finish();
            }
        }
    });
    while file.take_turn() {}
    let sha256 = std::mem::take(&mut file.pass.lock().unwrap_or_else(PoisonError::into_inner).hasher).finalize();
    (early, sha256.into(), content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::sections::put_leb128;

    /// A component of custom sections of the given sizes, delimited after each.
    fn component(sizes: &[usize]) -> Vec<u8> {
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        for (i, &size) in sizes.iter().enumerate() {
            for (name, len) in [("part", size), ("signature_delimiter", 16)] {
                let mut payload = vec![name.len() as u8];
                payload.extend_from_slice(name.as_bytes());
                payload.extend((0..len).map(|b| (b * 7 + i) as u8));
                bytes.push(0);
                put_leb128(&mut bytes, payload.len() as u64);
                bytes.extend(payload);
            }
        }
        bytes
    }

    #[test]
    fn both_hashes_are_those_of_a_single_pass_each_whatever_the_turns() {
        // Parts smaller than, equal to and larger than a turn, and one spanning several.
        let bytes = component(&[0, 1, TURN - 1, TURN, TURN + 1, 5 * TURN + 3, 17]);
        let ((), digest, content) = file_and_content(&Arc::new(bytes.clone()), || ());
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert_eq!(content.unwrap(), SignedContent::read(&bytes).unwrap());
    }

    #[test]
    fn a_content_pass_advanced_in_any_steps_ends_where_one_pass_does() {
        let bytes = component(&[3, TURN + 5, 2 * TURN]);
        let whole = SignedContent::read(&bytes).unwrap();
        assert_eq!(whole.delimiter_hashes.len(), 3);
        for step in [0, 1, 7, 4096, TURN + 1] {
            let mut pass = ContentPass::new(&bytes).unwrap();
            let mut turns = 0;
            while pass.advance(step) {
                turns += 1;
                assert!(turns < 1_000_000, "a pass of steps of {step} bytes never ends");
                if step == 0 {
                    break;
                }
            }
            assert_eq!(pass.finish(), whole, "steps of {step} bytes");
        }
    }

    #[test]
    fn a_component_whose_sections_cannot_be_read_still_gets_its_digest() {
        let mut bytes = component(&[100]);
        bytes.extend_from_slice(&[0, 0xff]); // a section size that runs past the end
        let ((), digest, content) = file_and_content(&Arc::new(bytes.clone()), || ());
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert!(content.unwrap_err().contains("past the end"));
    }
}
