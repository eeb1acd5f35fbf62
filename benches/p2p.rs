//! Peer-to-peer broadcast figures (issue 12): time from start to "propagated" on loopback
//! with two real `bitcoind -regtest` nodes (BITCOIND_EXE), A at `-v2transport=1` and at
//! `=0` (v1 fallback), one sender to A and one observer on B; median and spread over
//! rounds. Also the handshake alone (connect, transport, version/verack), which is ferry's
//! own share.
//!
//! `cargo bench --bench p2p` runs 15 rounds per transport; without `--bench`, 3.
//! Skipped (with a note) without BITCOIND_EXE.
#![allow(clippy::unwrap_used, clippy::print_stdout, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::p2p::Pair;
use ferry::network::Network;
use ferry::p2p::session::{after, handshake};
use ferry::p2p::transport::connect;
use ferry::p2p::{BroadcastConfig, Route, broadcast};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = if std::env::args().any(|a| a == "--bench") {
        15
    } else {
        3
    };
    let Some(exe) = std::env::var_os("BITCOIND_EXE").map(std::path::PathBuf::from) else {
        println!("p2p bench skipped: set BITCOIND_EXE to a bitcoind (scripts/build-bitcoind.sh)");
        return;
    };
    for (label, args) in [("v2", "-v2transport=1"), ("v1", "-v2transport=0")] {
        let pair = Pair::start(&exe, &[args], rounds).await;
        let mut config = BroadcastConfig::new(
            Network::Regtest,
            vec![pair.a_p2p.clone()],
            vec![pair.b_p2p.clone()],
        );
        config.connection_timeout = Duration::from_secs(10);
        config.propagation_timeout = Duration::from_secs(10);
        let mut total = Vec::new();
        for i in 0..rounds {
            let tx = pair.spend(i, 1_000);
            let start = Instant::now();
            let report = broadcast(&config, &tx).await.unwrap();
            assert!(report.propagated, "{report:?}");
            total.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let mut hs = Vec::new();
        for _ in 0..rounds {
            let start = Instant::now();
            let mut conn = connect(
                Network::Regtest,
                &pair.a_p2p,
                &Route::Direct,
                true,
                Duration::from_secs(5),
            )
            .await
            .map_err(|(_, e)| e)
            .unwrap();
            handshake(&mut conn, false, after(Duration::from_secs(5)))
                .await
                .unwrap();
            hs.push(start.elapsed().as_secs_f64() * 1e3);
            conn.close().await;
        }
        let (min, max) = (
            total.iter().copied().fold(f64::MAX, f64::min),
            total.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "{label}: start → propagated p50 {:.1} ms (min {min:.1}, max {max:.1}, {rounds} rounds); \
             connect+handshake p50 {:.1} ms",
            median(&mut total),
            median(&mut hs),
        );
        pair.stop().await;
    }
}
