//! Signing: ECDSA (RFC6979, low-S, DER) and BIP-0340 Schnorr signatures over sighashes,
//! and a transaction signer for the output types ferry spends.
//!
//! The signature functions take a sighash computed by [`crate::sighash::SighashCache`] and
//! return a signature in the encoding scripts carry (with its sighash-type byte).
//! [`sign_transaction`] puts the two together: one cache per transaction, keys looked up
//! through the [`GetKey`] trait, scriptSigs and witnesses filled in.

mod ecdsa;
mod keys;
mod schnorr;
mod signer;

pub use ecdsa::{EcdsaSig, sign_ecdsa};
pub use keys::{GetKey, KeyRequest, KeyStore, PreparedKey};
pub use schnorr::{SchnorrSig, sign_schnorr, sign_schnorr_with_aux, verify_schnorr};
pub use signer::sign_transaction;

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The sighash type is not one this kind of signature may carry.
    #[error("sighash type {sighash_type:#04x} is not valid for input {index}")]
    InvalidSighashType {
        /// The input index (0 outside the transaction signer).
        index: usize,
        /// The rejected type.
        sighash_type: u8,
    },
    /// `SIGHASH_SINGLE` for an input with no output at its index: legacy would sign the
    /// constant "1" hash (anyone could reuse the signature), BIP-0341 forbids it.
    #[error("SIGHASH_SINGLE for input {index} but the transaction has {outputs} outputs")]
    SingleWithoutOutput {
        /// The input index.
        index: usize,
        /// The number of outputs.
        outputs: usize,
    },
    /// One spent output and one sighash type are needed per input.
    #[error("{inputs} inputs but {prevouts} spent outputs and {sighash_types} sighash types")]
    InputCountMismatch {
        /// Inputs in the transaction.
        inputs: usize,
        /// Spent outputs given.
        prevouts: usize,
        /// Sighash types given.
        sighash_types: usize,
    },
    /// The spent output is not P2PKH, P2SH-P2WPKH, P2WPKH or P2TR.
    #[error("input {index} spends a script the signer does not handle: {script_hex}")]
    UnsupportedScript {
        /// The input index.
        index: usize,
        /// The spent scriptPubKey.
        script_hex: String,
    },
    /// The key source has no key for the input.
    #[error("no key for input {index}")]
    MissingKey {
        /// The input index.
        index: usize,
    },
    /// The key source returned a key that does not match the spent output.
    #[error("the key given for input {index} does not match its output")]
    KeyMismatch {
        /// The input index.
        index: usize,
    },
    /// Computing the sighash failed.
    #[error("sighash of input {index}: {error}")]
    Sighash {
        /// The input index.
        index: usize,
        /// The cause (in the message, not a `source()`: printed once).
        error: crate::sighash::SighashError,
    },
    /// The taproot tweak failed (probability ~2^-128).
    #[error("taproot tweak for input {index}: {error}")]
    Tweak {
        /// The input index.
        index: usize,
        /// The cause (in the message).
        error: crate::script::taproot::TweakError,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness for the signature nonce: {0}")]
    Randomness(String),
    /// The signature library refused (a derived nonce of zero, probability ~2^-256).
    #[error("signing failed")]
    Signature,
}
