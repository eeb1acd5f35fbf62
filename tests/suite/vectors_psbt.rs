//! BIP-0174 test vectors: invalid and valid PSBTs, the signer checks, the full
//! creator → updater → signer ×2 → combiner → finalizer → extractor workflow, and the
//! combiner with unknown keys.

use ferry::hashes::hash160;
use ferry::psbt::{KeySource, Psbt, PsbtError, SignerError, UpdateData};
use ferry::script::ScriptBuf;
use ferry::script::base58;
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../fixtures/bip174_vectors.json")).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key}"))
}

/// Decodes a WIF private key (mainnet or testnet, compressed) to its 32 bytes.
fn wif_secret(wif: &str) -> [u8; 32] {
    let data = base58::decode_check(wif).unwrap();
    assert!(
        data.len() == 34 && data[33] == 0x01,
        "compressed WIF expected"
    );
    data[1..33].try_into().unwrap()
}

fn compressed_pubkey(secret: &[u8; 32]) -> Vec<u8> {
    let sk = k256::SecretKey::from_slice(secret).unwrap();
    sk.public_key().to_sec1_bytes().to_vec()
}

/// Returns the fingerprint of an extended private key (HASH160 of its public key).
fn xprv_fingerprint(xprv: &str) -> [u8; 4] {
    let data = base58::decode_check(xprv).unwrap();
    assert_eq!(data.len(), 78);
    let secret: [u8; 32] = data[46..78].try_into().unwrap();
    hash160(&compressed_pubkey(&secret))[..4]
        .try_into()
        .unwrap()
}

fn parse_path(path: &str) -> Vec<u32> {
    path.strip_prefix("m/")
        .unwrap()
        .split('/')
        .map(|step| match step.strip_suffix('\'') {
            Some(n) => n.parse::<u32>().unwrap() | 0x8000_0000,
            None => step.parse().unwrap(),
        })
        .collect()
}

#[test]
fn invalid_psbts_are_rejected() {
    let v = vectors();
    let cases = v["invalid"].as_array().unwrap();
    for case in cases {
        let desc = s(case, "description");
        let from_hex = Psbt::from_hex(s(case, "hex"));
        assert!(from_hex.is_err(), "accepted invalid (hex): {desc}");
        let from_b64 = Psbt::from_base64(s(case, "base64"));
        assert!(from_b64.is_err(), "accepted invalid (base64): {desc}");
        assert_eq!(from_hex, from_b64, "{desc}");
    }
    assert_eq!(cases.len(), 20);
}

#[test]
fn invalid_psbts_fail_for_their_documented_reason() {
    let v = vectors();
    let mut checked = 0;
    for case in v["invalid"].as_array().unwrap() {
        let desc = s(case, "description");
        let err = Psbt::from_hex(s(case, "hex")).unwrap_err();
        let ok = if desc.contains("Network transaction") {
            err == PsbtError::InvalidMagic
        } else if desc.contains("missing outputs") {
            matches!(err, PsbtError::Decode { .. })
        } else if desc.contains("filled scriptSig") {
            matches!(err, PsbtError::UnsignedTxNotEmpty { .. })
        } else if desc.contains("without an unsigned tx") {
            err == PsbtError::MissingUnsignedTx
        } else if desc.contains("duplicate keys") {
            matches!(err, PsbtError::DuplicateKey { .. })
        } else if desc.contains("typed key") {
            matches!(err, PsbtError::InvalidKey { .. })
        } else if desc.contains("witness serialization format") {
            matches!(err, PsbtError::InvalidValue { key_type: 0, .. })
        } else if desc.contains("not the stated size") {
            matches!(
                err,
                PsbtError::InvalidValue { .. } | PsbtError::Decode { .. }
            )
        } else {
            panic!("no expectation for {desc}: {err}")
        };
        assert!(ok, "{desc}: wrong error {err:?}");
        checked += 1;
    }
    assert_eq!(checked, 20);
}

