use super::*;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, TxIn, TxOut};
use crate::units::Amount;

fn tx(inputs: usize, outputs: usize) -> Transaction {
    Transaction {
        version: 2,
        lock_time: 0,
        input: (0..inputs)
            .map(|i| {
                TxIn::new(
                    OutPoint {
                        txid: Default::default(),
                        vout: i as u32,
                    },
                    0,
                )
            })
            .collect(),
        output: (0..outputs)
            .map(|_| TxOut {
                value: Amount::from_sat(1),
                script_pubkey: ScriptBuf::new(),
            })
            .collect(),
    }
}

fn prevouts(n: usize) -> Vec<TxOut> {
    (0..n)
        .map(|_| TxOut {
            value: Amount::from_sat(5),
            script_pubkey: ScriptBuf::new_p2tr(&[2; 32]),
        })
        .collect()
}

#[test]
fn taproot_errors() {
    let t = tx(2, 1);
    let c = SighashCache::new(&t);
    let p = prevouts(2);
    assert_eq!(
        c.taproot_sighash(2, &p, 0, None, None),
        Err(SighashError::InputIndexOutOfRange {
            index: 2,
            inputs: 2
        })
    );
    assert_eq!(
        c.taproot_sighash(0, &p[..1], 0, None, None),
        Err(SighashError::PrevoutsCountMismatch {
            prevouts: 1,
            inputs: 2
        })
    );
    for bad in [0x04, 0x80, 0x84, 0xff, 0x41] {
        assert_eq!(
            c.taproot_sighash(0, &p, bad, None, None),
            Err(SighashError::InvalidTaprootSighashType(bad))
        );
    }
    assert_eq!(
        c.taproot_sighash(1, &p, 0x83, None, None),
        Err(SighashError::SingleWithoutOutput {
            index: 1,
            outputs: 1
        })
    );
    assert!(c.taproot_sighash(0, &p, 0x03, None, None).is_ok());
    assert_eq!(
        c.taproot_sighash(0, &p, 0, Some(&[0x51]), None),
        Err(SighashError::InvalidAnnex)
    );
    // The annex and a leaf change the hash.
    let plain = c.taproot_sighash(0, &p, 0, None, None).unwrap();
    let annexed = c.taproot_sighash(0, &p, 0, Some(&[0x50, 1]), None).unwrap();
    let leaf = c
        .taproot_sighash(0, &p, 0, None, Some(([7; 32], u32::MAX)))
        .unwrap();
    assert_ne!(plain, annexed);
    assert_ne!(plain, leaf);
}

#[test]
fn legacy_single_bug_and_codeseparator() {
    let t = tx(2, 1);
    let c = SighashCache::new(&t);
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(c.legacy_sighash(1, &[], 3), one);
    assert_eq!(c.legacy_sighash(5, &[], 1), one);
    // OP_CODESEPARATOR is removed from the scriptCode, but not inside a push.
    assert_eq!(
        c.legacy_sighash(0, &[0xab, 0x51], 1),
        c.legacy_sighash(0, &[0x51], 1)
    );
    assert_ne!(
        c.legacy_sighash(0, &[0x01, 0xab], 1),
        c.legacy_sighash(0, &[0x01], 1)
    );
}

#[test]
fn segwit_v0_index_out_of_range() {
    let t = tx(1, 1);
    let c = SighashCache::new(&t);
    assert_eq!(
        c.segwit_v0_sighash(1, &[], Amount::ZERO, 1),
        Err(SighashError::InputIndexOutOfRange {
            index: 1,
            inputs: 1
        })
    );
}
