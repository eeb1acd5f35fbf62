//! ECDSA signatures as legacy and segwit v0 scripts carry them.

use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};

use super::SignError;

/// An ECDSA signature with its sighash type, as pushed in a scriptSig or witness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcdsaSig {
    /// The signature (low-S).
    pub signature: Signature,
    /// The sighash type byte appended to the DER encoding.
    pub sighash_type: u8,
}

impl EcdsaSig {
    /// Returns the DER encoding followed by the sighash-type byte.
    pub fn to_vec(&self) -> Vec<u8> {
        let der = self.signature.to_der();
        let mut out = Vec::with_capacity(der.len() + 1);
        out.extend_from_slice(der.as_bytes());
        out.push(self.sighash_type);
        out
    }
}

/// Returns true for the hash types a standard ECDSA signature carries.
pub(super) fn is_standard_ecdsa_sighash_type(sighash_type: u8) -> bool {
    matches!(sighash_type, 0x01..=0x03 | 0x81..=0x83)
}

/// Signs a 32-byte sighash with ECDSA: RFC6979 deterministic nonce, low-S (BIP-0062 /
/// BIP-0146 standardness).
///
/// # Errors
/// [`SignError::InvalidSighashType`] for types other than 0x01-0x03 and 0x81-0x83;
/// [`SignError::Signature`] if the library refuses.
pub fn sign_ecdsa(
    key: &SigningKey,
    sighash: &[u8; 32],
    sighash_type: u8,
) -> Result<EcdsaSig, SignError> {
    if !is_standard_ecdsa_sighash_type(sighash_type) {
        return Err(SignError::InvalidSighashType {
            index: 0,
            sighash_type,
        });
    }
    let signature: Signature = key
        .sign_prehash(sighash)
        .map_err(|_| SignError::Signature)?;
    // k256 already normalizes; normalizing again costs nothing and keeps the promise local.
    Ok(EcdsaSig {
        signature: signature.normalize_s(),
        sighash_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::NonZeroScalar;
    use k256::elliptic_curve::scalar::IsHigh;

    #[test]
    fn low_s_and_deterministic() {
        for i in 1u8..=40 {
            let secret = NonZeroScalar::from_repr([i; 32].into()).unwrap();
            let key = SigningKey::from(secret);
            let msg = [i.wrapping_mul(7); 32];
            let a = sign_ecdsa(&key, &msg, 1).unwrap();
            let b = sign_ecdsa(&key, &msg, 1).unwrap();
            assert_eq!(a.to_vec(), b.to_vec());
            assert!(!bool::from(a.signature.s().is_high()), "high S for key {i}");
            assert_eq!(*a.to_vec().last().unwrap(), 1);
        }
        let key = SigningKey::from(NonZeroScalar::from_repr([1; 32].into()).unwrap());
        assert!(sign_ecdsa(&key, &[0; 32], 0).is_err());
        assert!(sign_ecdsa(&key, &[0; 32], 0x84).is_err());
    }
}
