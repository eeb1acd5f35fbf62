//! The relay over real HTTP on 127.0.0.1 in front of an in-process devnet: Alice's
//! transaction through Bob's friends-only relay to a block, refusals with their codes,
//! NIP-98 failures, idempotent duplicates, backend outage, and an abrupt kill + restart.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use crate::common::devnet::{Key, KeyType, Node, corrupt_signature};
use crate::common::relay::{Relay, test_config, wait_until};
use ferry::identity::IdentityKey;
use ferry::relay::AuthMode;
use ferry::relay::receipt::{Receipt, verify_receipt};
use ferry::script::ScriptBuf;
use ferry::tx::{OutPoint, Transaction, TxOut, Txid};
use serde_json::Value;

async fn mempool(node: &Node) -> HashSet<String> {
    node.get_json("/api/mempool/txids")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_via_bob_to_a_block_and_every_refusal() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = IdentityKey::generate().unwrap();
    let carol = IdentityKey::generate().unwrap();
    let bob_key = IdentityKey::generate().unwrap();
    let bob = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Friends),
        bob_key,
        vec![alice.x_only_public_key()],
        false,
    )
    .await;
    let http = reqwest::Client::new();

    let info: Value = http
        .get(format!("{}/v1/info", bob.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["auth"], "friends");
    assert_eq!(info["network"], "regtest");
    assert_eq!(info["key"], hex::encode(bob.key));

    let wallet = Key::new(1);
    let coins = node
        .fund(&wallet, KeyType::P2wpkh, &[100_000, 100_000, 100_000])
        .await;
    let dest = Key::new(2).script(KeyType::P2tr);
    let pay = |coin: &(OutPoint, TxOut), fee: u64| {
        wallet.spend(
            std::slice::from_ref(coin),
            &[(dest.clone(), coin.1.value.to_sat() - fee)],
            0xffff_fffd,
        )
    };
    let tx = pay(&coins[0], 1_000);
    let txid = tx.txid().to_string();

    // Carol is not Bob's friend.
    let (s, v) = bob.submit(&http, &tx.to_hex(), Some(&carol)).await;
    assert_eq!((s, code(&v)), (401, "unauthorized"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("friends list"),
        "{v}"
    );
    // No signature at all.
    let (s, v) = bob.submit(&http, &tx.to_hex(), None).await;
    assert_eq!((s, code(&v)), (401, "unauthorized"), "{v}");

    // Alice: accepted, with a receipt signed by Bob's key.
    let body = serde_json::json!({ "tx": tx.to_hex() }).to_string();
    let (s, text, auth) = bob
        .post_raw(&http, "/v1/tx", body.clone(), Some(&alice))
        .await;
    assert_eq!(s, 202, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["txid"], txid);
    let receipt: Receipt = serde_json::from_value(v["receipt"].clone()).unwrap();
    assert_eq!(receipt.txid, txid);
    verify_receipt(&receipt, &bob.key).unwrap();

    // The same header again: a replay.
    let r = http
        .post(format!("{}/v1/tx", bob.base))
        .header("authorization", auth.unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("replay"),
        "{v}"
    );

    // A fresh signature on the same transaction: idempotent.
    let (s, v) = bob.submit(&http, &tx.to_hex(), Some(&alice)).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["txid"], txid);

    // Every malformed input gets its code.
    let mut refusals = 0;
    let mut expect = async |hex: String, network: Option<&str>, want_status: u16, want: &str| {
        let mut body = serde_json::json!({ "tx": hex });
        if let Some(n) = network {
            body["network"] = n.into();
        }
        let (s, v) = bob
            .post(&http, "/v1/tx", body.to_string(), Some(&alice))
            .await;
        assert_eq!((s, code(&v)), (want_status, want), "{v}");
        refusals += 1;
    };
    expect("zz".into(), None, 400, "malformed_tx").await;
    expect(tx.to_hex()[..40].to_owned(), None, 400, "malformed_tx").await;
    let mut dup = tx.clone();
    dup.input.push(dup.input[0].clone());
    expect(dup.to_hex(), None, 400, "malformed_tx").await;
    expect(tx.to_hex(), Some("bitcoin"), 400, "wrong_network").await;
    expect(pay(&coins[1], 0).to_hex(), None, 400, "fee_too_low").await;
    let mut bad = pay(&coins[1], 1_000);
    corrupt_signature(&mut bad, KeyType::P2wpkh);
    expect(bad.to_hex(), None, 400, "script_verify_failed").await;
    let phantom = (
        OutPoint {
            txid: Txid::from_byte_array([7; 32]),
            vout: 0,
        },
        coins[1].1.clone(),
    );
    expect(pay(&phantom, 1_000).to_hex(), None, 422, "missing_inputs").await;
    let mut big = pay(&coins[1], 1_000);
    big.output = vec![
        TxOut {
            value: ferry::units::Amount::from_sat(1),
            script_pubkey: ScriptBuf::from_bytes(vec![0x6a; 9_000])
        };
        12
    ];
    expect(big.to_hex(), None, 413, "too_large").await;
    assert_eq!(refusals, 8);
    // An unauthenticated garbage body is refused for auth first (no work for strangers).
    let (s, v) = bob.post(&http, "/v1/tx", "{".into(), None).await;
    assert_eq!((s, code(&v)), (401, "unauthorized"), "{v}");

    // The Esplora-compatible push: text in, txid out.
    let tx2 = pay(&coins[2], 2_000);
    let (s, text, _) = bob
        .post_raw(&http, "/api/tx", tx2.to_hex(), Some(&alice))
        .await;
    assert_eq!((s, text.as_str()), (200, tx2.txid().to_string().as_str()));

    // Delivered to the devnet, mined, and Bob's status says confirmed.
    wait_until(20, "both in the devnet mempool", || async {
        let m = mempool(&node).await;
        m.contains(&txid) && m.contains(&tx2.txid().to_string())
    })
    .await;
    node.mine(1, None).await;
    wait_until(20, "confirmed at Bob's relay", || async {
        bob.status(&http, &txid).await["status"] == "confirmed"
    })
    .await;
    let st = bob.status(&http, &txid).await;
    assert!(st["attempts"].as_u64().unwrap() >= 1, "{st}");
    assert_eq!(st["backend_txid"], txid);

    let metrics = http
        .get(format!("{}/metrics", bob.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ferry_relay_accepted_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferry_relay_queue{status=\"confirmed\"}"),
        "{metrics}"
    );

    bob.stop().await;
    node.stop().await;
}

/// Submits `txs` to the relay at `base`, signed by `signer`, `parallel` at a time; returns
/// each txid with the HTTP status (0 when the request got no answer).
async fn submit_all(
    base: &str,
    signer: &IdentityKey,
    txs: &[Transaction],
    parallel: usize,
) -> Vec<(String, u16)> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for chunk in txs.chunks(parallel) {
        let mut set = tokio::task::JoinSet::new();
        for tx in chunk {
            let (hex, id) = (tx.to_hex(), tx.txid().to_string());
            let (http, base) = (http.clone(), base.to_owned());
            let signer_hex = signer.signing_key().to_bytes();
            set.spawn(async move {
                let k = IdentityKey::from_secret_bytes(&signer_hex.into()).unwrap();
                let url = format!("{base}/v1/tx");
                let body = serde_json::json!({ "tx": hex }).to_string();
                let h = ferry::relay::auth::authorization_header(
                    k.signing_key(),
                    "POST",
                    &url,
                    body.as_bytes(),
                    crate::common::relay::now(),
                )
                .unwrap();
                let s = match http
                    .post(&url)
                    .header("authorization", h)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                (id, s)
            });
        }
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_then_back_delivers_everything() {
    const N: usize = 200;
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = IdentityKey::generate().unwrap();
    let txs = node.presigned_spends(&Key::new(3), &Key::new(4), N).await;
    let bob = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Friends),
        IdentityKey::generate().unwrap(),
        vec![alice.x_only_public_key()],
        true,
    )
    .await;
    let results = submit_all(&bob.base, &alice, &txs, 16).await;
    assert!(results.iter().all(|(_, s)| *s == 202), "{results:?}");
    assert!(mempool(&node).await.is_empty());
    let http = reqwest::Client::new();
    wait_until(10, "a failed attempt recorded", || async {
        bob.status(&http, &results[0].0).await["attempts"]
            .as_u64()
            .unwrap()
            >= 1
    })
    .await;
    let st = bob.status(&http, &results[0].0).await;
    assert_eq!(st["status"], "queued");
    assert!(
        st["last_error"].as_str().unwrap().contains("switched off"),
        "{st}"
    );

    bob.backend.down.store(false, Ordering::SeqCst);
    wait_until(30, "all delivered", || async {
        mempool(&node).await.len() == N
    })
    .await;
    let m = mempool(&node).await;
    assert!(results.iter().all(|(id, _)| m.contains(id)));
    bob.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_load_then_restarted_loses_nothing() {
    const N: usize = 300;
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = IdentityKey::generate().unwrap();
    let bob_secret = [0x42u8; 32];
    let txs = node.presigned_spends(&Key::new(5), &Key::new(6), N).await;
    // Delivery off during the first life, so what gets delivered is what the queue kept.
    let bob = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Friends),
        IdentityKey::from_secret_bytes(&bob_secret).unwrap(),
        vec![alice.x_only_public_key()],
        true,
    )
    .await;
    let load = {
        let (alice2, txs2) = (
            IdentityKey::from_secret_bytes(&alice.signing_key().to_bytes().into()).unwrap(),
            txs.clone(),
        );
        let base = bob.base.clone();
        tokio::spawn(async move { submit_all(&base, &alice2, &txs2, 8).await })
    };
    // Kill once part of the load is in: watched closely (the whole load takes well under
    // 100 ms, the harness's polling interval).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while bob.state.metrics.accepted.load(Ordering::SeqCst) < 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for 50 accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    bob.kill().await;
    let results = load.await.unwrap();
    let accepted: Vec<&String> = results
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(id, _)| id)
        .collect();
    assert!(
        accepted.len() >= 50 && accepted.len() < N,
        "{} accepted",
        accepted.len()
    );

    let bob = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Friends),
        IdentityKey::from_secret_bytes(&bob_secret).unwrap(),
        vec![alice.x_only_public_key()],
        false,
    )
    .await;
    wait_until(40, "every accepted tx delivered", || async {
        let m = mempool(&node).await;
        accepted.iter().all(|id| m.contains(*id))
    })
    .await;
    bob.stop().await;
    node.stop().await;
}
