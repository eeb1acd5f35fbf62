//! A relay that delivers its queue over the peer-to-peer network (issue 12,
//! `ferry relay serve --broadcast p2p`): the relay's backend cannot broadcast at all (its
//! broadcast side is switched off), yet a queued transaction reaches the devnet's mempool
//! through the devnet's P2P port, the devnet's log names the P2P hand-over, and the
//! relay records it as broadcast.

#![allow(clippy::unwrap_used)]

mod common;
mod common_core;
mod common_devnet;
mod common_p2p;
mod common_relay;

use std::sync::Arc;

use common_devnet::{Key, KeyType};
use common_p2p::start_devnet;
use common_relay::{Relay, test_config, wait_until};
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::p2p::BroadcastConfig;
use ferry::relay::AuthMode;
use ferry::tx::{OutPoint, TxOut};
use ferry::units::Amount;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delivers_its_queue_over_p2p() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("devnet.log");
    let devnet = start_devnet(Some(&log));
    let http = reqwest::Client::new();

    // A coin for a test key, confirmed.
    let key = Key::new(0x51);
    let script = key.script(KeyType::P2wpkh);
    let funded: Value = http
        .post(format!("{}/devnet/faucet", devnet.http))
        .json(&json!({"address": key.address(KeyType::P2wpkh), "amount_sat": 100_000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let txid = funded["txid"].as_str().unwrap().to_owned();
    http.post(format!("{}/devnet/mine", devnet.http))
        .json(&json!({"blocks": 1}))
        .send()
        .await
        .unwrap();
    let funding: Value = http
        .get(format!("{}/api/tx/{txid}", devnet.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vout = funding["vout"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o["scriptpubkey"] == hex::encode(script.as_bytes()))
        .unwrap();
    let coin = (
        OutPoint {
            txid: txid.parse().unwrap(),
            vout: u32::try_from(vout).unwrap(),
        },
        TxOut {
            value: Amount::from_sat(100_000),
            script_pubkey: script.clone(),
        },
    );
    let tx = key.spend(&[coin], &[(script, 99_000)], 0xffff_fffd);

    // The relay: open, its backend's broadcast switched off, delivering over P2P.
    let mut config = test_config(AuthMode::Open);
    let mut p2p = BroadcastConfig::new(
        Network::Regtest,
        vec![devnet.p2p.clone()],
        vec![devnet.p2p.clone()],
    );
    p2p.propagation_timeout = std::time::Duration::from_secs(5);
    config.worker.p2p = Some(Arc::new(p2p));
    let relay = Relay::start(
        dir.path(),
        &devnet.http,
        config,
        IdentityKey::generate().unwrap(),
        Vec::new(),
        true,
    )
    .await;
    let (status, body) = relay.submit(&http, &tx.to_hex(), None).await;
    assert_eq!(status, 202, "{body}");

    let id = tx.txid().to_string();
    wait_until(10, "the relay delivered it", || async {
        relay.status(&http, &id).await["status"] == "broadcast"
    })
    .await;
    let mempool: Value = http
        .get(format!("{}/api/mempool/txids", devnet.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mempool.as_array().unwrap().contains(&json!(id)));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("p2p: accepted {id}")),
        "the devnet took it over P2P: {text}"
    );
    relay.kill().await;
}
