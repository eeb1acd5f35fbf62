//! Issue 15: the devnet as a real Esplora — the block routes, raw transactions and merkle
//! proofs, through real HTTP on an ephemeral 127.0.0.1 port (`/mempool/recent` and
//! `POST /txs/package` are in tests/suite/devnet_packages.rs): field names and JSON types as
//! Esplora's API.md and electrs give them, 400 for malformed and 404 for unknown ids, and
//! every merkle proof checked against the block's merkle root computed here, from the
//! block's own bytes.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::devnet::{Key, KeyType, Node};
use crate::common::{keys, sorted};
use ferry::devnet::block::{Block, REGTEST_GENESIS_HASH};
use ferry::hashes::sha256d;
use ferry::tx::Transaction;

async fn get(node: &Node, path: &str) -> (u16, Vec<u8>, String) {
    let r = reqwest::get(format!("{}{path}", node.base)).await.unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, r.bytes().await.unwrap().to_vec(), ctype)
}

/// A hash shown byte-reversed, as bytes in internal order.
fn internal(shown: &str) -> [u8; 32] {
    let mut b: [u8; 32] = hex::decode(shown).unwrap().try_into().unwrap();
    b.reverse();
    b
}

fn pair(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(l);
    buf[32..].copy_from_slice(r);
    sha256d(&buf)
}

/// The merkle root of txids, written out here rather than taken from the devnet.
fn root_of(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().unwrap());
        }
        level = level.chunks(2).map(|p| pair(&p[0], &p[1])).collect();
    }
    level[0]
}

/// Core's `CPartialMerkleTree::ExtractMatches`, written out for the test: the root the
/// proof commits to and the txids it marks.
struct Extract<'a> {
    n: usize,
    hashes: &'a [[u8; 32]],
    bits: Vec<bool>,
    used_h: usize,
    used_b: usize,
    matched: Vec<[u8; 32]>,
}

impl Extract<'_> {
    fn width(&self, h: u32) -> usize {
        (self.n + (1 << h) - 1) >> h
    }

    fn walk(&mut self, h: u32, pos: usize) -> [u8; 32] {
        let flag = self.bits[self.used_b];
        self.used_b += 1;
        if h == 0 || !flag {
            let hash = self.hashes[self.used_h];
            self.used_h += 1;
            if h == 0 && flag {
                self.matched.push(hash);
            }
            return hash;
        }
        let left = self.walk(h - 1, pos * 2);
        let right = if pos * 2 + 1 < self.width(h - 1) {
            let r = self.walk(h - 1, pos * 2 + 1);
            assert_ne!(r, left, "CVE-2012-2459: identical siblings");
            r
        } else {
            left
        };
        pair(&left, &right)
    }
}

