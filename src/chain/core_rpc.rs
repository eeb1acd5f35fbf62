//! A Bitcoin Core (or qtumd) JSON-RPC client as a [`ChainBackend`].
//!
//! URLs: `core+http://user:pass@host:port` or `core+http://host:port?cookie=/path/.cookie`
//! (the cookie is read at each request, since the node rewrites it when it restarts).
//! Requests are JSON-RPC 2.0, so Core 28+ answers errors with HTTP 200; older nodes and
//! qtumd answer 1.0-style (HTTP 500 with the error in the body), which is read the same way.
//!
//! Core keeps no index by script without a wallet, so this backend finds coins with
//! `scantxoutset` (confirmed UTXOs) plus a look through the mempool ([`Discovery::UtxoScan`]):
//! the history it can give is the transactions that created unspent coins and the mempool
//! transactions that touch the wallet. It never needs `-txindex`: confirmed transactions are
//! fetched by block hash.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    BoxFuture, ChainBackend, ChainError, Discovery, HistoryTx, MempoolView, Outspend, ScannedUtxo,
    TxStatus, Utxo, UtxoScan, http,
};
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, TxOut, Txid};
use crate::units::{Amount, FeeRate, SAT_PER_BTC};

/// Core's `RPC_INVALID_ADDRESS_OR_KEY`: "No such mempool or blockchain transaction".
const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
/// Core's `RPC_IN_WARMUP`: the node is starting; ask again.
const RPC_IN_WARMUP: i64 = -28;
/// Core's `RPC_INVALID_PARAMETER`, which `scantxoutset` also answers while another scan runs.
const RPC_INVALID_PARAMETER: i64 = -8;
/// A UTXO-set scan reads the whole chainstate: minutes on mainnet, not the usual 30 s.
const SCAN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long to wait between asks while another client's scan runs, and how many times.
const SCAN_WAIT: Duration = Duration::from_secs(2);
const SCAN_WAITS: u32 = 300;
/// How many times a warming-up node is asked again.
const WARMUP_RETRIES: u32 = 8;
/// Mempools larger than this are not read transaction by transaction; confirmed coins are
/// then checked with `gettxout` instead, and unconfirmed incoming payments are not seen.
pub const MEMPOOL_SCAN_LIMIT: usize = 20_000;
/// Calls per JSON-RPC batch.
const BATCH: usize = 500;
/// The confirmation targets asked of `estimatesmartfee` (Esplora's set, up to Core's 1008).
const FEE_TARGETS: [u16; 13] = [1, 2, 3, 4, 5, 6, 10, 12, 24, 48, 144, 504, 1008];

enum Auth {
    UserPass { user: String, password: String },
    Cookie(PathBuf),
}

/// A Bitcoin Core or qtumd node over JSON-RPC.
pub struct CoreRpcBackend {
    url: String,
    auth: Auth,
    client: Client,
    next_id: AtomicU64,
}

impl std::fmt::Debug for CoreRpcBackend {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreRpcBackend")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// An error a node answered (Core's `{"code", "message"}`), kept apart from transport
/// failures so callers can tell "no such transaction" from "node down".
#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
}

