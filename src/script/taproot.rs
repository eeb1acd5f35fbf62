//! BIP-0341 key tweaking: the output key of a taproot output is the internal key plus
//! `TapTweak(internal_key || merkle_root) · G`. BIP-0086 wallets use no script tree.

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::{NonZeroScalar, ProjectivePoint, Scalar, schnorr};

use crate::hashes::tagged_hash;

/// Why a tweak could not be applied (each has probability ~2^-128 for honest keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TweakError {
    /// The x coordinate is not on the curve.
    #[error("x-only key is not a point on secp256k1")]
    InvalidKey,
    /// The tweak hash is not below the curve order, or the result is the point at infinity.
    #[error("taproot tweak out of range")]
    OutOfRange,
}

/// Returns the tweak scalar `TapTweak(internal_key || merkle_root)`.
fn tweak_scalar(
    internal_key: &[u8; 32],
    merkle_root: Option<&[u8; 32]>,
) -> Result<Scalar, TweakError> {
    let t = match merkle_root {
        Some(root) => tagged_hash("TapTweak", &[internal_key, root]),
        None => tagged_hash("TapTweak", &[internal_key]),
    };
    Option::from(Scalar::from_repr(t.into())).ok_or(TweakError::OutOfRange)
}

/// Returns the tweaked output key (x-only) and whether its y coordinate is odd (the
/// parity bit of a script-path control block).
///
/// # Errors
/// [`TweakError`] if the key is not on the curve or the tweak is out of range.
pub fn tweak_public_key(
    internal_key: &[u8; 32],
    merkle_root: Option<&[u8; 32]>,
) -> Result<([u8; 32], bool), TweakError> {
    let p = schnorr::VerifyingKey::from_bytes(&(*internal_key).into())
        .map_err(|_| TweakError::InvalidKey)?;
    let t = tweak_scalar(internal_key, merkle_root)?;
    let q = (ProjectivePoint::GENERATOR * t + ProjectivePoint::from(*p.as_affine())).to_affine();
    if q == k256::AffinePoint::IDENTITY {
        return Err(TweakError::OutOfRange);
    }
    Ok((q.x().into(), bool::from(q.y_is_odd())))
}

/// Returns the signing key for the tweaked output key of `internal_secret`'s x-only key.
///
/// # Errors
/// [`TweakError::OutOfRange`] if the tweaked secret is zero or the tweak out of range.
pub fn tweak_secret_key(
    internal_secret: &NonZeroScalar,
    merkle_root: Option<&[u8; 32]>,
) -> Result<schnorr::SigningKey, TweakError> {
    // Converting to a BIP-0340 key negates the secret if needed so its point has even y.
    let even = schnorr::SigningKey::from(*internal_secret);
    let internal_key: [u8; 32] = even.verifying_key().to_bytes().into();
    let t = tweak_scalar(&internal_key, merkle_root)?;
    let tweaked =
        Option::<NonZeroScalar>::from(NonZeroScalar::new(*even.as_nonzero_scalar().as_ref() + t))
            .ok_or(TweakError::OutOfRange)?;
    Ok(schnorr::SigningKey::from(tweaked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_and_public_tweaks_agree() {
        let secret = NonZeroScalar::from_repr([0x11; 32].into()).unwrap();
        let internal: [u8; 32] = schnorr::SigningKey::from(secret)
            .verifying_key()
            .to_bytes()
            .into();
        for root in [None, Some(&[0x22; 32])] {
            let (q, _) = tweak_public_key(&internal, root).unwrap();
            let sk = tweak_secret_key(&secret, root).unwrap();
            assert_eq!(<[u8; 32]>::from(sk.verifying_key().to_bytes()), q);
        }
    }
}
