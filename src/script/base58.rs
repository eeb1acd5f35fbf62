//! Base58Check (version byte + payload + 4-byte double-SHA256 checksum).

/// Why a base58check string did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base58Error {
    /// A character outside the base58 alphabet, or a bad checksum.
    #[error("invalid base58check: {0}")]
    Invalid(String),
}

/// Encodes raw bytes as base58 without a checksum.
pub fn encode(data: &[u8]) -> String {
    bs58::encode(data).into_string()
}

/// Decodes base58 without a checksum.
///
/// # Errors
/// A character outside the alphabet.
pub fn decode(s: &str) -> Result<Vec<u8>, Base58Error> {
    bs58::decode(s)
        .into_vec()
        .map_err(|e| Base58Error::Invalid(e.to_string()))
}

/// Encodes `data` (version bytes included) with a checksum.
pub fn encode_check(data: &[u8]) -> String {
    bs58::encode(data).with_check().into_string()
}

/// Decodes and verifies a checksum, returning the data without it.
///
/// # Errors
/// Bad characters or a checksum mismatch.
pub fn decode_check(s: &str) -> Result<Vec<u8>, Base58Error> {
    bs58::decode(s)
        .with_check(None)
        .into_vec()
        .map_err(|e| Base58Error::Invalid(e.to_string()))
}
