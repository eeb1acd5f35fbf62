//! Sync figures (issue 5): a wallet with N used receive addresses on the devnet, synced
//! through each backend kind — Esplora (history per script, 8 requests in flight) and
//! Bitcoin Core JSON-RPC (the devnet's RPC subset: one `scantxoutset` per range plus the
//! mempool and the coins' transactions, batched). Reports time and request count.
//!
//! `cargo bench --bench sync` runs N = 1,000; without `--bench` a quick N = 50.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use ferry::chain::sync::sync;
use ferry::chain::{ChainBackend, CoreRpcBackend, EsploraBackend};
use ferry::devnet::{Devnet, DevnetState};
use ferry::keys::{KeyChain, Mnemonic};
use ferry::network::Network;
use ferry::script::AddressType;
use ferry::units::Amount;
use ferry::wallet::Account;
use ferry::wallet::sync::SyncOptions;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: u32 = if full { 1_000 } else { 50 };
    let dir = tempfile::tempdir().unwrap();
    let mnemonic = Mnemonic::from_entropy(&[7; 16]).unwrap();
    let account =
        Account::from_mnemonic(&mnemonic, "", Network::Regtest, AddressType::P2wpkh).unwrap();

    // Every receive address 0..n gets one payment, mined.
    let mut devnet = Devnet::open(dir.path()).unwrap();
    for i in 0..n {
        let (out, _) = account.output_at(KeyChain::Receive, i).unwrap();
        devnet
            .faucet(&out.script_pubkey, Amount::from_sat(10_000 + u64::from(i)))
            .unwrap();
        // The faucet chains its change: stay under Core's 25-ancestor limit.
        if i % 20 == 19 {
            devnet.mine(1, None).unwrap();
        }
    }
    devnet.mine(1, None).unwrap();
    let expected: u64 = (0..u64::from(n)).map(|i| 10_000 + i).sum();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ferry::devnet::run(
        DevnetState::new(devnet),
        listener,
        None,
        async move {
            let _ = rx.await;
        },
    ));

    let backends: Vec<(&str, Arc<dyn ChainBackend>)> = vec![
        (
            "esplora",
            Arc::new(EsploraBackend::new(&format!("http://{addr}/api")).unwrap()),
        ),
        (
            "core-rpc",
            Arc::new(CoreRpcBackend::new(&format!("core+http://u:p@{addr}")).unwrap()),
        ),
    ];
    println!(
        "sync of a wallet with {n} used receive addresses (gap limit 20), devnet on 127.0.0.1"
    );
    for (name, backend) in backends {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..if full { 5 } else { 1 } {
            let t = Instant::now();
            let r = sync(
                Arc::clone(&backend),
                &account,
                SyncOptions::default(),
                |_| {},
            )
            .await
            .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            last = Some(r);
        }
        let r = last.unwrap();
        let total: u64 = r.utxos.iter().map(|u| u.txout.value.to_sat()).sum();
        assert_eq!(r.used.len(), n as usize, "{name}: every used address found");
        assert_eq!(total, expected, "{name}: every coin found");
        times.sort_by(f64::total_cmp);
        println!(
            "  {name:9} {} addresses scanned, {} requests, median {:.0} ms (min {:.0}, max {:.0}) over {} runs",
            r.scanned,
            r.requests,
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            times.len()
        );
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