#[test]
fn valid_psbts_round_trip_byte_for_byte() {
    let v = vectors();
    let cases = v["valid"].as_array().unwrap();
    for case in cases {
        let desc = s(case, "description");
        let psbt = Psbt::from_hex(s(case, "hex")).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(psbt.to_hex(), s(case, "hex"), "{desc}");
        assert_eq!(psbt.to_base64(), s(case, "base64"), "{desc}");
        let from_b64: Psbt = s(case, "base64").parse().unwrap();
        assert_eq!(from_b64, psbt, "{desc}");
        assert_eq!(psbt.to_string(), s(case, "base64"));
        // The decode view never fails and agrees with the transaction.
        let decoded = psbt.decode();
        assert_eq!(decoded.tx.txid, psbt.unsigned_tx.txid());
        assert_eq!(decoded.inputs.len(), psbt.unsigned_tx.input.len());
        serde_json::to_string(&decoded).unwrap();
    }
    assert_eq!(cases.len(), 10);
}

/// Maps a signer-check case's description to the error it documents.
fn expected_signer_error(desc: &str, err: &SignerError) -> bool {
    if desc.contains("Witness UTXO is provided for a non-witness input") {
        matches!(err, SignerError::WitnessUtxoForNonWitnessInput { .. })
    } else if desc.starts_with("redeemScript") {
        matches!(err, SignerError::RedeemScriptMismatch { .. })
    } else if desc.starts_with("witnessScript") {
        matches!(err, SignerError::WitnessScriptMismatch { .. })
    } else {
        panic!("no expectation for {desc}")
    }
}

/// Every private key the workflow gives its signers.
fn workflow_keys(v: &Value) -> Vec<k256::SecretKey> {
    v["workflow"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| s(st, "role") == "signer")
        .flat_map(|st| st["keys"].as_array().unwrap().clone())
        .map(|k| k256::SecretKey::from_slice(&wif_secret(s(&k, "wif"))).unwrap())
        .collect()
}

#[test]
fn signer_checks_refuse_inconsistent_psbts() {
    let v = vectors();
    let keys = workflow_keys(&v);
    assert_eq!(keys.len(), 4);
    let cases = v["fails_signer_checks"].as_array().unwrap();
    for case in cases {
        let desc = s(case, "description");
        let psbt = Psbt::from_hex(s(case, "hex")).unwrap_or_else(|e| panic!("{desc}: {e}"));
        let err = psbt.check_for_signing().unwrap_err();
        assert!(expected_signer_error(desc, &err), "{desc}: {err:?}");
        // The signer itself refuses, with all the workflow's keys, and adds nothing.
        let mut signed = psbt.clone();
        let err = signed.sign_with_keys(&keys).unwrap_err();
        assert!(expected_signer_error(desc, &err), "{desc}: {err:?}");
        assert_eq!(signed, psbt);
    }
    assert_eq!(cases.len(), 4);
}

fn step<'a>(v: &'a Value, n: usize, role: &str) -> &'a Value {
    let st = &v["workflow"]["steps"][n];
    assert_eq!(s(st, "role"), role);
    st
}

fn expected(st: &Value) -> Psbt {
    Psbt::from_hex(s(&st["expected"], "hex")).unwrap()
}

fn assert_psbt(psbt: &Psbt, st: &Value) {
    assert_eq!(
        psbt.to_hex(),
        s(&st["expected"], "hex"),
        "{}",
        s(st, "description")
    );
    assert_eq!(psbt.to_base64(), s(&st["expected"], "base64"));
}

