//! End-to-end role tests checked by Bitcoin Core's interpreter, and round trips of the
//! fields the BIP-0174 vectors do not exercise (BIP-0371 taproot, preimages, proprietary).

use k256::SecretKey;

use super::*;
use crate::consensus::verify_transaction;
use crate::hashes::{hash160, sha256};
use crate::script::taproot::tweak_public_key;
use crate::tx::{OutPoint, TxIn, TxOut, Txid, Witness};
use crate::units::Amount;
use crate::units::FeeRate;

fn key(i: u8) -> SecretKey {
    SecretKey::from_slice(&[i; 32]).unwrap()
}

fn pubkey(k: &SecretKey) -> Vec<u8> {
    k.public_key().to_sec1_bytes().to_vec()
}

fn xonly(k: &SecretKey) -> [u8; 32] {
    pubkey(k)[1..].try_into().unwrap()
}

fn source(i: u8) -> KeySource {
    KeySource::from(([0xd9, 0x0c, 0x6a, 0x4f], vec![0x8000_0000, u32::from(i)]))
}

fn multisig(m: i64, keys: &[Vec<u8>]) -> ScriptBuf {
    let mut s = ScriptBuf::new();
    s.push_int(m);
    for k in keys {
        s.push_slice(k);
    }
    s.push_int(keys.len() as i64)
        .push_opcode(crate::script::opcodes::OP_CHECKMULTISIG);
    s
}

/// Builds a PSBT spending one output of each kind ferry's PSBT roles handle.
fn every_kind() -> (Psbt, Vec<SecretKey>, Transaction) {
    let keys: Vec<SecretKey> = (1..=8).map(key).collect();
    let pks: Vec<Vec<u8>> = keys.iter().map(pubkey).collect();
    let wpkh_nested = ScriptBuf::new_p2wpkh(&hash160(&pks[2]));
    let ws = multisig(2, &[pks[4].clone(), pks[5].clone(), pks[6].clone()]);
    let bip86_key = tweak_public_key(&xonly(&keys[3]), None).unwrap().0;
    let root = sha256(b"some script tree");
    let rooted_key = tweak_public_key(&xonly(&keys[7]), Some(&root)).unwrap().0;
    let legacy_ms = multisig(1, &[pks[0].clone(), pks[1].clone()]);
    let spks = [
        ScriptBuf::new_p2pkh(&hash160(&pks[0])),
        ScriptBuf::new_p2wpkh(&hash160(&pks[1])),
        wpkh_nested.to_p2sh(),
        ScriptBuf::new_p2tr(&bip86_key),
        ws.to_p2wsh(),
        ScriptBuf::new_p2tr(&rooted_key),
        legacy_ms.to_p2sh(),
        ws.to_p2wsh().to_p2sh(),
    ];
    let funding = Transaction {
        version: 2,
        lock_time: 0,
        input: vec![TxIn::new(
            OutPoint {
                txid: Txid::from_byte_array([7; 32]),
                vout: 0,
            },
            TxIn::SEQUENCE_FINAL,
        )],
        output: spks
            .iter()
            .map(|spk| TxOut {
                value: Amount::from_sat(10_000_000),
                script_pubkey: spk.clone(),
            })
            .collect(),
    };
    let funding_txid = funding.txid();
    let spend = Transaction {
        version: 2,
        lock_time: 0,
        input: (0..spks.len() as u32)
            .map(|vout| {
                TxIn::new(
                    OutPoint {
                        txid: funding_txid,
                        vout,
                    },
                    TxIn::SEQUENCE_RBF,
                )
            })
            .collect(),
        output: vec![TxOut {
            value: Amount::from_sat(79_990_000),
            script_pubkey: ScriptBuf::new_p2wpkh(&[9; 20]),
        }],
    };
    let mut psbt = Psbt::from_unsigned_tx(spend).unwrap();
    psbt.update(&UpdateData {
        previous_txs: vec![funding.clone()],
        scripts: vec![wpkh_nested, ws.to_p2wsh(), ws, legacy_ms],
        key_origins: pks
            .iter()
            .enumerate()
            .map(|(i, pk)| (pk.clone(), source(i as u8)))
            .collect(),
    })
    .unwrap();
    psbt.inputs[3].tap_internal_key = Some(xonly(&keys[3]));
    psbt.inputs[5].tap_internal_key = Some(xonly(&keys[7]));
    psbt.inputs[5].tap_merkle_root = Some(root);
    (psbt, keys, funding)
}

