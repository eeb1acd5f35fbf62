//! The devnet's peer-to-peer listener through the real binary (issue 12): `ferry devnet
//! --p2p-listen` takes a payment from `ferry send --p2p` (`inv` → `getdata` → `tx`) into its
//! mempool and announces it to a second connection, the observer — over BIP-0324 v2 and v1.

use crate::common::bitcoin_core::story::Wallets;
use crate::common::p2p::start_devnet;
use ferry::script::AddressType;
use serde_json::{Value, json};

async fn post(url: String, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn pays_over_p2p(v1: bool) {
    let devnet = start_devnet(None);
    let w = Wallets::new(&format!("{}/api", devnet.http));
    w.make("alice", 3, AddressType::P2wpkh);
    let w2 = w.clone();
    let addr = tokio::task::spawn_blocking(move || w2.address("alice"))
        .await
        .unwrap();
    post(
        format!("{}/devnet/faucet", devnet.http),
        json!({"address": addr, "amount_sat": 200_000}),
    )
    .await;
    post(format!("{}/devnet/mine", devnet.http), json!({"blocks": 1})).await;
    let p2p = devnet.p2p.clone();
    let w2 = w.clone();
    let sent = tokio::task::spawn_blocking(move || {
        let to = w2.address("alice");
        let mut extra = vec!["--p2p", "--peer", &p2p, "--observer", &p2p];
        if v1 {
            extra.push("--p2p-v1");
        }
        w2.send("alice", &to, 50_000, &extra)
    })
    .await
    .unwrap();
    let report = &sent["p2p"];
    assert_eq!(report["propagated"], true, "{sent}");
    let transport = if v1 { "v1" } else { "v2" };
    assert_eq!(report["peers"][0]["transport"], transport);
    assert_eq!(report["observers"][0]["transport"], transport);
    assert_eq!(report["peers"][0]["handed_over"], true);
    let mempool: Value = reqwest::get(format!("{}/api/mempool/txids", devnet.http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        mempool.as_array().unwrap().contains(&sent["txid"]),
        "{mempool}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_takes_and_announces_a_payment_over_v2() {
    pays_over_p2p(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_takes_and_announces_a_payment_over_v1() {
    pays_over_p2p(true).await;
}