impl CoreRpcBackend {
    /// Creates a client for `core+http://user:pass@host:port[/wallet/…]` or
    /// `core+http://host:port?cookie=PATH`.
    ///
    /// # Errors
    /// [`ChainError::InvalidUrl`] for another scheme or a URL without credentials.
    pub fn new(url: &str) -> Result<Self, ChainError> {
        // The message names the URL without its password.
        let invalid = |why: &str| ChainError::InvalidUrl(format!("{}: {why}", redact(url)));
        let rest = url
            .strip_prefix("core+")
            .ok_or_else(|| invalid("a Core URL starts with core+http://"))?;
        let mut parsed =
            reqwest::Url::parse(rest).map_err(|e| invalid(&format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("use core+http:// or core+https://"));
        }
        let cookie = parsed
            .query_pairs()
            .find(|(k, _)| k == "cookie")
            .map(|(_, v)| PathBuf::from(v.into_owned()));
        let auth = match (cookie, parsed.username(), parsed.password()) {
            (Some(path), "", None) => Auth::Cookie(path),
            (None, user, Some(password)) if !user.is_empty() => Auth::UserPass {
                user: percent_decode(user),
                password: percent_decode(password),
            },
            (Some(_), _, _) => return Err(invalid("give either user:pass@ or ?cookie=, not both")),
            _ => {
                return Err(invalid(
                    "needs credentials: core+http://user:pass@host:port or core+http://host:port?cookie=/path/.cookie",
                ));
            }
        };
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        parsed.set_query(None);
        let base = parsed.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            client: http::client(&base)?,
            url: base,
            auth,
            next_id: AtomicU64::new(1),
        })
    }

    fn protocol(&self, reason: impl ToString) -> ChainError {
        ChainError::Protocol {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    fn credentials(&self) -> Result<(String, String), ChainError> {
        match &self.auth {
            Auth::UserPass { user, password } => Ok((user.clone(), password.clone())),
            Auth::Cookie(path) => {
                // The cookie's contents are a password: never in an error.
                let text = std::fs::read_to_string(path).map_err(|e| ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: format!(
                        "cannot read the cookie file {} ({}): is the node running, and is this its data directory?",
                        path.display(),
                        e.kind()
                    ),
                })?;
                let (user, password) = text.trim().split_once(':').ok_or_else(|| {
                    self.protocol(format!(
                        "cookie file {} is not user:password",
                        path.display()
                    ))
                })?;
                Ok((user.to_owned(), password.to_owned()))
            }
        }
    }

    /// Posts a JSON-RPC body and returns the parsed answer, asking again while the node
    /// warms up.
    async fn post(&self, body: &Value, timeout: Option<Duration>) -> Result<Value, ChainError> {
        let mut attempt = 0;
        loop {
            let (user, password) = self.credentials()?;
            let resp = http::send_retrying(
                &self.url,
                || {
                    let req = self
                        .client
                        .post(&self.url)
                        .basic_auth(&user, Some(&password))
                        .json(body);
                    match timeout {
                        Some(t) => req.timeout(t),
                        None => req,
                    }
                },
                // 500 carries RPC errors in the 1.0 style: read, not retried.
                |s| {
                    matches!(
                        s,
                        StatusCode::TOO_MANY_REQUESTS
                            | StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    )
                },
            )
            .await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                return Err(ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: "authentication failed (HTTP 401): check the user:password or the cookie file".into(),
                });
            }
            if status == StatusCode::FORBIDDEN {
                return Err(ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: "forbidden (HTTP 403): does the node's rpcallowip include this host?"
                        .into(),
                });
            }
            let bytes = resp.bytes().await.map_err(|e| ChainError::Unreachable {
                url: self.url.clone(),
                reason: http::error_chain(&e),
            })?;
            let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
                let text = String::from_utf8_lossy(&bytes);
                self.protocol(format!(
                    "HTTP {status}, not a JSON-RPC answer: {:?}",
                    text.chars().take(200).collect::<String>()
                ))
            })?;
            if warming_up(&answer) && attempt < WARMUP_RETRIES {
                tokio::time::sleep(http::backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Calls one method.
    async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, RpcError>, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answer = self.post(&body, None).await?;
        self.outcome(method, &answer)
    }

    /// Calls one method whose errors are failures (anything but a result is an error).
    async fn call_ok<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ChainError> {
        let v = self
            .call(method, params)
            .await?
            .map_err(|e| self.protocol(format!("{method}: {} (code {})", e.message, e.code)))?;
        serde_json::from_value(v).map_err(|e| self.protocol(format!("{method}: {e}")))
    }

    /// Calls `method` once per parameter list, `BATCH` calls per request; answers come back
    /// in the order asked.
    async fn batch(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Result<Value, RpcError>>, ChainError> {
        let mut out = Vec::with_capacity(params.len());
        for chunk in params.chunks(BATCH) {
            let first = self
                .next_id
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let body: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": method, "params": p}))
                .collect();
            let answer = self.post(&Value::Array(body), None).await?;
            let Value::Array(items) = answer else {
                // A node refusing the whole batch answers one error object.
                return match self.outcome(method, &answer)? {
                    Err(e) => {
                        Err(self
                            .protocol(format!("{method} batch: {} (code {})", e.message, e.code)))
                    }
                    Ok(_) => Err(self.protocol(format!("{method} batch: answer is not a list"))),
                };
            };
            let mut by_id: HashMap<u64, Value> = HashMap::with_capacity(items.len());
            for item in items {
                if let Some(id) = item.get("id").and_then(Value::as_u64) {
                    by_id.insert(id, item);
                }
            }
            for i in 0..chunk.len() as u64 {
                let item = by_id.remove(&(first + i)).ok_or_else(|| {
                    self.protocol(format!("{method} batch: no answer for call {i}"))
                })?;
                out.push(self.outcome(method, &item)?);
            }
        }
        Ok(out)
    }

    /// Splits a JSON-RPC answer into its result or its error.
    fn outcome(&self, method: &str, answer: &Value) -> Result<Result<Value, RpcError>, ChainError> {
        match answer.get("error") {
            Some(e) if !e.is_null() => Ok(Err(RpcError {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .to_owned(),
            })),
            _ => answer.get("result").cloned().map(Ok).ok_or_else(|| {
                self.protocol(format!("{method}: answer has neither result nor error"))
            }),
        }
    }

    fn decode_tx(&self, txid: Txid, v: &Value) -> Result<Transaction, ChainError> {
        let hex = v
            .as_str()
            .ok_or_else(|| self.protocol(format!("transaction {txid}: not hex")))?;
        let tx = Transaction::from_hex(hex)
            .map_err(|e| self.protocol(format!("transaction {txid}: {e}")))?;
        if tx.txid() != txid {
            return Err(self.protocol(format!("asked for transaction {txid}, got {}", tx.txid())));
        }
        Ok(tx)
    }

    /// `scantxoutset start`: one pass over the UTXO set, which takes minutes on mainnet, so
    /// it gets its own long timeout; a scan another client started is waited for (Core
    /// runs one at a time).
    async fn scantxoutset(&self, descs: Vec<String>) -> Result<ScanResult, ChainError> {
        let mut waits = 0;
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = json!({"jsonrpc": "2.0", "id": id, "method": "scantxoutset", "params": ["start", &descs]});
            let answer = self.post(&body, Some(SCAN_TIMEOUT)).await?;
            match self.outcome("scantxoutset", &answer)? {
                Ok(v) => {
                    return serde_json::from_value(v)
                        .map_err(|e| self.protocol(format!("scantxoutset: {e}")));
                }
                Err(e)
                    if e.code == RPC_INVALID_PARAMETER
                        && e.message.contains("in progress")
                        && waits < SCAN_WAITS =>
                {
                    waits += 1;
                    tokio::time::sleep(SCAN_WAIT).await;
                }
                Err(e) => {
                    return Err(
                        self.protocol(format!("scantxoutset: {} (code {})", e.message, e.code))
                    );
                }
            }
        }
    }

    /// The mempool's transactions (`None` when it is too large to read), and the requests
    /// that took.
    async fn mempool_txs(&self) -> Result<(Option<Vec<Transaction>>, usize), ChainError> {
        let txids: Vec<Txid> = self.call_ok("getrawmempool", json!([false])).await?;
        if txids.len() > MEMPOOL_SCAN_LIMIT {
            return Ok((None, 1));
        }
        let requests = 1 + txids.len().div_ceil(BATCH);
        let answers = self
            .batch(
                "getrawtransaction",
                txids.iter().map(|t| json!([t, false])).collect(),
            )
            .await?;
        let mut txs = Vec::with_capacity(txids.len());
        for (txid, answer) in txids.into_iter().zip(answers) {
            match answer {
                Ok(v) => txs.push(self.decode_tx(txid, &v)?),
                // Mined or evicted since the list was taken.
                Err(e) if e.code == RPC_INVALID_ADDRESS_OR_KEY => {}
                Err(e) => {
                    return Err(self.protocol(format!("getrawtransaction {txid}: {}", e.message)));
                }
            }
        }
        Ok((Some(txs), requests))
    }

    /// The height of the block `confirmations` deep below the tip.
    async fn height_from_confirmations(&self, confirmations: u32) -> Result<u32, ChainError> {
        let tip = self.tip_height().await?;
        Ok((tip + 1).saturating_sub(confirmations))
    }

    async fn gettxout(
        &self,
        op: OutPoint,
        include_mempool: bool,
    ) -> Result<Option<CoreTxOut>, ChainError> {
        let v: Option<CoreTxOut> = self
            .call_ok("gettxout", json!([op.txid, op.vout, include_mempool]))
            .await?;
        Ok(v)
    }
}

