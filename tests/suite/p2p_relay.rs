//! A relay that delivers its queue over the peer-to-peer network (issue 12,
//! `ferry relay serve --broadcast p2p`): the relay's backend cannot broadcast at all (its
//! broadcast side is switched off), yet a queued transaction reaches the devnet's mempool
//! through the devnet's P2P port, the devnet's log names the P2P hand-over, and the
//! relay records it as broadcast.

use std::sync::Arc;

use crate::common::devnet::{Key, KeyType};
use crate::common::p2p::{DevnetProc, start_devnet};
use crate::common::relay::{Relay, test_config, wait_until};
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::p2p::BroadcastConfig;
use ferry::relay::AuthMode;
use ferry::tx::{OutPoint, Transaction, TxOut};
use ferry::units::Amount;
use serde_json::json;

/// A confirmed coin for `Key::new(seed)` on the devnet, and a signed spend of it.
async fn funded_spend(devnet: &DevnetProc, seed: u8) -> Transaction {
    let key = Key::new(seed);
    let script = key.script(KeyType::P2wpkh);
    let txid = devnet.fund(&key.address(KeyType::P2wpkh), 100_000).await;
    let funding = devnet.get_json(&format!("/api/tx/{txid}")).await;
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
    key.spend(&[coin], &[(script, 99_000)], 0xffff_fffd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delivers_its_queue_over_p2p() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("devnet.log");
    let devnet = start_devnet(Some(&log));
    let http = reqwest::Client::new();
    let tx = funded_spend(&devnet, 0x51).await;

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
    assert!(devnet.mempool().await.contains(&json!(id)));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("p2p: accepted {id}")),
        "the devnet took it over P2P: {text}"
    );
    relay.kill().await;
}

/// `--via` and `--p2p` at once (friends and the network): both carry the transaction and
/// both outcomes are reported; a relay that took it is success even when no peer could be
/// reached, and the network alone is success when the relay is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn via_and_p2p_together() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(None);
    let relay = Relay::open(dir.path(), &devnet.http).await;
    let run = |hex: String, via: String, peer: String| async move {
        tokio::task::spawn_blocking(move || {
            let f = crate::common::cli::Ferry::new();
            f.run(&[
                "--json",
                "broadcast",
                &hex,
                "--via",
                &via,
                "--p2p",
                "--p2p-network",
                "regtest",
                "--peer",
                &peer,
                "--observer",
                &peer,
                "--p2p-wait",
                "5",
            ])
        })
        .await
        .unwrap()
    };
    // Both work.
    let tx = funded_spend(&devnet, 0x61).await;
    let j = run(tx.to_hex(), relay.base.clone(), devnet.p2p.clone())
        .await
        .expect_code(0)
        .json();
    assert_eq!(j["broadcast"][0]["via"], relay.base.as_str(), "{j}");
    assert!(j["broadcast"][0].get("error").is_none(), "{j}");
    assert_eq!(j["p2p"]["propagated"], true, "{j}");

    // No peer reachable, the relay takes it: success, with the P2P failure reported.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let tx = funded_spend(&devnet, 0x62).await;
    let j = run(tx.to_hex(), relay.base.clone(), dead)
        .await
        .expect_code(0)
        .json();
    assert!(j["broadcast"][0].get("error").is_none(), "{j}");
    assert_eq!(j["p2p"]["propagated"], false);
    assert!(j["p2p"]["peers"][0]["error"].as_str().is_some());

    // The relay is gone, the network takes it: success too.
    let base = relay.base.clone();
    relay.kill().await;
    let tx = funded_spend(&devnet, 0x63).await;
    let j = run(tx.to_hex(), base, devnet.p2p.clone())
        .await
        .expect_code(0)
        .json();
    assert!(j["broadcast"][0]["error"].as_str().is_some(), "{j}");
    assert_eq!(j["p2p"]["propagated"], true, "{j}");
}
