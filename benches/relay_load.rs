//! Load tool: N pre-signed devnet transactions fired at an in-process relay (open mode,
//! durable queue on disk) by C concurrent clients; reports accepts/s and p50/p99 latency.
//! `cargo bench --bench relay_load -- N C [hold]` (default 2000 64); without `--bench` (as
//! `cargo test` runs it) it does a quick 100 × 8 round.
//!
//! By default the relay's worker delivers to the devnet while the load runs, and that devnet
//! (verifying and storing every transaction again) shares the same cores. With `hold`,
//! delivery waits until the load is over, which measures the relay's accept path alone
//! (as with a backend on another machine), then reports how long delivery took.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../tests/common_devnet/mod.rs"]
mod common_devnet;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common_devnet::{Key, KeyType, Node};
use std::collections::BTreeMap;

use ferry::chain::esplora::EsploraBackend;
use ferry::chain::{BoxFuture, ChainBackend, ChainError, HistoryTx, TxStatus, Utxo};
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::relay::queue::Queue;
use ferry::relay::queue::Status;
use ferry::relay::{AppState, AuthMode, RelayConfig};
use ferry::script::ScriptBuf;
use ferry::tx::{OutPoint, TxOut};
use ferry::tx::{Transaction, Txid};
use ferry::units::Amount;
use ferry::units::FeeRate;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let hold = args.iter().any(|a| a == "hold");
    let (n, c) = if full {
        (
            nums.first().copied().unwrap_or(2000),
            nums.get(1).copied().unwrap_or(64),
        )
    } else {
        (100, 8)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n, c, hold));
}

/// An Esplora backend whose broadcasts wait until `open` turns true.
struct Held {
    inner: EsploraBackend,
    open: tokio::sync::watch::Receiver<bool>,
}

impl ChainBackend for Held {
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
        self.inner.transaction(txid)
    }
    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>> {
        self.inner.tx_status(txid)
    }
    fn fee_estimates(&self) -> BoxFuture<'_, Result<BTreeMap<u16, FeeRate>, ChainError>> {
        self.inner.fee_estimates()
    }
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>> {
        Box::pin(async move {
            let mut open = self.open.clone();
            let _ = open.wait_for(|o| *o).await;
            self.inner.broadcast(tx).await
        })
    }
}

async fn run(n: usize, c: usize, hold: bool) {
    let node = Node::start_fresh().await;
    let key = Key::new(9);
    let script = key.script(KeyType::P2wpkh);
    let big = node
        .fund(&key, KeyType::P2wpkh, &[20_300 * n as u64 + 100_000])
        .await;
    let fan = key.spend(&big, &vec![(script.clone(), 20_000); n], 0xffff_fffd);
    node.post_tx(&fan).await.unwrap();
    node.mine(1, None).await;
    let dest = Key::new(10).script(KeyType::P2wpkh);
    let bodies: Vec<String> = (0..n)
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
            let tx = key.spend(&[coin], &[(dest.clone(), 19_000)], 0xffff_fffd);
            serde_json::json!({ "tx": tx.to_hex() }).to_string()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new(Network::Regtest, AuthMode::Open);
    config.ip_rate = (u32::MAX, u32::MAX);
    let (release, open) = tokio::sync::watch::channel(!hold);
    let backend = Arc::new(Held {
        inner: EsploraBackend::new(&format!("{}/api", node.base)).unwrap(),
        open,
    });
    let queue = Queue::open(&dir.path().join("relay/queue.sqlite")).unwrap();
    let state = AppState::new(config, backend, queue, IdentityKey::generate().unwrap(), []);
    let queue = state.queue.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/tx", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ferry::relay::run(state, listener, async move {
        let _ = rx.await;
    }));

    let http = reqwest::Client::new();
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (http, url, bodies, next) = (http.clone(), url.clone(), bodies.clone(), next.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                let t = Instant::now();
                let r = http.post(&url).body(b.clone()).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat: Vec<Duration> = Vec::new();
    while let Some(l) = set.join_next().await {
        lat.extend(l.unwrap());
    }
    let total = start.elapsed();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "relay_load: {n} tx, {c} clients{}: {:.0} durable accepts/s, p50 {:.2} ms, p99 {:.2} ms (total {:.2} s)",
        if hold {
            ", delivery held"
        } else {
            ", delivering meanwhile"
        },
        n as f64 / total.as_secs_f64(),
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        total.as_secs_f64()
    );
    release.send_replace(true);
    let t = Instant::now();
    loop {
        let counts = queue.counts().await.unwrap();
        let queued = counts
            .iter()
            .find(|(s, _)| *s == Status::Queued)
            .map_or(0, |(_, k)| *k);
        if queued == 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "delivery stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "relay_load: all {n} delivered to the devnet {:.2} s after the load",
        t.elapsed().as_secs_f64()
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    node.stop().await;
}
