//! BBQr ("Better Bitcoin QR", Coinkite's public-domain protocol, used by Coldcard, Sparrow
//! and Nunchuk): a PSBT or transaction too large for one QR code split over a series of
//! codes that can be scanned in any order.
//!
//! Each frame is QR alphanumeric text: the 8-character header `B$` + encoding + file type +
//! two base-36 digits for the number of frames + two for this frame's index, then the data.
//! ferry writes Base32 (RFC 4648 alphabet, no padding; encoding `2`), which packs 5 bits in
//! each 5.5-bit alphanumeric character, and reads all three encodings the protocol requires
//! receivers to read: Hex (`H`), Base32 and Zlib (`Z`: the whole file compressed as raw
//! deflate with a 1 KiB window, then Base32 — Coldcard's default). Every frame but the last
//! carries the same whole number of bytes, as the protocol requires. ferry does not write
//! `Z`: its deflate encoder cannot be held to the 1 KiB window every decoder may assume.
//! A frame scanned twice is fine if it is the same both times.

use std::fmt;

/// What a series carries (the protocol's file type letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `P`: a PSBT.
    Psbt,
    /// `T`: a signed transaction, ready to broadcast.
    Transaction,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Psbt => 'P',
            FileType::Transaction => 'T',
        }
    }
}

/// The most frames a series can have (`ZZ` in base 36).
pub const MAX_FRAMES: usize = 36 * 36 - 1;
/// The header's length.
pub const HEADER_LEN: usize = 8;
/// The most bytes `Z` frames may inflate to (16 MiB): far beyond any PSBT a QR series
/// carries, and a bound on what a crafted series can make ferry allocate.
pub const MAX_INFLATED: usize = 16 << 20;

/// Why frames could not be made or joined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BbqrError {
    /// The data needs more than [`MAX_FRAMES`] frames of the given size.
    #[error("{bytes} bytes need more than {MAX_FRAMES} frames of {per_frame} bytes")]
    TooLarge {
        /// The data's length.
        bytes: usize,
        /// Bytes per frame.
        per_frame: usize,
    },
    /// A frame is too small to hold anything after its header.
    #[error("a frame of {0} characters cannot hold data after its 8-character header")]
    FrameTooSmall(usize),
    /// A frame does not have the BBQr header.
    #[error("not a BBQr frame: {0}")]
    NotBbqr(String),
    /// An encoding the protocol does not define.
    #[error("BBQr encoding {0:?} is not one of the protocol's (H, 2, Z)")]
    Encoding(char),
    /// `Z` data that does not inflate, or inflates past [`MAX_INFLATED`].
    #[error("the BBQr frames' zlib data does not decompress: {0}")]
    Inflate(String),
    /// Frames of different series, a frame twice or one missing.
    #[error("{0}")]
    Series(String),
    /// The data is not valid for its encoding.
    #[error("bad data in BBQr frame {0}")]
    Data(usize),
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = BASE32.iter().position(|&x| x == c)? as u32;
        buf = ((buf << 5) | v) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    // Left-over bits must be padding zeros, fewer than a byte.
    (bits < 5 && buf & ((1 << bits) - 1) == 0).then_some(out)
}

fn base36(n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    format!(
        "{}{}",
        char::from(DIGITS[n / 36 % 36]),
        char::from(DIGITS[n % 36])
    )
}

fn parse_base36(s: &str) -> Option<usize> {
    usize::from_str_radix(s, 36).ok()
}

/// A series of frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames(pub Vec<String>);

impl fmt::Display for Frames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for frame in &self.0 {
            writeln!(f, "{frame}")?;
        }
        Ok(())
    }
}

