//! Child pays for parent through the binary (`ferry bump TXID --cpfp`), the same story on
//! the devnet (Esplora's `POST /txs/package`) and on a real Bitcoin Core (`submitpackage`):
//! a payment at the relay minimum received by a wallet, which spends its output so that the
//! pair reaches the rate asked; the node's own ancestor figures agree with the package
//! rate reported; the next block (Core's own template) mines both; balances to the sat;
//! the refusals. And the same through a friend's relay (`--via`): the relay takes the pair
//! as a package and submits it to the node.

use serde_json::json;

use crate::common::bitcoin_core::story::{Wallets, blocking};
use crate::common::bitcoin_core::{Bitcoind, CoreAuth, Rpc, bitcoind_exe};
use crate::common::cli::Refusal;
use crate::common::devnet::Node;
use crate::common::relay::{Relay, wait_until};
use ferry::script::AddressType;

const PAID: u64 = 1_000_000;

/// The story; with `via`, the child goes through that relay (`--via`, a package to its
/// `POST /v1/package`), which submits the pair to the same node.
async fn cpfp_story(rpc: &Rpc, backend: &str, submitted: &str, via: Option<&Relay>) {
    let w = Wallets::new(backend);
    if let Some(relay) = via {
        let key = hex::encode(relay.key);
        w.run(&["friends", "add", "bob", "--url", &relay.base, "--key", &key])
            .expect_code(0);
    }
    w.make("a", 1, AddressType::P2wpkh);
    w.make("b", 2, AddressType::P2tr);
    w.make("burn", 3, AddressType::P2wpkh);
    let w2 = w.clone();
    let (a, b, burn) =
        blocking(move || (w2.address("a"), w2.address("b"), w2.address("burn"))).await;
    rpc.mine(101, &a).await;
    rpc.mine(1, &burn).await;
    let w2 = w.clone();
    // Through the relay too, when there is one: the parent is then queued there already,
    // and joins the package the child comes in.
    let relayed = via.is_some();
    let parent = blocking(move || {
        let mut rest = vec!["--fee-rate", "1"];
        if relayed {
            rest.extend(["--via", "bob"]);
        }
        w2.send("a", &b, PAID, &rest)
    })
    .await;
    let parent_txid = parent["txid"].as_str().unwrap().to_owned();
    wait_until(20, "the parent in the mempool", || async {
        rpc.mempool().await.contains(&parent_txid)
    })
    .await;

    let (w2, p) = (w.clone(), parent_txid.clone());
    let child = blocking(move || {
        let mut args = vec![
            "--json",
            "--wallet",
            "b",
            "bump",
            &p,
            "--cpfp",
            "--fee-rate",
            "10",
            "--yes",
        ];
        if relayed {
            args.extend(["--via", "bob"]);
        }
        w2.ok(&args)
    })
    .await;
    assert_eq!(child["parent"], parent_txid.as_str());
    assert_eq!(child["submitted"], submitted, "{child}");
    let child_txid = child["txid"].as_str().unwrap().to_owned();
    if let Some(relay) = via {
        // Bob's receipt for the package names the child, signed by his pinned key.
        let outcome = &child["broadcast"][0];
        assert_eq!(outcome["via"], "bob", "{child}");
        assert_eq!(outcome["receipt"]["txid"], child_txid.as_str(), "{child}");
        assert_eq!(outcome["receipt_verified"], true, "{child}");
        let ids = [parent_txid.clone(), child_txid.clone()];
        wait_until(20, "the relay submitting the package", || async {
            let pool = rpc.mempool().await;
            ids.iter().all(|t| pool.contains(t))
        })
        .await;
        // The parent Alice sent through Bob's relay joined the package, as Alice's
        // `relay status` shows.
        let st = relay.status(&reqwest::Client::new(), &parent_txid).await;
        assert_eq!(st["package"], child_txid.as_str(), "{st}");
        let (w2, p) = (w.clone(), parent_txid.clone());
        let shown =
            blocking(move || w2.ok(&["--json", "relay", "status", &p, "--via", "bob"])).await;
        assert_eq!(shown["package"], child_txid.as_str(), "{shown}");
    }
    let reported = child["package_fee_rate"].as_f64().unwrap();
    assert!(reported >= 10.0, "{child}");
    let pool = rpc.mempool().await;
    assert!(
        pool.contains(&parent_txid) && pool.contains(&child_txid),
        "{pool:?}"
    );
    // The node's own view of the pair: the child's ancestor fees over its ancestor size.
    let entry = rpc.call("getmempoolentry", json!([child_txid])).await;
    let ancestor_fees = (entry["fees"]["ancestor"].as_f64().unwrap() * 1e8).round();
    let node_rate = ancestor_fees / entry["ancestorsize"].as_f64().unwrap();
    assert!(
        node_rate >= 10.0 && (node_rate - reported).abs() / reported < 0.02,
        "node {node_rate} sat/vB, ferry {reported}: {entry}"
    );
    assert_eq!(entry["ancestorcount"], 2);

    rpc.mine(1, &burn).await;
    let pool = rpc.mempool().await;
    assert!(
        !pool.contains(&parent_txid) && !pool.contains(&child_txid),
        "both mined in the next block: {pool:?}"
    );
    let (w2, fee) = (w.clone(), child["fee_sat"].as_u64().unwrap());
    let child_txid = child_txid.clone();
    blocking(move || {
        assert_eq!(
            w2.balance("b"),
            (PAID - fee, 0),
            "what b received less the child's fee"
        );
        // The refusals: the child, confirmed now (a UTXO scan no longer sees the spent
        // parent, but sees the child's coin); not b's.
        let unknown = "ab".repeat(32);
        let cases = [
            Refusal {
                args: vec![
                    "--wallet",
                    "b",
                    "bump",
                    &child_txid,
                    "--cpfp",
                    "--fee-rate",
                    "20",
                    "--yes",
                ],
                exit: 1,
                code: "already_confirmed",
                says: "already confirmed",
            },
            Refusal {
                args: vec![
                    "--wallet",
                    "b",
                    "bump",
                    &unknown,
                    "--cpfp",
                    "--fee-rate",
                    "20",
                    "--yes",
                ],
                exit: 1,
                code: "unknown_tx",
                says: "not a transaction of this wallet",
            },
        ];
        crate::common::cli::assert_refusals(&cases, |args| {
            let mut full = vec!["--json"];
            full.extend_from_slice(args);
            w2.run(&full)
        });
    })
    .await;
    // A payment that already pays the rate needs no child.
    let w2 = w.clone();
    blocking(move || {
        let b = w2.address("b");
        let paid = w2.send("a", &b, 50_000, &["--fee-rate", "12"]);
        let txid = paid["txid"].as_str().unwrap().to_owned();
        let r = w2
            .run(&[
                "--json",
                "--wallet",
                "b",
                "bump",
                &txid,
                "--cpfp",
                "--fee-rate",
                "5",
                "--yes",
            ])
            .expect_code(1)
            .json();
        assert_eq!(r["error"]["code"], "already_pays", "{r}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpfp_on_the_devnet_goes_as_a_package() {
    let node = Node::start_fresh().await;
    let rpc = Rpc::devnet(&node.base);
    cpfp_story(&rpc, &format!("{}/api", node.base), "package", None).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpfp_through_a_friends_relay_on_the_devnet() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::open(dir.path(), &node.base).await;
    let rpc = Rpc::devnet(&node.base);
    cpfp_story(&rpc, &format!("{}/api", node.base), "package", Some(&relay)).await;
    relay.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpfp_on_bitcoin_core_goes_as_a_package() {
    let Some(exe) = bitcoind_exe("cpfp_on_bitcoin_core_goes_as_a_package") else {
        return;
    };
    let node = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    cpfp_story(&node.rpc, &node.backend_url(), "package", None).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpfp_through_a_friends_relay_with_bitcoin_core_behind_it() {
    let Some(exe) = bitcoind_exe("cpfp_through_a_friends_relay_with_bitcoin_core_behind_it") else {
        return;
    };
    let node = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::open_on(dir.path(), ferry::chain::open(&node.backend_url()).unwrap()).await;
    cpfp_story(&node.rpc, &node.backend_url(), "package", Some(&relay)).await;
    relay.stop().await;
    node.stop().await;
}
