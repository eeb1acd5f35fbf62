//! "Pay by myself" through the real binary with a Bitcoin Core JSON-RPC backend: the same
//! story runs against the devnet's Core subset and against a real `bitcoind -regtest`.

use std::sync::Arc;

use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::AddressType;
use serde_json::{Value, json};

use super::Rpc;
use crate::common::cli::{Ferry, Run};

pub const PASSWORD: &str = "pw for tests";

/// Runs the binary against one backend.
#[derive(Clone)]
pub struct Wallets {
    pub f: Arc<Ferry>,
    pub backend: String,
}

impl Wallets {
    pub fn new(backend: &str) -> Wallets {
        Wallets {
            f: Arc::new(Ferry::new()),
            backend: backend.to_owned(),
        }
    }

    pub fn make(&self, name: &str, seed: u8, t: AddressType) {
        let m = Mnemonic::from_entropy(&[seed; 16]).unwrap();
        self.f.add_wallet(name, &m, Network::Regtest, t, PASSWORD);
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.f.run_with_stdin(
            args,
            "",
            &[
                ("FERRY_BACKEND", &self.backend),
                ("FERRY_PASSWORD", PASSWORD),
            ],
        )
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        self.run(args).expect_code(0).json()
    }

    /// (confirmed, unconfirmed) in sat.
    pub fn balance(&self, wallet: &str) -> (u64, u64) {
        let b = self.ok(&["--json", "--wallet", wallet, "balance"]);
        (
            b["confirmed"].as_u64().unwrap(),
            b["unconfirmed"].as_u64().unwrap(),
        )
    }

