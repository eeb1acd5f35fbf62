//! Bitcoin Core's interpreter as oracle for ferry's signer: random transactions mixing
//! P2PKH, P2SH-P2WPKH, P2WPKH and P2TR key-path inputs with random sighash types are signed
//! by `ferry::sign::sign_transaction`, and `ferry::consensus::verify_input` (Core's
//! interpreter, all spent outputs, taproot flags) must accept every input — and reject the
//! input whose signature had one bit flipped.
// Test helpers panic on broken invariants by design.

use std::time::Instant;

use ferry::consensus::{ConsensusError, VerifyFlags, verify_input, verify_transaction};
use ferry::hashes::{hash160, sha256};
use ferry::script::ScriptBuf;
use ferry::script::taproot::tweak_public_key;
use ferry::sign::{KeyStore, SignError, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::Amount;
use k256::SecretKey;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

const ECDSA_TYPES: [u8; 6] = [0x01, 0x02, 0x03, 0x81, 0x82, 0x83];
const TAPROOT_TYPES: [u8; 7] = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83];
const TRANSACTIONS: u32 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P2pkh,
    P2shP2wpkh,
    P2wpkh,
    P2tr,
}

#[derive(Debug, Clone)]
struct InputSpec {
    kind: Kind,
    seed: [u8; 32],
    amount: u64,
    txid: [u8; 32],
    vout: u32,
    sequence: u32,
    sighash_choice: usize,
}

#[derive(Debug, Clone)]
struct TxSpec {
    version: i32,
    lock_time: u32,
    inputs: Vec<InputSpec>,
    outputs: Vec<(u64, u8, [u8; 32])>,
    flip: (usize, usize),
}

fn input_spec() -> impl Strategy<Value = InputSpec> {
    (
        prop_oneof![
            Just(Kind::P2pkh),
            Just(Kind::P2shP2wpkh),
            Just(Kind::P2wpkh),
            Just(Kind::P2tr)
        ],
        any::<[u8; 32]>(),
        1u64..=Amount::MAX_MONEY.to_sat(),
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<usize>(),
    )
        .prop_map(
            |(kind, seed, amount, txid, vout, sequence, sighash_choice)| InputSpec {
                kind,
                seed,
                amount,
                txid,
                vout,
                sequence,
                sighash_choice,
            },
        )
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        any::<i32>(),
        any::<u32>(),
        prop::collection::vec(input_spec(), 1..=6),
        prop::collection::vec(
            (0u64..=Amount::MAX_MONEY.to_sat(), 0u8..5, any::<[u8; 32]>()),
            1..=6,
        ),
        (any::<usize>(), any::<usize>()),
    )
        .prop_map(|(version, lock_time, inputs, outputs, flip)| TxSpec {
            version,
            lock_time,
            inputs,
            outputs,
            flip,
        })
}

/// A secret key from 32 random bytes (hashed until it is a valid scalar).
fn secret(seed: &[u8; 32]) -> SecretKey {
    let mut bytes = *seed;
    loop {
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
        bytes = sha256(&bytes);
    }
}

fn script_pubkey(kind: Kind, key: &SecretKey) -> ScriptBuf {
    let pubkey = key.public_key().to_sec1_bytes();
    let pkh = hash160(&pubkey);
    match kind {
        Kind::P2pkh => ScriptBuf::new_p2pkh(&pkh),
        Kind::P2wpkh => ScriptBuf::new_p2wpkh(&pkh),
        Kind::P2shP2wpkh => ScriptBuf::new_p2wpkh(&pkh).to_p2sh(),
        Kind::P2tr => {
            let xonly: [u8; 32] = pubkey[1..].try_into().unwrap();
            ScriptBuf::new_p2tr(&tweak_public_key(&xonly, None).unwrap().0)
        }
    }
}

fn output_script(choice: u8, data: &[u8; 32]) -> ScriptBuf {
    match choice {
        0 => ScriptBuf::new_p2pkh(&data[..20].try_into().unwrap()),
        1 => ScriptBuf::new_p2wpkh(&data[..20].try_into().unwrap()),
        2 => ScriptBuf::new_p2tr(data),
        3 => ScriptBuf::new_p2sh(&data[..20].try_into().unwrap()),
        _ => ScriptBuf::new_op_return(&data[..(data[0] % 32) as usize]),
    }
}

/// Returns where input `index`'s signature sits: (in witness item 0?, byte range).
fn signature_location(tx: &Transaction, index: usize) -> (bool, std::ops::Range<usize>) {
    let txin = &tx.input[index];
    match txin.witness.items().first() {
        Some(sig) => (true, 0..sig.len()),
        // P2PKH scriptSig: <push len> <sig> <push 33> <pubkey>.
        None => {
            let len = usize::from(txin.script_sig.as_bytes()[0]);
            (false, 1..1 + len)
        }
    }
}

#[derive(Default, Debug)]
struct Stats {
    transactions: u32,
    inputs: [u32; 4],
    single_refusals: u32,
    tampered_rejected: u32,
}

