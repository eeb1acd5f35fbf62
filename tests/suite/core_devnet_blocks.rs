//! Issue 15 against a real Bitcoin Core (`bitcoind -regtest` from BITCOIND_EXE): the
//! devnet's whole chain — a block of every transaction type included (spends of P2PKH,
//! P2SH-P2WPKH, P2WPKH and P2TR, every output type, TRUC, lock times) — is handed to Core
//! block by block through `submitblock` (`getblock` verbosity 0) and Core accepts every
//! block; then the two nodes hold the same chain, so their answers can be compared whole:
//! `getblock` (verbosity 1, 2, 3), `getblockheader`, `getchaintips`,
//! `decoderawtransaction`, `getrawtransaction` verbose with a blockhash, `gettxoutproof`
//! against the devnet's `merkleblock-proof` (which `verifytxoutproof` accepts), and
//! `submitpackage` with the same transactions on both (a parent below the floor paid for
//! by its child; a package still too low; a package that is not a child with parents).
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::bitcoin_core::{Bitcoind, CoreAuth, Rpc, bitcoind_exe};
use crate::common::devnet::{Key, KeyType, Node, first_output};
use ferry::script::ScriptBuf;
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use serde_json::{Value, json};

/// The secp256k1 generator and its double: valid keys for bare outputs.
const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const G2: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

fn script(hex: &str) -> ScriptBuf {
    ScriptBuf::from_hex(hex).unwrap()
}

