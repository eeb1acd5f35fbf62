//! Bitcoin Core's tx_valid.json / tx_invalid.json: every transaction that decodes
//! re-encodes to the same bytes, valid ones pass the context-free checks and every one of
//! their inputs passes Bitcoin Core's interpreter as ferry decodes and feeds it (with all
//! spent outputs), and the ones Core marks BADTX fail the context-free checks.

use ferry::consensus::{VerifyFlags, verify_input};
use ferry::script::asm::parse_core_asm;
use ferry::tx::{Transaction, TxOut, check_transaction};
use ferry::units::Amount;
use serde_json::Value;

struct Case {
    prevouts: Vec<Value>,
    tx_hex: String,
    flags: String,
}

fn cases(json: &str) -> Vec<Case> {
    let all: Vec<Value> = serde_json::from_str(json).unwrap();
    all.into_iter()
        .filter_map(|v| {
            let a = v.as_array()?;
            // One-string arrays are comments.
            if a.len() != 3 || !a[0].is_array() {
                return None;
            }
            Some(Case {
                prevouts: a[0].as_array().unwrap().clone(),
                tx_hex: a[1].as_str().unwrap().to_owned(),
                flags: a[2].as_str().unwrap().to_owned(),
            })
        })
        .collect()
}

/// Returns the outputs the case's inputs spend, in input order (the prevouts are listed by
/// outpoint, so they are matched to the inputs that name them).
fn spent_outputs(tx: &Transaction, prevouts: &[Value]) -> Vec<TxOut> {
    tx.input
        .iter()
        .map(|txin| {
            let p = prevouts
                .iter()
                .find(|p| {
                    p[0].as_str().unwrap() == txin.previous_output.txid.to_string()
                        && p[1].as_i64().unwrap() as u32 == txin.previous_output.vout
                })
                .expect("every input has its prevout listed");
            TxOut {
                value: Amount::from_sat(p.get(3).and_then(Value::as_u64).unwrap_or(0)),
                script_pubkey: parse_core_asm(p[2].as_str().unwrap()).unwrap(),
            }
        })
        .collect()
}

/// Returns every flag libbitcoinconsensus knows, minus the ones the case excludes (flags
/// the library does not know are never set, so excluding them changes nothing).
fn flags_without(excluded: &str) -> VerifyFlags {
    excluded
        .split(',')
        .fold(VerifyFlags::ALL, |flags, name| match name {
            "P2SH" => flags.without(VerifyFlags::P2SH),
            "DERSIG" => flags.without(VerifyFlags::DERSIG),
            "NULLDUMMY" => flags.without(VerifyFlags::NULLDUMMY),
            "CHECKLOCKTIMEVERIFY" => flags.without(VerifyFlags::CHECKLOCKTIMEVERIFY),
            "CHECKSEQUENCEVERIFY" => flags.without(VerifyFlags::CHECKSEQUENCEVERIFY),
            "WITNESS" => flags.without(VerifyFlags::WITNESS),
            "TAPROOT" => flags.without(VerifyFlags::TAPROOT),
            _ => flags,
        })
}

/// Returns exactly the named flags, or `None` if one is unknown to libbitcoinconsensus.
fn exactly_flags(names: &str) -> Option<VerifyFlags> {
    names.split(',').try_fold(VerifyFlags::NONE, |flags, name| {
        Some(match name {
            "NONE" => flags,
            "P2SH" => flags | VerifyFlags::P2SH,
            "DERSIG" => flags | VerifyFlags::DERSIG,
            "NULLDUMMY" => flags | VerifyFlags::NULLDUMMY,
            "CHECKLOCKTIMEVERIFY" => flags | VerifyFlags::CHECKLOCKTIMEVERIFY,
            "CHECKSEQUENCEVERIFY" => flags | VerifyFlags::CHECKSEQUENCEVERIFY,
            "WITNESS" => flags | VerifyFlags::WITNESS,
            "TAPROOT" => flags | VerifyFlags::TAPROOT,
            _ => return None,
        })
    })
}

/// tx_invalid cases (not BADTX) whose flags libbitcoinconsensus all knows (counted with Python).
const EXPECTED_SCRIPT_FAILURES: usize = 70;

#[test]
fn tx_valid_round_trips_and_passes_checks() {
    let cases = cases(include_str!("../../fixtures/core_tx_valid.json"));
    let mut inputs_verified = 0;
    for case in &cases {
        let tx = Transaction::from_hex(&case.tx_hex)
            .unwrap_or_else(|e| panic!("valid tx failed to decode: {e}: {}", case.tx_hex));
        assert_eq!(tx.to_hex(), case.tx_hex, "re-encoding differs");
        check_transaction(&tx).unwrap_or_else(|e| panic!("{e}: {}", case.tx_hex));
        assert_eq!(tx.input.len(), case.prevouts.len(), "{}", case.tx_hex);
        let spent = spent_outputs(&tx, &case.prevouts);
        let bytes = tx.serialize();
        let flags = flags_without(&case.flags);
        for (index, out) in spent.iter().enumerate() {
            verify_input(
                out.script_pubkey.as_bytes(),
                out.value,
                &bytes,
                &spent,
                index,
                flags,
            )
            .unwrap_or_else(|e| panic!("input {index}: {e}: {}", case.tx_hex));
            inputs_verified += 1;
        }
    }
    assert_eq!(cases.len(), 121, "tx_valid.json case count");
    assert_eq!(inputs_verified, 176, "tx_valid.json input count");
}

#[test]
fn tx_invalid_round_trips_and_badtx_fails_checks() {
    let cases = cases(include_str!("../../fixtures/core_tx_invalid.json"));
    let mut decoded = 0;
    let mut badtx = 0;
    let mut script_failures = 0;
    for case in &cases {
        let tx = match Transaction::from_hex(&case.tx_hex) {
            Ok(tx) => tx,
            Err(e) => panic!("every tx_invalid case is well-formed on the wire: {e}"),
        };
        decoded += 1;
        assert_eq!(tx.to_hex(), case.tx_hex);
        if case.flags == "BADTX" {
            badtx += 1;
            assert!(
                check_transaction(&tx).is_err(),
                "BADTX passed: {}",
                case.tx_hex
            );
            continue;
        }
        // Under exactly the flags the case names, some input must fail — checkable when
        // libbitcoinconsensus knows every one of those flags.
        let Some(flags) = exactly_flags(&case.flags) else {
            continue;
        };
        let spent = spent_outputs(&tx, &case.prevouts);
        let bytes = tx.serialize();
        let any_fails = spent.iter().enumerate().any(|(index, out)| {
            verify_input(
                out.script_pubkey.as_bytes(),
                out.value,
                &bytes,
                &spent,
                index,
                flags,
            )
            .is_err()
        });
        assert!(
            any_fails,
            "invalid tx passed under {}: {}",
            case.flags, case.tx_hex
        );
        script_failures += 1;
    }
    assert_eq!(badtx, 9, "BADTX case count");
    assert_eq!(
        script_failures, EXPECTED_SCRIPT_FAILURES,
        "cases checked by the interpreter"
    );
    assert_eq!(decoded, cases.len());
}
