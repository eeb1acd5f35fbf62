//! How a spent output is signed for, shared by both signers (the transaction signer in
//! `sign` and the PSBT signer): which script code an ECDSA signature commits to and with
//! which algorithm (legacy or BIP-0143), or the taproot output key of a key-path spend.

use super::{SighashCache, SighashError};
use crate::script::ScriptBuf;
use crate::units::Amount;

/// How an input's spent output is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendPath {
    /// An ECDSA signature over `script_code`.
    Ecdsa(EcdsaSpend),
    /// A BIP-0341 key-path signature for `output_key`.
    TaprootKey {
        /// The x-only output key of the P2TR program.
        output_key: [u8; 32],
    },
}

/// What an ECDSA signature commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdsaSpend {
    /// The script code: a P2PKH script for P2WPKH (BIP-0143), the witness script for
    /// P2WSH, the redeem script or the output itself for pre-segwit spends.
    pub script_code: ScriptBuf,
    /// BIP-0143 (segwit v0, nested or not) rather than the legacy algorithm.
    pub segwit: bool,
}

/// Why a spend cannot be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpendPathError {
    /// A P2WSH output without its witness script.
    #[error("the witness script is missing")]
    MissingWitnessScript,
    /// A witness program neither signer can sign (a future version, or P2TR inside P2SH).
    #[error("unsupported witness program")]
    Unsupported,
}

impl SpendPath {
    /// Classifies a spend of `script_pubkey`, given the redeem script of a P2SH output and
    /// the witness script of a P2WSH one where known. `Ok(None)`: a P2SH output whose
    /// redeem script is not known, so nothing can be signed for it.
    ///
    /// # Errors
    /// [`SpendPathError`].
    pub fn classify(
        script_pubkey: &ScriptBuf,
        redeem_script: Option<&ScriptBuf>,
        witness_script: Option<&ScriptBuf>,
    ) -> Result<Option<SpendPath>, SpendPathError> {
        let (nested, inner) = if script_pubkey.is_p2sh() {
            match redeem_script {
                Some(r) => (true, r),
                None => return Ok(None),
            }
        } else {
            (false, script_pubkey)
        };
        let bytes = inner.as_bytes();
        let path = if inner.is_p2wpkh() {
            let pkh: [u8; 20] = bytes[2..22].try_into().expect("P2WPKH program is 20 bytes");
            SpendPath::Ecdsa(EcdsaSpend {
                // BIP-0143: the scriptCode of P2WPKH is the P2PKH script of the key hash.
                script_code: ScriptBuf::new_p2pkh(&pkh),
                segwit: true,
            })
        } else if inner.is_p2wsh() {
            let ws = witness_script.ok_or(SpendPathError::MissingWitnessScript)?;
            SpendPath::Ecdsa(EcdsaSpend {
                script_code: ws.clone(),
                segwit: true,
            })
        } else if inner.is_p2tr() && !nested {
            SpendPath::TaprootKey {
                output_key: bytes[2..34].try_into().expect("P2TR program is 32 bytes"),
            }
        } else if inner.witness_program().is_some() {
            return Err(SpendPathError::Unsupported);
        } else {
            SpendPath::Ecdsa(EcdsaSpend {
                script_code: inner.clone(),
                segwit: false,
            })
        };
        Ok(Some(path))
    }
}

impl EcdsaSpend {
    /// The signature hash of input `index` (spending `value`) with `sighash_type`.
    ///
    /// # Errors
    /// [`SighashError`] from BIP-0143 (an index out of range).
    pub fn sighash(
        &self,
        cache: &SighashCache<'_>,
        index: usize,
        value: Amount,
        sighash_type: u32,
    ) -> Result<[u8; 32], SighashError> {
        if self.segwit {
            cache.segwit_v0_sighash(index, self.script_code.as_bytes(), value, sighash_type)
        } else {
            Ok(cache.legacy_sighash(index, self.script_code.as_bytes(), sighash_type))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_type_is_classified_as_both_signers_need() {
        let pkh = [7u8; 20];
        let p2wpkh = ScriptBuf::new_p2wpkh(&pkh);
        let p2pkh = ScriptBuf::new_p2pkh(&pkh);
        let p2sh = ScriptBuf::new_p2sh(&crate::hashes::hash160(p2wpkh.as_bytes()));
        let ecdsa = |script_code: &ScriptBuf, segwit| {
            Ok(Some(SpendPath::Ecdsa(EcdsaSpend {
                script_code: script_code.clone(),
                segwit,
            })))
        };
        assert_eq!(
            SpendPath::classify(&p2pkh, None, None),
            ecdsa(&p2pkh, false)
        );
        assert_eq!(
            SpendPath::classify(&p2wpkh, None, None),
            ecdsa(&p2pkh, true)
        );
        assert_eq!(
            SpendPath::classify(&p2sh, Some(&p2wpkh), None),
            ecdsa(&p2pkh, true)
        );
        assert_eq!(SpendPath::classify(&p2sh, None, None), Ok(None));
        let ws = ScriptBuf::from_hex("51").unwrap();
        let p2wsh = ScriptBuf::new_p2wsh(&crate::hashes::sha256(ws.as_bytes()));
        assert_eq!(
            SpendPath::classify(&p2wsh, None, Some(&ws)),
            ecdsa(&ws, true)
        );
        assert_eq!(
            SpendPath::classify(&p2wsh, None, None),
            Err(SpendPathError::MissingWitnessScript)
        );
        let p2tr = ScriptBuf::new_p2tr(&[9; 32]);
        assert_eq!(
            SpendPath::classify(&p2tr, None, None),
            Ok(Some(SpendPath::TaprootKey {
                output_key: [9; 32]
            }))
        );
        assert_eq!(
            SpendPath::classify(&p2sh, Some(&p2tr), None),
            Err(SpendPathError::Unsupported)
        );
        let future = ScriptBuf::new_witness_program(2, &[1; 32]);
        assert_eq!(
            SpendPath::classify(&future, None, None),
            Err(SpendPathError::Unsupported)
        );
    }
}