impl ChainBackend for CoreRpcBackend {
    fn describe(&self) -> String {
        format!("bitcoin core {}", self.url)
    }

    fn discovery(&self) -> Discovery {
        Discovery::UtxoScan
    }

    fn tip_height(&self) -> BoxFuture<'_, Result<u32, ChainError>> {
        Box::pin(self.call_ok("getblockcount", json!([])))
    }

    fn script_utxos<'a>(
        &'a self,
        script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<Utxo>, ChainError>> {
        Box::pin(async move {
            let scan = self.scan_utxos(std::slice::from_ref(script_pubkey)).await?;
            let coins: Vec<OutPoint> = scan.utxos.iter().map(|s| s.utxo.outpoint).collect();
            let view = self.mempool_view(&coins).await?;
            let pool = view.txs.as_deref().unwrap_or_default();
            let spent_in_pool: HashSet<OutPoint> = pool
                .iter()
                .flat_map(|t| t.input.iter().map(|i| i.previous_output))
                .collect();
            let unconfirmed = pool.iter().flat_map(|t| {
                let txid = t.txid();
                (0u32..)
                    .zip(&t.output)
                    .filter(|(_, o)| o.script_pubkey == *script_pubkey)
                    .map(move |(vout, o)| Utxo {
                        outpoint: OutPoint { txid, vout },
                        value: o.value,
                        height: None,
                    })
            });
            Ok(scan
                .utxos
                .into_iter()
                .map(|s| s.utxo)
                .chain(unconfirmed)
                .filter(|u| {
                    !view.spent.contains(&u.outpoint) && !spent_in_pool.contains(&u.outpoint)
                })
                .collect())
        })
    }

    fn script_history<'a>(
        &'a self,
        _script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<HistoryTx>, ChainError>> {
        Box::pin(async move {
            Err(ChainError::Unsupported {
                backend: self.describe(),
                what: "history by script (Bitcoin Core keeps no such index without a wallet)",
            })
        })
    }

    fn scan_utxos<'a>(
        &'a self,
        scripts: &'a [ScriptBuf],
    ) -> BoxFuture<'a, Result<UtxoScan, ChainError>> {
        Box::pin(async move {
            let index: HashMap<&ScriptBuf, usize> =
                scripts.iter().enumerate().map(|(i, s)| (s, i)).collect();
            // One pass over the UTXO set for every script (a scan takes minutes on
            // mainnet, and Core runs one at a time).
            let descs: Vec<String> = scripts
                .iter()
                .map(|s| format!("raw({})", s.to_hex()))
                .collect();
            let scan = self.scantxoutset(descs).await?;
            let mut requests = 1;

            // The confirmed transactions behind the coins, fetched by block hash so no
            // -txindex is needed.
            let heights: Vec<u32> = scan
                .unspents
                .iter()
                .map(|u| u.height)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let hashes = self
                .batch("getblockhash", heights.iter().map(|h| json!([h])).collect())
                .await?;
            requests += heights.len().div_ceil(BATCH);
            let mut hash_at = HashMap::new();
            for (h, answer) in heights.iter().zip(hashes) {
                let hash = answer
                    .map_err(|e| self.protocol(format!("getblockhash {h}: {}", e.message)))?;
                hash_at.insert(*h, hash);
            }
            let wanted: Vec<(Txid, u32)> = scan
                .unspents
                .iter()
                .map(|u| (u.txid, u.height))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let answers = self
                .batch(
                    "getrawtransaction",
                    wanted
                        .iter()
                        .map(|(t, h)| json!([t, false, hash_at[h]]))
                        .collect(),
                )
                .await?;
            requests += wanted.len().div_ceil(BATCH);
            let mut confirmed: BTreeMap<Txid, HistoryTx> = BTreeMap::new();
            for ((txid, height), answer) in wanted.iter().zip(answers) {
                let v = answer.map_err(|e| {
                    self.protocol(format!("getrawtransaction {txid}: {}", e.message))
                })?;
                confirmed.insert(
                    *txid,
                    HistoryTx {
                        tx: self.decode_tx(*txid, &v)?,
                        height: Some(*height),
                        fee: None,
                    },
                );
            }

            let mut utxos = Vec::new();
            for u in &scan.unspents {
                let outpoint = OutPoint {
                    txid: u.txid,
                    vout: u.vout,
                };
                // The transaction, not the scan's float, is the source of the value.
                let txout = confirmed
                    .get(&u.txid)
                    .and_then(|h| h.tx.output.get(u.vout as usize))
                    .cloned()
                    .ok_or_else(|| {
                        self.protocol(format!(
                            "scantxoutset named {outpoint}, which its transaction lacks"
                        ))
                    })?;
                let Some(&script_index) = index.get(&txout.script_pubkey) else {
                    return Err(self.protocol(format!(
                        "scantxoutset returned {outpoint}, which pays to a script not asked about"
                    )));
                };
                utxos.push(ScannedUtxo {
                    script_index,
                    utxo: Utxo {
                        outpoint,
                        value: txout.value,
                        height: Some(u.height),
                    },
                    txout,
                });
            }

            Ok(UtxoScan {
                utxos,
                txs: confirmed.into_values().collect(),
                requests,
            })
        })
    }

    fn mempool_view<'a>(
        &'a self,
        coins: &'a [OutPoint],
    ) -> BoxFuture<'a, Result<MempoolView, ChainError>> {
        Box::pin(async move {
            let (txs, mut requests) = self.mempool_txs().await?;
            let spent = match &txs {
                Some(txs) => {
                    let coins: HashSet<&OutPoint> = coins.iter().collect();
                    txs.iter()
                        .flat_map(|t| t.input.iter().map(|i| i.previous_output))
                        .filter(|op| coins.contains(op))
                        .collect()
                }
                None => {
                    // Too big to read: ask the node which coins a mempool transaction
                    // already spends (`gettxout` counting the mempool answers null).
                    let answers = self
                        .batch(
                            "gettxout",
                            coins
                                .iter()
                                .map(|op| json!([op.txid, op.vout, true]))
                                .collect(),
                        )
                        .await?;
                    requests += coins.len().div_ceil(BATCH);
                    let mut spent = HashSet::new();
                    for (op, answer) in coins.iter().zip(answers) {
                        let v = answer
                            .map_err(|e| self.protocol(format!("gettxout: {}", e.message)))?;
                        if v.is_null() {
                            spent.insert(*op);
                        }
                    }
                    spent
                }
            };
            Ok(MempoolView {
                txs,
                spent,
                requests,
            })
        })
    }

    fn transaction(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Transaction>, ChainError>> {
        Box::pin(async move {
            match self.call("getrawtransaction", json!([txid, false])).await? {
                Ok(v) => Ok(Some(self.decode_tx(txid, &v)?)),
                // Unknown, or confirmed on a node without -txindex.
                Err(e) if e.code == RPC_INVALID_ADDRESS_OR_KEY => Ok(None),
                Err(e) => Err(self.protocol(format!("getrawtransaction {txid}: {}", e.message))),
            }
        })
    }

    fn prevout(&self, outpoint: OutPoint) -> BoxFuture<'_, Result<Option<TxOut>, ChainError>> {
        Box::pin(async move {
            if let Some(tx) = self.transaction(outpoint.txid).await? {
                return Ok(tx.output.get(outpoint.vout as usize).cloned());
            }
            // Without -txindex, confirmed parents are found in the UTXO set (not counting
            // mempool spends, so a replacement's inputs are still known).
            match self.gettxout(outpoint, false).await? {
                Some(o) => Ok(Some(o.to_txout().map_err(|e| self.protocol(e))?)),
                None => Ok(None),
            }
        })
    }

    /// `gettxspendingprevout` (Core 24+) names a mempool spender; otherwise `gettxout`
    /// counting the mempool tells unspent from spent in a block (the relay has already
    /// checked that the output exists). Nodes without the method cannot tell.
    fn outspend(&self, outpoint: OutPoint) -> BoxFuture<'_, Result<Option<Outspend>, ChainError>> {
        Box::pin(async move {
            let prevout = json!([{"txid": outpoint.txid, "vout": outpoint.vout}]);
            let spending = match self.call("gettxspendingprevout", json!([prevout])).await? {
                Ok(v) => v,
                Err(_) => return Ok(None),
            };
            let spender = spending
                .get(0)
                .and_then(|s| s.get("spendingtxid"))
                .and_then(Value::as_str);
            if let Some(txid) = spender {
                let txid = txid
                    .parse()
                    .map_err(|_| self.protocol(format!("gettxspendingprevout txid {txid:?}")))?;
                return Ok(Some(Outspend::InMempool(txid)));
            }
            Ok(Some(match self.gettxout(outpoint, true).await? {
                Some(_) => Outspend::Unspent,
                None => Outspend::InBlock(None),
            }))
        })
    }

    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>> {
        Box::pin(async move {
            if self.call("getmempoolentry", json!([txid])).await?.is_ok() {
                return Ok(TxStatus::Mempool);
            }
            match self.call("getrawtransaction", json!([txid, true])).await? {
                Ok(v) => match v.get("confirmations").and_then(Value::as_u64) {
                    Some(c) if c > 0 => Ok(TxStatus::Confirmed {
                        height: self
                            .height_from_confirmations(u32::try_from(c).unwrap_or(u32::MAX))
                            .await?,
                    }),
                    _ => Ok(TxStatus::Mempool),
                },
                Err(e) if e.code == RPC_INVALID_ADDRESS_OR_KEY => Ok(TxStatus::Unknown),
                Err(e) => Err(self.protocol(format!("getrawtransaction {txid}: {}", e.message))),
            }
        })
    }

    fn tx_status_of<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> BoxFuture<'a, Result<TxStatus, ChainError>> {
        Box::pin(async move {
            let txid = tx.txid();
            let status = self.tx_status(txid).await?;
            if status != TxStatus::Unknown {
                return Ok(status);
            }
            // No -txindex: a confirmed transaction shows through its unspent outputs.
            for vout in 0..tx.output.len().min(16) as u32 {
                if let Some(o) = self.gettxout(OutPoint { txid, vout }, false).await? {
                    return Ok(TxStatus::Confirmed {
                        height: self.height_from_confirmations(o.confirmations).await?,
                    });
                }
            }
            Ok(TxStatus::Unknown)
        })
    }

    fn fee_estimates(&self) -> BoxFuture<'_, Result<BTreeMap<u16, FeeRate>, ChainError>> {
        Box::pin(async move {
            let answers = self
                .batch(
                    "estimatesmartfee",
                    FEE_TARGETS.iter().map(|t| json!([t])).collect(),
                )
                .await?;
            let mut estimates = BTreeMap::new();
            for (target, answer) in FEE_TARGETS.iter().zip(answers) {
                let v = answer.map_err(|e| {
                    self.protocol(format!("estimatesmartfee {target}: {}", e.message))
                })?;
                // Without enough data (regtest, a fresh node) Core answers `errors` and no
                // `feerate`: no estimate for that target.
                let Some(btc_kvb) = v.get("feerate").and_then(Value::as_f64) else {
                    continue;
                };
                if !btc_kvb.is_finite() || btc_kvb < 0.0 {
                    return Err(
                        self.protocol(format!("fee estimate {btc_kvb} for target {target}"))
                    );
                }
                // Core prints a whole number of sat/kvB as BTC with 8 decimals.
                let sat_kvb = (btc_kvb * SAT_PER_BTC as f64).round() as u64;
                estimates.insert(*target, FeeRate::from_sat_per_kvb(sat_kvb));
            }
            Ok(estimates)
        })
    }

    fn relay_floor(&self) -> BoxFuture<'_, Result<Option<FeeRate>, ChainError>> {
        Box::pin(async move {
            let info: Value = self.call_ok("getmempoolinfo", json!([])).await?;
            // Both in BTC/kvB, printed from whole sat/kvB; either may be missing on older
            // nodes and qtumd.
            let rate = |k: &str| {
                info.get(k)
                    .and_then(Value::as_f64)
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|v| FeeRate::from_sat_per_kvb((v * SAT_PER_BTC as f64).round() as u64))
            };
            Ok(match (rate("minrelaytxfee"), rate("mempoolminfee")) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            })
        })
    }

    fn test_accept<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> BoxFuture<'a, Result<Option<Result<(), String>>, ChainError>> {
        Box::pin(async move {
            let results: Vec<Value> = self
                .call_ok("testmempoolaccept", json!([[tx.to_hex()]]))
                .await?;
            let first = results
                .first()
                .ok_or_else(|| self.protocol("testmempoolaccept: empty answer"))?;
            if first.get("allowed").and_then(Value::as_bool) == Some(true) {
                return Ok(Some(Ok(())));
            }
            // Core 29+ adds the details ("min relay fee not met, 100 < 141").
            let reason = first
                .get("reject-details")
                .or_else(|| first.get("reject-reason"))
                .and_then(Value::as_str)
                .unwrap_or("rejected without a reason")
                .to_owned();
            Ok(Some(Err(reason)))
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>> {
        Box::pin(async move {
            match self
                .call("sendrawtransaction", json!([tx.to_hex()]))
                .await?
            {
                Ok(v) => {
                    let txid: Txid = v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                        self.protocol(format!("sendrawtransaction answered {v}, not a txid"))
                    })?;
                    if txid != tx.txid() {
                        return Err(self
                            .protocol(format!("broadcast of {} answered txid {txid}", tx.txid())));
                    }
                    Ok(txid)
                }
                Err(e) => Err(ChainError::Rejected { reason: e.message }),
            }
        })
    }
}

