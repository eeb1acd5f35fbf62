//! Consensus serialization primitives: little-endian integers, CompactSize lengths and a
//! strict byte reader that refuses non-canonical or truncated input.

use thiserror::Error;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    #[error("unexpected end of data while reading {0}")]
    UnexpectedEnd(&'static str),
    /// A CompactSize was not in its shortest form.
    #[error("non-canonical CompactSize length")]
    NonCanonicalCompactSize,
    /// A length is larger than the data could possibly hold.
    #[error("length {0} is too large")]
    OversizedLength(u64),
    /// Bytes were left over after a complete value.
    #[error("{0} trailing bytes after the end of the data")]
    TrailingBytes(usize),
    /// The segwit marker/flag combination is not one Bitcoin defines.
    #[error("unknown segwit flag {0:#04x}")]
    UnknownSegwitFlag(u8),
    /// A segwit-serialized transaction whose witnesses are all empty.
    #[error("segwit serialization with no witness data (superfluous witness record)")]
    SuperfluousWitness,
    /// Not valid hex.
    #[error("invalid hex: {0}")]
    Hex(String),
}

/// A cursor over bytes that reads consensus-encoded fields.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Lengths above this are refused before allocating (Core's MAX_SIZE).
pub const MAX_SIZE: u64 = 0x0200_0000;

impl<'a> Reader<'a> {
    /// Starts reading `data` from the beginning.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Returns how many bytes are left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Returns the next byte without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEnd(what));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a CompactSize integer, refusing non-canonical encodings.
    pub fn compact_size(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let first = self.u8(what)?;
        let (value, min) = match first {
            0xfd => (u64::from(self.u16(what)?), 0xfd),
            0xfe => (u64::from(self.u32(what)?), 0x1_0000),
            0xff => (self.u64(what)?, 0x1_0000_0000),
            n => return Ok(u64::from(n)),
        };
        if value < min {
            return Err(DecodeError::NonCanonicalCompactSize);
        }
        Ok(value)
    }

    /// Reads a CompactSize count of items each at least `min_item_size` bytes, refusing
    /// counts the remaining data cannot hold (so hostile input cannot force big allocations).
    pub fn count(
        &mut self,
        what: &'static str,
        min_item_size: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.compact_size(what)?;
        if n > MAX_SIZE || n.saturating_mul(min_item_size as u64) > self.remaining() as u64 {
            return Err(if n > MAX_SIZE {
                DecodeError::OversizedLength(n)
            } else {
                DecodeError::UnexpectedEnd(what)
            });
        }
        Ok(n as usize)
    }

    /// Reads a CompactSize-prefixed byte string.
    pub fn var_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.count(what, 1)?;
        self.take(n, what)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends a CompactSize integer.
pub fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Returns the encoded size of a CompactSize integer.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends a CompactSize-prefixed byte string.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_compact_size(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Decodes hex, naming the problem on failure.
pub fn decode_hex(s: &str) -> Result<Vec<u8>, DecodeError> {
    hex::decode(s.trim()).map_err(|e| DecodeError::Hex(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_size_round_trip_and_canonical() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
        ] {
            let mut out = Vec::new();
            write_compact_size(&mut out, n);
            assert_eq!(out.len(), compact_size_len(n));
            assert_eq!(Reader::new(&out).compact_size("n"), Ok(n));
        }
        assert_eq!(
            Reader::new(&[0xfd, 0xfc, 0x00]).compact_size("n"),
            Err(DecodeError::NonCanonicalCompactSize)
        );
        assert_eq!(
            Reader::new(&[0xfe, 0xff, 0xff, 0x00, 0x00]).compact_size("n"),
            Err(DecodeError::NonCanonicalCompactSize)
        );
    }

    #[test]
    fn counts_are_bounded_by_remaining_data() {
        let data = [0xfe, 0xff, 0xff, 0xff, 0x01];
        assert!(Reader::new(&data).count("inputs", 41).is_err());
    }
}
