//! Asking a friend, through the real binary: Alice's `ferry send --via bob` reaches Bob's
//! friends-only relay (in-process, backed by an in-process devnet), which broadcasts it;
//! the receipt comes back signed by Bob's pinned key; Bob's status says confirmed once
//! mined. A relay that is down fails the send (exit 2) unless --fallback-direct is given.

#![allow(clippy::unwrap_used)]

mod common;
mod common_devnet;
mod common_relay;

use std::time::Duration;

use common::Ferry;
use common_devnet::Node;
use common_relay::{Relay, test_config};
use ferry::identity::{IDENTITY_FILE, load_or_create};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::relay::AuthMode;
use ferry::relay::receipt::{Receipt, verify_receipt};
use ferry::script::AddressType;
use serde_json::Value;

const PASSWORD: &str = "pw for tests";

fn make_wallet(f: &Ferry, name: &str, seed: u8) {
    let m = Mnemonic::from_entropy(&[seed; 16]).unwrap();
    f.add_wallet(name, &m, Network::Regtest, AddressType::P2wpkh, PASSWORD);
}

async fn ferry(f: &Ferry, backend: &str, args: &[&str]) -> common::Run {
    let dir = f.dir.path().to_path_buf();
    let backend = backend.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run_in(
            &dir,
            &args,
            "",
            &[("FERRY_BACKEND", &backend), ("FERRY_PASSWORD", PASSWORD)],
        )
    })
    .await
    .unwrap()
}

async fn in_mempool(node: &Node, txid: &str) -> bool {
    let v = node.get_json("/api/mempool/txids").await;
    v.as_array().unwrap().iter().any(|t| t == txid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_pays_through_bobs_relay() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let alice = Ferry::new();
    make_wallet(&alice, "default", 1);
    let carol = Ferry::new();
    make_wallet(&carol, "default", 3);

    // Bob's relay knows Alice's identity key (created on first use by `ferry identity`).
    let alice_id = ferry(&alice, &backend, &["--json", "identity"])
        .await
        .expect_code(0)
        .json();
    let alice_key: [u8; 32] = hex::decode(alice_id["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let bob_dir = tempfile::tempdir().unwrap();
    let (bob_identity, _) = load_or_create(&bob_dir.path().join(IDENTITY_FILE)).unwrap();
    let bob_key = bob_identity.public_hex();
    let relay = Relay::start(
        bob_dir.path(),
        &node.base,
        test_config(AuthMode::Friends),
        bob_identity,
        vec![alice_key],
        false,
    )
    .await;
    ferry(
        &alice,
        &backend,
        &[
            "friends",
            "add",
            "bob",
            "--url",
            &relay.base,
            "--key",
            &bob_key,
        ],
    )
    .await
    .expect_code(0);

    let funding = ferry(&alice, &backend, &["--json", "address"])
        .await
        .expect_code(0)
        .json();
    node.faucet(funding["address"].as_str().unwrap(), 100_000)
        .await;
    node.mine(1, None).await;
    let carol_addr = ferry(&carol, &backend, &["--json", "address"])
        .await
        .expect_code(0)
        .json();
    let carol_addr = carol_addr["address"].as_str().unwrap().to_owned();

    let sent = ferry(
        &alice,
        &backend,
        &[
            "--json",
            "send",
            &carol_addr,
            "40000sat",
            "--fee-rate",
            "2",
            "--yes",
            "--via",
            "bob",
        ],
    )
    .await
    .expect_code(0)
    .json();
    let txid = sent["txid"].as_str().unwrap().to_owned();
    let outcomes = sent["broadcast"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{sent}");
    assert_eq!(outcomes[0]["via"], "bob");
    assert!(outcomes[0].get("error").is_none(), "{sent}");
    let receipt: Receipt = serde_json::from_value(outcomes[0]["receipt"].clone()).unwrap();
    assert_eq!(receipt.txid, txid);
    let pinned: [u8; 32] = hex::decode(&bob_key).unwrap().try_into().unwrap();
    verify_receipt(&receipt, &pinned).unwrap();

    // Bob's worker broadcasts it; a block confirms it; Bob's status says so.
    let mut seen = false;
    for _ in 0..50 {
        if in_mempool(&node, &txid).await {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the relay broadcast the transaction");
    node.mine(1, None).await;
    let mut status = Value::Null;
    for _ in 0..50 {
        status = ferry(
            &alice,
            &backend,
            &["--json", "relay", "status", &txid, "--via", "bob"],
        )
        .await
        .expect_code(0)
        .json();
        if status["status"] == "confirmed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "confirmed", "{status}");
    let carol_balance = ferry(&carol, &backend, &["--json", "balance"])
        .await
        .expect_code(0)
        .json();
    assert_eq!(carol_balance["confirmed"], 40_000);

    // An unknown friend is a user error; a relay that is down fails the send (exit 2,
    // nothing spent) unless --fallback-direct lets ferry broadcast it itself.
    let unknown = ferry(
        &alice,
        &backend,
        &[
            "--json",
            "send",
            &carol_addr,
            "1000sat",
            "--yes",
            "--via",
            "nobody",
        ],
    )
    .await
    .expect_code(1)
    .json();
    assert_eq!(unknown["error"]["code"], "unknown_relay");
    relay.stop().await;
    let down = ferry(
        &alice,
        &backend,
        &[
            "--json",
            "send",
            &carol_addr,
            "10000sat",
            "--fee-rate",
            "2",
            "--yes",
            "--via",
            "bob",
        ],
    )
    .await
    .expect_code(2)
    .json();
    assert_eq!(down["error"]["code"], "broadcast_failed");
    assert!(
        down["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--fallback-direct")
    );
    let fallback = ferry(
        &alice,
        &backend,
        &[
            "--json",
            "send",
            &carol_addr,
            "10000sat",
            "--fee-rate",
            "2",
            "--yes",
            "--via",
            "bob",
            "--fallback-direct",
        ],
    )
    .await
    .expect_code(0)
    .json();
    let outcomes = fallback["broadcast"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2, "{fallback}");
    assert_eq!(outcomes[0]["status"], "failed");
    assert_eq!(outcomes[1]["via"], "direct");
    assert_eq!(outcomes[1]["status"], "accepted");
    assert!(in_mempool(&node, fallback["txid"].as_str().unwrap()).await);
    node.stop().await;
}