fn warming_up(answer: &Value) -> bool {
    let code = |v: &Value| {
        v.get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
    };
    match answer {
        Value::Array(items) => items.iter().any(|i| code(i) == Some(RPC_IN_WARMUP)),
        v => code(v) == Some(RPC_IN_WARMUP),
    }
}

/// The URL as it may be shown: the password replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Decodes `%XX` escapes in a URL's user or password.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Deserialize)]
struct ScanResult {
    unspents: Vec<ScanUnspent>,
}

#[derive(Debug, Deserialize)]
struct ScanUnspent {
    txid: Txid,
    vout: u32,
    height: u32,
}

#[derive(Debug, Deserialize)]
struct CoreTxOut {
    confirmations: u32,
    value: f64,
    #[serde(rename = "scriptPubKey")]
    script_pubkey: CoreScript,
}

#[derive(Debug, Deserialize)]
struct CoreScript {
    hex: String,
}

impl CoreTxOut {
    fn to_txout(&self) -> Result<TxOut, String> {
        if !self.value.is_finite() || self.value < 0.0 {
            return Err(format!("gettxout value {}", self.value));
        }
        Ok(TxOut {
            value: Amount::from_sat((self.value * SAT_PER_BTC as f64).round() as u64),
            script_pubkey: ScriptBuf::from_hex(&self.script_pubkey.hex)
                .map_err(|_| "gettxout scriptPubKey is not hex".to_owned())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_credentials_one_way_and_never_show_the_password() {
        let b = CoreRpcBackend::new("core+http://alice:s%40cret@127.0.0.1:18443").unwrap();
        assert_eq!(b.describe(), "bitcoin core http://127.0.0.1:18443");
        assert!(!format!("{b:?}").contains("cret"));
        let Auth::UserPass { user, password } = &b.auth else {
            panic!("user:pass expected")
        };
        assert_eq!((user.as_str(), password.as_str()), ("alice", "s@cret"));

        let b = CoreRpcBackend::new("core+http://127.0.0.1:8332/?cookie=/tmp/x/.cookie").unwrap();
        assert!(matches!(&b.auth, Auth::Cookie(p) if p == std::path::Path::new("/tmp/x/.cookie")));
        assert_eq!(b.describe(), "bitcoin core http://127.0.0.1:8332");

        for bad in [
            "http://127.0.0.1:8332",
            "core+http://127.0.0.1:8332",
            "core+ftp://u:p@127.0.0.1:8332",
            "core+http://u:hunter2@127.0.0.1:8332?cookie=/x",
        ] {
            let e = CoreRpcBackend::new(bad).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(
                matches!(CoreRpcBackend::new(bad), Err(ChainError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("core+http://u:pw@h:1"), "core+http://u:***@h:1");
        assert_eq!(redact("core+http://h:1"), "core+http://h:1");
    }
}
