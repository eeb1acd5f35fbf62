//! The HTTP API: Esplora's REST subset under `/api`, `/devnet/mine` and `/devnet/faucet`,
//! and Bitcoin Core's JSON-RPC subset on `POST /`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::esplora::{TxValue, UtxoValue, lookup_tx, script_stats};
use super::index::{ScriptHash, script_hash};
use super::mempool::Reject;
use super::node::{BroadcastLimits, Devnet, DevnetError};
use super::state::{DevnetState, TaskFailed};
use crate::network::Network;
use crate::script::address::Address;
use crate::tx::{OutPoint, Transaction, Txid};
use crate::units::Amount;

/// Largest request body: a standard transaction is at most 400 kWU, 800 k hex chars.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Confirmed transactions per history page (Esplora's `CHAIN_TXS_PER_PAGE`).
const CHAIN_TXS_PER_PAGE: usize = 25;
/// Mempool transactions in a history answer (Esplora's `MAX_MEMPOOL_TXS`).
const MAX_MEMPOOL_TXS: usize = 50;

/// An error answer: a status and a text body (as Esplora answers errors).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }

    /// A mempool refusal as Esplora relays bitcoind's: `sendrawtransaction RPC error: {…}`.
    fn rejected(r: &Reject) -> Self {
        let rpc = json!({"code": r.kind.rpc_code(), "message": r.rpc_message()});
        Self::bad_request(format!("sendrawtransaction RPC error: {rpc}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, self.message).into_response()
    }
}

impl From<TaskFailed> for ApiError {
    fn from(e: TaskFailed) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<DevnetError> for ApiError {
    fn from(e: DevnetError) -> Self {
        match e {
            DevnetError::Rejected(r) => Self::rejected(&r),
            DevnetError::FaucetEmpty { .. } => Self::bad_request(e.to_string()),
            DevnetError::Kernel(why) => {
                tracing::error!("{why}");
                Self::internal(why)
            }
            other => Self::internal(other.to_string()),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Builds the router (no listener): Esplora under `/api`, devnet controls, RPC on `/`.
pub fn app(state: DevnetState) -> Router {
    let api = Router::new()
        .route("/tx", post(post_tx))
        .route("/tx/{txid}", get(get_tx))
        .route("/tx/{txid}/hex", get(get_tx_hex))
        .route("/tx/{txid}/status", get(get_tx_status))
        .route("/tx/{txid}/outspend/{vout}", get(get_tx_outspend))
        .route("/tx/{txid}/outspends", get(get_tx_outspends))
        .route("/address/{address}", get(address_stats))
        .route("/address/{address}/txs", get(address_txs))
        .route("/address/{address}/txs/mempool", get(address_txs_mempool))
        .route("/address/{address}/txs/chain", get(address_txs_chain))
        .route(
            "/address/{address}/txs/chain/{last}",
            get(address_txs_chain_after),
        )
        .route("/address/{address}/utxo", get(address_utxo))
        .route("/scripthash/{hash}", get(scripthash_stats))
        .route("/scripthash/{hash}/txs", get(scripthash_txs))
        .route(
            "/scripthash/{hash}/txs/mempool",
            get(scripthash_txs_mempool),
        )
        .route("/scripthash/{hash}/txs/chain", get(scripthash_txs_chain))
        .route(
            "/scripthash/{hash}/txs/chain/{last}",
            get(scripthash_txs_chain_after),
        )
        .route("/scripthash/{hash}/utxo", get(scripthash_utxo))
        .route("/mempool", get(mempool_stats))
        .route("/mempool/txids", get(mempool_txids))
        .route("/fee-estimates", get(fee_estimates))
        .route("/blocks/tip/height", get(tip_height))
        .route("/blocks/tip/hash", get(tip_hash))
        .route("/block-height/{height}", get(block_at_height));
    Router::new()
        .nest("/api", api)
        .route("/devnet/mine", post(mine))
        .route("/devnet/faucet", post(faucet))
        .route("/", post(super::rpc::handle))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// Serves the devnet on `listener` until `shutdown` resolves, mining a block every
/// `block_interval` if given. With feature `kernel`, a block libbitcoinkernel refuses
/// stops the server too.
///
/// # Errors
/// The server's I/O error, or why the devnet stopped itself.
pub async fn run(
    state: DevnetState,
    listener: tokio::net::TcpListener,
    block_interval: Option<Duration>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timer = block_interval.map(|every| {
        let state = state.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match state.blocking(|d| d.mine(1, None)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!("timed block: {e}"),
                    Err(e) => tracing::error!("timed block: {e}"),
                }
            }
        })
    });
    let halt = Arc::clone(&state.halt);
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = halt.notified() => {}
        }
    };
    let result = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(stop)
        .await;
    if let Some(t) = timer {
        t.abort();
    }
    result?;
    match state.lock().halted() {
        Some(why) => Err(std::io::Error::other(format!("devnet stopped: {why}"))),
        None => Ok(()),
    }
}

fn parse_txid(s: &str) -> ApiResult<Txid> {
    s.parse()
        .map_err(|_| ApiError::bad_request("Invalid hex string"))
}

fn parse_address(s: &str) -> ApiResult<ScriptHash> {
    let addr = Address::parse(s, Network::Regtest)
        .map_err(|e| ApiError::bad_request(format!("Invalid Bitcoin address: {e}")))?;
    Ok(script_hash(&addr.script_pubkey()))
}

fn parse_scripthash(s: &str) -> ApiResult<ScriptHash> {
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| ApiError::bad_request("Invalid scripthash"))
}

