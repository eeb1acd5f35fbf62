//! Asking a friend, through the real binary: Alice's `ferry send --via bob` reaches Bob's
//! friends-only relay (in-process, backed by an in-process devnet), which broadcasts it;
//! the receipt comes back signed by Bob's pinned key; Bob's status says confirmed once
//! mined. A relay that is down fails the send (exit 2) unless --fallback-direct is given.

use std::time::Duration;

use crate::common::friends::Friends;
use ferry::relay::receipt::{Receipt, verify_receipt};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_pays_through_bobs_relay() {
    let mut f = Friends::start().await;
    f.alice_adds_bob().await;

    let sent = f
        .ferry(
            &f.alice,
            &[
                "--json",
                "send",
                &f.carol_address,
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
    let pinned: [u8; 32] = hex::decode(&f.bob_key).unwrap().try_into().unwrap();
    verify_receipt(&receipt, &pinned).unwrap();
    assert_eq!(outcomes[0]["receipt_verified"], true, "{sent}");

    // Bob's worker broadcasts it; a block confirms it; Bob's status says so.
    let mut seen = false;
    for _ in 0..50 {
        if f.in_mempool(&txid).await {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the relay broadcast the transaction");
    f.node.mine(1, None).await;
    let mut status = Value::Null;
    for _ in 0..50 {
        status = f
            .ferry(
                &f.alice,
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
    let carol_balance = f
        .ferry(&f.carol, &["--json", "balance"])
        .await
        .expect_code(0)
        .json();
    assert_eq!(carol_balance["confirmed"], 40_000);

    // Issue 14, finding 4: a relay with no pinned key is marked, and the terminal says so.
    f.ferry(
        &f.alice,
        &["friends", "add", "unpinned", "--url", &f.relay_url],
    )
    .await
    .expect_code(0);
    let run = f
        .ferry(
            &f.alice,
            &[
                "--json",
                "send",
                &f.carol_address,
                "5000sat",
                "--fee-rate",
                "2",
                "--yes",
                "--via",
                "unpinned",
            ],
        )
        .await
        .expect_code(0);
    let unpinned = run.json();
    assert_eq!(
        unpinned["broadcast"][0]["receipt_verified"], false,
        "{unpinned}"
    );
    assert!(run.stderr.contains("was not verified"), "{}", run.stderr);

    // An unknown friend is a user error; a relay that is down fails the send (exit 2,
    // nothing spent) unless --fallback-direct lets ferry broadcast it itself.
    let unknown = f
        .ferry(
            &f.alice,
            &[
                "--json",
                "send",
                &f.carol_address,
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
    f.stop_relay().await;
    let down = f
        .ferry(
            &f.alice,
            &[
                "--json",
                "send",
                &f.carol_address,
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
    let fallback = f
        .ferry(
            &f.alice,
            &[
                "--json",
                "send",
                &f.carol_address,
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
    assert!(f.in_mempool(fallback["txid"].as_str().unwrap()).await);
    f.node.stop().await;
}
