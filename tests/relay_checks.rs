//! The relay's accept path under the shortcuts it takes for speed: concurrent children of
//! one parent fetch it from the backend once (single flight), and a duplicate is answered
//! from its queued record even when the checks cannot run (the queue is only read when
//! they fail).
#![allow(clippy::unwrap_used)]

mod common_devnet;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common_devnet::{Key, KeyType, Node};
use ferry::chain::esplora::EsploraBackend;
use ferry::chain::{BoxFuture, ChainBackend, ChainError, HistoryTx, TxStatus, Utxo};
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::relay::queue::Queue;
use ferry::relay::{AppState, AuthMode, RelayConfig};
use ferry::script::ScriptBuf;
use ferry::tx::{OutPoint, Transaction, TxOut, Txid};
use ferry::units::{Amount, FeeRate};
use serde_json::Value;

/// An Esplora backend that counts transaction lookups and can refuse them.
struct Lookups {
    inner: EsploraBackend,
    count: AtomicUsize,
    down: AtomicBool,
}

impl ChainBackend for Lookups {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn tip_height(&self) -> BoxFuture<'_, Result<u32, ChainError>> {
        self.inner.tip_height()
    }
    fn script_utxos<'a>(
        &'a self,
        s: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<Utxo>, ChainError>> {
        self.inner.script_utxos(s)
    }
    fn script_history<'a>(
        &'a self,
        s: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<HistoryTx>, ChainError>> {
        self.inner.script_history(s)
    }
    fn transaction(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Transaction>, ChainError>> {
        Box::pin(async move {
            self.count.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(ChainError::Unreachable {
                    url: "test".into(),
                    reason: "lookups switched off by the test".into(),
                });
            }
            self.inner.transaction(txid).await
        })
    }
    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>> {
        self.inner.tx_status(txid)
    }
    fn fee_estimates(&self) -> BoxFuture<'_, Result<BTreeMap<u16, FeeRate>, ChainError>> {
        self.inner.fee_estimates()
    }
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>> {
        self.inner.broadcast(tx)
    }
}

/// A relay (open mode) in front of `node`; returns its `/v1/tx` URL and its backend.
async fn relay(node: &Node, dir: &std::path::Path) -> (String, Arc<Lookups>) {
    let mut config = RelayConfig::new(Network::Regtest, AuthMode::Open);
    config.ip_rate = (100_000, 100_000);
    let backend = Arc::new(Lookups {
        inner: EsploraBackend::new(&format!("{}/api", node.base)).unwrap(),
        count: AtomicUsize::new(0),
        down: AtomicBool::new(false),
    });
    let queue = Queue::open(&dir.join("relay/queue.sqlite")).unwrap();
    let state = AppState::new(
        config,
        backend.clone(),
        queue,
        IdentityKey::generate().unwrap(),
        [],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/tx", listener.local_addr().unwrap());
    tokio::spawn(ferry::relay::run(state, listener, std::future::pending()));
    (url, backend)
}

/// `n` signed one-input spends of one mined fan-out transaction.
async fn children(node: &Node, key: &Key, n: usize) -> Vec<Transaction> {
    let script = key.script(KeyType::P2wpkh);
    let big = node
        .fund(key, KeyType::P2wpkh, &[20_300 * n as u64 + 100_000])
        .await;
    let fan = key.spend(&big, &vec![(script.clone(), 20_000); n], 0xffff_fffd);
    node.post_tx(&fan).await.unwrap();
    node.mine(1, None).await;
    let dest = Key::new(42).script(KeyType::P2wpkh);
    (0..n)
        .map(|i| {
            let coin = (
                OutPoint {
                    txid: fan.txid(),
                    vout: u32::try_from(i).unwrap(),
                },
                TxOut {
                    value: Amount::from_sat(20_000),
                    script_pubkey: script.clone(),
                },
            );
            key.spend(&[coin], &[(dest.clone(), 19_000)], 0xffff_fffd)
        })
        .collect()
}

async fn post(http: &reqwest::Client, url: &str, tx: &Transaction) -> (u16, Value) {
    let r = http
        .post(url)
        .body(serde_json::json!({ "tx": tx.to_hex() }).to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_children_of_one_parent_fetch_it_once() {
    const N: usize = 48;
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let txs = children(&node, &Key::new(41), N).await;
    let (url, backend) = relay(&node, dir.path()).await;
    let http = reqwest::Client::new();
    let mut set = tokio::task::JoinSet::new();
    for tx in txs.clone() {
        let (http, url) = (http.clone(), url.clone());
        set.spawn(async move { (tx.txid(), post(&http, &url, &tx).await) });
    }
    let mut accepted = 0;
    while let Some(r) = set.join_next().await {
        let (txid, (status, v)) = r.unwrap();
        assert_eq!(status, 202, "{v}");
        assert_eq!(v["txid"], txid.to_string());
        accepted += 1;
    }
    assert_eq!(accepted, N);
    assert_eq!(
        backend.count.load(Ordering::SeqCst),
        1,
        "one parent, one lookup"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_answered_from_its_record_when_the_checks_cannot_run() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let first = children(&node, &Key::new(43), 2).await;
    let other = children(&node, &Key::new(44), 1).await;
    let (url, backend) = relay(&node, dir.path()).await;
    let http = reqwest::Client::new();
    let (s, v) = post(&http, &url, &first[0]).await;
    assert_eq!(
        (s, v["txid"].as_str()),
        (202, Some(&*first[0].txid().to_string()))
    );

    // Lookups fail from now on: a duplicate still gets its record (and a fresh receipt), a
    // sibling whose parent is cached is still checked, a transaction needing a lookup is not.
    backend.down.store(true, Ordering::SeqCst);
    let (s, v) = post(&http, &url, &first[0]).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["txid"], first[0].txid().to_string());
    assert_eq!(v["receipt"]["txid"], first[0].txid().to_string());
    let (s, v) = post(&http, &url, &first[1]).await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = post(&http, &url, &other[0]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("backend_unavailable")),
        "{v}"
    );
    node.stop().await;
}
