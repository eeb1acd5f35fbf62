//! The devnet through real HTTP on 127.0.0.1 ephemeral ports: Esplora shapes field by
//! field, the chain rules (maturity, double spends, BIP-0125), Core's script checks,
//! unconfirmed chains, policy refusals, restart persistence, timed blocks and the faucet.
//! The RPC subset is in tests/devnet_rpc.rs.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::devnet::{Key, KeyType, Node, keys_of};
use ferry::devnet::block::{REGTEST_GENESIS_HASH, regtest_genesis};
use ferry::script::ScriptBuf;
use ferry::tx::{OutPoint, TxOut};
use ferry::units::Amount;
use serde_json::{Value, json};

fn key_set(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = keys.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_tip_and_rpc_basics() {
    let node = Node::start_fresh().await;
    assert_eq!(
        regtest_genesis().block_hash().to_string(),
        REGTEST_GENESIS_HASH
    );
    assert_eq!(
        node.get_text("/api/block-height/0").await,
        REGTEST_GENESIS_HASH
    );
    assert_eq!(node.get_text("/api/blocks/tip/height").await, "110");
    let tip = node.get_text("/api/blocks/tip/hash").await;
    assert_eq!(tip.len(), 64);
    assert_eq!(node.rpc("getblockcount", json!([])).await["result"], 110);
    assert_eq!(node.rpc("getbestblockhash", json!([])).await["result"], tip);
    let info = node.rpc("getblockchaininfo", json!([])).await["result"].clone();
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 110);
    assert_eq!(info["bestblockhash"], tip);
    let unknown = node.rpc_raw("nosuchmethod", json!([])).await;
    assert_eq!(unknown.0, 404);
    assert_eq!(unknown.1["error"]["code"], -32601);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esplora_shapes_field_by_field() {
    let node = Node::start_fresh().await;
    let key = Key::new(1);
    let addr = key.address(KeyType::P2wpkh);
    let txid = node.faucet(&addr, 100_000).await;

    // Unconfirmed transaction.
    let tx = node.get_json(&format!("/api/tx/{txid}")).await;
    assert_eq!(
        key_set(&tx),
        sorted(&[
            "txid", "version", "locktime", "vin", "vout", "size", "weight", "fee", "status"
        ])
    );
    assert_eq!(tx["txid"], txid);
    assert_eq!(tx["status"], json!({"confirmed": false}));
    let vin = &tx["vin"][0];
    assert_eq!(
        key_set(vin),
        sorted(&[
            "txid",
            "vout",
            "prevout",
            "scriptsig",
            "scriptsig_asm",
            "witness",
            "is_coinbase",
            "sequence"
        ])
    );
    assert_eq!(vin["is_coinbase"], false);
    assert_eq!(vin["scriptsig"], "");
    assert_eq!(vin["witness"].as_array().unwrap().len(), 2);
    assert_eq!(vin["prevout"]["scriptpubkey_type"], "v0_p2wpkh");
    let vout = &tx["vout"][0];
    assert_eq!(
        key_set(vout),
        sorted(&[
            "scriptpubkey",
            "scriptpubkey_asm",
            "scriptpubkey_type",
            "scriptpubkey_address",
            "value"
        ])
    );
    assert_eq!(vout["scriptpubkey_address"], addr);
    assert_eq!(vout["value"], 100_000);
    assert_eq!(vout["scriptpubkey_type"], "v0_p2wpkh");
    assert!(
        vout["scriptpubkey_asm"]
            .as_str()
            .unwrap()
            .starts_with("OP_0 OP_PUSHBYTES_20 ")
    );
    let in_sum = vin["prevout"]["value"].as_u64().unwrap();
    let out_sum: u64 = tx["vout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_u64().unwrap())
        .sum();
    assert_eq!(tx["fee"].as_u64().unwrap(), in_sum - out_sum);
    let weight = tx["weight"].as_u64().unwrap();
    assert!(tx["fee"].as_u64().unwrap() >= weight.div_ceil(4));

    // Hex round trip, mempool txids, utxo and history while unconfirmed.
    let hex = node.get_text(&format!("/api/tx/{txid}/hex")).await;
    assert_eq!(
        ferry::tx::Transaction::from_hex(&hex)
            .unwrap()
            .txid()
            .to_string(),
        txid
    );
    assert_eq!(hex.len() as u64 / 2, tx["size"].as_u64().unwrap());
    let txids = node.get_json("/api/mempool/txids").await;
    assert_eq!(txids, json!([txid]));
    let utxos = node.get_json(&format!("/api/address/{addr}/utxo")).await;
    assert_eq!(
        utxos,
        json!([{"txid": txid, "vout": 0, "status": {"confirmed": false}, "value": 100_000}])
    );
    let history = node.get_json(&format!("/api/address/{addr}/txs")).await;
    assert_eq!(history[0]["txid"], txid);
    let stats = node.get_json(&format!("/api/address/{addr}")).await;
    assert_eq!(
        key_set(&stats),
        sorted(&["address", "chain_stats", "mempool_stats"])
    );
    assert_eq!(
        stats["mempool_stats"],
        json!({"tx_count": 1, "funded_txo_count": 1, "funded_txo_sum": 100_000, "spent_txo_count": 0, "spent_txo_sum": 0})
    );

    // Fee estimates: every Esplora target, never below 1 sat/vB.
    let fees = node.get_json("/api/fee-estimates").await;
    let mut targets: Vec<u32> = fees
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    targets.sort_unstable();
    let mut expected: Vec<u32> = (1..=25).collect();
    expected.extend([144, 504, 1008]);
    assert_eq!(targets, expected);
    assert!(
        fees.as_object()
            .unwrap()
            .values()
            .all(|v| v.as_f64().unwrap() >= 1.0)
    );

    // Confirmed.
    let hashes = node.mine(1, None).await;
    let status = node.get_json(&format!("/api/tx/{txid}/status")).await;
    assert_eq!(
        key_set(&status),
        sorted(&["confirmed", "block_height", "block_hash", "block_time"])
    );
    assert_eq!(status["confirmed"], true);
    assert_eq!(status["block_height"], 111);
    assert_eq!(status["block_hash"], hashes[0]);
    assert_eq!(
        node.get_json(&format!("/api/tx/{txid}")).await["status"],
        status
    );
    let utxos = node.get_json(&format!("/api/address/{addr}/utxo")).await;
    assert_eq!(
        utxos,
        json!([{"txid": txid, "vout": 0, "status": status, "value": 100_000}])
    );
    assert_eq!(node.get_json("/api/mempool/txids").await, json!([]));

    // Scripthash endpoints: SHA256 of the script, not reversed, same answers.
    let sh = hex::encode(ferry::hashes::sha256(
        key.script(KeyType::P2wpkh).as_bytes(),
    ));
    assert_eq!(
        node.get_json(&format!("/api/scripthash/{sh}/utxo")).await,
        utxos
    );
    assert_eq!(
        node.get_json(&format!("/api/scripthash/{sh}/txs")).await,
        node.get_json(&format!("/api/address/{addr}/txs")).await
    );
    assert_eq!(
        node.get_json(&format!("/api/scripthash/{sh}")).await["scripthash"],
        sh
    );

    // The coinbase: prevout null, fee 0, a witness commitment output.
    let block_cb =
        node.rpc("getrawtransaction", json!([txid, true])).await["result"]["blockhash"].clone();
    assert_eq!(block_cb, hashes[0]);
    let faucet_utxos = node
        .get_json(&format!("/api/address/{}/txs", node.faucet_address()))
        .await;
    let coinbase = faucet_utxos
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["vin"][0]["is_coinbase"] == true)
        .unwrap();
    assert_eq!(coinbase["vin"][0]["prevout"], Value::Null);
    assert_eq!(coinbase["fee"], 0);
    assert!(coinbase["vout"].as_array().unwrap().iter().any(|o| {
        o["scriptpubkey_type"] == "op_return"
            && o["scriptpubkey"]
                .as_str()
                .unwrap()
                .starts_with("6a24aa21a9ed")
    }));

    // Errors: unknown tx 404, bad address 400.
    assert_eq!(
        node.get_status(&format!("/api/tx/{}", "00".repeat(32)))
            .await,
        404
    );
    assert_eq!(node.get_status("/api/address/notanaddress/utxo").await, 400);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_maturity_99_fails_100_works() {
    let node = Node::start_fresh().await;
    let key = Key::new(2);
    let addr = key.address(KeyType::P2wpkh);
    let hashes = node.mine(1, Some(&addr)).await;
    let block = node.rpc("getblockcount", json!([])).await["result"]
        .as_u64()
        .unwrap();
    assert_eq!(hashes.len(), 1);
    node.mine(98, None).await;
    // The coinbase now has 99 confirmations.
    let utxo = node.get_json(&format!("/api/address/{addr}/utxo")).await[0].clone();
    assert_eq!(utxo["status"]["block_height"].as_u64().unwrap(), block);
    let coin = crate::common::devnet::coin_of(&utxo, key.script(KeyType::P2wpkh));
    let dest = Key::new(3).script(KeyType::P2wpkh);
    let value = coin.1.value.to_sat() - 1000;
    let tx = key.spend(&[coin], &[(dest, value)], 0xffff_fffd);
    let err = node.post_tx(&tx).await.unwrap_err();
    assert!(
        err.contains("bad-txns-premature-spend-of-coinbase"),
        "{err}"
    );
    assert!(err.contains("tried to spend coinbase at depth 99"), "{err}");
    assert!(err.contains("\"code\":-26"), "{err}");
    node.mine(1, None).await;
    let txid = node.post_tx(&tx).await.unwrap();
    assert_eq!(txid, tx.txid().to_string());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_spends_and_replacement_rules() {
    let node = Node::start_fresh().await;
    let key = Key::new(4);
    let coins = node.fund(&key, KeyType::P2wpkh, &[50_000, 50_000]).await;
    let dest = Key::new(5).script(KeyType::P2wpkh);

    // Full RBF (Core 28+): a non-signalling spend is replaced under the same rules as a
    // signalling one: not for the same fee, but for more.
    let a = key.spend(&[coins[0].clone()], &[(dest.clone(), 49_000)], 0xffff_ffff);
    node.post_tx(&a).await.unwrap();
    let same = key.spend(
        &[coins[0].clone()],
        &[(Key::new(6).script(KeyType::P2wpkh), 49_000)],
        0xffff_ffff,
    );
    let err = node.post_tx(&same).await.unwrap_err();
    assert!(err.contains("insufficient fee"), "{err}");
    let b = key.spend(&[coins[0].clone()], &[(dest.clone(), 40_000)], 0xffff_ffff);
    node.post_tx(&b).await.unwrap();

    // A signalling spend, fee 1000.
    let c = key.spend(&[coins[1].clone()], &[(dest.clone(), 49_000)], 0xffff_fffd);
    node.post_tx(&c).await.unwrap();
    // Same fee: rejected (rules 3 and 4).
    let same_fee = key.spend(
        &[coins[1].clone()],
        &[(Key::new(6).script(KeyType::P2wpkh), 49_000)],
        0xffff_fffd,
    );
    let err = node.post_tx(&same_fee).await.unwrap_err();
    assert!(err.contains("insufficient fee"), "{err}");
    // Higher rate but not enough extra fee to pay for its own relay (rule 4).
    let tiny_bump = key.spend(&[coins[1].clone()], &[(dest.clone(), 48_990)], 0xffff_fffd);
    let err = node.post_tx(&tiny_bump).await.unwrap_err();
    assert!(
        err.contains("insufficient fee") && err.contains("not enough additional fees"),
        "{err}"
    );
    // Higher fee and higher rate: accepted, C leaves the mempool.
    let d = key.spend(&[coins[1].clone()], &[(dest.clone(), 47_000)], 0xffff_fffd);
    let d_txid = node.post_tx(&d).await.unwrap();
    let pool = node.get_json("/api/mempool/txids").await;
    let pool: Vec<&str> = pool
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(pool.contains(&d_txid.as_str()));
    assert!(!pool.contains(&c.txid().to_string().as_str()));
    // Once B is confirmed, A spends a missing input.
    node.mine(1, None).await;
    let err = node.post_tx(&a).await.unwrap_err();
    assert!(
        err.contains("bad-txns-inputs-missingorspent") && err.contains("\"code\":-25"),
        "{err}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_signatures_fail_core_script_checks() {
    let node = Node::start_fresh().await;
    let mut checked = 0;
    for (i, kt) in KeyType::SPENDABLE.into_iter().enumerate() {
        let key = Key::new(10 + i as u8);
        let coin = node.fund(&key, kt, &[30_000]).await.remove(0);
        let dest = Key::new(20).script(KeyType::P2wpkh);
        let good = key.spend(&[coin.clone()], &[(dest.clone(), 28_000)], 0xffff_fffd);
        let mut bad = good.clone();
        crate::common::devnet::corrupt_signature(&mut bad, kt);
        let err = node.post_tx(&bad).await.unwrap_err();
        assert!(
            err.contains("mempool-script-verify-flag-failed"),
            "{kt:?}: {err}"
        );
        node.post_tx(&good).await.unwrap();
        checked += 1;
    }
    assert_eq!(checked, 4);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_chain_confirms_in_one_block() {
    let node = Node::start_fresh().await;
    let key = Key::new(30);
    let spk = key.script(KeyType::P2wpkh);
    let mut coin = node.fund(&key, KeyType::P2wpkh, &[100_000]).await.remove(0);
    let mut txids = Vec::new();
    for _ in 0..5 {
        let value = coin.1.value.to_sat() - 500;
        let tx = key.spend(&[coin.clone()], &[(spk.clone(), value)], 0xffff_fffd);
        txids.push(node.post_tx(&tx).await.unwrap());
        coin = (
            OutPoint {
                txid: tx.txid(),
                vout: 0,
            },
            TxOut {
                value: Amount::from_sat(value),
                script_pubkey: spk.clone(),
            },
        );
    }
    assert_eq!(
        node.get_json("/api/mempool/txids")
            .await
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let utxos = node
        .get_json(&format!(
            "/api/address/{}/utxo",
            key.address(KeyType::P2wpkh)
        ))
        .await;
    assert_eq!(
        utxos.as_array().unwrap().len(),
        1,
        "only the chain's last output is unspent"
    );
    let hashes = node.mine(1, None).await;
    for txid in &txids {
        let st = node.get_json(&format!("/api/tx/{txid}/status")).await;
        assert_eq!(st["block_hash"], hashes[0], "{txid}");
    }
    assert_eq!(node.get_json("/api/mempool/txids").await, json!([]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_dust_fee_floor_nonstandard() {
    let node = Node::start_fresh().await;
    let key = Key::new(40);
    let coin = node.fund(&key, KeyType::P2wpkh, &[20_000]).await.remove(0);
    let cases: [(Vec<(ScriptBuf, u64)>, &str); 5] = [
        (
            vec![
                (Key::new(41).script(KeyType::P2wpkh), 293),
                (key.script(KeyType::P2wpkh), 19_000),
            ],
            "dust",
        ),
        (
            vec![
                (Key::new(41).script(KeyType::P2pkh), 545),
                (key.script(KeyType::P2wpkh), 19_000),
            ],
            "dust",
        ),
        (
            vec![(key.script(KeyType::P2wpkh), 20_000)],
            "min relay fee not met",
        ),
        (
            vec![(key.script(KeyType::P2wpkh), 19_995)],
            "min relay fee not met, 5 < ",
        ),
        (
            vec![(ScriptBuf::from_bytes(vec![0x51]), 19_000)],
            "scriptpubkey",
        ),
    ];
    for (outputs, reason) in &cases {
        let tx = key.spend(&[coin.clone()], outputs, 0xffff_fffd);
        let err = node.post_tx(&tx).await.unwrap_err();
        assert!(err.contains(reason), "{reason}: {err}");
    }
    // The thresholds themselves pass.
    let ok = key.spend(
        &[coin.clone()],
        &[
            (Key::new(41).script(KeyType::P2wpkh), 294),
            (Key::new(41).script(KeyType::P2pkh), 546),
            (key.script(KeyType::P2wpkh), 18_900),
        ],
        0xffff_fffd,
    );
    node.post_tx(&ok).await.unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_chain_mempool_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path()).await;
    let key = Key::new(50);
    let addr = key.address(KeyType::P2tr);
    node.faucet(&addr, 10_000).await;
    node.mine(3, None).await;
    let pending = node.faucet(&addr, 20_000).await;
    let before = (
        node.get_text("/api/blocks/tip/hash").await,
        node.get_json(&format!("/api/address/{addr}/utxo")).await,
        node.get_json("/api/mempool/txids").await,
        node.get_json(&format!("/api/address/{addr}/txs")).await,
    );
    node.stop().await;
    let node = Node::start(dir.path()).await;
    let after = (
        node.get_text("/api/blocks/tip/hash").await,
        node.get_json(&format!("/api/address/{addr}/utxo")).await,
        node.get_json("/api/mempool/txids").await,
        node.get_json(&format!("/api/address/{addr}/txs")).await,
    );
    assert_eq!(before, after);
    assert_eq!(after.2, json!([pending]));
    assert_eq!(node.get_text("/api/blocks/tip/height").await, "113");
    // And it goes on from there.
    node.mine(1, None).await;
    assert_eq!(
        node.get_json(&format!("/api/tx/{pending}/status")).await["block_height"],
        114
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faucet_pays_every_address_type() {
    let node = Node::start_fresh().await;
    let key = Key::new(60);
    let mut paid = Vec::new();
    for (i, (addr, esplora_type)) in keys_of(&key).into_iter().enumerate() {
        let amount = 10_000 + i as u64;
        let txid = node.faucet(&addr, amount).await;
        paid.push((addr, esplora_type, txid, amount));
    }
    assert_eq!(paid.len(), 5);
    node.mine(1, None).await;
    for (addr, esplora_type, txid, amount) in &paid {
        let utxos = node.get_json(&format!("/api/address/{addr}/utxo")).await;
        assert_eq!(utxos[0]["txid"], *txid, "{addr}");
        assert_eq!(utxos[0]["value"], *amount, "{addr}");
        assert_eq!(utxos[0]["status"]["confirmed"], true);
        let tx = node.get_json(&format!("/api/tx/{txid}")).await;
        assert_eq!(tx["vout"][0]["scriptpubkey_type"], *esplora_type);
        assert_eq!(tx["vout"][0]["scriptpubkey_address"], *addr);
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_interval_mines_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let node =
        Node::start_with_interval(dir.path(), Some(std::time::Duration::from_millis(300))).await;
    let key = Key::new(80);
    let txid = node.faucet(&key.address(KeyType::P2wpkh), 5_000).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let st = node.get_json(&format!("/api/tx/{txid}/status")).await;
        if st["confirmed"] == true {
            assert!(st["block_height"].as_u64().unwrap() > 110);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no timed block within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    node.stop().await;
}