/// Splits `data` into Base32 frames of at most `max_chars` characters each (header
/// included), all but the last carrying the same number of bytes, with as few frames as
/// fit and the bytes spread evenly over them.
///
/// # Errors
/// [`BbqrError::FrameTooSmall`] or [`BbqrError::TooLarge`].
pub fn split(data: &[u8], file_type: FileType, max_chars: usize) -> Result<Frames, BbqrError> {
    // Whole bytes per frame: 5 bytes are 8 Base32 characters, so frames hold multiples of 5.
    let room = max_chars.saturating_sub(HEADER_LEN);
    let max_bytes = room / 8 * 5;
    if max_bytes == 0 {
        return Err(BbqrError::FrameTooSmall(max_chars));
    }
    let fewest = data.len().div_ceil(max_bytes).max(1);
    if fewest > MAX_FRAMES {
        return Err(BbqrError::TooLarge {
            bytes: data.len(),
            per_frame: max_bytes,
        });
    }
    // Even out: the smallest multiple of 5 that still needs only that many frames.
    let per = data.len().div_ceil(fewest).div_ceil(5) * 5;
    let per = per.clamp(5, max_bytes);
    let count = data.len().div_ceil(per).max(1);
    let frames = data
        .chunks(per)
        .chain(data.is_empty().then_some(&[][..]))
        .enumerate()
        .map(|(i, chunk)| {
            format!(
                "B$2{}{}{}{}",
                file_type.letter(),
                base36(count),
                base36(i),
                base32_encode(chunk)
            )
        })
        .collect::<Vec<_>>();
    Ok(Frames(frames))
}

