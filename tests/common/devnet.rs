//! Harness for the devnet tests: a devnet served in-process on 127.0.0.1:0 and talked to
//! with reqwest, and a tiny wallet (keys, scripts, addresses, signed spends).

use std::path::Path;

use ferry::devnet::{Devnet, DevnetState};
use ferry::hashes::{hash160, sha256};
use ferry::network::Network;
use ferry::script::ScriptBuf;
use ferry::script::address::Address;
use ferry::script::opcodes::OP_CHECKSIG;
use ferry::script::taproot::tweak_public_key;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut};
use ferry::units::Amount;
use k256::SecretKey;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The value of each coin [`Node::presigned_spends`] makes.
pub const SPEND_COIN: u64 = 20_000;
/// The most outputs of one fan-out transaction in [`Node::presigned_spends`] (a standard
/// transaction stays under 100 kvB).
pub const FAN_OUT: usize = 2_500;

/// A running devnet.
pub struct Node {
    pub base: String,
    client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Node {
    /// A devnet in a fresh temporary data dir.
    pub async fn start_fresh() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Self::start(dir.path()).await;
        node._dir = Some(dir);
        node
    }

    /// A devnet on `dir` (opened, or created with its first 110 blocks).
    pub async fn start(dir: &Path) -> Node {
        Self::start_with_interval(dir, None).await
    }

    /// A devnet on `dir` that also mines a block every `interval`.
    pub async fn start_with_interval(dir: &Path, interval: Option<std::time::Duration>) -> Node {
        let dir = dir.to_path_buf();
        let devnet = tokio::task::spawn_blocking(move || Devnet::open(&dir))
            .await
            .unwrap()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(ferry::devnet::run(
            DevnetState::new(devnet),
            listener,
            interval,
            async move {
                let _ = rx.await;
            },
        ));
        Node {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop,
            task,
            _dir: None,
        }
    }

    /// Stops the server and waits for it (and its database) to close.
    pub async fn stop(self) {
        drop(self.client);
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }

