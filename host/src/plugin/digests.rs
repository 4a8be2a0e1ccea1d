//! A signed component's two hashes: the file's own SHA-256 and the running hash over the
//! content a signature covers. They are two passes over different byte streams (the
//! second skips the signature section at the front), so they cannot share work, but they
//! can run side by side on two threads.
//!
//! A new thread can take a tenth of a millisecond to start, and as long to wake once it
//! sleeps (on a virtual machine whose other CPU idles, more), nearly a tenth of a 2 MiB
//! pass. So the loader never waits for the helper: it takes turns on both passes, a chunk
//! of each, until the helper arrives and takes over the file's pass; at the end the two
//! share what is left of it turn by turn (a thread finding it taken spins, it does not
//! park), and the loader returns without joining the helper, which ends on its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use sha2::{Digest, Sha256};

use super::sections::{ContentPass, SignedContent};

/// How much of a pass one turn hashes: small enough that a thread finding the file's
/// pass taken spins only a few microseconds for it.
const TURN: usize = 16 << 10;

/// Failed tries at the file's pass after which a thread yields its CPU: the holder may
/// have been preempted mid-turn (a busy machine, a CPU quota), and spinning would only
/// keep it from running.
const SPINS_BEFORE_YIELDING: u32 = 64;

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

/// What a try at the file's pass did.
#[derive(PartialEq)]
enum Turn {
    Hashed,
    /// The other thread holds the pass.
    Taken,
    /// The whole file is hashed.
    Done,
}

impl FilePass {
    fn new(bytes: &Arc<Vec<u8>>) -> Self {
        Self { bytes: Arc::clone(bytes), pass: Mutex::default(), helper_here: AtomicBool::new(false) }
    }

    /// Hashes a turn of the file unless the other thread holds the pass.
    fn try_turn(&self) -> Turn {
        let mut digest = match self.pass.try_lock() {
            Ok(digest) => digest,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Turn::Taken,
        };
        if digest.at == self.bytes.len() {
            return Turn::Done;
        }
        let (at, end) = (digest.at, self.bytes.len().min(digest.at.saturating_add(TURN)));
        digest.hasher.update(&self.bytes[at..end]);
        digest.at = end;
        Turn::Hashed
    }

    /// Takes turns, with the other thread or alone, until the whole file is hashed.
    fn run_to_end(&self) {
        let mut tries = 0;
        loop {
            match self.try_turn() {
                Turn::Done => return,
                Turn::Hashed => tries = 0,
                Turn::Taken => {
                    tries += 1;
                    if tries % SPINS_BEFORE_YIELDING == 0 {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }

    /// The file's SHA-256, once [`Self::run_to_end`] has returned.
    fn digest(&self) -> [u8; 32] {
        let digest = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
        debug_assert_eq!(digest.at, self.bytes.len(), "the file's pass is complete");
        digest.hasher.clone().finalize().into()
    }
}

/// The SHA-256 of `bytes`, and its signed content read and hashed
/// ([`SignedContent::read`]), computed on this thread and a helper; `meanwhile` runs
/// here while the helper starts, and its result is returned first.
pub(super) fn file_and_content<T>(
    bytes: &Arc<Vec<u8>>,
    meanwhile: impl FnOnce() -> T,
) -> (T, [u8; 32], Result<SignedContent, String>) {
    let file = Arc::new(FilePass::new(bytes));
    let helper = {
        let file = Arc::clone(&file);
        move || {
            file.helper_here.store(true, Ordering::Relaxed);
            file.run_to_end();
        }
    };
    // Not joined: it ends on its own once the file is hashed. Should it not start, this
    // thread does both passes.
    let _ = std::thread::Builder::new().name("fwctl-run-digest".into()).spawn(helper);
    hash_here(&file, meanwhile)
}

/// This thread's part: `meanwhile`, then the content's pass, with turns at the file's
/// until the helper is there, then what is left of the file's.
fn hash_here<T>(file: &FilePass, meanwhile: impl FnOnce() -> T) -> (T, [u8; 32], Result<SignedContent, String>) {
    let early = meanwhile();
    let content = ContentPass::new(&file.bytes).map(|mut content| {
        loop {
            if !file.helper_here.load(Ordering::Relaxed) {
                file.try_turn();
            }
            if !content.advance(TURN) {
                break content.finish();
            }
        }
    });
    file.run_to_end();
    (early, file.digest(), content)
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

    /// Parts smaller than, equal to and larger than a turn, and one spanning several.
    fn uneven() -> Vec<u8> {
        component(&[0, 1, TURN - 1, TURN, TURN + 1, 5 * TURN + 3, 17])
    }

    #[test]
    fn both_hashes_are_those_of_a_single_pass_each_with_a_helper() {
        let bytes = uneven();
        let (early, digest, content) = file_and_content(&Arc::new(bytes.clone()), || "manifest");
        assert_eq!(early, "manifest");
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&bytes)));
        assert_eq!(content.unwrap(), SignedContent::read(&bytes).unwrap());
    }

    #[test]
    fn without_a_helper_the_loader_does_both_passes() {
        let bytes = Arc::new(uneven());
        let ((), digest, content) = hash_here(&FilePass::new(&bytes), || ());
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(bytes.as_slice())));
        assert_eq!(content.unwrap(), SignedContent::read(&bytes).unwrap());
    }

    #[test]
    fn threads_racing_for_the_files_turns_hash_it_in_order() {
        let bytes = Arc::new((0..40 * TURN + 5).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
        for _ in 0..20 {
            let file = FilePass::new(&bytes);
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| file.run_to_end());
                }
            });
            assert_eq!(file.digest(), <[u8; 32]>::from(Sha256::digest(bytes.as_slice())));
            assert!(file.try_turn() == Turn::Done, "a turn after the end hashes nothing");
        }
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
