//! Bitcoin Core's tx_valid.json / tx_invalid.json: every transaction that decodes
//! re-encodes to the same bytes, valid ones pass the context-free checks, and the ones Core
//! marks BADTX fail them.

#![allow(clippy::unwrap_used)]

use ferry::script::asm::parse_core_asm;
use ferry::tx::{Transaction, check_transaction};
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

#[test]
fn tx_valid_round_trips_and_passes_checks() {
    let cases = cases(include_str!("../fixtures/core_tx_valid.json"));
    for case in &cases {
        let tx = Transaction::from_hex(&case.tx_hex)
            .unwrap_or_else(|e| panic!("valid tx failed to decode: {e}: {}", case.tx_hex));
        assert_eq!(tx.to_hex(), case.tx_hex, "re-encoding differs");
        check_transaction(&tx).unwrap_or_else(|e| panic!("{e}: {}", case.tx_hex));
        assert_eq!(tx.input.len(), case.prevouts.len(), "{}", case.tx_hex);
        for prevout in &case.prevouts {
            let asm = prevout[2].as_str().unwrap();
            parse_core_asm(asm).unwrap_or_else(|e| panic!("{e} in {asm}"));
        }
    }
    assert_eq!(cases.len(), 121, "tx_valid.json case count");
}

#[test]
fn tx_invalid_round_trips_and_badtx_fails_checks() {
    let cases = cases(include_str!("../fixtures/core_tx_invalid.json"));
    let mut decoded = 0;
    let mut badtx = 0;
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
        }
    }
    assert_eq!(badtx, 9, "BADTX case count");
    assert_eq!(decoded, cases.len());
}
