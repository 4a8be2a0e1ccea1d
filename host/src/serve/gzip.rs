//! A run's families compressed once, finished per scrape with a few lines of text.
//!
//! A thousand ConnectX make about 9 MiB of exposition text, which gzip makes some 30
//! times smaller; compressing it at every scrape would cost tens of milliseconds. So the
//! run's text is deflated once into an unfinished gzip member (flushed to a byte
//! boundary, no final block), and each scrape appends its own families (the run's age,
//! the run counts) as a final *stored* block and the member's trailer, whose CRC-32 is
//! the run text's combined with the tail's. The result is one ordinary gzip member,
//! which every decoder reads (curl, for one, reads only the first of several members).

use std::io::Read as _;

use bytes::Bytes;
use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};

/// The gzip header: deflate, no name or time, unknown OS (RFC 1952 §2.3).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// A stored block holds at most this many bytes (RFC 1951 §3.2.4).
const STORED_MAX: usize = 0xffff;

/// The header and deflated text of a gzip member, its last block still to come.
#[derive(Clone)]
pub struct GzipPrefix {
    bytes: Bytes,
    crc: Hasher,
    len: u64,
}

impl GzipPrefix {
    /// Deflates `text` at the fastest level: exposition text is label names and values
    /// repeated line after line, which even that level takes down many times.
    pub fn new(text: &[u8]) -> Self {
        let mut out = Vec::with_capacity(HEADER.len() + text.len() / 8 + 64);
        out.extend_from_slice(&HEADER);
        let mut deflate = Compress::new(Compression::fast(), false);
        loop {
            let consumed = deflate.total_in() as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity() / 2 + 64);
            }
            let status =
                deflate.compress_vec(&text[consumed..], &mut out, FlushCompress::Sync).expect("deflating in memory");
            // Done when all input is in and the sync flush has room to finish.
            if deflate.total_in() as usize == text.len() && out.len() < out.capacity() && status == Status::Ok {
                break;
            }
        }
        let mut crc = Hasher::new();
        crc.update(text);
        Self { bytes: out.into(), crc, len: text.len() as u64 }
    }

    /// The header and the deflated text, shared by every scrape.
    pub fn prefix(&self) -> Bytes {
        self.bytes.clone()
    }

    /// What ends the member after [`Self::prefix`]: `tail` in stored blocks, the last one
    /// final, then the trailer (CRC-32 and length of all the text, RFC 1952 §2.3.1).
    pub fn finish_with(&self, tail: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(tail.len() + 16);
        let mut chunks = tail.chunks(STORED_MAX).peekable();
        if chunks.peek().is_none() {
            out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let length = chunk.len() as u16;
            out.push(u8::from(last));
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(&(!length).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        let mut crc = self.crc.clone();
        let mut tail_crc = Hasher::new();
        tail_crc.update(tail);
        crc.combine(&tail_crc);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&((self.len + tail.len() as u64) as u32).to_le_bytes());
        out
    }

    /// The text, inflated again (for a scraper that does not take gzip).
    pub fn text(&self) -> Vec<u8> {
        let mut member = self.bytes.to_vec();
        member.extend_from_slice(&self.finish_with(&[]));
        let mut text = Vec::with_capacity(self.len as usize);
        flate2::read::GzDecoder::new(&member[..]).read_to_end(&mut text).expect("inflating a member made here");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(member: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(member).read_to_end(&mut text).unwrap();
        text
    }

    #[test]
    fn a_prefix_and_its_tail_are_one_gzip_member_of_both_texts() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("fwctl_link_up{{device=\"mlx5_{i}\",port=\"1\"}} 1\n").into_bytes())
            .collect();
        let prefix = GzipPrefix::new(&text);
        assert!(prefix.prefix().len() * 10 < text.len(), "compressed: {} of {}", prefix.prefix().len(), text.len());
        let tail = b"fwctl_run_last_run_age_seconds 1.5\n# EOF\n";
        let member = [prefix.prefix().to_vec(), prefix.finish_with(tail)].concat();
        assert_eq!(inflate(&member), [text.as_slice(), tail].concat());
        assert_eq!(prefix.text(), text);
    }

    #[test]
    fn a_tail_larger_than_a_stored_block_is_split_and_an_empty_one_still_ends_the_member() {
        let prefix = GzipPrefix::new(b"head\n");
        let tail = vec![b'x'; STORED_MAX * 2 + 10];
        let member = [prefix.prefix().to_vec(), prefix.finish_with(&tail)].concat();
        assert_eq!(inflate(&member), [b"head\n".as_slice(), &tail].concat());
        let member = [prefix.prefix().to_vec(), prefix.finish_with(b"")].concat();
        assert_eq!(inflate(&member), b"head\n");
        let empty = GzipPrefix::new(b"");
        assert_eq!(inflate(&[empty.prefix().to_vec(), empty.finish_with(b"t")].concat()), b"t");
    }

    #[test]
    fn a_damaged_trailer_is_caught_by_the_decoder() {
        let prefix = GzipPrefix::new(b"head\n");
        let mut member = [prefix.prefix().to_vec(), prefix.finish_with(b"tail\n")].concat();
        let crc_at = member.len() - 8;
        member[crc_at] ^= 1;
        let mut text = Vec::new();
        assert!(flate2::read::GzDecoder::new(&member[..]).read_to_end(&mut text).is_err(), "the CRC is checked");
    }
}
