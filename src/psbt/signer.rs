//! The signer role: BIP-0174's signer checks, then ECDSA (legacy and BIP-0143) and
//! BIP-0341 key-path signatures for the inputs a given key belongs to.

use super::Psbt;
use super::error::SignerError;
use crate::hashes::sha256;

/// Sighash types an ECDSA signer accepts (ALL, NONE, SINGLE, each optionally ANYONECANPAY).
fn ecdsa_sighash_ok(sighash: u32) -> bool {
    matches!(sighash, 0x01..=0x03 | 0x81..=0x83)
}

/// Sighash types a taproot signer accepts (BIP-0341: DEFAULT plus the ECDSA ones).
fn taproot_sighash_ok(sighash: u32) -> bool {
    sighash == 0x00 || ecdsa_sighash_ok(sighash)
}

impl Psbt {
    /// Runs BIP-0174's signer checks on input `index`: the non-witness UTXO is the spent
    /// transaction, a witness UTXO only accompanies a segwit output script, the witness
    /// and non-witness UTXOs agree, the redeem script hashes to the P2SH output, the
    /// witness script hashes to the P2WSH program, and the sighash type is acceptable.
    ///
    /// # Errors
    /// The [`SignerError`] naming the first inconsistency.
    ///
    /// # Panics
    /// If `index` is not an input of the transaction.
    pub fn check_input_for_signing(&self, index: usize) -> Result<(), SignerError> {
        let input = &self.inputs[index];
        let prevout = self.unsigned_tx.input[index].previous_output;
        if let Some(prev) = &input.non_witness_utxo {
            let actual = prev.txid();
            if actual != prevout.txid {
                return Err(SignerError::NonWitnessUtxoMismatch {
                    input: index,
                    expected: prevout.txid,
                    actual,
                });
            }
            if let Some(w) = &input.witness_utxo
                && prev.output.get(prevout.vout as usize) != Some(w)
            {
                return Err(SignerError::UtxoMismatch { input: index });
            }
        }
        let Some(utxo) = input.spent_output(prevout.vout) else {
            return Ok(());
        };
        let spk = &utxo.script_pubkey;
        let mut segwit_spk = spk;
        if spk.is_p2sh()
            && let Some(redeem) = &input.redeem_script
        {
            if redeem.to_p2sh() != *spk {
                return Err(SignerError::RedeemScriptMismatch {
                    input: index,
                    script_pubkey: spk.to_hex(),
                });
            }
            segwit_spk = redeem;
        }
        // With only a witness UTXO, the output script must be segwit; a P2SH output whose
        // redeem script is unknown could still be nested segwit, so it is let through.
        if input.witness_utxo.is_some()
            && segwit_spk.witness_program().is_none()
            && !(spk.is_p2sh() && input.redeem_script.is_none())
        {
            return Err(SignerError::WitnessUtxoForNonWitnessInput {
                input: index,
                script_pubkey: segwit_spk.to_hex(),
            });
        }
        if segwit_spk.is_p2wsh()
            && let Some(ws) = &input.witness_script
            && segwit_spk.as_bytes()[2..] != sha256(ws.as_bytes())
        {
            return Err(SignerError::WitnessScriptMismatch {
                input: index,
                program: segwit_spk.to_hex(),
            });
        }
        if let Some(sighash) = input.sighash_type {
            let ok = if segwit_spk.is_p2tr() {
                taproot_sighash_ok(sighash)
            } else {
                ecdsa_sighash_ok(sighash)
            };
            if !ok {
                return Err(SignerError::UnacceptableSighash {
                    input: index,
                    sighash,
                });
            }
        }
        Ok(())
    }

    /// Runs [`Psbt::check_input_for_signing`] on every input that is not finalized.
    ///
    /// # Errors
    /// The first [`SignerError`].
    pub fn check_for_signing(&self) -> Result<(), SignerError> {
        (0..self.inputs.len())
            .filter(|&i| !self.inputs[i].is_finalized())
            .try_for_each(|i| self.check_input_for_signing(i))
    }
}
