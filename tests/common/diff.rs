//! The differential harness (tests/core_differential.rs): both nodes funded alike, a
//! seeded plan of cases, transactions built from each side's own coins, verdicts from
//! `testmempoolaccept` or `sendrawtransaction`.

pub mod cases_mempool;
pub mod cases_policy;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

pub use crate::common::bitcoin_core::Rpc;
pub use crate::common::devnet::{Key, KeyType, corrupt_signature};
use ferry::script::ScriptBuf;
use ferry::script::opcodes::{OP_1, OP_CHECKMULTISIG, OP_CHECKSIG, OP_RETURN};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::Amount;
use serde_json::{Value, json};

/// Sequence numbers.
pub const RBF: u32 = 0xffff_fffd;
pub const FINAL: u32 = 0xffff_ffff;

pub type Coin = (OutPoint, TxOut);

/// SplitMix64: small, seeded, good enough to pick amounts and key types.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// What a node said about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject { reason: String, details: String },
}

impl Verdict {
    /// The class compared between the nodes: `accept`, or the reject reason without a
    /// parenthesised script error (`mempool-script-verify-flag-failed (…)`).
    pub fn class(&self) -> String {
        match self {
            Verdict::Accept => "accept".into(),
            Verdict::Reject { reason, .. } => reason
                .split_once(" (")
                .map_or(reason.as_str(), |(r, _)| r)
                .to_owned(),
        }
    }

    pub fn shown(&self) -> String {
        match self {
            Verdict::Accept => "accept".into(),
            Verdict::Reject { reason, .. } => reason.clone(),
        }
    }

    pub fn details(&self) -> &str {
        match self {
            Verdict::Accept => "",
            Verdict::Reject { details, .. } => details,
        }
    }
}

/// The keys, the same on both sides.
pub struct Wallet {
    /// Owns every funded coin (of every key type).
    pub alice: Key,
    /// Mines the 101 funding blocks and pays the funding transaction.
    pub funder: Key,
    /// The coinbase that is just mature when the cases run.
    pub cb_mature: Key,
    /// The coinbase one block short of maturity.
    pub cb_immature: Key,
    /// Receives the cases' payments.
    pub dest: Key,
    /// A second receiver, for double spends.
    pub other: Key,
}

impl Wallet {
    pub fn new() -> Wallet {
        Wallet {
            alice: Key::new(81),
            funder: Key::new(82),
            cb_mature: Key::new(83),
            cb_immature: Key::new(84),
            dest: Key::new(85),
            other: Key::new(86),
        }
    }
}

/// One node, funded for the plan.
pub struct Side {
    pub rpc: Rpc,
    /// The plan's coin requests, in order (alice's).
    pub coins: Vec<Coin>,
    /// `cb_mature`'s coinbase: depth 100 for the next block.
    pub mature_cb: Coin,
    /// `cb_immature`'s coinbase: depth 99 for the next block.
    pub immature_cb: Coin,
    /// The funder's coinbase the funding transaction spent (confirmed, spent).
    pub spent_cb: Coin,
    /// The funding transaction (confirmed).
    pub fund: Transaction,
}

pub fn sat(btc: &Value) -> u64 {
    (btc.as_f64().unwrap() * 1e8).round() as u64
}

