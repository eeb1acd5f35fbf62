//! ferry's peer-to-peer broadcaster against real Bitcoin Core (issue 12): two
//! `bitcoind -regtest` nodes on 127.0.0.1, B connected to A. ferry hands a transaction to A
//! only, with a connection to B as observer; both mempools must then hold it and the report
//! must say propagated. With A at `-v2transport=1` (BIP-0324) and `=0` (v1 fallback). A
//! double spend and a fee below the floor end as handed over but not seen, and A neither
//! disconnected nor banned ferry for them. Skipped without BITCOIND_EXE (never in CI).

use std::time::Duration;

use crate::common::bitcoin_core::bitcoind_exe;
use crate::common::devnet::{Key, first_output};
use crate::common::p2p::Pair;
use ferry::network::Network;
use ferry::p2p::{BroadcastConfig, P2pReport, Transport, broadcast, broadcast_package};
use ferry::tx::Transaction;
use serde_json::json;

fn config(pair: &Pair, wait: Duration) -> BroadcastConfig {
    let mut c = BroadcastConfig::new(
        Network::Regtest,
        vec![pair.a_p2p.clone()],
        vec![pair.b_p2p.clone()],
    );
    c.connection_timeout = Duration::from_secs(10);
    c.propagation_timeout = wait;
    c
}

/// Broadcasts `tx`: one that should propagate gets 10 s, one that should not, 2 s (with
/// `noban`, B announces at once, so 2 s is ample for "not seen").
async fn send(pair: &Pair, tx: &Transaction, propagates: bool) -> P2pReport {
    let wait = Duration::from_secs(if propagates { 10 } else { 2 });
    let report = broadcast(&config(pair, wait), tx).await.unwrap();
    eprintln!(
        "{}: propagated={} in {} ms via {}",
        tx.txid(),
        report.propagated,
        report.elapsed_ms,
        report.peers[0].transport
    );
    report
}

