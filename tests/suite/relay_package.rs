//! Packages through a friend's relay (`POST /v1/package`, issue 17): a parent paying no fee,
//! which neither the relay nor a node takes alone, and a child paying for both. The same
//! story on the devnet and on a real Bitcoin Core behind the relay: the relay answers 202
//! with a receipt per member (verified against its key by ferry's client), the worker
//! submits the pair as a package and the node's mempool holds both, a block confirms both
//! and the relay says so; resubmitting is idempotent. The package rules' refusals, and a
//! package accepted while the backend is down survives a killed relay and is delivered by
//! the next one.

use std::sync::atomic::Ordering;

use crate::common::bitcoin_core::{Bitcoind, CoreAuth, Rpc, bitcoind_exe};
use crate::common::devnet::{Key, KeyType, Node, first_output};
use crate::common::relay::{Relay, test_config, wait_until};
use ferry::identity::IdentityKey;
use ferry::relay::AuthMode;
use ferry::relay::client::{http_client, submit_package};
use ferry::relay::receipt::verify_receipt;
use ferry::tx::{OutPoint, Transaction, TxOut};
use serde_json::{Value, json};

/// A zero-fee parent and its child paying `child_fee`.
fn pair(key: &Key, coin: &(OutPoint, TxOut), child_fee: u64) -> [Transaction; 2] {
    let parent = key.pay_self(std::slice::from_ref(coin), 0);
    let child = key.pay_self(&[first_output(&parent)], child_fee);
    [parent, child]
}

async fn in_mempool(rpc: &Rpc, txs: &[Transaction]) -> bool {
    let pool = rpc.mempool().await;
    txs.iter().all(|t| pool.contains(&t.txid().to_string()))
}

