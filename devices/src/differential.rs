//! Differential testing of the simulator against the kernel: a seeded generator of CXL
//! fwctl requests that covers every field of the envelope and the Features payloads, and
//! the one-line digest of an answer that both sides print, so that the answers of a real
//! `cxl_test` node and of the `cxl-test-mock` profile can be compared line by line.
//!
//! The requests go to both sides in the same order from the same initial state: a Set
//! Feature changes what later Gets return, on both. Output buffers are filled with a
//! marker before each call, so bytes a driver did not write are compared too.

use nix::errno::Errno;

use fwctl_proto::cxl::{GET_FEATURE, GET_SUPPORTED_FEATURES, SET_FEATURE};

/// The byte every output buffer holds before a call.
pub const MARKER: u8 = 0xa5;

/// One request: scope (raw, 0–7: the kernel refuses what it does not know), response
/// buffer size, and the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `fwctl_rpc.scope`, as sent.
    pub scope: u32,
    /// `fwctl_rpc.out_len`.
    pub out_len: usize,
    /// The `struct fwctl_rpc_cxl` (or a truncated or malformed one).
    pub bytes: Vec<u8>,
}

impl Request {
    /// `SCOPE OUT-LEN HEX`, one request per line of a corpus file.
    pub fn to_line(&self) -> String {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {} {hex}", self.scope, self.out_len)
    }

    /// Parses [`Self::to_line`]'s form.
    pub fn from_line(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace();
        let scope = words.next()?.parse().ok()?;
        let out_len = words.next()?.parse().ok()?;
        let hex = words.next().unwrap_or("");
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        let bytes =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect::<Option<_>>()?;
        Some(Self { scope, out_len, bytes })
    }
}

/// What one answer comes to: the errno, or the reported length and a hash of the whole
/// output buffer (the part the driver wrote and the marker it left).
pub fn answer_line(result: Result<usize, Errno>, output: &[u8]) -> String {
    match result {
        Err(errno) => format!("err {errno:?}"),
        Ok(length) => {
            // FNV-1a: enough to tell two buffers apart, and the same on both sides.
            let hash =
                output.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
            format!("ok {length} {hash:016x}")
        }
    }
}

/// The Feature the kernel's mock has (the vendor test Feature), and one it does not.
const KNOWN: [u8; 16] = [0xff; 16];
const UNKNOWN: [u8; 16] =
    [0x96, 0xda, 0xd7, 0xd6, 0xfd, 0xe8, 0x48, 0x2b, 0xa7, 0x33, 0x75, 0x77, 0x4e, 0x06, 0xdb, 0x8a];

/// `count` requests drawn with `seed`: the same seed gives the same requests.
pub fn corpus(seed: u64, count: usize) -> Vec<Request> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count).map(|_| request(&mut rng)).collect()
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, choices: &[T]) -> T {
    choices[rng.usize(..choices.len())]
}

fn request(rng: &mut fastrand::Rng) -> Request {
    let opcode = match rng.u8(..10) {
        0..=2 => u32::from(GET_SUPPORTED_FEATURES),
        3..=5 => u32::from(GET_FEATURE),
        6..=7 => u32::from(SET_FEATURE),
        8 => pick(rng, &[0x0001, 0x0400, 0x4000, 0x0503, 0x0600]),
        _ => rng.u32(..),
    };
    let payload = match opcode {
        0x0500 => supported_features_in(rng),
        0x0501 => get_feature_in(rng),
        0x0502 => set_feature_in(rng),
        _ => (0..rng.usize(..40)).map(|_| rng.u8(..)).collect(),
    };
    let op_size = match rng.u8(..10) {
        0..=6 => payload.len() as u32,
        7 => rng.u32(..payload.len() as u32 + 1),
        8 => payload.len() as u32 + rng.u32(1..64),
        _ => pick(rng, &[0, 1, 4096, 4097, 1 << 20, u32::MAX]),
    };
    let flags = if rng.u8(..10) == 0 { rng.u32(..) } else { 0 };
    let reserved = if rng.u8(..20) == 0 { rng.u32(..) } else { 0 };
    let mut bytes = Vec::with_capacity(16 + payload.len());
    for field in [opcode, flags, op_size, reserved] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(&payload);
    // A truncated envelope now and then: shorter than the header, or than its payload.
    if rng.u8(..12) == 0 {
        bytes.truncate(rng.usize(..bytes.len()));
    }
    let scope = match rng.u8(..12) {
        0..=3 => 1,
        4..=6 => 2,
        7..=8 => 0,
        9 => 3,
        _ => rng.u32(4..8),
    };
    let out_len = match rng.u8(..10) {
        0 => 0,
        1 => pick(rng, &[8, 15, 16, 17, 20, 24]),
        2..=5 => pick(rng, &[16 + 8, 16 + 8 + 48, 16 + 4, 16 + 8 + 96, 64, 128]),
        6..=8 => rng.usize(..600),
        _ => pick(rng, &[4096, 4096 + 16, 4097 + 64, 8192]),
    };
    Request { scope, out_len, bytes }
}