#[test]
fn updater_places_utxos_scripts_and_derivations() {
    let (psbt, _, funding) = every_kind();
    assert_eq!(psbt.inputs[0].non_witness_utxo.as_ref(), Some(&funding));
    assert!(psbt.inputs[0].witness_utxo.is_none());
    assert!(psbt.inputs[6].non_witness_utxo.is_some());
    for i in [1, 2, 3, 4, 5, 7] {
        assert_eq!(
            psbt.inputs[i].witness_utxo,
            Some(funding.output[i].clone()),
            "{i}"
        );
    }
    assert!(psbt.inputs[2].redeem_script.is_some());
    assert!(psbt.inputs[7].redeem_script.is_some() && psbt.inputs[7].witness_script.is_some());
    assert_eq!(psbt.inputs[4].bip32_derivation.len(), 3);
    assert_eq!(psbt.inputs[1].bip32_derivation.len(), 1);
    assert_eq!(psbt.fee().unwrap(), Amount::from_sat(10_000));
}

#[test]
fn sign_finalize_extract_verifies_with_core() {
    let (mut psbt, keys, funding) = every_kind();
    // Half the keys, then the rest: the multisig needs both signers.
    let added = psbt.sign_with_keys(&keys[..5]).unwrap();
    assert!(added >= 5);
    assert!(matches!(
        psbt.clone().finalize(),
        Err(FinalizeError::NotEnoughSignatures { input: 4, .. })
    ));
    psbt.sign_with_keys(&keys[5..]).unwrap();
    let round_tripped = Psbt::from_base64(&psbt.to_base64()).unwrap();
    assert_eq!(round_tripped, psbt);
    psbt.finalize().unwrap();
    assert!(psbt.inputs.iter().all(|i| i.partial_sigs.is_empty()));
    let tx = psbt.extract_tx().unwrap();
    verify_transaction(&tx, &funding.output).unwrap();
    let mut stripped = tx.clone();
    for txin in &mut stripped.input {
        txin.script_sig = ScriptBuf::new();
        txin.witness = Witness::new();
    }
    assert_eq!(stripped, psbt.unsigned_tx);
}

#[test]
fn extractor_refuses_unfinalized_and_absurd_fees() {
    let (mut psbt, keys, funding) = every_kind();
    assert_eq!(
        psbt.extract_tx(),
        Err(ExtractTxError::NotFinalized { input: 0 })
    );
    psbt.unsigned_tx.output[0].value = Amount::from_sat(1_000);
    psbt.sign_with_keys(&keys).unwrap();
    psbt.finalize().unwrap();
    assert!(matches!(
        psbt.extract_tx(),
        Err(ExtractTxError::AbsurdFeeRate { .. })
    ));
    let tx = psbt.extract_tx_unchecked_fee_rate().unwrap();
    verify_transaction(&tx, &funding.output).unwrap();
    assert!(
        psbt.extract_tx_with_fee_rate_limit(FeeRate::from_sat_per_kvb(u64::MAX))
            .is_ok()
    );
}

#[test]
fn signer_refuses_a_bad_sighash_type_and_a_wrong_utxo() {
    let (psbt, keys, _) = every_kind();
    let mut p = psbt.clone();
    p.inputs[1].sighash_type = Some(0x04);
    assert!(matches!(
        p.sign_with_keys(&keys),
        Err(SignerError::UnacceptableSighash { input: 1, .. })
    ));
    let mut p = psbt.clone();
    p.inputs[0].witness_utxo = Some(TxOut {
        value: Amount::from_sat(1),
        script_pubkey: ScriptBuf::new_p2wpkh(&[1; 20]),
    });
    assert_eq!(
        p.sign_with_keys(&keys),
        Err(SignerError::UtxoMismatch { input: 0 })
    );
    let mut p = psbt;
    p.inputs[1].non_witness_utxo = Some(p.inputs[0].non_witness_utxo.clone().unwrap());
    p.unsigned_tx.input[1].previous_output.txid = Txid::from_byte_array([1; 32]);
    assert!(matches!(
        p.sign_with_keys(&keys),
        Err(SignerError::NonWitnessUtxoMismatch { input: 1, .. })
    ));
}

