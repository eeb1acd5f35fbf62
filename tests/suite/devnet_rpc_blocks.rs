//! Issue 15 item 2 without a Bitcoin Core at hand: the devnet's getblock, getblockheader,
//! getchaintips, decoderawtransaction, getrawtransaction with a blockhash and
//! submitpackage, and their error codes. tests/core_devnet_blocks.rs holds the same
//! answers to a real Core's, field for field.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::devnet::{Key, KeyType, Node};
use ferry::devnet::block::Block;
use ferry::hashes::sha256d;
use ferry::tx::OutPoint;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_and_transaction_methods() {
    let node = Node::start_fresh().await;
    let key = Key::new(73);
    let coin = node.fund(&key, KeyType::P2wpkh, &[50_000]).await.remove(0);
    let tip = node.rpc("getbestblockhash", json!([])).await["result"].clone();
    let hash = tip.as_str().unwrap();

    // getblock: verbosity 0 decodes to the block with this hash; 1 (default) lists txids.
    let raw = node.rpc("getblock", json!([hash, 0])).await["result"].clone();
    let block = Block::deserialize(&hex::decode(raw.as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(block.block_hash().to_string(), hash);
    let b = node.rpc("getblock", json!([hash])).await["result"].clone();
    assert_eq!(b["hash"], tip);
    assert_eq!(b["height"], 111);
    assert_eq!(b["confirmations"], 1);
    assert_eq!(b["nTx"], block.txdata.len());
    assert_eq!(b["tx"][1], coin.0.txid.to_string());
    assert_eq!(b["bits"], "207fffff");
    assert_eq!(b["versionHex"], "20000000");
    assert!(b.get("nextblockhash").is_none());
    assert!(b["mediantime"].as_u64().unwrap() <= b["time"].as_u64().unwrap());
    // Verbosity 2: transactions with fee and hex.
    let b2 = node.rpc("getblock", json!([hash, 2])).await["result"].clone();
    let t = &b2["tx"][1];
    assert_eq!(t["txid"], coin.0.txid.to_string());
    assert!(t["fee"].as_f64().unwrap() > 0.0);
    assert_eq!(t["vout"][0]["scriptPubKey"]["type"], "witness_v0_keyhash");
    assert!(b2["tx"][0].get("fee").is_none());

    // getblockheader: fields, or the 80 bytes hashing to the block hash.
    let h = node.rpc("getblockheader", json!([hash])).await["result"].clone();
    assert_eq!(h["merkleroot"], b["merkleroot"]);
    let hex80 = node.rpc("getblockheader", json!([hash, false])).await["result"].clone();
    let mut d = sha256d(&hex::decode(hex80.as_str().unwrap()).unwrap());
    d.reverse();
    assert_eq!(hex::encode(d), hash);

    // getchaintips: one active tip.
    let tips = node.rpc("getchaintips", json!([])).await["result"].clone();
    assert_eq!(
        tips,
        json!([{"height": 111, "hash": hash, "branchlen": 0, "status": "active"}])
    );

    // decoderawtransaction and getrawtransaction with the blockhash.
    let tx_hex = node.get_text(&format!("/api/tx/{}/hex", coin.0.txid)).await;
    let dec = node.rpc("decoderawtransaction", json!([tx_hex])).await["result"].clone();
    assert_eq!(dec["txid"], coin.0.txid.to_string());
    assert!(dec.get("hex").is_none());
    let g = node
        .rpc(
            "getrawtransaction",
            json!([coin.0.txid.to_string(), 1, hash]),
        )
        .await["result"]
        .clone();
    assert_eq!(g["in_active_chain"], true);
    assert_eq!(g["blockhash"], tip);
    assert_eq!(g["hex"], tx_hex);
    assert_eq!(g["vout"], dec["vout"]);

    // Errors with Core's codes.
    let (_, e) = node.rpc_raw("getblock", json!(["00".repeat(32)])).await;
    assert_eq!(e["error"]["code"], -5);
    let (_, e) = node.rpc_raw("getblock", json!(["xyz"])).await;
    assert_eq!(e["error"]["code"], -8);
    let (_, e) = node
        .rpc_raw("getblockheader", json!(["11".repeat(32)]))
        .await;
    assert_eq!(e["error"]["code"], -5);
    let (_, e) = node.rpc_raw("decoderawtransaction", json!(["00"])).await;
    assert_eq!(
        e["error"],
        json!({"code": -22, "message": "TX decode failed"})
    );
    let genesis = node.rpc("getblockhash", json!([0])).await["result"].clone();
    let (_, e) = node
        .rpc_raw(
            "getrawtransaction",
            json!([coin.0.txid.to_string(), true, genesis]),
        )
        .await;
    assert_eq!(e["error"]["code"], -5);

    // submitpackage: a 0-fee parent carried by its child.
    let parent = key.spend(
        &[coin.clone()],
        &[(key.script(KeyType::P2wpkh), 50_000)],
        0xffff_fffd,
    );
    let child = key.spend(
        &[(
            OutPoint {
                txid: parent.txid(),
                vout: 0,
            },
            parent.output[0].clone(),
        )],
        &[(key.script(KeyType::P2wpkh), 48_000)],
        0xffff_fffd,
    );
    let r = node
        .rpc("submitpackage", json!([[parent.to_hex(), child.to_hex()]]))
        .await["result"]
        .clone();
    assert_eq!(r["package_msg"], "success", "{r}");
    assert_eq!(r["replaced-transactions"], json!([]));
    let (_, e) = node.rpc_raw("submitpackage", json!([[]])).await;
    assert_eq!(e["error"]["code"], -8);
    node.mine(1, None).await;
    let status = node
        .get_json(&format!("/api/tx/{}/status", parent.txid()))
        .await;
    assert_eq!(status["confirmed"], true);
    node.stop().await;
}
