//! Sizes the wallet plans with: the worst-case weight of each signed input type, the weight
//! of an output, and Bitcoin Core's dust thresholds.
//!
//! Fees are computed from the weight of the transaction filled with *dummy* unlocks of the
//! largest size a real signature can have (a 72-byte DER ECDSA signature with its sighash
//! byte — low-S, so `s` fits 32 bytes and only `r` may take 33 — or a 64-byte BIP-0340
//! signature with `SIGHASH_DEFAULT`). The signed transaction is then never heavier than the
//! one the fee was computed for, so the fee rate paid is never below the one asked.

use crate::script::ScriptBuf;
use crate::tx::{Transaction, TxOut, Witness};
use crate::units::{Amount, FeeRate, Weight};

/// Largest ECDSA signature as scripts carry it: DER with a 33-byte `r`, low-S 32-byte `s`
/// (2 + 2 + 33 + 2 + 32 = 71 bytes) and the sighash byte.
pub const MAX_ECDSA_SIG_LEN: usize = 72;
/// A BIP-0340 signature with `SIGHASH_DEFAULT` (no sighash byte), as ferry signs taproot.
pub const SCHNORR_SIG_LEN: usize = 64;
/// A compressed public key.
const PUBKEY_LEN: usize = 33;

/// Bitcoin Core's dust relay fee (`-dustrelayfee`, 3 sat/vB).
pub const DUST_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kvb(3000);

/// Returns the largest scriptSig and witness a signature for `script_pubkey` can need, or
/// `None` for a script the wallet's signer does not spend.
pub fn dummy_unlock(script_pubkey: &ScriptBuf) -> Option<(ScriptBuf, Witness)> {
    let sig = vec![0u8; MAX_ECDSA_SIG_LEN];
    let pk = vec![2u8; PUBKEY_LEN];
    if script_pubkey.is_p2pkh() {
        let mut s = ScriptBuf::new();
        s.push_slice(&sig).push_slice(&pk);
        Some((s, Witness::new()))
    } else if script_pubkey.is_p2sh() {
        // The wallet's P2SH outputs are P2SH-P2WPKH: the scriptSig pushes OP_0 <20 bytes>.
        let mut s = ScriptBuf::new();
        s.push_slice(&[0u8; 22]);
        Some((s, Witness::from_items(vec![sig, pk])))
    } else if script_pubkey.is_p2wpkh() {
        Some((ScriptBuf::new(), Witness::from_items(vec![sig, pk])))
    } else if script_pubkey.is_p2tr() {
        Some((
            ScriptBuf::new(),
            Witness::from_items(vec![vec![0u8; SCHNORR_SIG_LEN]]),
        ))
    } else {
        None
    }
}

/// Returns true if spending `script_pubkey` puts data in the witness.
pub fn spends_with_witness(script_pubkey: &ScriptBuf) -> bool {
    script_pubkey.is_p2sh() || script_pubkey.witness_program().is_some()
}

/// Returns the worst-case weight one signed input spending `script_pubkey` adds to a
/// transaction, counting its empty-witness byte when the transaction has a witness
/// (`segwit_tx`), but not the 2 WU of the segwit marker and flag.
pub fn input_weight(script_pubkey: &ScriptBuf, segwit_tx: bool) -> Option<Weight> {
    let (script_sig, witness) = dummy_unlock(script_pubkey)?;
    let sig_len = script_sig.len();
    let base = 32 + 4 + crate::tx::encode::compact_size_len(sig_len as u64) + sig_len + 4;
    let witness_len = if witness.is_empty() {
        usize::from(segwit_tx)
    } else {
        witness.encoded_len()
    };
    Some(Weight::from_wu((base * 4 + witness_len) as u64))
}

/// Returns the weight of an output paying to `script_pubkey`.
pub fn output_weight(script_pubkey: &ScriptBuf) -> Weight {
    let out = TxOut {
        value: Amount::ZERO,
        script_pubkey: script_pubkey.clone(),
    };
    Weight::from_wu(out.encoded_len() as u64 * 4)
}