/// The unspent outputs paying `addr`, oldest first, through `scantxoutset` (both nodes
/// answer it; Core has no wallet here).
pub async fn scan(rpc: &Rpc, addr: &str, script: &ScriptBuf) -> Vec<(Coin, bool, u64)> {
    let r = rpc
        .call("scantxoutset", json!(["start", [format!("addr({addr})")]]))
        .await;
    let mut found: Vec<(Coin, bool, u64)> = r["unspents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let coin = (
                OutPoint {
                    txid: u["txid"].as_str().unwrap().parse().unwrap(),
                    vout: u32::try_from(u["vout"].as_u64().unwrap()).unwrap(),
                },
                TxOut {
                    value: Amount::from_sat(sat(&u["amount"])),
                    script_pubkey: script.clone(),
                },
            );
            (
                coin,
                u["coinbase"].as_bool().unwrap(),
                u["height"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort_by_key(|(_, _, h)| *h);
    found
}

pub async fn only_coinbase(rpc: &Rpc, key: &Key) -> Coin {
    let found = scan(
        rpc,
        &key.address(KeyType::P2wpkh),
        &key.script(KeyType::P2wpkh),
    )
    .await;
    assert_eq!(
        found.len(),
        1,
        "one coinbase for {}",
        key.address(KeyType::P2wpkh)
    );
    assert!(found[0].1, "a coinbase output");
    found[0].0.clone()
}

/// Funds one node: 101 blocks to the funder, one transaction paying every requested coin
/// to alice, then a block to `cb_mature`, one to `cb_immature` and 98 more, so that the
/// next block is at depth 100 from the first and 99 from the second.
pub async fn prepare(
    name: &'static str,
    rpc: Rpc,
    w: &Wallet,
    requests: &[(KeyType, u64)],
) -> Side {
    let funder_addr = w.funder.address(KeyType::P2wpkh);
    let funder_script = w.funder.script(KeyType::P2wpkh);
    rpc.mine(101, &funder_addr).await;
    let cbs = scan(&rpc, &funder_addr, &funder_script).await;
    let (cb, is_cb, _) = cbs[0].clone();
    assert!(is_cb);
    let mut outputs: Vec<(ScriptBuf, u64)> = requests
        .iter()
        .map(|(kt, v)| (w.alice.script(*kt), *v))
        .collect();
    let total: u64 = requests.iter().map(|(_, v)| v).sum();
    let fee = 200_000;
    outputs.push((funder_script, cb.1.value.to_sat() - total - fee));
    let fund = w.funder.spend(std::slice::from_ref(&cb), &outputs, RBF);
    rpc.call("sendrawtransaction", json!([fund.to_hex()])).await;
    rpc.mine(1, &w.cb_mature.address(KeyType::P2wpkh)).await;
    rpc.mine(1, &w.cb_immature.address(KeyType::P2wpkh)).await;
    rpc.mine(98, &funder_addr).await;
    assert!(rpc.mempool().await.is_empty(), "{name}: funding confirmed");
    let coins = requests
        .iter()
        .enumerate()
        .map(|(i, (kt, v))| {
            (
                OutPoint {
                    txid: fund.txid(),
                    vout: i as u32,
                },
                TxOut {
                    value: Amount::from_sat(*v),
                    script_pubkey: w.alice.script(*kt),
                },
            )
        })
        .collect();
    Side {
        mature_cb: only_coinbase(&rpc, &w.cb_mature).await,
        immature_cb: only_coinbase(&rpc, &w.cb_immature).await,
        spent_cb: cb,
        rpc,
        coins,
        fund,
    }
}

/// How a transaction's fee is set: `base + ceil(vsize × sat_kvb / 1000) + delta`, from the
/// signed transaction's own vsize (re-signed until it is stable).
#[derive(Debug, Clone, Copy)]
pub struct Fee {
    pub base: u64,
    pub sat_kvb: u64,
    pub delta: i64,
}

impl Fee {
    pub fn abs(sat: u64) -> Fee {
        Fee {
            base: sat,
            sat_kvb: 0,
            delta: 0,
        }
    }

    pub fn rate(sat_kvb: u64) -> Fee {
        Fee {
            base: 0,
            sat_kvb,
            delta: 0,
        }
    }

    pub fn delta(self, delta: i64) -> Fee {
        Fee { delta, ..self }
    }

    pub fn for_vsize(self, vsize: u64) -> u64 {
        let f = self.base as i64 + (vsize * self.sat_kvb).div_ceil(1000) as i64 + self.delta;
        u64::try_from(f).unwrap()
    }
}

/// A transaction to build: `outputs` then the change (what is left after the fee).
pub struct Spec<'k> {
    pub signer: &'k Key,
    pub inputs: Vec<Coin>,
    pub outputs: Vec<(ScriptBuf, u64)>,
    pub change: ScriptBuf,
    pub fee: Fee,
    pub version: i32,
    pub lock_time: u32,
    pub sequence: u32,
}

impl Spec<'_> {
    pub fn build(&self) -> Transaction {
        let mut tx = Transaction {
            version: self.version,
            lock_time: self.lock_time,
            input: self
                .inputs
                .iter()
                .map(|(op, _)| TxIn::new(*op, self.sequence))
                .collect(),
            output: self
                .outputs
                .iter()
                .chain(std::iter::once(&(self.change.clone(), 0)))
                .map(|(s, v)| TxOut {
                    value: Amount::from_sat(*v),
                    script_pubkey: s.clone(),
                })
                .collect(),
        };
        let prevouts: Vec<TxOut> = self.inputs.iter().map(|(_, o)| o.clone()).collect();
        let value_in: u64 = prevouts.iter().map(|o| o.value.to_sat()).sum();
        let fixed: u64 = self.outputs.iter().map(|(_, v)| v).sum();
        // ECDSA signatures vary by a byte: sign, measure, set the fee, until it holds. A fee
        // that flips the signature's length back and forth is broken by a harmless change
        // elsewhere: a small past lock time, or another BIP125-signalling sequence.
        let mut fee = self.fee.for_vsize(150);
        let mut tried = Vec::new();
        for nudge in 0..30u32 {
            if tried.contains(&fee) {
                if self.lock_time == 0 {
                    tx.lock_time = nudge;
                } else if self.sequence == RBF {
                    tx.input.iter_mut().for_each(|i| i.sequence = RBF - nudge);
                }
            }
            tried.push(fee);
            tx.output.last_mut().unwrap().value = Amount::from_sat(value_in - fixed - fee);
            self.signer.sign(&mut tx, &prevouts);
            let want = self.fee.for_vsize(tx.vsize());
            if want == fee {
                return tx;
            }
            fee = want;
        }
        panic!("the fee did not settle: {:?} {tried:?}", self.fee);
    }
}

