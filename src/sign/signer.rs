//! The transaction signer: fills scriptSigs and witnesses for the output types ferry
//! spends, with one sighash cache per transaction.

use super::ecdsa::is_standard_ecdsa_sighash_type;
use super::{GetKey, KeyRequest, SignError, sign_ecdsa, sign_schnorr};
use crate::hashes::hash160;
use crate::script::ScriptBuf;
use crate::sighash::{SIGHASH_SINGLE, SighashCache, SpendPath};
use crate::tx::{Transaction, TxOut, Witness};

/// What to put in one input once it is signed.
struct Unlock {
    script_sig: ScriptBuf,
    witness: Witness,
}

/// Signs every input of `tx`, replacing its scriptSig and witness.
///
/// - `prevouts`: the outputs spent by all inputs, in input order.
/// - `sighash_types`: one per input. ECDSA inputs (P2PKH, P2SH-P2WPKH, P2WPKH) take
///   0x01-0x03 or 0x81-0x83; P2TR key-path inputs also take 0x00 (`SIGHASH_DEFAULT`).
/// - `keys`: looked up by what each spent output reveals ([`KeyRequest::PubkeyHash`],
///   [`KeyRequest::NestedWpkhScriptHash`], [`KeyRequest::Bip86OutputKey`]); P2PKH uses
///   compressed keys only.
///
/// P2TR inputs are signed on the key path as BIP-0086 outputs (internal key tweaked with no
/// script tree) with fresh auxiliary randomness. Nothing in `tx` changes unless every input
/// could be signed.
///
/// # Errors
/// [`SignError`]: counts that do not match the inputs, an unsupported spent script, a
/// missing or mismatching key, an invalid sighash type, or `SIGHASH_SINGLE` for an input
/// without an output at its index.
pub fn sign_transaction<K: GetKey + ?Sized>(
    tx: &mut Transaction,
    prevouts: &[TxOut],
    sighash_types: &[u8],
    keys: &K,
) -> Result<(), SignError> {
    let inputs = tx.input.len();
    if prevouts.len() != inputs || sighash_types.len() != inputs {
        return Err(SignError::InputCountMismatch {
            inputs,
            prevouts: prevouts.len(),
            sighash_types: sighash_types.len(),
        });
    }
    // No sighash commits to scriptSigs or witnesses, so every input is signed against the
    // unsigned transaction first and the unlocks are written afterwards.
    let unlocks = {
        let cache = SighashCache::new(tx);
        prevouts
            .iter()
            .zip(sighash_types)
            .enumerate()
            .map(|(index, (prevout, &sighash_type))| {
                sign_input(&cache, index, prevouts, prevout, sighash_type, keys)
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    for (txin, unlock) in tx.input.iter_mut().zip(unlocks) {
        txin.script_sig = unlock.script_sig;
        txin.witness = unlock.witness;
    }
    Ok(())
}

fn sign_input<K: GetKey + ?Sized>(
    cache: &SighashCache<'_>,
    index: usize,
    prevouts: &[TxOut],
    prevout: &TxOut,
    sighash_type: u8,
    keys: &K,
) -> Result<Unlock, SignError> {
    let spk = &prevout.script_pubkey;
    let outputs = cache.transaction().output.len();
    if sighash_type & 0x1f == SIGHASH_SINGLE && index >= outputs {
        return Err(SignError::SingleWithoutOutput { index, outputs });
    }
    let bytes = spk.as_bytes();
    if spk.is_p2tr() {
        let output_key: [u8; 32] = bytes[2..34].try_into().expect("P2TR program is 32 bytes");
        let prepared = keys
            .get_prepared_key(&KeyRequest::Bip86OutputKey(output_key))
            .ok_or(SignError::MissingKey { index })?;
        let tweaked = prepared
            .bip86_signing_key()
            .ok_or(SignError::KeyMismatch { index })?;
        if <[u8; 32]>::from(tweaked.verifying_key().to_bytes()) != output_key {
            return Err(SignError::KeyMismatch { index });
        }
        let sighash = cache
            .taproot_sighash(index, prevouts, sighash_type, None, None)
            .map_err(|error| SignError::Sighash { index, error })?;
        let sig = sign_schnorr(tweaked, &sighash, sighash_type).map_err(|e| at(e, index))?;
        return Ok(Unlock {
            script_sig: ScriptBuf::new(),
            witness: Witness::from_items(vec![sig.to_vec()]),
        });
    }

    if !is_standard_ecdsa_sighash_type(sighash_type) {
        return Err(SignError::InvalidSighashType {
            index,
            sighash_type,
        });
    }
    // The wallet's single-key templates: the key is asked for by the hash in the output.
    let request = if spk.is_p2pkh() {
        KeyRequest::PubkeyHash(array(&bytes[3..23]))
    } else if spk.is_p2wpkh() {
        KeyRequest::PubkeyHash(array(&bytes[2..22]))
    } else if spk.is_p2sh() {
        KeyRequest::NestedWpkhScriptHash(array(&bytes[2..22]))
    } else {
        return Err(SignError::UnsupportedScript {
            index,
            script_hex: spk.to_hex(),
        });
    };
    let prepared = keys
        .get_prepared_key(&request)
        .ok_or(SignError::MissingKey { index })?;
    let (pubkey, pkh) = (*prepared.compressed_pubkey(), *prepared.pubkey_hash());
    let matches = match request {
        KeyRequest::PubkeyHash(h) => h == pkh,
        KeyRequest::NestedWpkhScriptHash(h) => h == hash160(ScriptBuf::new_p2wpkh(&pkh).as_bytes()),
        _ => false,
    };
    if !matches {
        return Err(SignError::KeyMismatch { index });
    }
    let key = prepared.ecdsa();
    // A P2SH output here is P2SH-P2WPKH, whose redeem script is the key's P2WPKH program.
    let redeem = spk.is_p2sh().then(|| ScriptBuf::new_p2wpkh(&pkh));
    let unsupported = || SignError::UnsupportedScript {
        index,
        script_hex: spk.to_hex(),
    };
    let Ok(Some(SpendPath::Ecdsa(spend))) = SpendPath::classify(spk, redeem.as_ref(), None) else {
        return Err(unsupported());
    };
    let sighash = spend
        .sighash(cache, index, prevout.value, u32::from(sighash_type))
        .map_err(|error| SignError::Sighash { index, error })?;
    let sig = sign_ecdsa(key, &sighash, sighash_type)
        .map_err(|e| at(e, index))?
        .to_vec();
    Ok(match (spend.segwit, redeem) {
        (false, _) => {
            let mut script_sig = ScriptBuf::new();
            script_sig.push_slice(&sig).push_slice(&pubkey);
            Unlock {
                script_sig,
                witness: Witness::new(),
            }
        }
        (true, None) => Unlock {
            script_sig: ScriptBuf::new(),
            witness: Witness::from_items(vec![sig, pubkey.to_vec()]),
        },
        (true, Some(redeem)) => {
            let mut script_sig = ScriptBuf::new();
            script_sig.push_slice(redeem.as_bytes());
            Unlock {
                script_sig,
                witness: Witness::from_items(vec![sig, pubkey.to_vec()]),
            }
        }
    })
}

fn array(bytes: &[u8]) -> [u8; 20] {
    bytes.try_into().expect("template checked: a 20-byte hash")
}

/// Puts the input index into an error raised by a per-signature function.
fn at(e: SignError, index: usize) -> SignError {
    match e {
        SignError::InvalidSighashType { sighash_type, .. } => SignError::InvalidSighashType {
            index,
            sighash_type,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::KeyStore;
    use crate::tx::{OutPoint, TxIn};
    use crate::units::Amount;
    use k256::SecretKey;

    /// Returns the compressed public key and its HASH160.
    fn compressed_pubkey(secret: &SecretKey) -> ([u8; 33], [u8; 20]) {
        let pubkey: [u8; 33] = secret
            .public_key()
            .to_sec1_bytes()
            .as_ref()
            .try_into()
            .expect("a compressed SEC1 key is 33 bytes");
        let pkh = hash160(&pubkey);
        (pubkey, pkh)
    }

    fn key(b: u8) -> SecretKey {
        SecretKey::from_slice(&[b; 32]).unwrap()
    }

    fn one_input_tx() -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: vec![TxIn::new(OutPoint::NULL, 0)],
            output: vec![TxOut {
                value: Amount::from_sat(1),
                script_pubkey: ScriptBuf::new(),
            }],
        }
    }

    fn p2wpkh(k: &SecretKey) -> TxOut {
        TxOut {
            value: Amount::from_sat(10),
            script_pubkey: ScriptBuf::new_p2wpkh(&compressed_pubkey(k).1),
        }
    }

    #[test]
    fn refusals_leave_the_transaction_alone() {
        let store: KeyStore = [key(1)].into_iter().collect();
        let mut tx = one_input_tx();
        let before = tx.clone();
        let cases = [
            (
                vec![p2wpkh(&key(2))],
                vec![1],
                SignError::MissingKey { index: 0 },
            ),
            (
                vec![p2wpkh(&key(1))],
                vec![0],
                SignError::InvalidSighashType {
                    index: 0,
                    sighash_type: 0,
                },
            ),
            (
                vec![TxOut {
                    value: Amount::ZERO,
                    script_pubkey: ScriptBuf::new_p2wsh(&[0; 32]),
                }],
                vec![1],
                SignError::UnsupportedScript {
                    index: 0,
                    script_hex: ScriptBuf::new_p2wsh(&[0; 32]).to_hex(),
                },
            ),
            (
                vec![],
                vec![1],
                SignError::InputCountMismatch {
                    inputs: 1,
                    prevouts: 0,
                    sighash_types: 1,
                },
            ),
        ];
        for (prevouts, types, expected) in cases {
            assert_eq!(
                sign_transaction(&mut tx, &prevouts, &types, &store),
                Err(expected)
            );
            assert_eq!(tx, before);
        }
        // A key source answering with the wrong key is caught.
        struct Liar;
        impl GetKey for Liar {
            fn get_key(&self, _: &KeyRequest) -> Option<SecretKey> {
                Some(key(3))
            }
        }
        for prevout in [
            p2wpkh(&key(1)),
            TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::new_p2tr(&[2; 32]),
            },
        ] {
            assert_eq!(
                sign_transaction(&mut tx, &[prevout], &[1], &Liar),
                Err(SignError::KeyMismatch { index: 0 })
            );
        }
        assert_eq!(format!("{store:?}"), "KeyStore(1 keys)");
    }

    #[test]
    fn p2wpkh_witness_shape() {
        let store: KeyStore = [key(1)].into_iter().collect();
        let mut tx = one_input_tx();
        sign_transaction(&mut tx, &[p2wpkh(&key(1))], &[0x81], &store).unwrap();
        let items = tx.input[0].witness.items();
        assert_eq!(items.len(), 2);
        assert_eq!(*items[0].last().unwrap(), 0x81);
        assert_eq!(items[1], compressed_pubkey(&key(1)).0);
        assert!(tx.input[0].script_sig.is_empty());
    }
}
