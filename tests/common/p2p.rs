//! Two real `bitcoind -regtest` nodes that listen on 127.0.0.1 for ferry's peer-to-peer
//! broadcaster: A (the one ferry hands transactions to) and B (connected to A, the
//! observer's node), both with `-whitelist=noban@127.0.0.1` so relay is not delayed, mined
//! past initial block download, with mature coins for a test key.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry::tx::{OutPoint, Transaction, TxOut};
use ferry::units::Amount;
use serde_json::{Value, json};

use crate::common::bitcoin_core::{Bitcoind, CoreAuth, free_port};
use crate::common::devnet::{Key, KeyType};

/// A and B, and the coinbases of blocks 1..=`coins` paying to `key`.
pub struct Pair {
    pub a: Bitcoind,
    pub b: Bitcoind,
    /// A's peer-to-peer address.
    pub a_p2p: String,
    /// B's peer-to-peer address.
    pub b_p2p: String,
    pub key: Key,
    /// Mature coins of `key`: (outpoint, output).
    pub coins: Vec<(OutPoint, TxOut)>,
}

async fn listening_node(exe: &Path, port: u16, extra: &[&str]) -> Bitcoind {
    let bind = format!("-bind=127.0.0.1:{port}");
    let mut args = vec!["-listen=1", bind.as_str(), "-whitelist=noban@127.0.0.1"];
    args.extend_from_slice(extra);
    Bitcoind::start_with(exe, CoreAuth::Cookie, &args).await
}

/// Polls `f` every 50 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..secs * 20 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen in {secs} s");
}

impl Pair {
    /// Starts A (with `a_args`, e.g. `-v2transport=0`) and B, connects B to A, mines
    /// 100 + `coins` blocks on A to `key` and waits until B has them.
    pub async fn start(exe: &Path, a_args: &[&str], coins: usize) -> Pair {
        let (pa, pb) = (free_port(), free_port());
        let a = listening_node(exe, pa, a_args).await;
        let b = listening_node(exe, pb, &[]).await;
        let a_p2p = format!("127.0.0.1:{pa}");
        let b_p2p = format!("127.0.0.1:{pb}");
        b.rpc.call("addnode", json!([a_p2p, "onetry"])).await;
        wait_for(20, "B connected to A", async || {
            let peers = a.rpc.call("getpeerinfo", json!([])).await;
            peers.as_array().unwrap().iter().any(|p| {
                p["inbound"].as_bool() == Some(true)
                    && p["subver"].as_str().is_some_and(|s| s.contains("Satoshi"))
            })
        })
        .await;
        let key = Key::new(0x71);
        let addr = key.address(KeyType::P2wpkh);
        let n = 100 + coins as u32;
        a.rpc.mine(n, &addr).await;
        wait_for(30, "B synced", async || {
            b.rpc.call("getblockcount", json!([])).await.as_u64() == Some(u64::from(n))
        })
        .await;
        let script = key.script(KeyType::P2wpkh);
        let mut out = Vec::new();
        for height in 1..=coins as u64 {
            let hash = a.rpc.call("getblockhash", json!([height])).await;
            let block = a.rpc.call("getblock", json!([hash, 2])).await;
            let cb = &block["tx"][0];
            let txid = cb["txid"].as_str().unwrap().parse().unwrap();
            let sat = (cb["vout"][0]["value"].as_f64().unwrap() * 1e8).round() as u64;
            out.push((
                OutPoint { txid, vout: 0 },
                TxOut {
                    value: Amount::from_sat(sat),
                    script_pubkey: script.clone(),
                },
            ));
        }
        Pair {
            a,
            b,
            a_p2p,
            b_p2p,
            key,
            coins: out,
        }
    }

    /// A signed spend of coin `i` paying `fee` sat, to the key itself.
    pub fn spend(&self, i: usize, fee: u64) -> Transaction {
        let coin = &self.coins[i];
        let dest = Key::new(0x72).script(KeyType::P2wpkh);
        self.key.spend(
            std::slice::from_ref(coin),
            &[(dest, coin.1.value.to_sat() - fee)],
            0xffff_fffd,
        )
    }

    /// Whether `txid` is in the node's mempool.
    pub async fn in_mempool(node: &Bitcoind, txid: &str) -> bool {
        node.rpc.mempool().await.iter().any(|t| t == txid)
    }

    /// Stops both nodes.
    pub async fn stop(self) {
        let (a, b) = (self.a, self.b);
        tokio::join!(a.stop(), b.stop());
    }
}

/// A well-formed segwit transaction spending a made-up coin: nobody's mempool takes it,
/// but every decoder does (what the tests of options and hostile peers hand over).
pub fn sample_tx() -> Transaction {
    let mut input = ferry::tx::TxIn::new(
        OutPoint {
            txid: ferry::tx::Txid::from_byte_array([3; 32]),
            vout: 0,
        },
        ferry::tx::TxIn::SEQUENCE_RBF,
    );
    input.witness = ferry::tx::Witness::from_items(vec![vec![0x30; 71], vec![0x02; 33]]);
    Transaction {
        version: 2,
        lock_time: 0,
        input: vec![input],
        output: vec![TxOut {
            value: Amount::from_sat(10_000),
            script_pubkey: ferry::script::ScriptBuf::new_p2wpkh(&[5; 20]),
        }],
    }
}

/// `ferry devnet` on ephemeral ports; killed when dropped.
pub struct DevnetProc {
    child: Child,
    pub http: String,
    pub p2p: String,
    _dir: tempfile::TempDir,
}

impl DevnetProc {
    /// GETs `path` from the devnet's HTTP API as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.http))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.http))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Pays `address` from the faucet and mines it; returns the payment's txid.
    pub async fn fund(&self, address: &str, amount_sat: u64) -> String {
        let body = json!({"address": address, "amount_sat": amount_sat});
        let paid = self.post_json("/devnet/faucet", body).await;
        self.post_json("/devnet/mine", json!({"blocks": 1})).await;
        paid["txid"].as_str().unwrap().to_owned()
    }

    /// The txids in the devnet's mempool.
    pub async fn mempool(&self) -> Vec<Value> {
        let pool = self.get_json("/api/mempool/txids").await;
        pool.as_array().unwrap().clone()
    }
}

impl Drop for DevnetProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `log`: a file for the devnet's stderr (its log), else none.
pub fn start_devnet(log: Option<&std::path::Path>) -> DevnetProc {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["--json", "--data-dir", dir.path().to_str().unwrap()])
        .args([
            "devnet",
            "--listen",
            "127.0.0.1:0",
            "--p2p-listen",
            "127.0.0.1:0",
        ])
        .env_remove("FERRY_BACKEND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    // The info document is pretty-printed: read up to its closing brace.
    let mut text = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let end = line == "}";
        text.push_str(&line);
        if end {
            break;
        }
    }
    let info: Value = serde_json::from_str(&text).unwrap();
    DevnetProc {
        child,
        http: format!("http://{}", info["listen"].as_str().unwrap()),
        p2p: info["p2p"].as_str().unwrap().to_owned(),
        _dir: dir,
    }
}
