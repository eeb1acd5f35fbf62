//! The devnet's Bitcoin Core JSON-RPC subset on `POST /`, through real HTTP on an
//! ephemeral 127.0.0.1 port: results and Core's error codes.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::devnet::{Key, KeyType, Node};
use ferry::tx::OutPoint;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_rpc_subset_and_error_codes() {
    let node = Node::start_fresh().await;
    let key = Key::new(70);
    let addr = key.address(KeyType::P2wpkh);
    let coin = node.fund(&key, KeyType::P2wpkh, &[40_000]).await.remove(0);
    let dest = Key::new(71).script(KeyType::P2wpkh);
    let tx = key.spend(&[coin.clone()], &[(dest.clone(), 39_000)], 0xffff_fffd);
    let hex = ferry::tx::Transaction::to_hex(&tx);

    let t = node.rpc("testmempoolaccept", json!([[hex]])).await["result"][0].clone();
    assert_eq!(t["allowed"], true);
    assert_eq!(t["txid"], tx.txid().to_string());
    assert_eq!(t["vsize"], tx.vsize());
    let cheap = key.spend(&[coin.clone()], &[(dest.clone(), 40_000)], 0xffff_fffd);
    let t = node
        .rpc("testmempoolaccept", json!([[cheap.to_hex()]]))
        .await["result"][0]
        .clone();
    assert_eq!(t["allowed"], false);
    assert_eq!(t["reject-reason"], "min relay fee not met");

    assert_eq!(
        node.rpc("sendrawtransaction", json!([hex])).await["result"],
        tx.txid().to_string()
    );
    let (status, body) = node.rpc_raw("sendrawtransaction", json!(["00"])).await;
    assert_eq!((status, body["error"]["code"].clone()), (500, json!(-22)));
    let other = key.spend(
        &[(
            OutPoint {
                txid: tx.txid(),
                vout: 7,
            },
            coin.1.clone(),
        )],
        &[(dest.clone(), 1000)],
        0xffff_fffd,
    );
    let (_, body) = node
        .rpc_raw("sendrawtransaction", json!([other.to_hex()]))
        .await;
    assert_eq!(body["error"]["code"], -25);
    assert_eq!(body["error"]["message"], "bad-txns-inputs-missingorspent");

    // Sending it again once confirmed: Core's -27.
    node.mine(1, None).await;
    let (_, body) = node.rpc_raw("sendrawtransaction", json!([hex])).await;
    assert_eq!(body["error"]["code"], -27);
    assert_eq!(
        body["error"]["message"],
        "Transaction outputs already in utxo set"
    );
    let raw = node
        .rpc("getrawtransaction", json!([tx.txid().to_string()]))
        .await;
    assert_eq!(raw["result"], hex);
    let (_, body) = node
        .rpc_raw("getrawtransaction", json!(["11".repeat(32)]))
        .await;
    assert_eq!(body["error"]["code"], -5);

    let hashes = node.rpc("generatetoaddress", json!([2, addr])).await["result"].clone();
    assert_eq!(hashes.as_array().unwrap().len(), 2);
    let (_, body) = node.rpc_raw("generatetoaddress", json!([1, "nope"])).await;
    assert_eq!(body["error"]["code"], -5);

    let fee = node.rpc("estimatesmartfee", json!([6])).await["result"].clone();
    assert!(fee["feerate"].as_f64().unwrap() >= 0.00001);
    assert_eq!(fee["blocks"], 6);

    // scantxoutset: the two coinbases to `addr` (immature but unspent), by addr() and raw().
    for desc in [
        format!("addr({addr})"),
        format!("raw({})", key.script(KeyType::P2wpkh).to_hex()),
    ] {
        let scan = node.rpc("scantxoutset", json!(["start", [desc]])).await["result"].clone();
        assert_eq!(scan["success"], true);
        let unspents = scan["unspents"].as_array().unwrap();
        assert_eq!(unspents.len(), 2, "{scan}");
        assert!(
            unspents
                .iter()
                .all(|u| u["coinbase"] == true && u["desc"].as_str().unwrap().contains('#'))
        );
        assert_eq!(scan["height"], 114);
    }
    node.stop().await;
}