fn supported_features_in(rng: &mut fastrand::Rng) -> Vec<u8> {
    let count = match rng.u8(..6) {
        0 => 0,
        1 => 8,
        2 => 48,
        3 => 56,
        4 => rng.u32(..200),
        _ => rng.u32(..),
    };
    let start = match rng.u8(..5) {
        0..=2 => 0,
        3 => 1,
        _ => rng.u16(..),
    };
    let mut p = count.to_le_bytes().to_vec();
    p.extend_from_slice(&start.to_le_bytes());
    p.extend_from_slice(&if rng.u8(..10) == 0 { [rng.u8(..), rng.u8(..)] } else { [0, 0] });
    p
}

fn feature_uuid(rng: &mut fastrand::Rng) -> [u8; 16] {
    match rng.u8(..10) {
        0..=6 => KNOWN,
        7..=8 => UNKNOWN,
        _ => std::array::from_fn(|_| rng.u8(..)),
    }
}

fn get_feature_in(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut p = feature_uuid(rng).to_vec();
    let offset = match rng.u8(..6) {
        0..=2 => 0,
        3 => rng.u16(1..4),
        4 => rng.u16(4..16),
        _ => rng.u16(..),
    };
    let count = match rng.u8(..6) {
        0 => 0,
        1..=2 => 4,
        3 => rng.u16(1..4),
        4 => rng.u16(5..5000),
        _ => rng.u16(..),
    };
    let selection = match rng.u8(..6) {
        0..=2 => 0,
        3 => 1,
        4 => 2,
        _ => rng.u8(..),
    };
    p.extend_from_slice(&offset.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.push(selection);
    p
}

fn set_feature_in(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut p = feature_uuid(rng).to_vec();
    // Bits 2:0 the transfer action, bit 3 "saved across reset"; sometimes anything.
    let flags: u32 = if rng.u8(..8) == 0 { rng.u32(..) } else { rng.u32(..16) };
    let offset = match rng.u8(..4) {
        0..=2 => 0,
        _ => rng.u16(..8),
    };
    let version = match rng.u8(..5) {
        0..=3 => 1,
        _ => rng.u8(..),
    };
    p.extend_from_slice(&flags.to_le_bytes());
    p.extend_from_slice(&offset.to_le_bytes());
    p.push(version);
    p.extend_from_slice(&[0; 9]);
    let data_len = match rng.u8(..6) {
        0..=3 => 4,
        4 => rng.usize(..4),
        _ => rng.usize(5..80),
    };
    p.extend((0..data_len).map(|_| rng.u8(..)));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_corpus_and_every_line_reads_back() {
        let corpus = super::corpus(7, 500);
        assert_eq!(corpus, super::corpus(7, 500));
        assert_ne!(corpus, super::corpus(8, 500));
        for request in &corpus {
            assert_eq!(Request::from_line(&request.to_line()).as_ref(), Some(request));
        }
        let opcodes: std::collections::BTreeSet<u32> = corpus
            .iter()
            .filter(|r| r.bytes.len() >= 4)
            .map(|r| u32::from_le_bytes(r.bytes[..4].try_into().unwrap()))
            .collect();
        assert!(opcodes.contains(&0x500) && opcodes.contains(&0x501) && opcodes.contains(&0x502));
        assert!(corpus.iter().any(|r| r.scope > 3), "scopes the kernel does not know");
        assert!(corpus.iter().any(|r| r.bytes.len() < 16), "truncated headers");
    }

    #[test]
    fn answers_differ_by_errno_length_and_every_byte_of_the_buffer() {
        assert_eq!(answer_line(Err(Errno::EPERM), &[]), "err EPERM");
        let a = answer_line(Ok(8), &[1, 2, MARKER]);
        assert_ne!(a, answer_line(Ok(8), &[1, 2, 3]));
        assert_ne!(a, answer_line(Ok(9), &[1, 2, MARKER]));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::Backend;
    use crate::credentials::Credentials;
    use crate::sim::{Fleet, SimBackend};
    use crate::uapi::MAX_RPC_LEN;

    /// What `FWCTL_RPC` on a CXL node can answer with (`drivers/fwctl/main.c` and
    /// `drivers/cxl/core/features.c`).
    const KERNEL_ERRNOS: &[Errno] =
        &[Errno::EINVAL, Errno::EOPNOTSUPP, Errno::EPERM, Errno::EMSGSIZE, Errno::ENOMEM, Errno::E2BIG, Errno::ENODEV];

    /// The generator against the simulator alone, for every CXL profile: no panic, no
    /// length past what the kernel can report, no errno the kernel does not use. Fast, so
    /// it runs with the unit tests; the kernel VM test compares answers with a real kernel.
    #[test]
    fn generated_requests_never_make_a_simulated_cxl_device_answer_what_the_kernel_cannot() {
        for (seed, profile) in [(0xf022, "cxl-test-mock"), (0xf023, "cxl-type3")] {
            let fleet = Fleet::builtin(profile).unwrap().unwrap();
            let sim = SimBackend::with_credentials(&fleet, Credentials { cap_sys_rawio: true }).unwrap();
            for device in sim.discover().unwrap() {
                let mut handle = sim.open(&device).unwrap();
                for (n, request) in corpus(seed, 4_000).iter().enumerate() {
                    let mut output = vec![MARKER; request.out_len];
                    match handle.rpc(request.scope, &request.bytes, &mut output) {
                        Ok(length) => assert!(length <= MAX_RPC_LEN, "{profile} #{n}: length {length}"),
                        Err(errno) => assert!(KERNEL_ERRNOS.contains(&errno), "{profile} #{n}: {errno:?}"),
                    }
                }
            }
        }
    }
}
