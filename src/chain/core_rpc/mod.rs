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

mod scan;
mod transport;

use scan::CoreTxOut;

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
        Box::pin(self.scan(scripts))
    }

    fn mempool_view<'a>(
        &'a self,
        coins: &'a [OutPoint],
    ) -> BoxFuture<'a, Result<MempoolView, ChainError>> {
        Box::pin(self.mempool_view_of(coins))
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