/// Both nodes' answers to the same call must be the same JSON.
async fn same(dev: &Rpc, core: &Rpc, method: &str, params: Value) -> Value {
    let d = dev.try_call(method, params.clone()).await;
    let c = core.try_call(method, params.clone()).await;
    assert_eq!(
        d,
        c,
        "{method} {params} differs:\n devnet: {}\n core:   {}",
        d.as_ref()
            .map_or_else(|e| format!("{e:?}"), Value::to_string),
        c.as_ref()
            .map_or_else(|e| format!("{e:?}"), Value::to_string),
    );
    d.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_accepts_devnet_blocks_and_agrees_on_blocks_proofs_and_packages() {
    let Some(exe) = bitcoind_exe("core_accepts_devnet_blocks") else {
        return;
    };
    let node = Node::start_fresh().await;
    let dev = Rpc::devnet(&node.base);
    let key = Key::new(90);

    // A block spending every key type the signer has, paying every output type.
    let mut coins = Vec::new();
    for kt in KeyType::SPENDABLE {
        coins.push(node.fund(&key, kt, &[100_000]).await.remove(0));
    }
    let outputs = vec![
        (key.script(KeyType::P2wsh), 10_000),
        (key.script(KeyType::P2pkh), 10_000),
        (key.script(KeyType::P2shP2wpkh), 10_000),
        (key.script(KeyType::P2tr), 10_000),
        (script(&format!("21{G}ac")), 10_000),
        (script(&format!("5121{G}21{G2}52ae")), 10_000),
        (script("51024e73"), 240),
        (script("6a0a68656c6c6f20636f7265"), 0),
    ];
    let extra = node.fund(&key, KeyType::P2wpkh, &[100_000, 100_000]).await;
    let mut special = Vec::new();
    for coin in &coins {
        let tx = key.spend(&[coin.clone()], &outputs, 0xffff_fffd);
        node.post_tx(&tx).await.unwrap();
        special.push(tx);
    }
    // A TRUC (version 3) transaction, and one locked to the current height (BIP-0113
    // final for the next block) with a BIP-0068 relative lock of one block.
    let tip = dev.call("getblockcount", json!([])).await.as_u64().unwrap();
    for (coin, version, lock_time, sequence) in [
        (&extra[0], 3, 0, 0xffff_fffd),
        (&extra[1], 2, u32::try_from(tip).unwrap(), 1),
    ] {
        let mut tx = Transaction {
            version,
            lock_time,
            input: vec![TxIn::new(coin.0, sequence)],
            output: vec![TxOut {
                value: Amount::from_sat(coin.1.value.to_sat() - 1_000),
                script_pubkey: key.script(KeyType::P2tr),
            }],
        };
        key.sign(&mut tx, &[coin.1.clone()]);
        node.post_tx(&tx).await.unwrap();
        special.push(tx);
    }
    // Coins for the package cases, confirmed before the chain is handed over.
    let pkg_coins = node
        .fund(
            &key,
            KeyType::P2wpkh,
            &[50_000, 60_000, 70_000, 80_000, 90_000],
        )
        .await;
    let special_hash = {
        let h = dev.call("getblockcount", json!([])).await.as_u64().unwrap();
        dev.call("getblockhash", json!([h])).await
    };
    let block = dev.call("getblock", json!([special_hash, 1])).await;
    for tx in &special {
        assert!(
            block["tx"]
                .as_array()
                .unwrap()
                .contains(&json!(tx.txid().to_string()))
        );
    }

    // Core takes the devnet's chain, block by block.
    let core = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    let tip = dev.call("getblockcount", json!([])).await.as_u64().unwrap();
    let started = std::time::Instant::now();
    for h in 1..=tip {
        let hash = dev.call("getblockhash", json!([h])).await;
        let raw = dev.call("getblock", json!([hash, 0])).await;
        let verdict = core.rpc.call("submitblock", json!([raw])).await;
        assert!(
            verdict.is_null(),
            "Core refused devnet block {h}: {verdict}"
        );
    }
    println!(
        "core accepted devnet blocks 1..={tip} (getblock 0 + submitblock each) in {:?}",
        started.elapsed()
    );
    same(&dev, &core.rpc, "getbestblockhash", json!([])).await;
    same(&dev, &core.rpc, "getblockcount", json!([])).await;
    same(&dev, &core.rpc, "getchaintips", json!([])).await;

    // The same chain, the same answers.
    for verbosity in [0, 1, 2, 3] {
        let b = same(
            &dev,
            &core.rpc,
            "getblock",
            json!([special_hash, verbosity]),
        )
        .await;
        if verbosity > 0 {
            assert_eq!(b["nTx"], 1 + special.len() + 5, "{b}");
            assert_eq!(b["tx"].as_array().unwrap().len(), 1 + special.len() + 5);
        }
    }
    let genesis = dev.call("getblockhash", json!([0])).await;
    same(&dev, &core.rpc, "getblock", json!([genesis, 1])).await;
    for verbose in [true, false] {
        same(
            &dev,
            &core.rpc,
            "getblockheader",
            json!([special_hash, verbose]),
        )
        .await;
        same(&dev, &core.rpc, "getblockheader", json!([genesis, verbose])).await;
    }
    same(&dev, &core.rpc, "getblock", json!(["00".repeat(32), 1])).await;
    same(&dev, &core.rpc, "getblock", json!(["abc", 1])).await;
    let full = dev.call("getblock", json!([special_hash, 2])).await;
    for t in full["tx"].as_array().unwrap() {
        let txid = t["txid"].as_str().unwrap();
        let decoded = same(&dev, &core.rpc, "decoderawtransaction", json!([t["hex"]])).await;
        assert_eq!(decoded["txid"], t["txid"]);
        for verbosity in [json!(true), json!(2)] {
            let v = same(
                &dev,
                &core.rpc,
                "getrawtransaction",
                json!([txid, verbosity, special_hash]),
            )
            .await;
            assert_eq!(v["in_active_chain"], true);
        }
        same(
            &dev,
            &core.rpc,
            "getrawtransaction",
            json!([txid, false, special_hash]),
        )
        .await;
        // The devnet's merkleblock-proof is Core's gettxoutproof, and Core verifies it.
        let proof = node
            .get_text(&format!("/api/tx/{txid}/merkleblock-proof"))
            .await;
        let core_proof = core
            .rpc
            .call("gettxoutproof", json!([[txid], special_hash]))
            .await;
        assert_eq!(json!(proof), core_proof, "merkleblock-proof of {txid}");
        let verified = core.rpc.call("verifytxoutproof", json!([proof])).await;
        assert_eq!(verified, json!([txid]));
    }
    same(&dev, &core.rpc, "decoderawtransaction", json!(["00"])).await;

    // submitpackage, the same transactions on both nodes.
    // A parent paying nothing, below the floor, and a child paying for both.
    let parent = key.pay_self(std::slice::from_ref(&pkg_coins[0]), 0);
    let child = key.pay_self(std::slice::from_ref(&first_output(&parent)), 3_000);
    let pkg = json!([[parent.to_hex(), child.to_hex()]]);
    let answer = same(&dev, &core.rpc, "submitpackage", pkg.clone()).await;
    assert_eq!(answer["package_msg"], "success");
    // Again: both already in the mempool.
    same(&dev, &core.rpc, "submitpackage", pkg).await;
    // A package still too low: a 1-sat child cannot lift a 0-fee parent.
    let parent = key.pay_self(std::slice::from_ref(&pkg_coins[1]), 0);
    let child = key.pay_self(std::slice::from_ref(&first_output(&parent)), 1);
    let low = same(
        &dev,
        &core.rpc,
        "submitpackage",
        json!([[parent.to_hex(), child.to_hex()]]),
    )
    .await;
    assert_eq!(low["package_msg"], "transaction failed");
    // A parent that pays for itself and a child that pays enough only with it.
    let parent = key.pay_self(std::slice::from_ref(&pkg_coins[2]), 5_000);
    let child = key.pay_self(std::slice::from_ref(&first_output(&parent)), 5);
    same(
        &dev,
        &core.rpc,
        "submitpackage",
        json!([[parent.to_hex(), child.to_hex()]]),
    )
    .await;
    // Ephemeral dust: a 0-fee parent with one dust output, its child spending it; and a
    // child that leaves the dust unspent (`unspent-dust`).
    for (i, spends_dust) in [(3, true), (4, false)] {
        let p2wpkh = key.script(KeyType::P2wpkh);
        let value = pkg_coins[i].1.value.to_sat();
        let parent = key.spend(
            &[pkg_coins[i].clone()],
            &[(p2wpkh.clone(), value - 100), (p2wpkh.clone(), 100)],
            0xffff_fffd,
        );
        let mut spent = vec![first_output(&parent)];
        if spends_dust {
            spent.push((
                OutPoint {
                    txid: parent.txid(),
                    vout: 1,
                },
                parent.output[1].clone(),
            ));
        }
        let paid: u64 = spent.iter().map(|c| c.1.value.to_sat()).sum();
        let child = key.spend(&spent, &[(p2wpkh, paid - 3_000)], 0xffff_fffd);
        let answer = same(
            &dev,
            &core.rpc,
            "submitpackage",
            json!([[parent.to_hex(), child.to_hex()]]),
        )
        .await;
        let expected = if spends_dust {
            "success"
        } else {
            "unspent-dust"
        };
        assert_eq!(answer["package_msg"], expected, "{answer}");
    }
    // Not a child with its parents; nothing decodable; too many; one transaction.
    same(
        &dev,
        &core.rpc,
        "submitpackage",
        json!([[child.to_hex(), parent.to_hex()]]),
    )
    .await;
    same(&dev, &core.rpc, "submitpackage", json!([["00"]])).await;
    same(&dev, &core.rpc, "submitpackage", json!([[]])).await;
    let lone = key.pay_self(std::slice::from_ref(&first_output(&child)), 0);
    same(&dev, &core.rpc, "submitpackage", json!([[lone.to_hex()]])).await;
    // The same mempool (in no particular order).
    let mut dev_pool = dev.mempool().await;
    let mut core_pool = core.rpc.mempool().await;
    dev_pool.sort();
    core_pool.sort();
    assert_eq!(dev_pool, core_pool);
    assert_eq!(dev_pool.len(), 5);
    for txid in &dev_pool {
        for verbosity in [0, 1, 2] {
            same(
                &dev,
                &core.rpc,
                "getrawtransaction",
                json!([txid, verbosity]),
            )
            .await;
        }
    }

    node.stop().await;
    core.stop().await;
}
