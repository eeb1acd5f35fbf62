//! Signing throughput: a 500-input transaction signed by ferry against 500 bare k256
//! signatures of random messages. The ratio is the cost of everything ferry adds around
//! the curve arithmetic (sighash midstates, key lookup, encoding); the goal is ≤ 1.10.
//!
//! `cargo bench --bench sign` prints the medians and ratios.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferry::script::ScriptBuf;
use ferry::script::taproot::tweak_public_key;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::Amount;
use k256::SecretKey;
use k256::ecdsa::SigningKey;
use k256::ecdsa::signature::hazmat::PrehashSigner;

const INPUTS: usize = 500;
const ROUNDS: usize = 15;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

fn keys() -> Vec<SecretKey> {
    (0..INPUTS)
        .map(|_| SecretKey::from_slice(&random_bytes::<32>()).unwrap())
        .collect()
}

/// Returns the median wall time of `ROUNDS` runs of `f` (after one warm-up run).
fn median(mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn spending_tx(prevouts: &[TxOut]) -> Transaction {
    Transaction {
        version: 2,
        lock_time: 0,
        input: (0..prevouts.len())
            .map(|i| {
                TxIn::new(
                    OutPoint {
                        txid: Txid::from_byte_array(random_bytes()),
                        vout: i as u32,
                    },
                    TxIn::SEQUENCE_RBF,
                )
            })
            .collect(),
        output: vec![TxOut {
            value: Amount::from_sat(1_000_000),
            script_pubkey: ScriptBuf::new_p2wpkh(&[7; 20]),
        }],
    }
}

fn p2wpkh(key: &SecretKey) -> ScriptBuf {
    let pk = key.public_key().to_sec1_bytes();
    ScriptBuf::new_p2wpkh(&ferry::hashes::hash160(&pk))
}

fn p2tr(key: &SecretKey) -> ScriptBuf {
    let pk = key.public_key().to_sec1_bytes();
    let xonly: [u8; 32] = pk[1..].try_into().unwrap();
    ScriptBuf::new_p2tr(&tweak_public_key(&xonly, None).unwrap().0)
}

fn bench_kind(name: &str, script: fn(&SecretKey) -> ScriptBuf, sighash_type: u8) -> f64 {
    let keys = keys();
    let prevouts: Vec<TxOut> = keys
        .iter()
        .map(|k| TxOut {
            value: Amount::from_sat(10_000),
            script_pubkey: script(k),
        })
        .collect();
    let store: KeyStore = keys.iter().cloned().collect();
    let unsigned = spending_tx(&prevouts);
    let types = vec![sighash_type; INPUTS];
    let ferry_time = median(|| {
        let mut tx = unsigned.clone();
        sign_transaction(&mut tx, &prevouts, &types, &store).unwrap();
        black_box(tx);
    });
    let messages: Vec<[u8; 32]> = (0..INPUTS).map(|_| random_bytes()).collect();
    let raw_time = if sighash_type == 0 {
        let signers: Vec<k256::schnorr::SigningKey> =
            keys.iter().map(k256::schnorr::SigningKey::from).collect();
        median(|| {
            for (k, m) in signers.iter().zip(&messages) {
                black_box(k.sign_raw(m, &random_bytes::<32>()).unwrap());
            }
        })
    } else {
        let signers: Vec<SigningKey> = keys.iter().map(SigningKey::from).collect();
        median(|| {
            for (k, m) in signers.iter().zip(&messages) {
                let sig: k256::ecdsa::Signature = k.sign_prehash(m).unwrap();
                black_box(sig.to_der());
            }
        })
    };
    let ratio = ferry_time.as_secs_f64() / raw_time.as_secs_f64();
    println!(
        "{name:8} ferry sign_transaction({INPUTS} inputs) {:>8.2} ms | {INPUTS} raw k256 signatures {:>8.2} ms | ratio {ratio:.3}",
        ferry_time.as_secs_f64() * 1e3,
        raw_time.as_secs_f64() * 1e3,
    );
    ratio
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("sign bench: run with `cargo bench --bench sign`");
        return;
    }
    bench_kind("p2wpkh", p2wpkh, 0x01);
    bench_kind("p2tr", p2tr, 0x00);
}