#[test]
fn workflow_creator_updater_combiner_finalizer_extractor() {
    let v = vectors();
    assert_eq!(v["workflow"]["steps"].as_array().unwrap().len(), 8);

    // Creator.
    let st = step(&v, 0, "creator");
    let input = st["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let outpoint = OutPoint {
                txid: s(i, "txid").parse().unwrap(),
                vout: u32::try_from(i["vout"].as_u64().unwrap()).unwrap(),
            };
            TxIn::new(outpoint, TxIn::SEQUENCE_FINAL)
        })
        .collect();
    let output = st["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| TxOut {
            value: format!("{} btc", s(o, "amount_btc"))
                .parse::<Amount>()
                .unwrap(),
            script_pubkey: ScriptBuf::from_hex(s(o, "scriptPubKey_hex")).unwrap(),
        })
        .collect();
    let tx = Transaction {
        version: 2,
        lock_time: 0,
        input,
        output,
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).unwrap();
    assert_psbt(&psbt, st);

    // Updater: previous transactions, scripts and key origins.
    let st = step(&v, 1, "updater");
    let fingerprint = xprv_fingerprint(s(&v["workflow"], "master_xprv"));
    let hexes = |key: &str| -> Vec<String> {
        st[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let data = UpdateData {
        previous_txs: hexes("previous_transactions_hex")
            .iter()
            .map(|h| Transaction::from_hex(h).unwrap())
            .collect(),
        scripts: hexes("redeem_scripts_hex")
            .iter()
            .chain(&hexes("witness_scripts_hex"))
            .map(|h| ScriptBuf::from_hex(h).unwrap())
            .collect(),
        key_origins: st["public_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    hex::decode(s(k, "pubkey_hex")).unwrap(),
                    KeySource::from((fingerprint, parse_path(s(k, "path")))),
                )
            })
            .collect(),
    };
    psbt.update(&data).unwrap();
    assert_psbt(&psbt, st);

    // Updater: SIGHASH_ALL on every input.
    let st = step(&v, 2, "updater");
    for i in 0..psbt.inputs.len() {
        psbt.set_sighash_type(i, 0x01).unwrap();
    }
    assert_psbt(&psbt, st);

    // Two signers, each with its own keys, on the updated PSBT.
    let mut signed = Vec::new();
    for n in [3, 4] {
        let st = step(&v, n, "signer");
        let keys: Vec<k256::SecretKey> = st["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k256::SecretKey::from_slice(&wif_secret(s(k, "wif"))).unwrap())
            .collect();
        let mut p = psbt.clone();
        assert_eq!(p.sign_with_keys(&keys).unwrap(), keys.len());
        assert_psbt(&p, st);
        // Signing again adds nothing.
        assert_eq!(p.sign_with_keys(&keys).unwrap(), 0);
        signed.push(p);
    }

    // Combiner: both signers' PSBTs, either order.
    let st = step(&v, 5, "combiner");
    let (a, b) = (signed[0].clone(), signed[1].clone());
    let mut ab = a.clone();
    ab.combine(b.clone()).unwrap();
    assert_psbt(&ab, st);
    let mut ba = b;
    ba.combine(a).unwrap();
    assert_psbt(&ba, st);

    // Finalizer.
    let st = step(&v, 6, "input_finalizer");
    let mut finalized = ab;
    finalized.finalize().unwrap();
    assert_psbt(&finalized, st);

    // Extractor.
    let st = step(&v, 7, "transaction_extractor");
    let tx = finalized.extract_tx().unwrap();
    assert_eq!(tx.to_hex(), s(&st["expected"], "tx_hex"));
}

#[test]
fn combiner_with_unknown_keys() {
    let v = vectors();
    let case = &v["combiner_unknown_keys"];
    let inputs: Vec<Psbt> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let psbt = Psbt::from_hex(s(p, "hex")).unwrap();
            assert_eq!(psbt, Psbt::from_base64(s(p, "base64")).unwrap());
            psbt
        })
        .collect();
    assert_eq!(inputs.len(), 2);
    let mut combined = inputs[0].clone();
    combined.combine(inputs[1].clone()).unwrap();
    assert_eq!(combined.to_hex(), s(&case["expected"], "hex"));
    assert_eq!(combined.to_base64(), s(&case["expected"], "base64"));
}

#[test]
fn combiner_refuses_different_transactions() {
    let v = vectors();
    let mut a = expected(step(&v, 0, "creator"));
    let b = Psbt::from_hex(s(&v["valid"][0], "hex")).unwrap();
    assert!(matches!(
        a.combine(b),
        Err(PsbtError::DifferentTransactions { .. })
    ));
}

#[test]
fn wif_helper_matches_updater_keys() {
    // The signer keys derive the updater's public keys at the same paths.
    let v = vectors();
    let updater = step(&v, 1, "updater");
    let mut matched = 0;
    for signer in [step(&v, 3, "signer"), step(&v, 4, "signer")] {
        for key in signer["keys"].as_array().unwrap() {
            let pk = compressed_pubkey(&wif_secret(s(key, "wif")));
            let entry = updater["public_keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| s(k, "path") == s(key, "path"))
                .unwrap();
            assert_eq!(hex::encode(pk), s(entry, "pubkey_hex"));
            matched += 1;
        }
    }
    assert_eq!(matched, 4);
}