    pub fn address(&self, wallet: &str) -> String {
        self.ok(&["--json", "--wallet", wallet, "address"])["address"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `ferry send`, returning its JSON report.
    pub fn send(&self, wallet: &str, to: &str, sat: u64, rest: &[&str]) -> Value {
        let amount = format!("{sat}sat");
        let mut args = vec!["--json", "--wallet", wallet, "send", to, &amount, "--yes"];
        args.extend_from_slice(rest);
        self.ok(&args)
    }
}

/// Runs a blocking CLI call without stalling the test's runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The whole story on a fresh regtest chain behind `rpc`, with ferry using `backend`:
/// a miner wallet's coinbases (only mature ones counted), payments to and from every
/// address type exact to the sat, a conflicting transaction refused by the node's
/// preflight with its own reason, and a fee bump the node's replacement rules accept.
pub async fn pay_with_core(rpc: &Rpc, backend: &str) {
    let w = Wallets::new(backend);
    w.make("miner", 1, AddressType::P2wpkh);
    w.make("burn", 2, AddressType::P2wpkh);
    let names: Vec<String> = AddressType::ALL
        .iter()
        .map(|t| format!("w-{}", t.name()))
        .collect();
    for (i, t) in AddressType::ALL.iter().enumerate() {
        w.make(&names[i], 10 + i as u8, *t);
    }
    let w2 = w.clone();
    let (miner_addr, burn_addr) = blocking(move || (w2.address("miner"), w2.address("burn"))).await;
    // 200 coinbases to the miner, then 100 blocks elsewhere: all 200 mature, and later
    // blocks change nothing about the miner's coins.
    rpc.mine(200, &miner_addr).await;
    rpc.mine(100, &burn_addr).await;
    let scanned = rpc
        .call(
            "scantxoutset",
            json!(["start", [format!("addr({miner_addr})")]]),
        )
        .await;
    let on_chain = (scanned["total_amount"].as_f64().unwrap() * 1e8).round() as u64;
    let unspents = scanned["unspents"].as_array().unwrap().len();
    assert_eq!(unspents, 200);

    let (w2, names2) = (w.clone(), names.clone());
    let fees_and_amounts = blocking(move || {
        let w = w2;
        assert_eq!(w.balance("miner"), (on_chain, 0), "every mature coinbase");
        let coins = w.ok(&["--json", "--wallet", "miner", "utxos"]);
        assert_eq!(coins.as_array().unwrap().len(), 200);
        // The miner pays every type, one send after another: each sync must see the
        // previous send's spend and change in the node's mempool.
        let mut out = Vec::new();
        for (i, name) in names2.iter().enumerate() {
            let amount = 1_000_000 + 1_000 * i as u64;
            let r = w.send("miner", &w.address(name), amount, &["--fee-rate", "3"]);
            out.push((amount, r["fee_sat"].as_u64().unwrap()));
        }
        let spent: u64 = out.iter().map(|(a, f)| a + f).sum();
        let (c, u) = w.balance("miner");
        assert_eq!(c + u, on_chain - spent, "miner after sends (mempool)");
        out
    })
    .await;
    assert_eq!(rpc.mempool().await.len(), names.len());
    rpc.mine(1, &burn_addr).await;

    let (w2, names2) = (w.clone(), names.clone());
    let fees = blocking(move || {
        let w = w2;
        let sent: u64 = fees_and_amounts.iter().map(|(a, f)| a + f).sum();
        assert_eq!(w.balance("miner"), (on_chain - sent, 0));
        for (name, (amount, _)) in names2.iter().zip(&fees_and_amounts) {
            assert_eq!(w.balance(name), (*amount, 0), "{name}");
        }
        // Every type pays the next one.
        let mut fees = Vec::new();
        for (i, name) in names2.iter().enumerate() {
            let to = w.address(&names2[(i + 1) % names2.len()]);
            let r = w.send(name, &to, 200_000, &["--fee-rate", "2.5"]);
            fees.push((
                fees_and_amounts[i].0,
                r["fee_sat"].as_u64().unwrap(),
                r["txid"].as_str().unwrap().to_owned(),
            ));
        }
        fees
    })
    .await;
    rpc.mine(1, &burn_addr).await;
    let (w2, names2) = (w.clone(), names.clone());
    blocking(move || {
        for (name, (amount, fee, txid)) in names2.iter().zip(&fees) {
            // Received 200,000 from the previous wallet, sent 200,000 plus the fee.
            assert_eq!(w2.balance(name), (amount - fee, 0), "{name}");
            // History through a UTXO scan: the wallet's own payment is there with its
            // change, but what it spent (a coin now gone from the UTXO set) is not
            // visible, so no number is made up for it.
            let history = w2.ok(&["--json", "--wallet", name, "history"]);
            let own = history
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["txid"] == txid.as_str())
                .unwrap_or_else(|| panic!("{name}: {txid} missing from {history}"));
            assert!(own["received_sat"].as_u64().unwrap() > 0, "{own}");
            assert!(
                own["sent_sat"].is_null() && own["net_sat"].is_null(),
                "{own}"
            );
        }
    })
    .await;

    // The node's own floor (Core 30+: 0.1 sat/vB, from getmempoolinfo) decides: half a
    // sat/vB goes through, 0.05 is refused with the floor named, nothing broadcast.
    let (w2, burn) = (w.clone(), burn_addr.clone());
    let (cheap, too_cheap) = blocking(move || {
        let cheap = w2.send("miner", &burn, 50_000, &["--fee-rate", "0.5"]);
        let too_cheap = w2
            .run(&[
                "--json",
                "--wallet",
                "miner",
                "send",
                &burn,
                "50000sat",
                "--yes",
                "--fee-rate",
                "0.05",
            ])
            .expect_code(1)
            .json();
        (cheap, too_cheap)
    })
    .await;
    assert!(
        rpc.mempool()
            .await
            .contains(&cheap["txid"].as_str().unwrap().to_owned())
    );
    assert!(
        (cheap["fee_rate"].as_f64().unwrap() - 0.5).abs() < 0.05,
        "{cheap}"
    );
    assert_eq!(
        too_cheap["error"]["code"], "fee_rate_too_low",
        "{too_cheap}"
    );
    assert!(
        too_cheap["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0.1 sat/vB"),
        "{too_cheap}"
    );
    rpc.mine(1, &burn_addr).await;

    // Two payments spending the same coin at the same fee rate: the node's preflight
    // refuses the second (BIP125: a replacement must pay more), nothing broadcast.
    let (w2, miner_addr) = (w.clone(), miner_addr.clone());
    let (first, second) = blocking(move || {
        let w = w2;
        let coins = w.ok(&["--json", "--wallet", "miner", "utxos"]);
        // A change coin, alone on its address: once the first spend is in the mempool,
        // only the mempool tells the wallet that address is in use (the bump needs it).
        let c = coins
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] != miner_addr.as_str())
            .unwrap();
        let coin = format!("{}:{}", c["txid"].as_str().unwrap(), c["vout"]);
        let to = w.address("burn");
        let a = w.send(
            "miner",
            &to,
            100_000,
            &["--fee-rate", "2", "--utxo", &coin, "--no-broadcast"],
        );
        let b = w.send(
            "miner",
            &to,
            110_000,
            &["--fee-rate", "2", "--utxo", &coin, "--no-broadcast"],
        );
        (a, b)
    })
    .await;
    let (w2, f_hex, s_hex) = (
        w.clone(),
        first["hex"].as_str().unwrap().to_owned(),
        second["hex"].as_str().unwrap().to_owned(),
    );
    let refused = blocking(move || {
        w2.ok(&["--json", "--wallet", "miner", "broadcast", &f_hex]);
        w2.run(&["--json", "--wallet", "miner", "broadcast", &s_hex])
            .expect_code(1)
            .json()
    })
    .await;
    assert_eq!(refused["error"]["code"], "tx_rejected", "{refused}");
    let msg = refused["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("testmempoolaccept") && msg.contains("insufficient fee"),
        "{msg}"
    );
    let pool = rpc.mempool().await;
    let first_txid = first["txid"].as_str().unwrap().to_owned();
    assert!(pool.contains(&first_txid));
    assert!(!pool.contains(&second["txid"].as_str().unwrap().to_owned()));

    // A bump the node's replacement rules accept: the original leaves the mempool.
    let (w2, t) = (w.clone(), first_txid.clone());
    let bumped = blocking(move || {
        w2.ok(&[
            "--json",
            "--wallet",
            "miner",
            "bump",
            &t,
            "--fee-rate",
            "6",
            "--yes",
        ])
    })
    .await;
    let pool = rpc.mempool().await;
    assert!(
        pool.contains(&bumped["txid"].as_str().unwrap().to_owned()),
        "{bumped}"
    );
    assert!(!pool.contains(&first_txid));
}