/// The whole matrix on one pair: a payment propagates; a double spend of it and a
/// zero-fee spend are handed over and never seen; A still has B and has banned nobody.
async fn matrix(a_args: &[&str], expect: Transport) {
    let Some(exe) = bitcoind_exe("p2p_broadcast_against_core") else {
        return;
    };
    let pair = Pair::start(&exe, a_args, 2).await;

    let tx = pair.spend(0, 1_000);
    let txid = tx.txid().to_string();
    let report = send(&pair, &tx, true).await;
    assert!(report.propagated, "{report:#?}");
    assert_eq!(report.seen_by, vec![pair.b_p2p.clone()]);
    assert_eq!(report.peers.len(), 1, "one peer given, one sender");
    let peer = &report.peers[0];
    assert!(peer.handed_over && peer.error.is_none(), "{peer:?}");
    assert_eq!(peer.transport, expect);
    assert!(Pair::in_mempool(&pair.a, &txid).await, "A holds it");
    assert!(Pair::in_mempool(&pair.b, &txid).await, "B holds it");
    // The JSON of DESIGN §3.
    let j = serde_json::to_value(&report).unwrap();
    assert_eq!(j["propagated"], json!(true));
    assert_eq!(j["peers"][0]["peer"], json!(pair.a_p2p));
    assert_eq!(j["peers"][0]["transport"], json!(expect.to_string()));
    assert_eq!(j["peers"][0]["handed_over"], json!(true));
    assert!(j["peers"][0].get("error").is_none());
    assert_eq!(j["seen_by"], json!([pair.b_p2p]));

    // The same coin paid again with a lower fee: A refuses it as a replacement that does
    // not pay more — handed over, never seen.
    let double = pair.spend(0, 500);
    assert_ne!(double.txid(), tx.txid());
    let report = send(&pair, &double, false).await;
    assert!(!report.propagated, "{report:#?}");
    assert!(
        report.handed_over(),
        "A took it and answered the ping after it"
    );
    assert!(report.seen_by.is_empty());
    assert!(!Pair::in_mempool(&pair.a, &double.txid().to_string()).await);

    // No fee at all: below every floor.
    let free = pair.spend(1, 0);
    let report = send(&pair, &free, false).await;
    assert!(!report.propagated && report.handed_over(), "{report:#?}");
    assert!(!Pair::in_mempool(&pair.a, &free.txid().to_string()).await);
    assert!(!Pair::in_mempool(&pair.b, &free.txid().to_string()).await);

    // A did not ban or discourage ferry for standard (if refused) transactions, and B's
    // connection is untouched.
    let banned = pair.a.rpc.call("listbanned", json!([])).await;
    assert_eq!(banned, json!([]));
    crate::common::p2p::wait_for(10, "ferry's connections closed, B's kept", async || {
        let peers = pair.a.rpc.call("getpeerinfo", json!([])).await;
        peers.as_array().unwrap().len() == 1
    })
    .await;
    // And A still takes a fresh connection from ferry: the first payment's twin on coin 1.
    let again = pair.spend(1, 2_000);
    let report = send(&pair, &again, true).await;
    assert!(report.propagated, "{report:#?}");
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_to_core_over_v2() {
    matrix(&["-v2transport=1"], Transport::V2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_v1_with_a_v1_only_core() {
    matrix(&["-v2transport=0"], Transport::V1).await;
}

/// A package over the peer-to-peer network (Core's one-parent-one-child relay): a parent
/// paying nothing, which no node takes alone, and its child paying for both. The parent
/// alone is handed over and never seen; then the pair, handed to A only, is announced
/// back by B (A relayed it as a package too), both mempools hold both, and A counts the
/// parent as the child's ancestor. A had turned the parent down, so it asked for the child
/// only, and for the parent again once the child was an orphan: the sender lingers for
/// that. A second, fresh pair is asked for whole and goes without lingering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_carries_its_zero_fee_parent_over_the_network() {
    let Some(exe) = bitcoind_exe("a_child_carries_its_zero_fee_parent_over_the_network") else {
        return;
    };
    let pair = Pair::start(&exe, &[], 2).await;
    let parent = pair.spend(0, 0);
    // `Pair::spend` pays key 0x72.
    let child = Key::new(0x72).pay_self(&[first_output(&parent)], 5_000);

    let alone = send(&pair, &parent, false).await;
    assert!(!alone.propagated && alone.handed_over(), "{alone:#?}");
    assert!(!Pair::in_mempool(&pair.a, &parent.txid().to_string()).await);

    let package = [parent.clone(), child.clone()];
    let report = broadcast_package(&config(&pair, Duration::from_secs(15)), &package)
        .await
        .unwrap();
    eprintln!(
        "package: propagated={} in {} ms",
        report.propagated, report.elapsed_ms
    );
    assert!(report.propagated, "{report:#?}");
    assert_eq!(report.txid, child.txid(), "the report names the child");
    for node in [&pair.a, &pair.b] {
        for tx in &package {
            let id = tx.txid().to_string();
            crate::common::p2p::wait_for(10, "the pair in both mempools", async || {
                Pair::in_mempool(node, &id).await
            })
            .await;
        }
    }
    let entry = pair
        .a
        .rpc
        .call("getmempoolentry", json!([child.txid().to_string()]))
        .await;
    assert_eq!(entry["ancestorcount"], 2, "{entry}");

    // A pair no node has seen: A asks for both at once, gets the child first (an orphan)
    // and then the parent, and takes them together without asking again.
    let parent = pair.spend(1, 0);
    let child = Key::new(0x72).pay_self(&[first_output(&parent)], 5_000);
    let report = broadcast_package(
        &config(&pair, Duration::from_secs(15)),
        &[parent.clone(), child.clone()],
    )
    .await
    .unwrap();
    eprintln!(
        "fresh package: propagated={} in {} ms",
        report.propagated, report.elapsed_ms
    );
    assert!(report.propagated, "{report:#?}");
    for tx in [&parent, &child] {
        assert!(Pair::in_mempool(&pair.a, &tx.txid().to_string()).await);
    }
    pair.stop().await;
}

/// A friend's relay that broadcasts over the network (`--broadcast p2p`) takes a package
/// (`POST /v1/package`) and puts it into the network whole: a zero-fee parent and its
/// child reach A's and B's mempools though neither node nor the relay would take the parent
/// alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p2p_relay_puts_a_package_into_the_network() {
    let Some(exe) = bitcoind_exe("a_p2p_relay_puts_a_package_into_the_network") else {
        return;
    };
    let pair = Pair::start(&exe, &[], 1).await;
    let mut config = crate::common::relay::test_config(ferry::relay::AuthMode::Open);
    config.worker.p2p = Some(std::sync::Arc::new(self::config(
        &pair,
        Duration::from_secs(15),
    )));
    let dir = tempfile::tempdir().unwrap();
    let backend = ferry::chain::open(&pair.a.backend_url()).unwrap();
    let identity = ferry::identity::IdentityKey::generate().unwrap();
    let relay = crate::common::relay::Relay::start_on(
        dir.path(),
        backend,
        config,
        identity,
        Vec::new(),
        false,
    )
    .await;
    let parent = pair.spend(0, 0);
    let child = Key::new(0x72).pay_self(&[first_output(&parent)], 5_000);
    let body = json!({"txs": [parent.to_hex(), child.to_hex()]}).to_string();
    let (status, v) = relay
        .post(&reqwest::Client::new(), "/v1/package", body, None)
        .await;
    assert_eq!(status, 202, "{v}");
    for node in [&pair.a, &pair.b] {
        for tx in [&parent, &child] {
            let id = tx.txid().to_string();
            crate::common::p2p::wait_for(30, "the package in both mempools", async || {
                Pair::in_mempool(node, &id).await
            })
            .await;
        }
    }
    // The worker records its attempt once the broadcast has ended (its observers stopped).
    let id = child.txid().to_string();
    crate::common::p2p::wait_for(20, "the relay reporting broadcast", async || {
        relay.status(&reqwest::Client::new(), &id).await["status"] == "broadcast"
    })
    .await;
    relay.stop().await;
    pair.stop().await;
}
