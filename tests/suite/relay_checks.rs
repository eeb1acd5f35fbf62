//! The relay's accept path under the shortcuts it takes for speed: concurrent children of
//! one parent fetch it from the backend once (single flight), and a duplicate is answered
//! from its queued record even when the checks cannot run (the queue is only read when
//! they fail).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::common::devnet::{Key, Node};
use crate::common::relay::Relay;
use ferry::tx::Transaction;
use serde_json::Value;

/// A relay (open mode) in front of `node`, whose backend counts transaction lookups.
async fn relay(node: &Node, dir: &std::path::Path) -> Relay {
    Relay::open(dir, &node.base).await
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
    let txs = node.presigned_spends(&Key::new(41), &Key::new(42), N).await;
    let relay = relay(&node, dir.path()).await;
    let (url, backend) = (format!("{}/v1/tx", relay.base), Arc::clone(&relay.backend));
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
        backend.lookups.load(Ordering::SeqCst),
        1,
        "one parent, one lookup"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_answered_from_its_record_when_the_checks_cannot_run() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let first = node.presigned_spends(&Key::new(43), &Key::new(42), 2).await;
    let other = node.presigned_spends(&Key::new(44), &Key::new(42), 1).await;
    let relay = relay(&node, dir.path()).await;
    let (url, backend) = (format!("{}/v1/tx", relay.base), Arc::clone(&relay.backend));
    let http = reqwest::Client::new();
    let (s, v) = post(&http, &url, &first[0]).await;
    assert_eq!(
        (s, v["txid"].as_str()),
        (202, Some(&*first[0].txid().to_string()))
    );

    // Lookups fail from now on: a duplicate still gets its record (and a fresh receipt), a
    // sibling whose parent is cached is still checked, a transaction needing a lookup is not.
    backend.lookups_down.store(true, Ordering::SeqCst);
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
