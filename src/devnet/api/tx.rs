//! Transactions (`/tx/…`, `POST /tx`, `POST /txs/package`), the mempool (`/mempool…`)
//! and `/fee-estimates`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, parse_txid};
use crate::devnet::esplora::{RecentTx, TxStatus, lookup_tx};
use crate::devnet::merkle::{merkle_block, merkle_branch};
use crate::devnet::node::{BroadcastLimits, Devnet};
use crate::devnet::package::decode_package;
use crate::devnet::state::DevnetState;
use crate::tx::package::MAX_PACKAGE_COUNT;
use crate::tx::{OutPoint, Transaction, Txid};
use crate::units::{Amount, FeeRate, SAT_PER_BTC};

/// Transactions in `GET /mempool/recent`.
const RECENT_TXS: usize = 10;

/// The routes.
pub(super) fn routes() -> Router<DevnetState> {
    Router::new()
        .route("/tx", post(post_tx))
        .route("/txs/package", post(post_package))
        .route("/tx/{txid}", get(get_tx))
        .route("/tx/{txid}/hex", get(get_tx_hex))
        .route("/tx/{txid}/raw", get(get_tx_raw))
        .route("/tx/{txid}/status", get(get_tx_status))
        .route("/tx/{txid}/outspend/{vout}", get(get_tx_outspend))
        .route("/tx/{txid}/outspends", get(get_tx_outspends))
        .route("/tx/{txid}/merkle-proof", get(get_merkle_proof))
        .route("/tx/{txid}/merkleblock-proof", get(get_merkleblock_proof))
        .route("/mempool", get(mempool_stats))
        .route("/mempool/txids", get(mempool_txids))
        .route("/mempool/recent", get(mempool_recent))
        .route("/fee-estimates", get(fee_estimates))
}

/// An RPC refusal as electrs relays bitcoind's: `METHOD RPC error: {"code","message"}`.
fn rpc_error(method: &str, code: i32, message: &str) -> ApiError {
    let rpc = json!({"code": code, "message": message});
    ApiError::bad_request(format!("{method} RPC error: {rpc}"))
}

async fn post_tx(State(state): State<DevnetState>, body: String) -> ApiResult<String> {
    let tx = Transaction::from_hex(body.trim()).map_err(|e| {
        rpc_error(
            "sendrawtransaction",
            -22,
            &format!("TX decode failed. Make sure the tx has at least one input. ({e})"),
        )
    })?;
    let txid = state
        .blocking(move |d| d.broadcast(&tx, &BroadcastLimits::default()))
        .await?
        .map_err(|r| ApiError::rejected(&r))?;
    Ok(txid.to_string())
}

/// A `maxfeerate` (BTC/kvB) or `maxburnamount` (BTC) query parameter, in satoshis.
fn query_sats(q: &HashMap<String, String>, name: &str) -> ApiResult<Option<u64>> {
    let Some(v) = q.get(name) else {
        return Ok(None);
    };
    let btc: f64 = v
        .parse()
        .ok()
        .filter(|b: &f64| (0.0..=21e6).contains(b))
        .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}")))?;
    Ok(Some((btc * SAT_PER_BTC as f64).round() as u64))
}