    pub async fn get_status(&self, path: &str) -> u16 {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn get_text(&self, path: &str) -> String {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.text().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        serde_json::from_str(&self.get_text(path).await).unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `POST /api/tx`: the txid, or the error text.
    pub async fn post_tx(&self, tx: &Transaction) -> Result<String, String> {
        let r = self
            .client
            .post(format!("{}/api/tx", self.base))
            .body(tx.to_hex())
            .send()
            .await
            .unwrap();
        let ok = r.status().is_success();
        let text = r.text().await.unwrap();
        if ok { Ok(text) } else { Err(text) }
    }

    pub async fn mine(&self, blocks: u32, address: Option<&str>) -> Vec<String> {
        let mut body = json!({ "blocks": blocks });
        if let Some(a) = address {
            body["address"] = json!(a);
        }
        let v = self.post_json("/devnet/mine", body).await;
        v["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn faucet(&self, address: &str, amount_sat: u64) -> String {
        let v = self
            .post_json(
                "/devnet/faucet",
                json!({"address": address, "amount_sat": amount_sat}),
            )
            .await;
        v["txid"].as_str().unwrap().to_owned()
    }

    /// The address block rewards go to by default.
    pub fn faucet_address(&self) -> String {
        let secret = SecretKey::from_slice(&sha256(b"ferry devnet faucet key")).unwrap();
        let pk = secret.public_key().to_sec1_bytes();
        Address::from_script(&ScriptBuf::new_p2wpkh(&hash160(&pk)), Network::Regtest)
            .unwrap()
            .to_string()
    }

    /// Pays each amount to `key`'s `kt` output, mines a block, returns the coins.
    pub async fn fund(&self, key: &Key, kt: KeyType, amounts: &[u64]) -> Vec<(OutPoint, TxOut)> {
        let addr = key.address(kt);
        let mut txids = Vec::new();
        for a in amounts {
            txids.push(self.faucet(&addr, *a).await);
        }
        self.mine(1, None).await;
        let utxos = self.get_json(&format!("/api/address/{addr}/utxo")).await;
        txids
            .iter()
            .map(|t| {
                let u = utxos
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|u| u["txid"] == *t)
                    .unwrap();
                coin_of(u, key.script(kt))
            })
            .collect()
    }

    /// Pays `n` P2WPKH coins of [`SPEND_COIN`] sat to `key` through fan-out transactions
    /// of at most [`FAN_OUT`] outputs (so any `n` stays standard), mined, and returns one
    /// signed spend of each, paying [`SPEND_COIN`] − 1,000 sat to `dest` (RBF signalled).
    pub async fn presigned_spends(&self, key: &Key, dest: &Key, n: usize) -> Vec<Transaction> {
        let script = key.script(KeyType::P2wpkh);
        let chunks: Vec<usize> = (0..n.div_ceil(FAN_OUT))
            .map(|i| FAN_OUT.min(n - i * FAN_OUT))
            .collect();
        let amounts: Vec<u64> = chunks
            .iter()
            .map(|k| (SPEND_COIN + 300) * *k as u64 + 100_000)
            .collect();
        let bigs = self.fund(key, KeyType::P2wpkh, &amounts).await;
        let mut coins = Vec::with_capacity(n);
        for (big, k) in bigs.iter().zip(&chunks) {
            let fan = key.spend(
                std::slice::from_ref(big),
                &vec![(script.clone(), SPEND_COIN); *k],
                0xffff_fffd,
            );
            self.post_tx(&fan).await.unwrap();
            let txid = fan.txid();
            coins.extend((0..*k).map(|i| {
                let vout = u32::try_from(i).unwrap();
                let out = TxOut {
                    value: Amount::from_sat(SPEND_COIN),
                    script_pubkey: script.clone(),
                };
                (OutPoint { txid, vout }, out)
            }));
        }
        self.mine(1, None).await;
        let dest = dest.script(KeyType::P2wpkh);
        coins
            .iter()
            .map(|coin| {
                key.spend(
                    std::slice::from_ref(coin),
                    &[(dest.clone(), SPEND_COIN - 1_000)],
                    0xffff_fffd,
                )
            })
            .collect()
    }

    pub async fn rpc_raw(&self, method: &str, params: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/", self.base))
            .json(&json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let (status, v) = self.rpc_raw(method, params).await;
        assert_eq!(status, 200, "{method}: {v}");
        v
    }
}

/// An Esplora UTXO entry as a spendable coin.
pub fn coin_of(utxo: &Value, script: ScriptBuf) -> (OutPoint, TxOut) {
    (
        OutPoint {
            txid: utxo["txid"].as_str().unwrap().parse().unwrap(),
            vout: u32::try_from(utxo["vout"].as_u64().unwrap()).unwrap(),
        },
        TxOut {
            value: Amount::from_sat(utxo["value"].as_u64().unwrap()),
            script_pubkey: script,
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    P2pkh,
    P2shP2wpkh,
    P2wpkh,
    P2tr,
    /// `<pubkey> OP_CHECKSIG` in P2WSH: pay-only here (the signer does not spend it).
    P2wsh,
}

impl KeyType {
    pub const SPENDABLE: [KeyType; 4] = [
        KeyType::P2pkh,
        KeyType::P2shP2wpkh,
        KeyType::P2wpkh,
        KeyType::P2tr,
    ];
}

/// A test key.
pub struct Key {
    secret: SecretKey,
    store: KeyStore,
}

impl Key {
    pub fn new(seed: u8) -> Key {
        let secret = SecretKey::from_slice(&sha256(&[seed, 0xde, 0x0e])).unwrap();
        Key {
            store: KeyStore::from_iter([secret.clone()]),
            secret,
        }
    }

    fn pubkey(&self) -> Vec<u8> {
        self.secret.public_key().to_sec1_bytes().to_vec()
    }

    pub fn script(&self, kt: KeyType) -> ScriptBuf {
        let pk = self.pubkey();
        let pkh = hash160(&pk);
        match kt {
            KeyType::P2pkh => ScriptBuf::new_p2pkh(&pkh),
            KeyType::P2shP2wpkh => ScriptBuf::new_p2wpkh(&pkh).to_p2sh(),
            KeyType::P2wpkh => ScriptBuf::new_p2wpkh(&pkh),
            KeyType::P2tr => {
                let xonly: [u8; 32] = pk[1..].try_into().unwrap();
                ScriptBuf::new_p2tr(&tweak_public_key(&xonly, None).unwrap().0)
            }
            KeyType::P2wsh => {
                let mut ws = ScriptBuf::new();
                ws.push_slice(&pk).push_opcode(OP_CHECKSIG);
                ws.to_p2wsh()
            }
        }
    }

    pub fn address(&self, kt: KeyType) -> String {
        Address::from_script(&self.script(kt), Network::Regtest)
            .unwrap()
            .to_string()
    }

    /// Signs every input of `tx` (all spending this key's outputs, SIGHASH_ALL).
    pub fn sign(&self, tx: &mut Transaction, prevouts: &[TxOut]) {
        let types = vec![0x01; prevouts.len()];
        sign_transaction(tx, prevouts, &types, &self.store).unwrap();
    }

    /// Spends `coins` (all this key's) to `outputs`, every input with `sequence`.
    pub fn spend(
        &self,
        coins: &[(OutPoint, TxOut)],
        outputs: &[(ScriptBuf, u64)],
        sequence: u32,
    ) -> Transaction {
        let mut tx = Transaction {
            version: 2,
            lock_time: 0,
            input: coins
                .iter()
                .map(|(op, _)| TxIn::new(*op, sequence))
                .collect(),
            output: outputs
                .iter()
                .map(|(s, v)| TxOut {
                    value: Amount::from_sat(*v),
                    script_pubkey: s.clone(),
                })
                .collect(),
        };
        let prevouts: Vec<TxOut> = coins.iter().map(|(_, o)| o.clone()).collect();
        let types = vec![0x01; coins.len()];
        sign_transaction(&mut tx, &prevouts, &types, &self.store).unwrap();
        tx
    }

    /// Spends `coins` (all this key's) back to its own P2WPKH output, paying `fee`
    /// (RBF-signalling).
    pub fn pay_self(&self, coins: &[(OutPoint, TxOut)], fee: u64) -> Transaction {
        let value: u64 = coins.iter().map(|c| c.1.value.to_sat()).sum();
        self.spend(
            coins,
            &[(self.script(KeyType::P2wpkh), value - fee)],
            0xffff_fffd,
        )
    }
}

/// The first output of `tx`, as a coin to spend.
pub fn first_output(tx: &Transaction) -> (OutPoint, TxOut) {
    (
        OutPoint {
            txid: tx.txid(),
            vout: 0,
        },
        tx.output[0].clone(),
    )
}

/// Every address type with the `scriptpubkey_type` Esplora gives it.
pub fn keys_of(key: &Key) -> Vec<(String, &'static str)> {
    vec![
        (key.address(KeyType::P2pkh), "p2pkh"),
        (key.address(KeyType::P2shP2wpkh), "p2sh"),
        (key.address(KeyType::P2wpkh), "v0_p2wpkh"),
        (key.address(KeyType::P2wsh), "v0_p2wsh"),
        (key.address(KeyType::P2tr), "v1_p2tr"),
    ]
}

/// Flips one bit of input 0's signature, keeping its encoding valid.
pub fn corrupt_signature(tx: &mut Transaction, kt: KeyType) {
    let input = &mut tx.input[0];
    match kt {
        KeyType::P2pkh => {
            let mut pushes: Vec<Vec<u8>> = input
                .script_sig
                .instructions()
                .map(|i| match i.unwrap() {
                    ferry::script::Instruction::Push(d) => d.to_vec(),
                    ferry::script::Instruction::Op(_) => panic!("P2PKH scriptSig pushes only"),
                })
                .collect();
            let n = pushes[0].len();
            pushes[0][n - 2] ^= 1;
            let mut s = ScriptBuf::new();
            for p in &pushes {
                s.push_slice(p);
            }
            input.script_sig = s;
        }
        KeyType::P2shP2wpkh | KeyType::P2wpkh | KeyType::P2tr => {
            let mut items = input.witness.items().to_vec();
            let n = items[0].len();
            // ECDSA: last byte of s before the sighash byte; Schnorr: a byte of s.
            let at = if kt == KeyType::P2tr { n - 5 } else { n - 2 };
            items[0][at] ^= 1;
            input.witness = ferry::tx::Witness::from_items(items);
        }
        KeyType::P2wsh => panic!("not signed here"),
    }
}
