//! The hash functions Bitcoin is built on: SHA256, double SHA256, HASH160 and BIP-0340
//! tagged hashes.

use sha2::{Digest, Sha256};

/// Returns SHA256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Returns SHA256(SHA256(`data`)), the hash behind txids, block hashes and base58check.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// Returns RIPEMD160(SHA256(`data`)), the hash in P2PKH, P2SH and P2WPKH outputs.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    use ripemd::Ripemd160;
    Ripemd160::digest(sha256(data)).into()
}

/// Returns a SHA256 engine primed with `SHA256(tag) || SHA256(tag)` (BIP-0340 tagged hash).
///
/// Callers feed the message and finalize; priming once and cloning the engine is how the
/// per-tag midstate is reused.
pub fn tagged_engine(tag: &str) -> Sha256 {
    let tag_hash = sha256(tag.as_bytes());
    let mut engine = Sha256::new();
    engine.update(tag_hash);
    engine.update(tag_hash);
    engine
}

/// Returns the BIP-0340 tagged hash of `parts` concatenated.
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut engine = tagged_engine(tag);
    for part in parts {
        engine.update(part);
    }
    engine.finalize().into()
}

/// An incremental SHA256 writer, for hashing data as it is serialized.
#[derive(Clone, Default)]
pub struct HashWriter(Sha256);

impl HashWriter {
    /// Starts a plain SHA256.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// Starts a BIP-0340 tagged hash.
    pub fn tagged(tag: &str) -> Self {
        Self(tagged_engine(tag))
    }

    /// Feeds bytes.
    pub fn write(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Returns SHA256 of everything written.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }

    /// Returns SHA256(SHA256(everything written)).
    pub fn finish_double(self) -> [u8; 32] {
        sha256(&self.finish())
    }
}

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // HASH160 of the generator point, compressed (the pubkey of secret key 1).
        let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
            .unwrap();
        assert_eq!(
            hex::encode(hash160(&g)),
            "751e76e8199196d454941c45d1b3a323f1433bd6"
        );
    }

    #[test]
    fn tagged_hash_matches_definition() {
        let tag = sha256(b"TapLeaf");
        let mut concat = tag.to_vec();
        concat.extend_from_slice(&tag);
        concat.extend_from_slice(b"msg");
        assert_eq!(tagged_hash("TapLeaf", &[b"msg"]), sha256(&concat));
    }
}