/// The fee a transaction pays, from the coins it spends.
pub fn fee_of(tx: &Transaction, spent: &[Coin]) -> u64 {
    let value_in: u64 = spent.iter().map(|(_, o)| o.value.to_sat()).sum();
    value_in - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>()
}

pub fn out(tx: &Transaction, vout: u32) -> Coin {
    (
        OutPoint {
            txid: tx.txid(),
            vout,
        },
        tx.output[vout as usize].clone(),
    )
}

/// One case's view of a side.
pub struct Ctx<'a> {
    pub side: &'a Side,
    pub w: &'a Wallet,
    /// This case's coins, in the order it asked for them.
    pub coins: Vec<Coin>,
    /// This case's destination type.
    pub to: KeyType,
    /// The first refusal of a transaction the case put in the mempool.
    pub setup_refused: RefCell<Option<Verdict>>,
}

impl<'a> Ctx<'a> {
    /// A version 2 spend of alice's `inputs`, signalling BIP125, change to the
    /// destination.
    pub fn spec(&self, inputs: Vec<Coin>, outputs: Vec<(ScriptBuf, u64)>, fee: Fee) -> Spec<'a> {
        Spec {
            signer: &self.w.alice,
            inputs,
            outputs,
            change: self.w.dest.script(self.to),
            fee,
            version: 2,
            lock_time: 0,
            sequence: RBF,
        }
    }

    /// The simplest spend: this case's coin `i` to the destination.
    pub fn pay(&self, i: usize, outputs: Vec<(ScriptBuf, u64)>, fee: Fee) -> Transaction {
        self.spec(vec![self.coins[i].clone()], outputs, fee).build()
    }

    /// Spends one of alice's outputs (e.g. a mempool parent's) to the destination.
    pub fn pay_from(&self, coin: Coin, fee: Fee) -> Transaction {
        self.spec(vec![coin], vec![], fee).build()
    }

    /// `testmempoolaccept` on this side.
    pub async fn probe(&self, tx: &Transaction) -> Verdict {
        let r = self
            .side
            .rpc
            .call("testmempoolaccept", json!([[tx.to_hex()]]))
            .await;
        let r = &r[0];
        if r["allowed"].as_bool() == Some(true) {
            Verdict::Accept
        } else {
            Verdict::Reject {
                reason: r["reject-reason"].as_str().unwrap_or_default().to_owned(),
                details: r["reject-details"].as_str().unwrap_or_default().to_owned(),
            }
        }
    }

    /// `sendrawtransaction` as the verdict: accepted, or the error code and message
    /// (Core's `reason, details` cut at the details).
    pub async fn submit(&self, tx: &Transaction) -> Verdict {
        match self
            .side
            .rpc
            .try_call("sendrawtransaction", json!([tx.to_hex()]))
            .await
        {
            Ok(_) => Verdict::Accept,
            Err((code, message)) => {
                // Core's `reason, details`; a fixed message may hold a comma of its own.
                let head = match message.split_once(", ") {
                    Some((h, _)) if !h.contains('(') => h,
                    _ => message.as_str(),
                };
                Verdict::Reject {
                    reason: format!("sendrawtransaction {code}: {head}"),
                    details: message.clone(),
                }
            }
        }
    }

    /// `sendrawtransaction` of a transaction a case needs in the mempool. A refusal is
    /// kept: it becomes the case's verdict (`setup: …`), since what follows is moot.
    pub async fn send(&self, tx: &Transaction) {
        if let Err((_, message)) = self
            .side
            .rpc
            .try_call("sendrawtransaction", json!([tx.to_hex()]))
            .await
        {
            let mut refused = self.setup_refused.borrow_mut();
            if refused.is_none() {
                *refused = Some(Verdict::Reject {
                    reason: format!("setup: {}", message.split(", ").next().unwrap_or_default()),
                    details: message,
                });
            }
        }
    }

    pub async fn tip(&self) -> u32 {
        let h = self.side.rpc.call("getblockcount", json!([])).await;
        u32::try_from(h.as_u64().unwrap()).unwrap()
    }
}

