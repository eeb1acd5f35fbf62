//! The signer role: BIP-0174's signer checks, then ECDSA (legacy and BIP-0143) and
//! BIP-0341 key-path signatures for the inputs a given key belongs to.

use k256::SecretKey;
use k256::ecdsa::SigningKey;

use super::Psbt;
use super::error::SignerError;
use crate::hashes::{hash160, sha256};
use crate::script::taproot::tweak_secret_key;
use crate::script::{Instruction, ScriptBuf};
use crate::sighash::{
    SIGHASH_ALL, SIGHASH_DEFAULT, SIGHASH_SINGLE, SighashCache, SpendPath, SpendPathError,
};
use crate::sign::{GetKey, KeyRequest, KeyStore, sign_ecdsa, sign_schnorr};
use crate::tx::TxOut;

fn compressed(secret: &SecretKey) -> Vec<u8> {
    secret.public_key().to_sec1_bytes().to_vec()
}

fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    b.try_into()
        .expect("slice length checked by the script template")
}

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

    /// Signs every input it can with keys from `keys` (the BIP-0174 signer), after
    /// [`Psbt::check_for_signing`] found the PSBT consistent. Returns how many signatures
    /// were added.
    ///
    /// An input is signed with each key whose public key appears in its scripts, its
    /// `bip32_derivation`, or hashes to its P2PKH/P2WPKH program; a P2TR input on the key
    /// path with the key of its internal key (tweaked with its merkle root) or, lacking
    /// one, a BIP-0086 key. The sighash is legacy for pre-segwit spends (which need the
    /// non-witness UTXO), BIP-0143 for P2WPKH/P2WSH, nested or not, and BIP-0341 for P2TR
    /// (which needs every input's UTXO); its type is the input's `sighash_type`, else
    /// `SIGHASH_ALL` (`SIGHASH_DEFAULT` for taproot). Finalized inputs, inputs whose UTXO
    /// is unknown, and inputs none of whose keys are held are left alone. ECDSA nonces are
    /// RFC6979 (deterministic); BIP-0340 signatures use fresh auxiliary randomness.
    ///
    /// # Errors
    /// [`SignerError`] for an inconsistent PSBT, or an input that holds a known key but
    /// cannot be signed (a missing script or UTXO, an unacceptable sighash type).
    pub fn sign<K: GetKey + ?Sized>(&mut self, keys: &K) -> Result<usize, SignerError> {
        self.check_for_signing()?;
        let mut added = Vec::new();
        {
            let cache = SighashCache::new(&self.unsigned_tx);
            for index in 0..self.inputs.len() {
                if self.inputs[index].is_finalized() {
                    continue;
                }
                added.extend(self.sign_input(&cache, index, keys)?);
            }
        }
        let n = added.len();
        for (index, sig) in added {
            let input = &mut self.inputs[index];
            match sig {
                Signature::Ecdsa { pubkey, sig } => {
                    input.partial_sigs.insert(pubkey, sig);
                }
                Signature::TaprootKey(sig) => input.tap_key_sig = Some(sig),
            }
        }
        Ok(n)
    }

    /// Signs with the given secret keys; see [`Psbt::sign`].
    ///
    /// # Errors
    /// As [`Psbt::sign`].
    pub fn sign_with_keys(&mut self, keys: &[SecretKey]) -> Result<usize, SignerError> {
        let store: KeyStore = keys.iter().cloned().collect();
        self.sign(&store)
    }

    /// Works out how input `index` is spent: the script code, or the taproot output key
    /// ([`SpendPath`], shared with the transaction signer).
    fn spend_path(&self, index: usize, utxo: &TxOut) -> Result<Option<SpendPath>, SignerError> {
        let input = &self.inputs[index];
        // Without a P2SH output's redeem script nothing can be signed; a signer for a
        // different input may still hold keys here, so that is not an error.
        SpendPath::classify(
            &utxo.script_pubkey,
            input.redeem_script.as_ref(),
            input.witness_script.as_ref(),
        )
        .map_err(|e| match e {
            SpendPathError::MissingWitnessScript => SignerError::MissingScript {
                input: index,
                what: "witness script",
            },
            SpendPathError::Unsupported => SignerError::UnsupportedScript {
                input: index,
                script_pubkey: utxo.script_pubkey.to_hex(),
            },
        })
    }

    /// Returns the compressed public keys that may sign input `index` for `script_code`.
    fn candidate_pubkeys(&self, index: usize, script_code: &ScriptBuf) -> Vec<Vec<u8>> {
        fn add(pubkeys: &mut Vec<Vec<u8>>, pk: &[u8]) {
            if pk.len() == 33 && !pubkeys.iter().any(|p| p == pk) {
                pubkeys.push(pk.to_vec());
            }
        }
        let mut pubkeys: Vec<Vec<u8>> = Vec::new();
        for ins in script_code.instructions().flatten() {
            if let Instruction::Push(d) = ins {
                add(&mut pubkeys, d);
            }
        }
        // A P2PKH script code names its key only by hash: take the derivation that matches.
        let sc = script_code.as_bytes();
        for pk in self.inputs[index].bip32_derivation.keys() {
            if script_code.is_p2pkh() && sc[3..23] == hash160(pk) {
                add(&mut pubkeys, pk);
            }
        }
        pubkeys
    }

    fn sign_input<K: GetKey + ?Sized>(
        &self,
        cache: &SighashCache<'_>,
        index: usize,
        keys: &K,
    ) -> Result<Vec<(usize, Signature)>, SignerError> {
        let input = &self.inputs[index];
        let vout = self.unsigned_tx.input[index].previous_output.vout;
        let Some(utxo) = input.spent_output(vout).cloned() else {
            return Ok(Vec::new());
        };
        let Some(spend) = self.spend_path(index, &utxo)? else {
            return Ok(Vec::new());
        };
        let outputs = self.unsigned_tx.output.len();
        let sighash_err = |e: crate::sighash::SighashError| SignerError::Sighash {
            input: index,
            reason: e.to_string(),
        };
        let sign_err = |e: crate::sign::SignError| SignerError::Signing {
            input: index,
            reason: e.to_string(),
        };
        let bad_sighash = |sighash| SignerError::UnacceptableSighash {
            input: index,
            sighash,
        };

        let spend = match spend {
            SpendPath::Ecdsa(spend) => spend,
            SpendPath::TaprootKey { output_key } => {
                if input.tap_key_sig.is_some() {
                    return Ok(Vec::new());
                }
                let Some((secret, merkle_root)) = self.taproot_key(index, output_key, keys) else {
                    return Ok(Vec::new());
                };
                let sighash_type = input.sighash_type.unwrap_or(u32::from(SIGHASH_DEFAULT));
                let ty = u8::try_from(sighash_type).map_err(|_| bad_sighash(sighash_type))?;
                let prevouts = self.spent_outputs().map_err(|_| SignerError::MissingUtxo {
                    input: (0..self.inputs.len())
                        .find(|&i| {
                            self.inputs[i]
                                .spent_output(self.unsigned_tx.input[i].previous_output.vout)
                                .is_none()
                        })
                        .unwrap_or(index),
                })?;
                let tweaked = tweak_secret_key(&secret.to_nonzero_scalar(), merkle_root.as_ref())
                    .map_err(|e| SignerError::Signing {
                    input: index,
                    reason: e.to_string(),
                })?;
                if <[u8; 32]>::from(tweaked.verifying_key().to_bytes()) != output_key {
                    return Ok(Vec::new());
                }
                let sighash = cache
                    .taproot_sighash(index, &prevouts, ty, None, None)
                    .map_err(sighash_err)?;
                let sig = sign_schnorr(&tweaked, &sighash, ty).map_err(sign_err)?;
                return Ok(vec![(index, Signature::TaprootKey(sig.to_vec()))]);
            }
        };
        let script_code = &spend.script_code;
        let mut held = Vec::new();
        for pk in self.candidate_pubkeys(index, script_code) {
            if input.partial_sigs.contains_key(&pk) {
                continue;
            }
            let request = KeyRequest::Pubkey(array(&pk));
            if let Some(secret) = keys.get_key(&request)
                && compressed(&secret) == pk
            {
                held.push((pk, secret));
            }
        }
        // P2PKH and P2WPKH name their key by hash only; the key may be held without a
        // derivation saying so.
        if script_code.is_p2pkh()
            && held.is_empty()
            && let Some(secret) = keys.get_key(&KeyRequest::PubkeyHash(array(
                &script_code.as_bytes()[3..23],
            )))
        {
            let pk = compressed(&secret);
            if hash160(&pk)[..] == script_code.as_bytes()[3..23]
                && !input.partial_sigs.contains_key(&pk)
            {
                held.push((pk, secret));
            }
        }
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let sighash_type = input.sighash_type.unwrap_or(u32::from(SIGHASH_ALL));
        let ty = u8::try_from(sighash_type).map_err(|_| bad_sighash(sighash_type))?;
        if ty & 0x1f == SIGHASH_SINGLE && index >= outputs {
            // Legacy would sign the constant "1" hash, reusable by anyone.
            return Err(bad_sighash(sighash_type));
        }
        if !spend.segwit && input.non_witness_utxo.is_none() {
            return Err(SignerError::MissingNonWitnessUtxo { input: index });
        }
        let sighash = spend
            .sighash(cache, index, utxo.value, sighash_type)
            .map_err(sighash_err)?;
        held.into_iter()
            .map(|(pubkey, secret)| {
                let sig = sign_ecdsa(&SigningKey::from(&secret), &sighash, ty).map_err(sign_err)?;
                Ok((
                    index,
                    Signature::Ecdsa {
                        pubkey,
                        sig: sig.to_vec(),
                    },
                ))
            })
            .collect()
    }

    /// Finds the secret key of a taproot input's internal key, and the merkle root to
    /// tweak it with.
    fn taproot_key<K: GetKey + ?Sized>(
        &self,
        index: usize,
        output_key: [u8; 32],
        keys: &K,
    ) -> Option<(SecretKey, Option<[u8; 32]>)> {
        let input = &self.inputs[index];
        let merkle_root = input.tap_merkle_root;
        let internal = input.tap_internal_key.or_else(|| {
            input
                .tap_bip32_derivation
                .iter()
                .find(|(_, o)| o.leaf_hashes.is_empty())
                .map(|(k, _)| *k)
        });
        let secret = match internal {
            Some(xonly) => keys.get_key(&KeyRequest::XOnly(xonly))?,
            None => keys.get_key(&KeyRequest::Bip86OutputKey(output_key))?,
        };
        Some((secret, merkle_root))
    }
}

/// A signature the signer adds to an input.
enum Signature {
    Ecdsa { pubkey: Vec<u8>, sig: Vec<u8> },
    TaprootKey(Vec<u8>),
}
