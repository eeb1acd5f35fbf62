//! The devnet's peer-to-peer listener through the real binary (issue 12): `ferry devnet
//! --p2p-listen` takes a payment from `ferry send --p2p` (`inv` → `getdata` → `tx`) into its
//! mempool and announces it to a second connection, the observer — over BIP-0324 v2 and v1.

use crate::common::bitcoin_core::story::Wallets;
use crate::common::p2p::start_devnet;
use ferry::script::AddressType;

async fn pays_over_p2p(v1: bool) {
    let devnet = start_devnet(None);
    let w = Wallets::new(&format!("{}/api", devnet.http));
    w.make("alice", 3, AddressType::P2wpkh);
    let w2 = w.clone();
    let addr = tokio::task::spawn_blocking(move || w2.address("alice"))
        .await
        .unwrap();
    devnet.fund(&addr, 200_000).await;
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
    let pool = devnet.mempool().await;
    assert!(pool.contains(&sent["txid"]), "{pool:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_takes_and_announces_a_payment_over_v2() {
    pays_over_p2p(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_takes_and_announces_a_payment_over_v1() {
    pays_over_p2p(true).await;
}

/// `ferry bump` over the network, through the binary: a payment to Bob at 1 sat/vB is
/// sped up with a child (`--cpfp --p2p`: the pair is offered, the devnet asks for what it
/// lacks) and Alice's own payment is replaced (`bump --p2p`); the devnet's mempool holds
/// the child and the replacement, announced back to the observer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bump_and_cpfp_over_p2p() {
    let devnet = start_devnet(None);
    let w = Wallets::new(&format!("{}/api", devnet.http));
    w.make("alice", 4, AddressType::P2wpkh);
    w.make("bob", 5, AddressType::P2tr);
    let w2 = w.clone();
    let (alice, bob) =
        tokio::task::spawn_blocking(move || (w2.address("alice"), w2.address("bob")))
            .await
            .unwrap();
    devnet.fund(&alice, 500_000).await;
    let (p2p, w2) = (devnet.p2p.clone(), w.clone());
    let (child, paid) = tokio::task::spawn_blocking(move || {
        let paid = w2.send("alice", &bob, 100_000, &["--fee-rate", "1"]);
        let txid = paid["txid"].as_str().unwrap().to_owned();
        let mut args = vec!["--json", "--wallet", "bob", "bump", &txid, "--cpfp"];
        args.extend(["--fee-rate", "10", "--yes", "--p2p", "--peer", &p2p]);
        args.extend(["--observer", &p2p]);
        (w2.ok(&args), paid)
    })
    .await
    .unwrap();
    assert_eq!(child["submitted"], "package", "{child}");
    assert_eq!(child["p2p"]["propagated"], true, "{child}");
    assert_eq!(
        child["p2p"]["txid"], child["txid"],
        "the report names the child"
    );
    let pool = devnet.mempool().await;
    assert!(
        pool.contains(&paid["txid"]) && pool.contains(&child["txid"]),
        "{pool:?}"
    );
    let (p2p, w2, txid) = (
        devnet.p2p.clone(),
        w.clone(),
        paid["txid"].as_str().unwrap().to_owned(),
    );
    let replacement = tokio::task::spawn_blocking(move || {
        let mut args = vec!["--json", "--wallet", "alice", "bump", &txid];
        args.extend(["--fee-rate", "30", "--yes", "--p2p", "--peer", &p2p]);
        args.extend(["--observer", &p2p]);
        w2.run(&args)
    })
    .await
    .unwrap();
    // Bob's child now hangs on Alice's payment: replacing it must pay for both (BIP125
    // rule 3), which 30 sat/vB on the parent alone does, so the network takes it.
    let replacement = replacement.expect_code(0).json();
    assert_eq!(replacement["p2p"]["propagated"], true, "{replacement}");
    let pool = devnet.mempool().await;
    assert!(pool.contains(&replacement["txid"]), "{pool:?}");
    assert!(
        !pool.contains(&paid["txid"]) && !pool.contains(&child["txid"]),
        "the replaced payment and its child are gone: {pool:?}"
    );
}