/// Joins frames (any order, repeats and blank lines and surrounding whitespace ignored) back
/// into the data and its file type letter.
///
/// # Errors
/// [`BbqrError`] for a frame that is not BBQr, frames of different series, a duplicate or
/// missing frame, or bad data.
pub fn join<'a>(frames: impl IntoIterator<Item = &'a str>) -> Result<(char, Vec<u8>), BbqrError> {
    let mut header: Option<(char, char, usize)> = None;
    let mut parts: Vec<Option<Vec<u8>>> = Vec::new();
    for frame in frames {
        let frame = frame.trim();
        if frame.is_empty() {
            continue;
        }
        let bad = || BbqrError::NotBbqr(frame.chars().take(16).collect());
        if frame.len() < HEADER_LEN || !frame.starts_with("B$") || !frame.is_ascii() {
            return Err(bad());
        }
        let enc = char::from(frame.as_bytes()[2]);
        let ty = char::from(frame.as_bytes()[3]);
        let total = parse_base36(&frame[4..6]).ok_or_else(bad)?;
        let index = parse_base36(&frame[6..8]).ok_or_else(bad)?;
        match header {
            None => {
                if total == 0 {
                    return Err(bad());
                }
                header = Some((enc, ty, total));
                parts = vec![None; total];
            }
            Some(h) if h != (enc, ty, total) => {
                return Err(BbqrError::Series(
                    "frames of different series (their headers differ)".into(),
                ));
            }
            Some(_) => {}
        }
        let data = match enc {
            'H' => hex::decode(&frame[HEADER_LEN..]).map_err(|_| BbqrError::Data(index))?,
            '2' | 'Z' => base32_decode(&frame[HEADER_LEN..]).ok_or(BbqrError::Data(index))?,
            other => return Err(BbqrError::Encoding(other)),
        };
        let slot = parts
            .get_mut(index)
            .ok_or_else(|| BbqrError::Series(format!("frame {index} of a {total}-frame series")))?;
        match slot {
            // Scanners see frames go by more than once: the same frame again is no harm.
            Some(seen) if *seen == data => {}
            Some(_) => {
                return Err(BbqrError::Series(format!(
                    "frame {index} appears twice with different data"
                )));
            }
            None => *slot = Some(data),
        }
    }
    let missing: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].is_none()).collect();
    if !missing.is_empty() {
        return Err(BbqrError::Series(format!("frames {missing:?} are missing")));
    }
    let (enc, ty, _) = header.ok_or_else(|| BbqrError::Series("no frames".into()))?;
    let joined: Vec<u8> = parts.into_iter().flatten().flatten().collect();
    if enc != 'Z' {
        return Ok((ty, joined));
    }
    // Raw deflate (no zlib header, as the protocol fixes it).
    let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(&joined, MAX_INFLATED)
        .map_err(|e| BbqrError::Inflate(e.to_string()))?;
    Ok((ty, inflated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 section 10, without padding.
        for (plain, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("MZ"), None, "non-zero padding bits");
    }

    #[test]
    fn splits_evenly_and_joins_in_any_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        let frames = split(&data, FileType::Psbt, 500).unwrap();
        // 492 characters after the header hold 61 groups of 8, 305 bytes: 17 frames.
        assert_eq!(frames.0.len(), 17);
        let lens: Vec<usize> = frames.0.iter().map(String::len).collect();
        assert!(lens.iter().all(|&l| l <= 500), "{lens:?}");
        assert!(lens[..16].iter().all(|&l| l == lens[0]));
        assert!(frames.0.iter().all(|f| f.starts_with("B$2P0H")));
        let mut shuffled: Vec<&str> = frames.0.iter().map(String::as_str).collect();
        shuffled.reverse();
        assert_eq!(join(shuffled.clone()).unwrap(), ('P', data.clone()));
        assert!(
            join(shuffled[1..].iter().copied()).is_err(),
            "a missing frame"
        );
        // A frame scanned twice: the same is fine, a different one is not.
        let mut twice = shuffled.clone();
        twice.push(shuffled[0]);
        assert_eq!(join(twice).unwrap(), ('P', data.clone()));
        let other = split(&data[1..], FileType::Psbt, 500).unwrap();
        let mut mixed = shuffled.clone();
        mixed.push(&other.0[16]);
        assert!(matches!(join(mixed), Err(BbqrError::Series(_))));
        // The protocol's Hex form, as other software writes it.
        assert_eq!(
            join(["B$HT0201DEAD", "B$HT0200BEEF"]).unwrap(),
            ('T', vec![0xbe, 0xef, 0xde, 0xad])
        );
        assert_eq!(join(["B$XP0100ABC"]), Err(BbqrError::Encoding('X')));
    }

    fn fixture_frames(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex::encode(crate::hashes::sha256(data))
    }

    /// Zlib frames as other software makes them: a real scan of a Coldcard Q showing a text
    /// file (BBQr's own test data, frames repeated as the camera saw them), and a Coldcard-
    /// finalized transaction and a PSBT from BBQr's test data, compressed by CPython's zlib
    /// (fixtures/README.md says how). Each comes back byte for byte.
    #[test]
    fn reads_zlib_frames_made_by_others() {
        let scan = include_str!("../../fixtures/bbqr_real_scan.txt");
        let (ty, text) = join(fixture_frames(scan)).unwrap();
        assert_eq!(ty, 'U');
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("Zlib compressed") && text.contains("PSBT"));

        let txn = include_str!("../../fixtures/bbqr_z_txn.txt");
        let mut frames = fixture_frames(txn);
        frames.reverse();
        let (ty, raw) = join(frames).unwrap();
        assert_eq!(ty, 'T');
        assert_eq!(
            sha256_hex(&raw),
            "ea0807625402361eb6168e6577bdac837793773c7bbf5bb9050fca4d93a865f7"
        );
        // The file is the transaction's hex, as the Coldcard saved it.
        let hex_text = std::str::from_utf8(&raw).unwrap().trim();
        let tx = crate::tx::Transaction::from_hex(hex_text).unwrap();
        assert_eq!(tx.to_hex(), hex_text);

        let psbt = include_str!("../../fixtures/bbqr_z_psbt.txt");
        let (ty, raw) = join(fixture_frames(psbt)).unwrap();
        assert_eq!(ty, 'P');
        assert_eq!(
            sha256_hex(&raw),
            "c38b8d114150bf8908bef19d1cbb94430a9ea05bfcab2a629051820ba91245df"
        );
        assert!(raw.starts_with(b"psbt\xff"));

        // A series cut short (the last frame lost its tail) does not inflate.
        let mut cut: Vec<&str> = fixture_frames(psbt);
        let last = cut.len() - 1;
        // Whole groups of 8 characters (5 bytes) off, so the Base32 itself stays valid.
        let keep = HEADER_LEN + (cut[last].len() - HEADER_LEN) / 8 * 8 - 16;
        cut[last] = &cut[last][..keep];
        let e = join(cut);
        assert!(
            matches!(e, Err(BbqrError::Inflate(_))),
            "a truncated stream: {e:?}"
        );
    }
}
