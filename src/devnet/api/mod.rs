//! The HTTP API: Esplora's REST API under `/api` (as Blockstream's electrs serves it:
//! `tx` transactions, mempool and packages, `block` blocks, `script` addresses and
//! scripthashes), `/devnet/mine` and `/devnet/faucet`, and Bitcoin Core's JSON-RPC subset
//! on `POST /`.

mod block;
mod script;
mod tx;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::block::BlockHash;
use super::mempool::Reject;
use super::node::DevnetError;
use super::state::{DevnetState, TaskFailed};
use crate::network::Network;
use crate::script::address::Address;
use crate::tx::Txid;
use crate::units::Amount;

/// Largest request body: a standard transaction is at most 400 kWU, 800 k hex chars.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Confirmed transactions per page of history and of a block (Esplora's
/// `CHAIN_TXS_PER_PAGE`).
const CHAIN_TXS_PER_PAGE: usize = 25;

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
        .merge(tx::routes())
        .merge(block::routes())
        .merge(script::routes());
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

/// A txid from a path: 400 `Invalid hex string` when it is not one.
fn parse_txid(s: &str) -> ApiResult<Txid> {
    s.parse()
        .map_err(|_| ApiError::bad_request("Invalid hex string"))
}

/// A block hash from a path: 400 `Invalid hex string` when it is not one.
fn parse_block_hash(s: &str) -> ApiResult<BlockHash> {
    s.parse()
        .map_err(|_| ApiError::bad_request("Invalid hex string"))
}

/// A number from a path: 400 `Invalid number` when it is not one.
fn parse_number<T: std::str::FromStr>(s: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|_| ApiError::bad_request("Invalid number"))
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