/// Returns Bitcoin Core's dust threshold for an output paying to `script_pubkey` at the
/// default dust relay fee (`GetDustThreshold`): 546 sat for P2PKH, 540 for P2SH, 294 for
/// P2WPKH, 330 for P2WSH and P2TR; 0 for OP_RETURN.
pub fn dust_threshold(script_pubkey: &ScriptBuf) -> Amount {
    if script_pubkey.is_op_return() {
        return Amount::ZERO;
    }
    let out_len =
        8 + crate::tx::encode::compact_size_len(script_pubkey.len() as u64) + script_pubkey.len();
    // The size of the input that would spend it: 148 bytes for a legacy input, and for a
    // witness program 32 + 4 + 1 + 107/4 + 4 = 67 virtual bytes.
    let spend_len = if script_pubkey.witness_program().is_some() {
        32 + 4 + 1 + 107 / 4 + 4
    } else {
        32 + 4 + 1 + 107 + 4
    };
    DUST_RELAY_FEE
        .fee_for_vbytes((out_len + spend_len) as u64)
        .unwrap_or(Amount::MAX_MONEY)
}

/// Returns the weight `tx` will have once every input is signed, with the spent outputs
/// `prevouts` in input order: the transaction with worst-case dummy unlocks. `None` if an
/// input spends a script the wallet cannot sign.
pub fn signed_weight(tx: &Transaction, prevouts: &[TxOut]) -> Option<Weight> {
    let mut filled = tx.clone();
    for (txin, prevout) in filled.input.iter_mut().zip(prevouts) {
        let (script_sig, witness) = dummy_unlock(&prevout.script_pubkey)?;
        txin.script_sig = script_sig;
        txin.witness = witness;
    }
    Some(filled.weight())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{OutPoint, TxIn, Txid};

    fn spk(kind: &str) -> ScriptBuf {
        match kind {
            "p2pkh" => ScriptBuf::new_p2pkh(&[1; 20]),
            "p2sh" => ScriptBuf::new_p2sh(&[1; 20]),
            "p2wpkh" => ScriptBuf::new_p2wpkh(&[1; 20]),
            "p2wsh" => ScriptBuf::new_p2wsh(&[1; 32]),
            "p2tr" => ScriptBuf::new_p2tr(&[1; 32]),
            _ => unreachable!(),
        }
    }

    #[test]
    fn dust_thresholds_match_core() {
        let cases = [
            ("p2pkh", 546),
            ("p2sh", 540),
            ("p2wpkh", 294),
            ("p2wsh", 330),
            ("p2tr", 330),
        ];
        for (kind, dust) in cases {
            assert_eq!(dust_threshold(&spk(kind)).to_sat(), dust, "{kind}");
        }
        assert_eq!(cases.len(), 5);
    }

    #[test]
    fn input_weights_are_the_known_vsizes() {
        // Worst-case vsizes: P2PKH 148 vB, P2SH-P2WPKH 91, P2WPKH 68, P2TR 57.5 (230 WU).
        let cases = [
            ("p2pkh", 593),
            ("p2sh", 364),
            ("p2wpkh", 272),
            ("p2tr", 230),
        ];
        for (kind, wu) in cases {
            assert_eq!(input_weight(&spk(kind), true), Some(Weight::from_wu(wu)));
        }
        assert_eq!(
            input_weight(&spk("p2pkh"), false),
            Some(Weight::from_wu(592))
        );
        assert_eq!(input_weight(&spk("p2wsh"), true), None);
    }

    #[test]
    fn signed_weight_is_header_plus_parts() {
        for kind in ["p2pkh", "p2sh", "p2wpkh", "p2tr"] {
            let s = spk(kind);
            let tx = Transaction {
                version: 2,
                lock_time: 0,
                input: vec![TxIn::new(
                    OutPoint {
                        txid: Txid::from_byte_array([0; 32]),
                        vout: 0,
                    },
                    0,
                )],
                output: vec![TxOut {
                    value: Amount::from_sat(1000),
                    script_pubkey: spk("p2wpkh"),
                }],
            };
            let prev = TxOut {
                value: Amount::from_sat(5000),
                script_pubkey: s.clone(),
            };
            let segwit = spends_with_witness(&s);
            let expected = (4 + 4 + 1 + 1) * 4
                + if segwit { 2 } else { 0 }
                + input_weight(&s, segwit).unwrap().to_wu()
                + output_weight(&spk("p2wpkh")).to_wu();
            assert_eq!(
                signed_weight(&tx, &[prev]).unwrap().to_wu(),
                expected,
                "{kind}"
            );
        }
    }
}