#[test]
fn taproot_and_other_fields_round_trip() {
    let (mut psbt, _, _) = every_kind();
    let input = &mut psbt.inputs[3];
    input.tap_key_sig = Some(vec![1; 64]);
    input
        .tap_script_sigs
        .insert(([2; 32], [3; 32]), vec![4; 65]);
    input.tap_leaf_scripts.insert(
        [vec![0xc0], vec![5; 32], vec![6; 32]].concat(),
        TapLeafScript {
            script: ScriptBuf::from_bytes(vec![0x51]),
            leaf_version: 0xc0,
        },
    );
    input.tap_leaf_scripts.insert(
        [vec![0xc1], vec![5; 32]].concat(),
        TapLeafScript {
            script: ScriptBuf::from_bytes(vec![0x51]),
            leaf_version: 0xc0,
        },
    );
    input.tap_bip32_derivation.insert(
        [7; 32],
        TapKeyOrigin {
            leaf_hashes: vec![[8; 32]],
            source: source(1),
        },
    );
    input.sha256_preimages.insert(sha256(b"x"), b"x".to_vec());
    input.hash160_preimages.insert(hash160(b"y"), b"y".to_vec());
    input.proprietary.insert(b"\x05ferry\x01".to_vec(), vec![1]);
    input.unknown.insert(vec![0x42, 1], vec![2]);
    psbt.outputs[0].tap_internal_key = Some([9; 32]);
    psbt.outputs[0].tap_tree = Some(vec![
        TapTreeLeaf {
            depth: 1,
            leaf_version: 0xc0,
            script: ScriptBuf::from_bytes(vec![0x51]),
        },
        TapTreeLeaf {
            depth: 1,
            leaf_version: 0xc0,
            script: ScriptBuf::from_bytes(vec![0x52]),
        },
    ]);
    psbt.outputs[0].tap_bip32_derivation.insert(
        [9; 32],
        TapKeyOrigin {
            leaf_hashes: vec![],
            source: source(2),
        },
    );
    psbt.proprietary.insert(b"\x05ferry\x00".to_vec(), vec![]);
    let bytes = psbt.serialize();
    let parsed = Psbt::deserialize(&bytes).unwrap();
    assert_eq!(parsed, psbt);
    assert_eq!(parsed.serialize(), bytes);
    let decoded = serde_json::to_value(parsed.decode()).unwrap();
    assert_eq!(decoded["fee_sat"], 10_000);
    assert_eq!(
        decoded["inputs"][1]["bip32_derivs"][hex::encode(pubkey(&key(2)))]["path"],
        "m/0'/1"
    );
}

#[test]
fn wrong_preimage_and_trailing_bytes_are_refused() {
    let (mut psbt, _, _) = every_kind();
    psbt.inputs[0]
        .sha256_preimages
        .insert([0; 32], b"x".to_vec());
    assert!(matches!(
        Psbt::deserialize(&psbt.serialize()),
        Err(PsbtError::InvalidValue { key_type: 0x0b, .. })
    ));
    psbt.inputs[0].sha256_preimages.clear();
    let mut bytes = psbt.serialize();
    bytes.push(0);
    assert_eq!(Psbt::deserialize(&bytes), Err(PsbtError::TrailingData(1)));
}

#[test]
fn sighash_names() {
    use super::decode::sighash_name;
    assert_eq!(sighash_name(0), "DEFAULT");
    assert_eq!(sighash_name(1), "ALL");
    assert_eq!(sighash_name(0x83), "SINGLE|ANYONECANPAY");
    assert_eq!(sighash_name(0x42), "66");
}

#[test]
fn version_2_signs_finalizes_and_extracts_like_version_0() {
    let (mut psbt, keys, funding) = every_kind();
    psbt.set_version(2).unwrap();
    // Through the version 2 wire form at every step, as another wallet would pass it on.
    let mut psbt = Psbt::deserialize(&psbt.serialize()).unwrap();
    assert_eq!(psbt.psbt_version(), 2);
    psbt.sign_with_keys(&keys[..5]).unwrap();
    let mut other = Psbt::deserialize(&psbt.serialize()).unwrap();
    other.sign_with_keys(&keys[5..]).unwrap();
    psbt.combine(other).unwrap();
    let mut psbt = Psbt::deserialize(&psbt.serialize()).unwrap();
    psbt.finalize().unwrap();
    let psbt = Psbt::deserialize(&psbt.serialize()).unwrap();
    assert_eq!(psbt.psbt_version(), 2);
    assert!(psbt.inputs.iter().all(|i| i.explicit_sequence));
    let tx = psbt.extract_tx().unwrap();
    verify_transaction(&tx, &funding.output).unwrap();
    assert_eq!(tx.input.len(), 8);
}
