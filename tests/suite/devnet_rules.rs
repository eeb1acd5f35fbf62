//! The block rules the devnet's chain enforces, each broken once on purpose: the block is
//! refused with Bitcoin Core's reject reason and the chain does not move.

use ferry::devnet::block::{Block, coinbase, finish_block, subsidy, witness_commitment_script};
use ferry::devnet::chain::{Chain, ChainError};
use ferry::hashes::{hash160, sha256};
use ferry::script::ScriptBuf;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use k256::SecretKey;

struct Fixture {
    chain: Chain,
    keys: KeyStore,
    spk: ScriptBuf,
}

impl Fixture {
    /// A chain with one coinbase to our key, matured by 100 more blocks.
    fn new() -> Fixture {
        let secret = SecretKey::from_slice(&sha256(b"rules")).unwrap();
        let spk = ScriptBuf::new_p2wpkh(&hash160(&secret.public_key().to_sec1_bytes()));
        let mut f = Fixture {
            chain: Chain::new(),
            keys: KeyStore::from_iter([secret]),
            spk,
        };
        for _ in 0..101 {
            let b = f.block(vec![], Amount::ZERO);
            f.chain.connect_block(b, true).unwrap();
        }
        f
    }

    fn time(&self) -> u32 {
        self.chain.median_time_past(self.chain.height()) + 1
    }

    /// A valid next block with `txs`, its coinbase claiming subsidy + `fees`.
    fn block(&self, txs: Vec<Transaction>, fees: Amount) -> Block {
        let height = self.chain.height() + 1;
        let mut txdata = vec![coinbase(
            height,
            self.spk.clone(),
            subsidy(height).checked_add(fees).unwrap(),
        )];
        txdata.extend(txs);
        finish_block(self.chain.tip_hash(), self.time(), txdata)
    }

    /// The first coinbase's output, spendable now.
    fn coin(&self) -> (OutPoint, TxOut) {
        let cb = &self.chain.block(1).unwrap().txdata[0];
        (
            OutPoint {
                txid: cb.txid(),
                vout: 0,
            },
            cb.output[0].clone(),
        )
    }

    fn spend(&self, coin: &(OutPoint, TxOut), value: u64) -> Transaction {
        let mut tx = Transaction {
            version: 2,
            lock_time: 0,
            input: vec![TxIn::new(coin.0, 0xffff_fffd)],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: self.spk.clone(),
            }],
        };
        sign_transaction(&mut tx, std::slice::from_ref(&coin.1), &[0x01], &self.keys).unwrap();
        tx
    }

    fn expect_reject(&mut self, block: Block, reason: &str) {
        let tip = self.chain.tip_hash();
        let err = self.chain.connect_block(block, true).unwrap_err();
        let got = match &err {
            ChainError::Block { reason, .. } | ChainError::Tx { reason, .. } => reason.clone(),
            other => panic!("{other}"),
        };
        assert!(got.starts_with(reason), "expected {reason}, got {err}");
        assert_eq!(
            self.chain.tip_hash(),
            tip,
            "a refused block must not move the tip"
        );
    }
}

fn regrind(mut b: Block) -> Block {
    b.header.merkle_root = b.compute_merkle_root();
    assert!(b.header.grind());
    b
}

#[test]
fn each_block_rule_refuses_with_cores_reason() {
    let mut f = Fixture::new();
    let coin = f.coin();
    let value = coin.1.value.to_sat();
    let mut refused = 0;

    // Coinbase claiming one satoshi more than subsidy + fees.
    let spend = f.spend(&coin, value - 1000);
    let b = f.block(vec![spend.clone()], Amount::from_sat(1001));
    f.expect_reject(b, "bad-cb-amount");
    refused += 1;

    // BIP-0034 height wrong.
    let mut b = f.block(vec![], Amount::ZERO);
    let mut wrong = coinbase(f.chain.height() + 2, f.spk.clone(), subsidy(1));
    wrong.output.push(b.txdata[0].output[1].clone());
    b.txdata[0] = wrong;
    f.expect_reject(regrind(b), "bad-cb-height");
    refused += 1;

    // Not on the tip.
    let mut b = f.block(vec![], Amount::ZERO);
    b.header.prev_blockhash = f.chain.block_hash(5).unwrap();
    f.expect_reject(regrind(b), "bad-prevblk");
    refused += 1;

    // Merkle root not matching the transactions.
    let mut b = f.block(vec![], Amount::ZERO);
    b.header.merkle_root = [7; 32];
    assert!(b.header.grind());
    f.expect_reject(b, "bad-txnmrklroot");
    refused += 1;

    // Proof of work not met.
    let mut b = f.block(vec![], Amount::ZERO);
    while b.header.check_pow() {
        b.header.nonce += 1;
    }
    f.expect_reject(b, "high-hash");
    refused += 1;

    // Timestamp not above the median time past.
    let mut b = f.block(vec![], Amount::ZERO);
    b.header.time = f.chain.median_time_past(f.chain.height());
    f.expect_reject(regrind(b), "time-too-old");
    refused += 1;

    // The same coin spent twice in one block.
    let a = f.spend(&coin, value - 1000);
    let c = f.spend(&coin, value - 2000);
    let b = f.block(vec![a, c], Amount::ZERO);
    f.expect_reject(b, "bad-txns-inputs-missingorspent");
    refused += 1;

    // Spending a coinbase 99 blocks deep.
    let young = &f.chain.block(f.chain.height() - 98).unwrap().txdata[0];
    let young_coin = (
        OutPoint {
            txid: young.txid(),
            vout: 0,
        },
        young.output[0].clone(),
    );
    let b = f.block(vec![f.spend(&young_coin, 1000)], Amount::ZERO);
    f.expect_reject(b, "bad-txns-premature-spend-of-coinbase");
    refused += 1;

    // Outputs above inputs.
    let b = f.block(vec![f.spend(&coin, value + 1)], Amount::ZERO);
    f.expect_reject(b, "bad-txns-in-belowout");
    refused += 1;

    // A corrupted signature, caught by Core's interpreter.
    let mut bad = f.spend(&coin, value - 1000);
    let mut items = bad.input[0].witness.items().to_vec();
    let n = items[0].len();
    items[0][n - 2] ^= 1;
    bad.input[0].witness = ferry::tx::Witness::from_items(items);
    let b = f.block(vec![bad], Amount::ZERO);
    f.expect_reject(b, "block-script-verify-flag-failed");
    refused += 1;

    // A wrong witness commitment.
    let mut b = f.block(vec![spend.clone()], Amount::from_sat(1000));
    b.txdata[0].output[1].script_pubkey = witness_commitment_script(&[9; 32]);
    f.expect_reject(regrind(b), "bad-witness-merkle-match");
    refused += 1;

    // Witness data without any commitment.
    let mut b = f.block(vec![spend.clone()], Amount::from_sat(1000));
    b.txdata[0].output.pop();
    f.expect_reject(regrind(b), "unexpected-witness");
    refused += 1;

    // A second coinbase.
    let mut b = f.block(vec![], Amount::ZERO);
    b.txdata.push(coinbase(500, f.spk.clone(), Amount::ZERO));
    f.expect_reject(regrind(b), "bad-cb-multiple");
    refused += 1;

    assert_eq!(refused, 13);
    // And the honest block connects.
    let good = f.block(vec![spend], Amount::from_sat(1000));
    f.chain.connect_block(good, true).unwrap();
    assert_eq!(f.chain.height(), 102);
}