/// `POST /txs/package`: a JSON array of hex transactions (a child and its parents,
/// sorted), `?maxfeerate=`/`?maxburnamount=` as `submitpackage`'s; Core's answer. Like
/// electrs, at most 25 items of 120 to 800,000 hex characters each are passed on.
async fn post_package(
    State(state): State<DevnetState>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> ApiResult<Json<Value>> {
    let raws: Vec<String> =
        serde_json::from_str(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // electrs' own checks before it asks the node.
    if raws.len() > MAX_PACKAGE_COUNT {
        return Err(ApiError::bad_request(format!(
            "Exceeded maximum of {MAX_PACKAGE_COUNT} transactions"
        )));
    }
    for (index, raw) in raws.iter().enumerate() {
        if !(120..800_000).contains(&raw.len()) {
            return Err(ApiError::bad_request(format!(
                "Invalid transaction size for item {index}"
            )));
        }
        if hex::decode(raw).is_err() {
            return Err(ApiError::bad_request(format!(
                "Invalid transaction hex for item {index}"
            )));
        }
    }
    let max_burn = query_sats(&q, "maxburnamount")?.map_or(Amount::ZERO, Amount::from_sat);
    let limits = BroadcastLimits {
        max_fee_rate: query_sats(&q, "maxfeerate")?.map_or(
            BroadcastLimits::default().max_fee_rate,
            FeeRate::from_sat_per_kvb,
        ),
        max_burn,
    };
    let refs: Vec<&str> = raws.iter().map(String::as_str).collect();
    let txs = decode_package(&refs, max_burn)
        .map_err(|e| rpc_error("submitpackage", e.code, &e.message))?;
    let outcome = state
        .blocking(move |d| d.submit_package(&txs, &limits))
        .await?;
    Ok(Json(outcome.to_json()))
}

async fn get_tx(State(state): State<DevnetState>, Path(txid): Path<String>) -> ApiResult<Response> {
    let txid = parse_txid(&txid)?;
    let tx = lookup_tx(&state.lock(), &txid)
        .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
    Ok(Json(tx).into_response())
}

fn find_tx(d: &Devnet, txid: &str) -> ApiResult<Transaction> {
    let txid = parse_txid(txid)?;
    d.transaction(&txid)
        .map(|(tx, _, _)| tx)
        .ok_or_else(|| ApiError::not_found("Transaction not found"))
}

async fn get_tx_hex(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<String> {
    Ok(find_tx(&state.lock(), &txid)?.to_hex())
}

async fn get_tx_raw(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<Response> {
    let raw = find_tx(&state.lock(), &txid)?.serialize();
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], raw).into_response())
}

async fn get_tx_status(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<Response> {
    let txid = parse_txid(&txid)?;
    let d = state.lock();
    // Esplora answers an unknown txid as unconfirmed.
    let conf = d.transaction(&txid).and_then(|(_, c, _)| c);
    Ok(Json(TxStatus::from(conf)).into_response())
}

/// One output's spend, in Esplora's shape: `{"spent":false}` or
/// `{"spent":true,"txid","vin","status"}`.
fn outspend_json(d: &Devnet, outpoint: &OutPoint) -> Value {
    match d.outspend(outpoint) {
        None => json!({ "spent": false }),
        Some((txid, vin, conf)) => json!({
            "spent": true,
            "txid": txid,
            "vin": vin,
            "status": TxStatus::from(conf),
        }),
    }
}

async fn get_tx_outspend(
    State(state): State<DevnetState>,
    Path((txid, vout)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let txid = parse_txid(&txid)?;
    let vout: u32 = vout
        .parse()
        .map_err(|_| ApiError::bad_request("Invalid output index"))?;
    Ok(Json(outspend_json(&state.lock(), &OutPoint { txid, vout })))
}

async fn get_tx_outspends(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = state.lock();
    let tx = find_tx(&d, &txid)?;
    let txid = tx.txid();
    let spends = (0..u32::try_from(tx.output.len()).unwrap_or(u32::MAX))
        .map(|vout| outspend_json(&d, &OutPoint { txid, vout }))
        .collect();
    Ok(Json(Value::Array(spends)))
}

/// A confirmed transaction's block: its height, the block's txids and its position;
/// 404 `Transaction not found or is unconfirmed` otherwise.
fn confirmed_in(d: &Devnet, txid: &str) -> ApiResult<(u32, Vec<[u8; 32]>, usize)> {
    let txid: Txid = parse_txid(txid)?;
    let unconfirmed = || ApiError::not_found("Transaction not found or is unconfirmed");
    let loc = d.chain().tx_location(&txid).ok_or_else(unconfirmed)?;
    let block = d.chain().block(loc.height).ok_or_else(unconfirmed)?;
    let txids = block
        .txdata
        .iter()
        .map(|t| t.txid().to_byte_array())
        .collect();
    Ok((loc.height, txids, loc.pos as usize))
}

/// `GET /tx/:txid/merkle-proof`: Electrum's `{"block_height","merkle","pos"}`, the
/// sibling hashes shown byte-reversed, leaf first.
async fn get_merkle_proof(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<Json<Value>> {
    let (height, txids, pos) = confirmed_in(&state.lock(), &txid)?;
    let merkle: Vec<String> = merkle_branch(&txids, pos)
        .ok_or_else(|| ApiError::internal("transaction position out of range"))?
        .into_iter()
        .map(|mut h| {
            h.reverse();
            hex::encode(h)
        })
        .collect();
    Ok(Json(
        json!({ "block_height": height, "merkle": merkle, "pos": pos }),
    ))
}

/// `GET /tx/:txid/merkleblock-proof`: Core's `gettxoutproof` serialization, hex.
async fn get_merkleblock_proof(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<String> {
    let d = state.lock();
    let (height, txids, pos) = confirmed_in(&d, &txid)?;
    let header = d
        .chain()
        .block(height)
        .map(|b| b.header)
        .ok_or_else(|| ApiError::internal("block vanished"))?;
    merkle_block(&header, &txids, pos)
        .map(hex::encode)
        .ok_or_else(|| ApiError::internal("transaction position out of range"))
}

async fn mempool_stats(State(s): State<DevnetState>) -> Json<Value> {
    let d = s.lock();
    let entries = d.mempool().entries_in_order();
    let vsize: u64 = entries.iter().map(|e| e.vsize).sum();
    let total_fee: u64 = entries.iter().map(|e| e.fee.to_sat()).sum();
    Json(json!({
        "count": entries.len(),
        "vsize": vsize,
        "total_fee": total_fee,
        "fee_histogram": [],
    }))
}

async fn mempool_txids(State(s): State<DevnetState>) -> Json<Vec<Txid>> {
    let d = s.lock();
    Json(
        d.mempool()
            .entries_in_order()
            .iter()
            .map(|e| e.txid)
            .collect(),
    )
}

/// `GET /mempool/recent`: the last 10 transactions to enter, newest first.
async fn mempool_recent(State(s): State<DevnetState>) -> Json<Vec<RecentTx>> {
    let d = s.lock();
    let recent = d
        .mempool()
        .entries_in_order()
        .iter()
        .rev()
        .take(RECENT_TXS)
        .map(|e| RecentTx {
            txid: e.txid,
            fee: e.fee.to_sat(),
            vsize: e.vsize,
            value: e.tx.output.iter().map(|o| o.value.to_sat()).sum(),
        })
        .collect();
    Json(recent)
}

async fn fee_estimates(State(s): State<DevnetState>) -> Json<Value> {
    let est = s.lock().mempool().fee_estimates();
    let map: serde_json::Map<String, Value> = est
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Json(Value::Object(map))
}
