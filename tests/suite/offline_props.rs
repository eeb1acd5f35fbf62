//! Property tests (seeded) for issue 13's encoders: BBQr frames join back to any data at any
//! frame size; BIP21 URIs written and read back give the same payment; any transaction's
//! PSBT converted to version 2, written, read and converted back is byte-identical.

use ferry::psbt::Psbt;
use ferry::psbt::bbqr::{FileType, HEADER_LEN, join, split};
use ferry::script::ScriptBuf;
use ferry::script::bip21::PaymentUri;
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::Amount;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(13),
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn bbqr_frames_join_back_to_the_data() {
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..20_000),
        16usize..4_296,
    );
    runner(300)
        .run(&strategy, |(data, max_chars)| {
            let Ok(frames) = split(&data, FileType::Psbt, max_chars) else {
                // Only when more than 1295 frames would be needed.
                prop_assert!(data.len() > 1_295 * ((max_chars - HEADER_LEN) / 8 * 5));
                return Ok(());
            };
            prop_assert!(frames.0.iter().all(|f| f.len() <= max_chars));
            let sizes: Vec<usize> = frames.0.iter().map(String::len).collect();
            prop_assert!(sizes[..sizes.len() - 1].iter().all(|&s| s == sizes[0]));
            let mut shuffled: Vec<&str> = frames.0.iter().map(String::as_str).collect();
            let by = data.len() % shuffled.len();
            shuffled.rotate_left(by);
            prop_assert_eq!(join(shuffled).unwrap(), ('P', data));
            Ok(())
        })
        .unwrap();
}

#[test]
fn bip21_uris_read_back_as_written() {
    let strategy = (
        proptest::option::of(0u64..=Amount::MAX_MONEY.to_sat()),
        proptest::option::of(any::<String>()),
        proptest::option::of("[a-zA-Z0-9 &=?%#+]{0,30}"),
    );
    runner(1_000)
        .run(&strategy, |(amount, label, message)| {
            let uri = PaymentUri {
                address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080".into(),
                amount: amount.map(Amount::from_sat),
                label,
                message,
                other: Vec::new(),
            };
            let text = uri.to_string();
            prop_assert!(!text.contains(' '), "{}", text);
            prop_assert_eq!(PaymentUri::parse(&text).unwrap(), uri);
            Ok(())
        })
        .unwrap();
}

fn tx_strategy() -> impl Strategy<Value = Transaction> {
    (
        any::<i32>(),
        any::<u32>(),
        proptest::collection::vec((any::<[u8; 32]>(), any::<u32>(), any::<u32>()), 1..6),
        proptest::collection::vec(
            (
                0u64..=Amount::MAX_MONEY.to_sat(),
                proptest::collection::vec(any::<u8>(), 0..60),
            ),
            0..6,
        ),
    )
        .prop_map(|(version, lock_time, ins, outs)| Transaction {
            version,
            lock_time,
            input: ins
                .into_iter()
                .map(|(txid, vout, seq)| {
                    TxIn::new(
                        OutPoint {
                            txid: Txid::from_byte_array(txid),
                            vout,
                        },
                        seq,
                    )
                })
                .collect(),
            output: outs
                .into_iter()
                .map(|(v, s)| TxOut {
                    value: Amount::from_sat(v),
                    script_pubkey: ScriptBuf::from_bytes(s),
                })
                .collect(),
        })
}

#[test]
fn psbt_version_2_round_trips_any_transaction() {
    runner(500)
        .run(&tx_strategy(), |tx| {
            let v0 = Psbt::from_unsigned_tx(tx.clone()).unwrap();
            let mut v2 = v0.clone();
            v2.set_version(2).unwrap();
            let read = Psbt::deserialize(&v2.serialize()).unwrap();
            prop_assert_eq!(&read.unsigned_tx, &tx);
            prop_assert_eq!(read.serialize(), v2.serialize());
            let mut back = read;
            back.set_version(0).unwrap();
            prop_assert_eq!(back.serialize(), v0.serialize());
            Ok(())
        })
        .unwrap();
}
