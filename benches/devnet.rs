//! Devnet figures: mempool acceptance rate for 1-input P2WPKH spends (every input through
//! Bitcoin Core's interpreter), time to mine and index a block of N of them, and start-up
//! time (replaying the stored chain).
//!
//! `cargo bench --bench devnet` runs N = 2,000 and 1,000 extra blocks; without `--bench`
//! (as `cargo test --all-targets` runs it) a quick N = 50 and 20 blocks.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use ferry::devnet::Devnet;
use ferry::hashes::{hash160, sha256};
use ferry::script::ScriptBuf;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use k256::SecretKey;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, extra_blocks) = if full { (2_000u32, 1_000u32) } else { (50, 20) };
    let dir = tempfile::tempdir().unwrap();

    let secret = SecretKey::from_slice(&sha256(b"devnet bench key")).unwrap();
    let spk = ScriptBuf::new_p2wpkh(&hash160(&secret.public_key().to_sec1_bytes()));
    let keys = KeyStore::from_iter([secret]);

    let t = Instant::now();
    let mut devnet = Devnet::open(dir.path()).unwrap();
    let first_start = t.elapsed();

    // One coinbase to the bench key, matured, fanned out into n outputs.
    devnet.mine(1, Some(&spk)).unwrap();
    let cb_height = devnet.chain().height();
    devnet.mine(100, None).unwrap();
    let cb = devnet.chain().block(cb_height).unwrap().txdata[0].clone();
    let cb_out = TxOut {
        value: cb.output[0].value,
        script_pubkey: spk.clone(),
    };
    let per = 100_000u64;
    let mut fan = Transaction {
        version: 2,
        lock_time: 0,
        input: vec![TxIn::new(
            OutPoint {
                txid: cb.txid(),
                vout: 0,
            },
            0xffff_fffd,
        )],
        output: (0..n)
            .map(|_| TxOut {
                value: Amount::from_sat(per),
                script_pubkey: spk.clone(),
            })
            .collect(),
    };
    let change = cb_out.value.to_sat() - per * u64::from(n) - 100_000;
    fan.output.push(TxOut {
        value: Amount::from_sat(change),
        script_pubkey: spk.clone(),
    });
    sign_transaction(&mut fan, std::slice::from_ref(&cb_out), &[0x01], &keys).unwrap();
    devnet.submit(&fan).unwrap();
    devnet.mine(1, None).unwrap();

    // n signed 1-input P2WPKH spends (signing is not timed).
    let fan_txid = fan.txid();
    let spends: Vec<Transaction> = (0..n)
        .map(|vout| {
            let prev = TxOut {
                value: Amount::from_sat(per),
                script_pubkey: spk.clone(),
            };
            let mut tx = Transaction {
                version: 2,
                lock_time: 0,
                input: vec![TxIn::new(
                    OutPoint {
                        txid: fan_txid,
                        vout,
                    },
                    0xffff_fffd,
                )],
                output: vec![TxOut {
                    value: Amount::from_sat(per - 200),
                    script_pubkey: spk.clone(),
                }],
            };
            sign_transaction(&mut tx, std::slice::from_ref(&prev), &[0x01], &keys).unwrap();
            tx
        })
        .collect();

    let t = Instant::now();
    for tx in &spends {
        devnet.submit(tx).unwrap();
    }
    let accept = t.elapsed();
    assert_eq!(devnet.mempool().len(), n as usize);

    let t = Instant::now();
    devnet.mine(1, None).unwrap();
    let mine = t.elapsed();
    assert!(devnet.mempool().is_empty());

    devnet.mine(extra_blocks, None).unwrap();
    let height = devnet.chain().height();
    drop(devnet);
    let t = Instant::now();
    let devnet = Devnet::open(dir.path()).unwrap();
    let restart = t.elapsed();
    assert_eq!(devnet.chain().height(), height);

    println!(
        "devnet bench (n = {n}{})",
        if full { "" } else { ", quick" }
    );
    println!(
        "  mempool acceptance, 1-input P2WPKH: {n} tx in {:.1} ms = {:.0} tx/s",
        accept.as_secs_f64() * 1e3,
        f64::from(n) / accept.as_secs_f64()
    );
    println!(
        "  mine + index + store a block of {n} tx: {:.1} ms",
        mine.as_secs_f64() * 1e3
    );
    println!(
        "  first start (genesis + 110 blocks): {:.1} ms",
        first_start.as_secs_f64() * 1e3
    );
    println!(
        "  restart replaying {height} blocks ({} tx in them): {:.1} ms",
        n + 1 + height,
        restart.as_secs_f64() * 1e3
    );
}