pub type Rows = Vec<(String, Verdict)>;
pub type Run = Box<dyn for<'a> Fn(&'a Ctx<'a>) -> Pin<Box<dyn Future<Output = Rows> + 'a>>>;

/// A case: its coins (alice's, by key type and amount, fixed by the seed) and what it
/// does with them on one side.
pub struct Case {
    pub name: String,
    pub coins: Vec<usize>,
    pub to: KeyType,
    pub run: Run,
}

/// Builds the plan from the seed.
pub struct Planner {
    pub rng: Rng,
    pub requests: Vec<(KeyType, u64)>,
    pub cases: Vec<Case>,
}

impl Planner {
    pub fn coin(&mut self, kt: KeyType) -> usize {
        let amount = self.rng.range(100_000, 1_000_000);
        self.coin_of(kt, amount)
    }

    pub fn coin_of(&mut self, kt: KeyType, amount: u64) -> usize {
        self.requests.push((kt, amount));
        self.requests.len() - 1
    }

    pub fn any_type(&mut self) -> KeyType {
        self.rng.pick(&KeyType::SPENDABLE)
    }

    /// A case returning one verdict.
    pub fn case<F>(&mut self, name: impl Into<String>, coins: Vec<usize>, f: F)
    where
        F: for<'a> Fn(&'a Ctx<'a>) -> Pin<Box<dyn Future<Output = Verdict> + 'a>> + 'static,
    {
        let name = name.into();
        let row = name.clone();
        self.cases_with_rows(name, coins, move |c| {
            let row = row.clone();
            let fut = f(c);
            Box::pin(async move { vec![(row, fut.await)] })
        });
    }

    /// A case returning several rows (a chain probed at several depths).
    pub fn cases_with_rows<F>(&mut self, name: impl Into<String>, coins: Vec<usize>, f: F)
    where
        F: for<'a> Fn(&'a Ctx<'a>) -> Pin<Box<dyn Future<Output = Rows> + 'a>> + 'static,
    {
        let to = self.rng.pick(&[
            KeyType::P2pkh,
            KeyType::P2shP2wpkh,
            KeyType::P2wpkh,
            KeyType::P2tr,
            KeyType::P2wsh,
        ]);
        self.cases.push(Case {
            name: name.into(),
            coins,
            to,
            run: Box::new(f),
        });
    }
}

pub fn op_return_with(data_len: usize) -> ScriptBuf {
    ScriptBuf::new_op_return(&vec![0x66; data_len])
}

/// Every case, in the table's order. Names say what is built; the verdicts come from the
/// nodes.
pub fn plan(seed: u64) -> Planner {
    let mut p = Planner {
        rng: Rng(seed),
        requests: Vec::new(),
        cases: Vec::new(),
    };
    cases_policy::fees(&mut p);
    cases_policy::dust(&mut p);
    cases_mempool::replacements(&mut p);
    cases_policy::signatures(&mut p);
    cases_mempool::resubmissions(&mut p);
    cases_mempool::truc(&mut p);
    cases_policy::outputs(&mut p);
    cases_policy::versions(&mut p);
    cases_mempool::broadcast(&mut p);
    cases_mempool::coins(&mut p);
    cases_mempool::chains(&mut p);
    p
}

pub async fn run_side(side: &Side, w: &Wallet, plan: &Planner) -> Rows {
    let mut rows = Vec::new();
    for case in &plan.cases {
        let ctx = Ctx {
            side,
            w,
            coins: case.coins.iter().map(|&i| side.coins[i].clone()).collect(),
            to: case.to,
            setup_refused: RefCell::new(None),
        };
        let mut got = (case.run)(&ctx).await;
        assert!(!got.is_empty(), "{}: no verdict", case.name);
        if let Some(v) = ctx.setup_refused.take() {
            got.iter_mut().for_each(|row| row.1 = v.clone());
        }
        rows.extend(got);
    }
    rows
}

pub fn table(rows: &[(String, Verdict, Verdict)]) -> String {
    let mut t = String::from("| case | devnet | Core | agree |\n|---|---|---|---|\n");
    for (name, d, c) in rows {
        let agree = if d.class() == c.class() { "yes" } else { "NO" };
        t.push_str(&format!(
            "| {name} | {} | {} | {agree} |\n",
            d.shown(),
            c.shown()
        ));
    }
    t
}