/// The package story; `coins` are three confirmed coins of `key`, `burn` an address to
/// mine to.
async fn package_story(
    rpc: &Rpc,
    relay: &Relay,
    key: &Key,
    coins: &[(OutPoint, TxOut)],
    burn: &str,
) {
    let http = reqwest::Client::new();
    let package = pair(key, &coins[0], 3_000);
    let [parent, child] = &package;

    // Alone, the parent is below the relay's floor.
    let (status, v) = relay.submit(&http, &parent.to_hex(), None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("fee_too_low")),
        "{v}"
    );

    // As a package, through ferry's client: a receipt per member, signed by the relay.
    let sender = IdentityKey::generate().unwrap();
    let client = http_client(None).unwrap();
    let accepted = submit_package(&client, &relay.base, &package, &sender, Some(&relay.key))
        .await
        .unwrap();
    assert_eq!(accepted.len(), 2);
    for (a, tx) in accepted.iter().zip(&package) {
        assert_eq!(a.txid, tx.txid().to_string());
        verify_receipt(&a.receipt, &relay.key).unwrap();
    }
    // Two transactions newly accepted. Again: the same records, no second acceptance.
    let accepted_before = relay.state.metrics.accepted.load(Ordering::Relaxed);
    assert_eq!(accepted_before, 2);
    let again = submit_package(&client, &relay.base, &package, &sender, Some(&relay.key))
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|a| &a.txid).collect::<Vec<_>>(),
        accepted.iter().map(|a| &a.txid).collect::<Vec<_>>()
    );
    assert_eq!(
        relay.state.metrics.accepted.load(Ordering::Relaxed),
        accepted_before
    );

    // The worker submits the pair as a package: the node holds both.
    wait_until(20, "the package in the node's mempool", || {
        in_mempool(rpc, &package)
    })
    .await;
    let entry = rpc
        .call("getmempoolentry", json!([child.txid().to_string()]))
        .await;
    assert_eq!(entry["ancestorcount"], 2, "{entry}");
    let st = relay.status(&http, &parent.txid().to_string()).await;
    assert_eq!(st["package"], child.txid().to_string(), "{st}");

    // The package rules.
    let other = pair(key, &coins[1], 3_000);
    let unrelated = key.pay_self(&coins[2..3], 3_000);
    let low = pair(key, &coins[1], 1);
    let hex = |t: &Transaction| t.to_hex();
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"txs": [hex(&other[1])]}), "bad_package", "2 to 25"),
        (
            json!({"txs": [hex(&other[1]), hex(&other[0])]}),
            "bad_package",
            "package-not-sorted",
        ),
        (
            json!({"txs": [hex(&other[0]), hex(&unrelated)]}),
            "bad_package",
            "child-with-parents",
        ),
        (
            json!({"txs": [hex(&low[0]), hex(&low[1])]}),
            "fee_too_low",
            "below this relay's floor",
        ),
        (
            json!({"txs": [hex(&other[0]), "zz"]}),
            "malformed_tx",
            "transaction 1 of the package",
        ),
        (
            json!({"txs": [hex(&other[0]), hex(&other[1])], "network": "bitcoin"}),
            "wrong_network",
            "bitcoin",
        ),
        (json!({"tx": hex(&other[0])}), "bad_package", "body is not"),
    ];
    let mut wrong = Vec::new();
    for (body, code, says) in &cases {
        let (status, v) = relay
            .post(&http, "/v1/package", body.to_string(), None)
            .await;
        let message = v["error"]["message"].as_str().unwrap_or_default();
        if status != 400 || v["error"]["code"] != *code || !message.contains(says) {
            wrong.push(format!("{body}: {status} {v} (expected {code}, {says:?})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A block mines both; the relay reports each confirmed.
    rpc.mine(1, burn).await;
    for tx in &package {
        let id = tx.txid().to_string();
        wait_until(20, "the relay reporting confirmed", || async {
            relay.status(&http, &id).await["status"] == "confirmed"
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_takes_a_package_on_the_devnet() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new(81);
    let coins = node
        .fund(&key, KeyType::P2wpkh, &[100_000, 100_000, 100_000])
        .await;
    let relay = Relay::open(dir.path(), &node.base).await;
    // A server without packages (here the devnet itself) is named as such.
    let err = submit_package(
        &http_client(None).unwrap(),
        &node.base,
        &pair(&key, &coins[0], 3_000),
        &IdentityKey::generate().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("does not take packages"), "{err}");
    let rpc = Rpc::devnet(&node.base);
    package_story(&rpc, &relay, &key, &coins, &node.faucet_address()).await;
    relay.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_bitcoin_core_behind_it_takes_a_package() {
    let Some(exe) = bitcoind_exe("a_relay_with_bitcoin_core_behind_it_takes_a_package") else {
        return;
    };
    let core = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    let key = Key::new(82);
    let address = key.address(KeyType::P2wpkh);
    core.rpc.mine(3, &address).await;
    // Three coinbase outputs of the key, made spendable by 100 more blocks.
    let burn = Key::new(83).address(KeyType::P2wpkh);
    core.rpc.mine(100, &burn).await;
    let mut coins = Vec::new();
    for height in 1..=3 {
        let hash = core.rpc.call("getblockhash", json!([height])).await;
        let block = core.rpc.call("getblock", json!([hash, 2])).await;
        let coinbase = &block["tx"][0];
        let value = (coinbase["vout"][0]["value"].as_f64().unwrap() * 1e8).round() as u64;
        coins.push((
            OutPoint {
                txid: coinbase["txid"].as_str().unwrap().parse().unwrap(),
                vout: 0,
            },
            TxOut {
                value: ferry::units::Amount::from_sat(value),
                script_pubkey: key.script(KeyType::P2wpkh),
            },
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = ferry::chain::open(&core.backend_url()).unwrap();
    let relay = Relay::open_on(dir.path(), backend).await;
    package_story(&core.rpc, &relay, &key, &coins, &burn).await;
    relay.stop().await;
    core.stop().await;
}

/// Accepted while the backend is down, the package is in the queue: a relay killed then
/// restarted on the same directory delivers it as a package.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_accepted_while_the_backend_is_down_survives_a_kill() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new(84);
    let coins = node.fund(&key, KeyType::P2wpkh, &[100_000]).await;
    let identity = IdentityKey::generate().unwrap();
    let relay = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Open),
        identity.clone(),
        Vec::new(),
        true,
    )
    .await;
    let package = pair(&key, &coins[0], 3_000);
    let http = reqwest::Client::new();
    let body = json!({"txs": [package[0].to_hex(), package[1].to_hex()]}).to_string();
    let (status, v) = relay.post(&http, "/v1/package", body, None).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["txs"][0]["status"], "queued", "{v}");
    // The worker tries and fails while the backend is down, and records it.
    let child = package[1].txid().to_string();
    wait_until(10, "a failed attempt recorded", || async {
        relay.status(&http, &child).await["attempts"].as_u64() >= Some(1)
    })
    .await;
    relay.kill().await;
    let rpc = Rpc::devnet(&node.base);
    assert!(!in_mempool(&rpc, &package[..1]).await);

    let relay = Relay::start(
        dir.path(),
        &node.base,
        test_config(AuthMode::Open),
        identity,
        Vec::new(),
        false,
    )
    .await;
    wait_until(20, "the package delivered after the restart", || {
        in_mempool(&rpc, &package)
    })
    .await;
    // The worker records the attempt after the devnet took the package.
    wait_until(10, "the relay reporting broadcast", || async {
        relay.status(&http, &child).await["status"] == "broadcast"
    })
    .await;
    let st = relay.status(&http, &child).await;
    assert!(st["attempts"].as_u64().unwrap() >= 2, "{st}");
    relay.stop().await;
    node.stop().await;
}
