//! Issue 15: `GET /api/mempool/recent` and `POST /api/txs/package` (Core's
//! `submitpackage` behind Esplora's route) through real HTTP on an ephemeral 127.0.0.1
//! port: a parent below the 0.1 sat/vB floor paid for by its child, a package still too
//! low, electrs' and Core's refusals of malformed packages, and a package that survives a
//! restart of the devnet.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::devnet::{Key, KeyType, Node};
use crate::common::{keys, sorted};
use ferry::tx::{OutPoint, Transaction, TxOut};
use ferry::units::Amount;
use serde_json::Value;

async fn post(node: &Node, path: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", node.base))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A coin of `key` and a spend of it paying `fee`.
fn spend(key: &Key, coin: &(OutPoint, TxOut), fee: u64) -> Transaction {
    let v = coin.1.value.to_sat();
    key.spend(
        &[coin.clone()],
        &[(key.script(KeyType::P2wpkh), v - fee)],
        0xffff_fffd,
    )
}

fn child_of(key: &Key, parent: &Transaction, fee: u64) -> Transaction {
    let coin = (
        OutPoint {
            txid: parent.txid(),
            vout: 0,
        },
        parent.output[0].clone(),
    );
    spend(key, &coin, fee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mempool_recent_and_packages() {
    let node = Node::start_fresh().await;
    let key = Key::new(42);
    let coins = node
        .fund(&key, KeyType::P2wpkh, &[60_000, 70_000, 80_000])
        .await;

    // /mempool/recent: newest first, with fee, vsize and value.
    let a = spend(&key, &coins[0], 500);
    let b = spend(&key, &coins[1], 700);
    node.post_tx(&a).await.unwrap();
    node.post_tx(&b).await.unwrap();
    let recent = node.get_json("/api/mempool/recent").await;
    let recent = recent.as_array().unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(keys(&recent[0]), sorted(&["txid", "fee", "vsize", "value"]));
    assert_eq!(recent[0]["txid"], b.txid().to_string());
    assert_eq!(recent[0]["fee"], 700);
    assert_eq!(recent[0]["vsize"], b.vsize());
    assert_eq!(recent[0]["value"], 70_000 - 700);
    assert_eq!(recent[1]["txid"], a.txid().to_string());
    node.mine(1, None).await;
    assert_eq!(
        node.get_json("/api/mempool/recent").await,
        serde_json::json!([])
    );

    // A parent paying nothing, below the 0.1 sat/vB floor, and a child paying for both.
    let parent = spend(&key, &coins[2], 0);
    let child = child_of(&key, &parent, 3_000);
    let body = serde_json::json!([parent.to_hex(), child.to_hex()]).to_string();
    // Alone, the parent is refused.
    let alone = node.post_tx(&parent).await.unwrap_err();
    assert!(alone.contains("min relay fee not met"), "{alone}");
    let (status, text) = post(&node, "/api/txs/package", body.clone()).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        keys(&v),
        sorted(&["package_msg", "tx-results", "replaced-transactions"])
    );
    assert_eq!(v["package_msg"], "success");
    let total_vsize = parent.vsize() + child.vsize();
    let rate_btc_kvb = (3_000 * 1000 / total_vsize) as f64 / 1e8;
    for tx in [&parent, &child] {
        let r = &v["tx-results"][tx.wtxid().to_string()];
        assert_eq!(r["txid"], tx.txid().to_string());
        assert_eq!(r["vsize"], tx.vsize());
        assert_eq!(
            r["fees"]["effective-feerate"].as_f64().unwrap(),
            rate_btc_kvb
        );
        assert_eq!(
            r["fees"]["effective-includes"],
            serde_json::json!([parent.wtxid().to_string(), child.wtxid().to_string()])
        );
    }
    assert_eq!(
        v["tx-results"][parent.wtxid().to_string()]["fees"]["base"],
        0.0
    );
    assert_eq!(
        v["tx-results"][child.wtxid().to_string()]["fees"]["base"].as_f64(),
        Some(0.00003)
    );
    let txids = node.get_json("/api/mempool/txids").await;
    assert!(
        txids
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(parent.txid().to_string()))
    );
    // Submitted again: both already in the mempool, still a success.
    let (_, text) = post(&node, "/api/txs/package", body).await;
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again["package_msg"], "success");
    assert!(again["tx-results"][child.wtxid().to_string()]["fees"]["effective-feerate"].is_null());
    node.mine(1, None).await;
    let mined = node
        .get_json(&format!("/api/tx/{}/status", child.txid()))
        .await;
    assert_eq!(mined["confirmed"], true);

    // A package still too low: one satoshi from the child does not lift the parent.
    let more = node.fund(&key, KeyType::P2wpkh, &[90_000]).await;
    let parent = spend(&key, &more[0], 0);
    let child = child_of(&key, &parent, 1);
    let body = serde_json::json!([parent.to_hex(), child.to_hex()]).to_string();
    let (status, text) = post(&node, "/api/txs/package", body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["package_msg"], "transaction failed");
    let perr = v["tx-results"][parent.wtxid().to_string()]["error"]
        .as_str()
        .unwrap();
    assert!(perr.starts_with("min relay fee not met, 0 < "), "{perr}");
    let cerr = v["tx-results"][child.wtxid().to_string()]["error"]
        .as_str()
        .unwrap();
    let floor = (total_floor(parent.vsize() + child.vsize())).to_string();
    assert_eq!(cerr, format!("min relay fee not met, 1 < {floor}"));
    assert_eq!(
        node.get_json("/api/mempool/txids").await,
        serde_json::json!([])
    );

    // Malformed bodies, a package that is not a child with its parents.
    let (status, _) = post(&node, "/api/txs/package", "nope".into()).await;
    assert_eq!(status, 400);
    let (status, text) = post(&node, "/api/txs/package", "[\"00\"]".into()).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Invalid transaction size for item 0")
    );
    let zz = serde_json::json!([parent.to_hex(), "zz".repeat(100)]).to_string();
    let (status, text) = post(&node, "/api/txs/package", zz).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Invalid transaction hex for item 1")
    );
    let undecodable = serde_json::json!(["00".repeat(100)]).to_string();
    let (status, text) = post(&node, "/api/txs/package", undecodable).await;
    assert_eq!(status, 400);
    assert!(
        text.starts_with("submitpackage RPC error: {\"code\":-22"),
        "{text}"
    );
    let (status, text) = post(&node, "/api/txs/package", "[]".into()).await;
    assert_eq!(status, 400);
    assert!(text.contains("-8"), "{text}");
    let unrelated = serde_json::json!([child.to_hex(), parent.to_hex()]).to_string();
    let (status, text) = post(&node, "/api/txs/package", unrelated).await;
    assert_eq!(status, 400);
    assert!(text.contains("package topology disallowed"), "{text}");
    node.stop().await;
}

/// The 0.1 sat/vB floor for a size, rounded up as Core's `CFeeRate::GetFee`.
fn total_floor(vsize: u64) -> u64 {
    Amount::from_sat((100 * vsize).div_ceil(1000)).to_sat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let key = Key::new(43);
    let coin = node.fund(&key, KeyType::P2wpkh, &[40_000]).await.remove(0);
    let parent = spend(&key, &coin, 0);
    let child = child_of(&key, &parent, 2_000);
    let body = serde_json::json!([parent.to_hex(), child.to_hex()]).to_string();
    let (status, text) = post(&node, "/api/txs/package", body).await;
    assert_eq!(status, 200, "{text}");
    let before = node.get_json("/api/mempool/txids").await;
    assert_eq!(before.as_array().unwrap().len(), 2);
    node.stop().await;
    let node = Node::start(dir.path()).await;
    assert_eq!(node.get_json("/api/mempool/txids").await, before);
    node.mine(1, None).await;
    let st = node
        .get_json(&format!("/api/tx/{}/status", parent.txid()))
        .await;
    assert_eq!(st["confirmed"], true);
    node.stop().await;
}
