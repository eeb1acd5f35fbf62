//! Feature `kernel`: Bitcoin Core's libbitcoinkernel connects every block of a long random
//! devnet history (faucet payments, spends of every signed type, unconfirmed chains, lock
//! times, several blocks at once), before and after a restart; and it refuses a block the
//! devnet must never mine, which the devnet detects although `process_block` says "new".
#![cfg(feature = "kernel")]

use ferry::devnet::Devnet;
use ferry::devnet::block::{coinbase, finish_block, regtest_genesis, subsidy};
use ferry::devnet::kernel::KernelCheck;
use ferry::hashes::{hash160, sha256};
use ferry::script::ScriptBuf;
use ferry::script::taproot::tweak_public_key;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use k256::SecretKey;

/// xorshift64*: a fixed-seed generator, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn scripts(secret: &SecretKey) -> Vec<ScriptBuf> {
    let pk = secret.public_key().to_sec1_bytes();
    let pkh = hash160(&pk);
    let xonly: [u8; 32] = pk[1..].try_into().unwrap();
    vec![
        ScriptBuf::new_p2pkh(&pkh),
        ScriptBuf::new_p2wpkh(&pkh).to_p2sh(),
        ScriptBuf::new_p2wpkh(&pkh),
        ScriptBuf::new_p2tr(&tweak_public_key(&xonly, None).unwrap().0),
    ]
}

#[test]
fn kernel_connects_a_long_random_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut devnet = Devnet::open(dir.path()).unwrap();
    let secret = SecretKey::from_slice(&sha256(b"kernel history")).unwrap();
    let keys = KeyStore::from_iter([secret.clone()]);
    let spks = scripts(&secret);
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut coins: Vec<(OutPoint, TxOut)> = Vec::new();
    let (mut paid, mut spent, mut refused) = (0u32, 0u32, 0u32);

    while devnet.chain().height() < 420 {
        match rng.below(10) {
            0..=2 => {
                let spk = spks[rng.below(4) as usize].clone();
                let value = 10_000 + rng.below(2_000_000);
                let txid = devnet.faucet(&spk, Amount::from_sat(value)).unwrap();
                coins.push((
                    OutPoint { txid, vout: 0 },
                    TxOut {
                        value: Amount::from_sat(value),
                        script_pubkey: spk,
                    },
                ));
                paid += 1;
            }
            3..=7 if !coins.is_empty() => {
                let n_in = 1 + rng.below(coins.len().min(3) as u64) as usize;
                let inputs: Vec<(OutPoint, TxOut)> = (0..n_in)
                    .map(|_| coins.swap_remove(rng.below(coins.len() as u64) as usize))
                    .collect();
                let total: u64 = inputs.iter().map(|c| c.1.value.to_sat()).sum();
                let n_out = 1 + rng.below(3) as usize;
                let fee = 300 * n_in as u64 + 100 * n_out as u64 + rng.below(2_000);
                if total < fee + 1_000 * n_out as u64 {
                    coins.extend(inputs);
                    continue;
                }
                let each = (total - fee) / n_out as u64;
                let tip = devnet.chain().height();
                let mut tx = Transaction {
                    version: 1 + (rng.below(2) as i32),
                    // Sometimes a lock time at the tip (final in the next block).
                    lock_time: if rng.below(3) == 0 { tip } else { 0 },
                    input: inputs.iter().map(|c| TxIn::new(c.0, 0xffff_fffd)).collect(),
                    output: (0..n_out)
                        .map(|_| TxOut {
                            value: Amount::from_sat(each),
                            script_pubkey: spks[rng.below(4) as usize].clone(),
                        })
                        .collect(),
                };
                let prevouts: Vec<TxOut> = inputs.iter().map(|c| c.1.clone()).collect();
                let types: Vec<u8> = inputs
                    .iter()
                    .map(|_| [0x01, 0x81, 0x02][rng.below(3) as usize])
                    .collect();
                sign_transaction(&mut tx, &prevouts, &types, &keys).unwrap();
                match devnet.submit(&tx) {
                    Ok(txid) => {
                        spent += 1;
                        for (vout, o) in tx.output.iter().enumerate() {
                            coins.push((
                                OutPoint {
                                    txid,
                                    vout: vout as u32,
                                },
                                o.clone(),
                            ));
                        }
                    }
                    Err(r) => {
                        // Policy may refuse (dust, large clusters); the coins stay ours.
                        assert!(
                            ["dust", "too-large-cluster"].contains(&r.reason.as_str()),
                            "unexpected refusal: {r}"
                        );
                        refused += 1;
                        coins.extend(inputs);
                    }
                }
            }
            _ => {
                devnet.mine(1 + rng.below(3) as u32, None).unwrap();
            }
        }
    }
    devnet.mine(1, None).unwrap();
    assert!(devnet.mempool().is_empty());
    assert!(
        paid > 50 && spent > 100,
        "paid {paid}, spent {spent}, refused {refused}"
    );
    let (height, tip) = (devnet.chain().height(), devnet.chain().tip_hash());
    drop(devnet);
    // A restart replays every stored block through a fresh kernel chainstate.
    let devnet = Devnet::open(dir.path()).unwrap();
    assert_eq!(
        (devnet.chain().height(), devnet.chain().tip_hash()),
        (height, tip)
    );
}

#[test]
fn kernel_refusal_is_detected_although_process_block_says_new() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = KernelCheck::open(dir.path()).unwrap();
    let genesis = regtest_genesis();
    let spk = ScriptBuf::new_p2wpkh(&[3; 20]);
    let good = finish_block(
        genesis.block_hash(),
        genesis.header.time + 1,
        vec![coinbase(1, spk.clone(), subsidy(1))],
    );
    kernel
        .connect(&good.serialize(), 1, &good.block_hash())
        .unwrap();
    // A coinbase paying one satoshi more than the subsidy.
    let greedy = coinbase(2, spk, Amount::from_sat(subsidy(2).to_sat() + 1));
    let bad = finish_block(good.block_hash(), good.header.time + 1, vec![greedy]);
    let err = kernel
        .connect(&bad.serialize(), 2, &bad.block_hash())
        .unwrap_err();
    assert_eq!(err.height, 2);
    // And the kernel's tip stayed at 1: the next honest block at 2 connects.
    let next = finish_block(
        good.block_hash(),
        good.header.time + 2,
        vec![coinbase(2, ScriptBuf::new_p2wpkh(&[4; 20]), subsidy(2))],
    );
    kernel
        .connect(&next.serialize(), 2, &next.block_hash())
        .unwrap();
}
