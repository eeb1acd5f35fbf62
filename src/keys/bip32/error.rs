//! The errors of BIP-0032 derivation and extended key parsing.

use super::Fingerprint;
use crate::keys::path::{ChildNumber, PathError};
use crate::network::Network;
use crate::script::taproot::TweakError;

/// Why a BIP-0032 operation failed or an extended key did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Bip32Error {
    /// The seed is not 16 to 64 bytes long.
    #[error("seed is {0} bytes: BIP-0032 seeds are 16 to 64 bytes")]
    SeedLength(usize),
    /// HMAC output not usable as a key (probability below 2^-127): skip this index.
    #[error("child {0} is not a valid key (BIP-0032 says to skip to the next index)")]
    InvalidChild(u32),
    /// A hardened step was asked of a public key.
    #[error("cannot derive hardened child {0} from a public key")]
    HardenedFromPublic(ChildNumber),
    /// A derivation path problem.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Base58check failed (bad character or checksum).
    #[error("extended key is not valid base58check: {0}")]
    Base58(String),
    /// The decoded payload is not 78 bytes.
    #[error("extended key is {0} bytes, not 78")]
    Length(usize),
    /// The version bytes belong to no known extended key format.
    #[error("unknown extended key version {0}")]
    UnknownVersion(String),
    /// A public version where a private key was expected, or the reverse.
    #[error("expected an extended {expected} key, found a {found} ({prefix})")]
    WrongKind {
        /// "public" or "private".
        expected: &'static str,
        /// What the version says.
        found: &'static str,
        /// The version's prefix, e.g. "xpub".
        prefix: &'static str,
    },
    /// Depth 0 (a master key) with a parent fingerprint.
    #[error("master key (depth 0) with non-zero parent fingerprint {0}")]
    ZeroDepthParent(Fingerprint),
    /// Depth 0 (a master key) with a child number.
    #[error("master key (depth 0) with non-zero child number {0}")]
    ZeroDepthChild(u32),
    /// The private key data does not start with 0x00 or is not in 1..n-1.
    #[error("invalid private key in extended key: {0}")]
    InvalidPrivateKey(&'static str),
    /// The public key data is not a compressed point on secp256k1.
    #[error("invalid public key {0} in extended key")]
    InvalidPublicKey(String),
    /// The key's network family (mainnet/testnet) differs from the one asked for.
    #[error("{prefix} key is for {found}, but {expected} was asked for")]
    WrongNetwork {
        /// The key's prefix.
        prefix: String,
        /// "mainnet" or "testnet".
        found: &'static str,
        /// The network asked for.
        expected: Network,
    },
    /// A fingerprint that is not 8 hex digits.
    #[error("invalid fingerprint {0:?}: expected 8 hex digits")]
    InvalidFingerprint(String),
    /// A taproot output key could not be computed.
    #[error("taproot tweak failed: {0}")]
    Taproot(TweakError),
}

// By hand rather than `#[from]`, which would also make the cause a `source()`: the message
// already carries it, and it should print once.
impl From<TweakError> for Bip32Error {
    fn from(e: TweakError) -> Self {
        Bip32Error::Taproot(e)
    }
}