fn check(spec: &TxSpec, stats: &mut Stats) {
    let keys: Vec<SecretKey> = spec.inputs.iter().map(|i| secret(&i.seed)).collect();
    let store: KeyStore = keys.iter().cloned().collect();
    let prevouts: Vec<TxOut> = spec
        .inputs
        .iter()
        .zip(&keys)
        .map(|(i, k)| TxOut {
            value: Amount::from_sat(i.amount),
            script_pubkey: script_pubkey(i.kind, k),
        })
        .collect();
    let sighash_types: Vec<u8> = spec
        .inputs
        .iter()
        .map(|i| match i.kind {
            Kind::P2tr => TAPROOT_TYPES[i.sighash_choice % TAPROOT_TYPES.len()],
            _ => ECDSA_TYPES[i.sighash_choice % ECDSA_TYPES.len()],
        })
        .collect();
    let mut tx = Transaction {
        version: spec.version,
        lock_time: spec.lock_time,
        input: spec
            .inputs
            .iter()
            .map(|i| {
                TxIn::new(
                    OutPoint {
                        txid: Txid::from_byte_array(i.txid),
                        vout: i.vout,
                    },
                    i.sequence,
                )
            })
            .collect(),
        output: spec
            .outputs
            .iter()
            .map(|(v, c, d)| TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: output_script(*c, d),
            })
            .collect(),
    };

    // SIGHASH_SINGLE without an output at the input's index: the signer must refuse (and
    // leave the transaction untouched); then add outputs so that every input has one.
    let first_orphan_single = sighash_types
        .iter()
        .enumerate()
        .find(|&(i, t)| t & 0x1f == 0x03 && i >= tx.output.len())
        .map(|(i, _)| i);
    if let Some(index) = first_orphan_single {
        let before = tx.clone();
        let err = sign_transaction(&mut tx, &prevouts, &sighash_types, &store).unwrap_err();
        let outputs = tx.output.len();
        assert!(
            matches!(err, SignError::SingleWithoutOutput { index: i, outputs: o } if i == index && o == outputs),
            "{err:?}"
        );
        assert_eq!(tx, before);
        stats.single_refusals += 1;
        while tx.output.len() < tx.input.len() {
            let n = tx.output.len() as u8;
            tx.output.push(TxOut {
                value: Amount::from_sat(546),
                script_pubkey: output_script(n % 4, &[n; 32]),
            });
        }
    }

    sign_transaction(&mut tx, &prevouts, &sighash_types, &store).unwrap();
    let bytes = tx.serialize();
    assert_eq!(Transaction::deserialize(&bytes).unwrap(), tx);
    for (i, prevout) in prevouts.iter().enumerate() {
        verify_input(
            prevout.script_pubkey.as_bytes(),
            prevout.value,
            &bytes,
            &prevouts,
            i,
            VerifyFlags::ALL,
        )
        .unwrap_or_else(|e| {
            panic!(
                "input {i} ({:?}, type {:#04x}) rejected: {e}",
                spec.inputs[i].kind, sighash_types[i]
            )
        });
    }
    verify_transaction(&tx, &prevouts).unwrap();

    // Flip one bit of one signature: Core must reject that input.
    let index = spec.flip.0 % tx.input.len();
    let (in_witness, range) = signature_location(&tx, index);
    let bit = spec.flip.1 % (range.len() * 8);
    let byte = range.start + bit / 8;
    let mut tampered = tx.clone();
    if in_witness {
        let mut items = tampered.input[index].witness.items().to_vec();
        items[0][byte] ^= 1 << (bit % 8);
        tampered.input[index].witness = ferry::tx::Witness::from_items(items);
    } else {
        let mut script = tampered.input[index].script_sig.as_bytes().to_vec();
        script[byte] ^= 1 << (bit % 8);
        tampered.input[index].script_sig = ScriptBuf::from_bytes(script);
    }
    let prevout = &prevouts[index];
    let result = verify_input(
        prevout.script_pubkey.as_bytes(),
        prevout.value,
        &tampered.serialize(),
        &prevouts,
        index,
        VerifyFlags::ALL,
    );
    assert_eq!(
        result,
        Err(ConsensusError::ScriptFailed { input_index: index }),
        "flipped bit {bit} of input {index}'s signature ({:?}) was accepted",
        spec.inputs[index].kind
    );
    stats.tampered_rejected += 1;

    for i in &spec.inputs {
        stats.inputs[i.kind as usize] += 1;
    }
    stats.transactions += 1;
}

#[test]
fn core_accepts_ferry_signatures_and_rejects_flipped_bits() {
    let config = Config {
        cases: TRANSACTIONS,
        rng_seed: RngSeed::Fixed(0x6665_7272_795f_7369),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let stats = std::cell::RefCell::new(Stats::default());
    let start = Instant::now();
    runner
        .run(&tx_spec(), |spec| {
            check(&spec, &mut stats.borrow_mut());
            Ok(())
        })
        .unwrap();
    let stats = stats.into_inner();
    eprintln!("oracle: {stats:?} in {:?}", start.elapsed());
    assert_eq!(stats.transactions, TRANSACTIONS);
    assert_eq!(stats.tampered_rejected, TRANSACTIONS);
    // Every kind of input and the SIGHASH_SINGLE refusal were exercised.
    assert!(stats.inputs.iter().all(|&n| n > 500), "{stats:?}");
    assert!(stats.single_refusals > 50, "{stats:?}");
}
