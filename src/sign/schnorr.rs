//! BIP-0340 Schnorr signatures as taproot witnesses carry them.

use k256::schnorr::{Signature, SigningKey, VerifyingKey};

use super::SignError;
use crate::sighash::{SIGHASH_DEFAULT, taproot::is_valid_taproot_sighash_type};

/// A BIP-0340 signature with its BIP-0341 sighash type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchnorrSig {
    /// The 64-byte signature.
    pub signature: Signature,
    /// The sighash type; `SIGHASH_DEFAULT` (0x00) is not serialized.
    pub sighash_type: u8,
}

impl SchnorrSig {
    /// Returns the witness encoding: 64 bytes for `SIGHASH_DEFAULT`, otherwise 65 with the
    /// sighash-type byte.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = self.signature.to_bytes().to_vec();
        if self.sighash_type != SIGHASH_DEFAULT {
            out.push(self.sighash_type);
        }
        out
    }
}

/// Signs a 32-byte BIP-0341 sighash with fresh auxiliary randomness from the operating
/// system (BIP-0340's recommended nonce derivation).
///
/// # Errors
/// [`SignError::InvalidSighashType`], [`SignError::Randomness`] or
/// [`SignError::Signature`].
pub fn sign_schnorr(
    key: &SigningKey,
    sighash: &[u8; 32],
    sighash_type: u8,
) -> Result<SchnorrSig, SignError> {
    let mut aux = [0u8; 32];
    getrandom::fill(&mut aux).map_err(|e| SignError::Randomness(e.to_string()))?;
    sign_schnorr_with_aux(key, sighash, sighash_type, &aux)
}

/// Signs a 32-byte BIP-0341 sighash with the given auxiliary randomness: deterministic,
/// for test vectors and for callers with their own randomness.
///
/// The message is signed as is (BIP-0340), not hashed first.
///
/// # Errors
/// [`SignError::InvalidSighashType`] or [`SignError::Signature`].
pub fn sign_schnorr_with_aux(
    key: &SigningKey,
    sighash: &[u8; 32],
    sighash_type: u8,
    aux: &[u8; 32],
) -> Result<SchnorrSig, SignError> {
    if !is_valid_taproot_sighash_type(sighash_type) {
        return Err(SignError::InvalidSighashType {
            index: 0,
            sighash_type,
        });
    }
    let signature = key
        .sign_raw(sighash, aux)
        .map_err(|_| SignError::Signature)?;
    Ok(SchnorrSig {
        signature,
        sighash_type,
    })
}

/// Verifies a BIP-0340 signature over `msg` (any length) by the x-only key `pubkey`;
/// false for keys not on the curve and malformed signatures.
pub fn verify_schnorr(pubkey: &[u8; 32], msg: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&(*pubkey).into()) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(&signature[..]) else {
        return false;
    };
    key.verify_raw(msg, &sig).is_ok()
}