async fn post_tx(State(state): State<DevnetState>, body: String) -> ApiResult<String> {
    let tx = Transaction::from_hex(body.trim()).map_err(|e| {
        ApiError::bad_request(format!(
            "sendrawtransaction RPC error: {}",
            json!({"code": -22, "message": format!("TX decode failed. Make sure the tx has at least one input. ({e})")})
        ))
    })?;
    let txid = state
        .blocking(move |d| d.broadcast(&tx, &BroadcastLimits::default()))
        .await?
        .map_err(|r| ApiError::rejected(&r))?;
    Ok(txid.to_string())
}

async fn get_tx(State(state): State<DevnetState>, Path(txid): Path<String>) -> ApiResult<Response> {
    let txid = parse_txid(&txid)?;
    let tx = lookup_tx(&state.lock(), &txid)
        .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
    Ok(Json(tx).into_response())
}

async fn get_tx_hex(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<String> {
    let txid = parse_txid(&txid)?;
    let d = state.lock();
    let (tx, _, _) = d
        .transaction(&txid)
        .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
    Ok(tx.to_hex())
}

async fn get_tx_status(
    State(state): State<DevnetState>,
    Path(txid): Path<String>,
) -> ApiResult<Response> {
    let txid = parse_txid(&txid)?;
    let d = state.lock();
    // Esplora answers an unknown txid as unconfirmed.
    let conf = d.transaction(&txid).and_then(|(_, c, _)| c);
    Ok(Json(super::esplora::TxStatus::from(conf)).into_response())
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
            "status": super::esplora::TxStatus::from(conf),
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
    let txid = parse_txid(&txid)?;
    let d = state.lock();
    let (tx, _, _) = d
        .transaction(&txid)
        .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
    let spends = (0..u32::try_from(tx.output.len()).unwrap_or(u32::MAX))
        .map(|vout| outspend_json(&d, &OutPoint { txid, vout }))
        .collect();
    Ok(Json(Value::Array(spends)))
}

fn stats_json(d: &Devnet, key: &str, value: &str, sh: &ScriptHash) -> Value {
    let (chain, mempool) = script_stats(d, sh);
    json!({ key: value, "chain_stats": chain, "mempool_stats": mempool })
}

fn txs_json(
    d: &Devnet,
    sh: &ScriptHash,
    mempool: bool,
    chain_after: Option<Option<Txid>>,
) -> Vec<TxValue> {
    let (mem, conf) = d.history(sh);
    let mut out = Vec::new();
    if mempool {
        out.extend(
            mem.iter()
                .take(MAX_MEMPOOL_TXS)
                .filter_map(|t| lookup_tx(d, t)),
        );
    }
    if let Some(after) = chain_after {
        let start = after
            .and_then(|last| conf.iter().position(|t| *t == last).map(|p| p + 1))
            .unwrap_or(if after.is_some() { conf.len() } else { 0 });
        out.extend(
            conf.iter()
                .skip(start)
                .take(CHAIN_TXS_PER_PAGE)
                .filter_map(|t| lookup_tx(d, t)),
        );
    }
    out
}

fn utxo_json(d: &Devnet, sh: &ScriptHash) -> Vec<UtxoValue> {
    d.utxos(sh).into_iter().map(UtxoValue::from).collect()
}

async fn address_stats(
    State(s): State<DevnetState>,
    Path(a): Path<String>,
) -> ApiResult<Json<Value>> {
    let sh = parse_address(&a)?;
    Ok(Json(stats_json(&s.lock(), "address", &a, &sh)))
}

async fn scripthash_stats(
    State(s): State<DevnetState>,
    Path(h): Path<String>,
) -> ApiResult<Json<Value>> {
    let sh = parse_scripthash(&h)?;
    Ok(Json(stats_json(&s.lock(), "scripthash", &h, &sh)))
}

async fn address_txs(
    State(s): State<DevnetState>,
    Path(a): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_address(&a)?;
    Ok(Json(txs_json(&s.lock(), &sh, true, Some(None))))
}

async fn scripthash_txs(
    State(s): State<DevnetState>,
    Path(h): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_scripthash(&h)?;
    Ok(Json(txs_json(&s.lock(), &sh, true, Some(None))))
}

async fn address_txs_mempool(
    State(s): State<DevnetState>,
    Path(a): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_address(&a)?;
    Ok(Json(txs_json(&s.lock(), &sh, true, None)))
}

async fn scripthash_txs_mempool(
    State(s): State<DevnetState>,
    Path(h): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_scripthash(&h)?;
    Ok(Json(txs_json(&s.lock(), &sh, true, None)))
}

async fn address_txs_chain(
    State(s): State<DevnetState>,
    Path(a): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_address(&a)?;
    Ok(Json(txs_json(&s.lock(), &sh, false, Some(None))))
}

async fn scripthash_txs_chain(
    State(s): State<DevnetState>,
    Path(h): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_scripthash(&h)?;
    Ok(Json(txs_json(&s.lock(), &sh, false, Some(None))))
}

async fn address_txs_chain_after(
    State(s): State<DevnetState>,
    Path((a, last)): Path<(String, String)>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_address(&a)?;
    let last = parse_txid(&last)?;
    Ok(Json(txs_json(&s.lock(), &sh, false, Some(Some(last)))))
}

async fn scripthash_txs_chain_after(
    State(s): State<DevnetState>,
    Path((h, last)): Path<(String, String)>,
) -> ApiResult<Json<Vec<TxValue>>> {
    let sh = parse_scripthash(&h)?;
    let last = parse_txid(&last)?;
    Ok(Json(txs_json(&s.lock(), &sh, false, Some(Some(last)))))
}

async fn address_utxo(
    State(s): State<DevnetState>,
    Path(a): Path<String>,
) -> ApiResult<Json<Vec<UtxoValue>>> {
    let sh = parse_address(&a)?;
    Ok(Json(utxo_json(&s.lock(), &sh)))
}

async fn scripthash_utxo(
    State(s): State<DevnetState>,
    Path(h): Path<String>,
) -> ApiResult<Json<Vec<UtxoValue>>> {
    let sh = parse_scripthash(&h)?;
    Ok(Json(utxo_json(&s.lock(), &sh)))
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

async fn fee_estimates(State(s): State<DevnetState>) -> Json<Value> {
    let est = s.lock().mempool().fee_estimates();
    let map: serde_json::Map<String, Value> = est
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Json(Value::Object(map))
}

async fn tip_height(State(s): State<DevnetState>) -> String {
    s.lock().chain().height().to_string()
}

async fn tip_hash(State(s): State<DevnetState>) -> String {
    s.lock().chain().tip_hash().to_string()
}

async fn block_at_height(State(s): State<DevnetState>, Path(h): Path<u32>) -> ApiResult<String> {
    s.lock()
        .chain()
        .block_hash(h)
        .map(|h| h.to_string())
        .ok_or_else(|| ApiError::not_found("Block not found"))
}

/// `POST /devnet/mine` body.
#[derive(Debug, Deserialize)]
struct MineRequest {
    blocks: u32,
    address: Option<String>,
}

/// Most blocks one request may mine.
const MAX_MINE: u32 = 10_000;

async fn mine(
    State(s): State<DevnetState>,
    Json(req): Json<MineRequest>,
) -> ApiResult<Json<Value>> {
    if req.blocks > MAX_MINE {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_MINE} blocks per request"
        )));
    }
    let script = req
        .address
        .map(|a| {
            Address::parse(&a, Network::Regtest)
                .map(|a| a.script_pubkey())
                .map_err(|e| ApiError::bad_request(format!("Invalid Bitcoin address: {e}")))
        })
        .transpose()?;
    let hashes = s
        .blocking(move |d| d.mine(req.blocks, script.as_ref()))
        .await??;
    Ok(Json(json!({ "hashes": hashes })))
}

/// `POST /devnet/faucet` body.
#[derive(Debug, Deserialize)]
struct FaucetRequest {
    address: String,
    amount_sat: u64,
}

async fn faucet(
    State(s): State<DevnetState>,
    Json(req): Json<FaucetRequest>,
) -> ApiResult<Json<Value>> {
    let script = Address::parse(&req.address, Network::Regtest)
        .map_err(|e| ApiError::bad_request(format!("Invalid Bitcoin address: {e}")))?
        .script_pubkey();
    let amount = Amount::from_sat(req.amount_sat);
    if amount > Amount::MAX_MONEY {
        return Err(ApiError::bad_request("amount_sat above 21 million BTC"));
    }
    let txid = s.blocking(move |d| d.faucet(&script, amount)).await??;
    Ok(Json(json!({ "txid": txid })))
}