/// Parses a `merkleblock-proof` and returns (header bytes, root it proves, matched txids).
fn check_merkleblock(hexed: &str) -> (Vec<u8>, [u8; 32], Vec<[u8; 32]>) {
    let b = hex::decode(hexed).unwrap();
    let header = b[..80].to_vec();
    let n = u32::from_le_bytes(b[80..84].try_into().unwrap()) as usize;
    let nh = b[84] as usize;
    let hashes: Vec<[u8; 32]> = (0..nh)
        .map(|i| b[85 + 32 * i..117 + 32 * i].try_into().unwrap())
        .collect();
    let at = 85 + 32 * nh;
    let nbytes = b[at] as usize;
    let flags = &b[at + 1..at + 1 + nbytes];
    assert_eq!(b.len(), at + 1 + nbytes, "no trailing bytes");
    let bits = (0..nbytes * 8)
        .map(|i| flags[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    let mut e = Extract {
        n,
        hashes: &hashes,
        bits,
        used_h: 0,
        used_b: 0,
        matched: Vec::new(),
    };
    let mut height = 0;
    while e.width(height) > 1 {
        height += 1;
    }
    let root = e.walk(height, 0);
    assert_eq!(e.used_h, hashes.len(), "every hash used");
    assert_eq!(e.used_b.div_ceil(8), nbytes, "every flag byte used");
    (header, root, e.matched)
}

const BLOCK_KEYS: &[&str] = &[
    "id",
    "height",
    "version",
    "timestamp",
    "tx_count",
    "size",
    "weight",
    "merkle_root",
    "previousblockhash",
    "mediantime",
    "nonce",
    "bits",
    "difficulty",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_routes_shapes_and_errors() {
    let node = Node::start_fresh().await;
    let key = Key::new(40);
    // A block of 6 transactions: coinbase and five faucet payments.
    let addr = key.address(KeyType::P2wpkh);
    for amount in [10_000u64, 20_000, 30_000, 40_000, 50_000] {
        node.faucet(&addr, amount).await;
    }
    let hash = node.mine(1, None).await.remove(0);
    let tip: u32 = node
        .get_text("/api/blocks/tip/height")
        .await
        .parse()
        .unwrap();
    assert_eq!(tip, 111);

    // /blocks: the ten newest, newest first, each linked to the next.
    let blocks = node.get_json("/api/blocks").await;
    let blocks = blocks.as_array().unwrap();
    assert_eq!(blocks.len(), 10);
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(keys(b), sorted(BLOCK_KEYS), "{b}");
        assert_eq!(b["height"], tip - i as u32);
        assert!(b["id"].as_str().unwrap().len() == 64);
        assert!(b["timestamp"].is_u64() && b["mediantime"].is_u64());
        assert!(b["bits"].is_u64() && b["nonce"].is_u64() && b["version"].is_u64());
        assert_eq!(b["bits"], 0x207f_ffff);
        // serde_json reads floats to within an ulp or so.
        let difficulty = b["difficulty"].as_f64().unwrap();
        assert!(
            (difficulty - 4.656_542_373_906_925e-10).abs() < 1e-24,
            "{difficulty}"
        );
        if i + 1 < blocks.len() {
            assert_eq!(b["previousblockhash"], blocks[i + 1]["id"]);
        }
    }
    assert_eq!(blocks[0]["id"], hash);
    assert_eq!(blocks[0]["tx_count"], 6);
    // mediantime: the median of the block's and its ten predecessors' timestamps.
    let older = node.get_json(&format!("/api/blocks/{}", tip - 10)).await;
    let mut times: Vec<u64> = blocks
        .iter()
        .chain(older.as_array().unwrap())
        .take(11)
        .map(|b| b["timestamp"].as_u64().unwrap())
        .collect();
    times.sort_unstable();
    assert_eq!(blocks[0]["mediantime"], times[5]);
    // Real timestamps: near this machine's clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(blocks[0]["timestamp"].as_u64().unwrap().abs_diff(now) < 600);

    // From a start height; genesis has a null previousblockhash; past the tip is 404.
    let from5 = node.get_json("/api/blocks/5").await;
    assert_eq!(from5.as_array().unwrap().len(), 6);
    assert_eq!(from5[0]["height"], 5);
    let genesis = &from5[5];
    assert_eq!(genesis["id"], REGTEST_GENESIS_HASH);
    assert!(genesis["previousblockhash"].is_null());
    assert_eq!(node.get_status("/api/blocks/112").await, 404);

    // /block/:hash equals its /blocks entry; /status links to the next block.
    assert_eq!(
        node.get_json(&format!("/api/block/{hash}")).await,
        blocks[0]
    );
    let st = node.get_json(&format!("/api/block/{hash}/status")).await;
    assert_eq!(keys(&st), sorted(&["in_best_chain", "height", "next_best"]));
    assert_eq!(st["in_best_chain"], true);
    assert_eq!(st["height"], tip);
    assert!(st["next_best"].is_null());
    let prev = blocks[1]["id"].as_str().unwrap();
    let st = node.get_json(&format!("/api/block/{prev}/status")).await;
    assert_eq!(st["next_best"], hash);
    let unknown = "11".repeat(32);
    let st = node.get_json(&format!("/api/block/{unknown}/status")).await;
    assert_eq!(st["in_best_chain"], false);
    assert!(st["height"].is_null());
    for path in ["", "/txids", "/txs", "/header", "/raw", "/txid/0"] {
        assert_eq!(
            node.get_status(&format!("/api/block/{unknown}{path}"))
                .await,
            404,
            "{path}"
        );
        assert_eq!(node.get_status(&format!("/api/block/xyz{path}")).await, 400);
    }
    assert_eq!(node.get_status("/api/block/xyz/status").await, 400);

    // /header: 80 bytes whose double SHA256 is the hash.
    let header = hex::decode(node.get_text(&format!("/api/block/{hash}/header")).await).unwrap();
    assert_eq!(header.len(), 80);
    let mut h = sha256d(&header);
    h.reverse();
    assert_eq!(hex::encode(h), hash);

    // /raw: the block, binary; its txids are /txids and its merkle root the header's.
    let (status, raw, ctype) = get(&node, &format!("/api/block/{hash}/raw")).await;
    assert_eq!((status, ctype.as_str()), (200, "application/octet-stream"));
    assert_eq!(raw[..80], header[..]);
    let block = Block::deserialize(&raw).unwrap();
    let txids: Vec<String> = block.txdata.iter().map(|t| t.txid().to_string()).collect();
    let listed = node.get_json(&format!("/api/block/{hash}/txids")).await;
    assert_eq!(listed, serde_json::json!(txids));
    let leaves: Vec<[u8; 32]> = txids.iter().map(|t| internal(t)).collect();
    assert_eq!(root_of(leaves.clone()).to_vec(), header[36..68].to_vec());
    let mut shown_root = root_of(leaves.clone());
    shown_root.reverse();
    assert_eq!(blocks[0]["merkle_root"], hex::encode(shown_root));
    assert_eq!(blocks[0]["size"], raw.len());
    assert_eq!(blocks[0]["weight"], block.weight().to_wu());

    // /txid/:index; out of range 404, not a number 400.
    for (i, t) in txids.iter().enumerate() {
        assert_eq!(
            &node.get_text(&format!("/api/block/{hash}/txid/{i}")).await,
            t
        );
    }
    assert_eq!(
        node.get_status(&format!("/api/block/{hash}/txid/6")).await,
        404
    );
    assert_eq!(
        node.get_status(&format!("/api/block/{hash}/txid/x")).await,
        400
    );

    // /txs[/:start]: 25 per page in block order, confirmed statuses; a start not a
    // multiple of 25 is 400, one past the end 404.
    let txs = node.get_json(&format!("/api/block/{hash}/txs")).await;
    let txs = txs.as_array().unwrap();
    assert_eq!(txs.len(), 6);
    for (t, id) in txs.iter().zip(&txids) {
        assert_eq!(&t["txid"], id);
        assert_eq!(t["status"]["confirmed"], true);
        assert_eq!(t["status"]["block_hash"], hash);
        assert!(t["fee"].is_u64() && t["vin"].is_array() && t["vout"].is_array());
    }
    assert!(txs[0]["vin"][0]["prevout"].is_null());
    assert_eq!(
        node.get_json(&format!("/api/block/{hash}/txs/0")).await,
        serde_json::json!(txs)
    );
    assert_eq!(
        node.get_status(&format!("/api/block/{hash}/txs/1")).await,
        400
    );
    assert_eq!(
        node.get_status(&format!("/api/block/{hash}/txs/25")).await,
        404
    );

    // /block-height: text, 404 past the tip, 400 for a non-number.
    assert_eq!(
        node.get_text(&format!("/api/block-height/{tip}")).await,
        hash
    );
    assert_eq!(node.get_status("/api/block-height/112").await, 404);
    assert_eq!(node.get_status("/api/block-height/x").await, 400);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_transactions_and_merkle_proofs() {
    let node = Node::start_fresh().await;
    let key = Key::new(41);
    let addr = key.address(KeyType::P2wpkh);
    let mut paid = Vec::new();
    for amount in [11_000u64, 12_000, 13_000, 14_000] {
        paid.push(node.faucet(&addr, amount).await);
    }
    let hash = node.mine(1, None).await.remove(0);
    let header = hex::decode(node.get_text(&format!("/api/block/{hash}/header")).await).unwrap();
    let root: [u8; 32] = header[36..68].try_into().unwrap();
    let txids = node.get_json(&format!("/api/block/{hash}/txids")).await;
    let txids: Vec<String> = txids
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(txids.len(), 5);

    for (pos, txid) in txids.iter().enumerate() {
        // /raw is the binary of /hex.
        let (status, raw, ctype) = get(&node, &format!("/api/tx/{txid}/raw")).await;
        assert_eq!((status, ctype.as_str()), (200, "application/octet-stream"));
        assert_eq!(
            hex::encode(&raw),
            node.get_text(&format!("/api/tx/{txid}/hex")).await
        );
        assert_eq!(
            &Transaction::deserialize(&raw).unwrap().txid().to_string(),
            txid
        );

        // Electrum's branch climbs from the txid to the header's merkle root.
        let proof = node.get_json(&format!("/api/tx/{txid}/merkle-proof")).await;
        assert_eq!(keys(&proof), sorted(&["block_height", "merkle", "pos"]));
        assert_eq!(proof["block_height"], 111);
        assert_eq!(proof["pos"], pos);
        let mut acc = internal(txid);
        let mut index = pos;
        for sibling in proof["merkle"].as_array().unwrap() {
            let s = internal(sibling.as_str().unwrap());
            acc = if index % 2 == 0 {
                pair(&acc, &s)
            } else {
                pair(&s, &acc)
            };
            index /= 2;
        }
        assert_eq!(acc, root, "merkle-proof of {txid}");

        // Core's merkleblock: the header, and a partial tree proving exactly this txid.
        let mb = node
            .get_text(&format!("/api/tx/{txid}/merkleblock-proof"))
            .await;
        let (mb_header, mb_root, matched) = check_merkleblock(&mb);
        assert_eq!(mb_header, header);
        assert_eq!(mb_root, root);
        assert_eq!(matched, vec![internal(txid)]);
    }

    // Unconfirmed and unknown: 404; malformed: 400.
    let pending = node.faucet(&addr, 15_000).await;
    let unknown = "22".repeat(32);
    for path in ["merkle-proof", "merkleblock-proof"] {
        assert_eq!(
            node.get_status(&format!("/api/tx/{pending}/{path}")).await,
            404
        );
        assert_eq!(
            node.get_status(&format!("/api/tx/{unknown}/{path}")).await,
            404
        );
        assert_eq!(node.get_status(&format!("/api/tx/zz/{path}")).await, 400);
    }
    assert_eq!(get(&node, &format!("/api/tx/{pending}/raw")).await.0, 200);
    assert_eq!(
        node.get_status(&format!("/api/tx/{unknown}/raw")).await,
        404
    );
    assert_eq!(node.get_status("/api/tx/zz/raw").await, 400);
    // outspends of a confirmed transaction: one entry per output, spent or not.
    let outspends = node
        .get_json(&format!("/api/tx/{}/outspends", paid[0]))
        .await;
    assert!(!outspends.as_array().unwrap().is_empty());
    assert!(
        outspends
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["spent"].is_boolean())
    );
    assert_eq!(
        node.get_status(&format!("/api/tx/{unknown}/outspends"))
            .await,
        404
    );
    node.stop().await;
}

/// BIP-0113 against real block times: a lock time at the tip's median time past is not
/// final yet, one second below it is; the next blocks carry the clock's time, so the
/// median moves on and the first one confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_locks_follow_the_median_time_past() {
    let node = Node::start_fresh().await;
    let key = Key::new(44);
    let coins = node.fund(&key, KeyType::P2wpkh, &[30_000, 30_000]).await;
    let tip = node.get_text("/api/blocks/tip/hash").await;
    let mtp = node.get_json(&format!("/api/block/{tip}")).await["mediantime"]
        .as_u64()
        .unwrap();
    let locked = |coin: &(ferry::tx::OutPoint, ferry::tx::TxOut), lock_time: u64| {
        let mut tx = Transaction {
            version: 2,
            lock_time: u32::try_from(lock_time).unwrap(),
            input: vec![ferry::tx::TxIn::new(coin.0, 0xffff_fffe)],
            output: vec![ferry::tx::TxOut {
                value: ferry::units::Amount::from_sat(29_000),
                script_pubkey: key.script(KeyType::P2wpkh),
            }],
        };
        key.sign(&mut tx, &[coin.1.clone()]);
        tx
    };
    let at_mtp = locked(&coins[0], mtp);
    let err = node.post_tx(&at_mtp).await.unwrap_err();
    assert!(err.contains("non-final"), "{err}");
    node.post_tx(&locked(&coins[1], mtp - 1)).await.unwrap();
    // Six blocks later the median is a block mined now, past `mtp`.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    node.mine(6, None).await;
    node.post_tx(&at_mtp).await.unwrap();
    node.stop().await;
}
