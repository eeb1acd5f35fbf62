//! Blocks: `/blocks[/:start_height]`, `/blocks/tip/{height,hash}`, `/block-height/:h`
//! and `/block/:hash[/status|/txids|/txs[/:start]|/header|/raw|/txid/:index]`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use super::{ApiError, ApiResult, CHAIN_TXS_PER_PAGE, parse_block_hash, parse_number};
use crate::devnet::block::Block;
use crate::devnet::esplora::{BlockStatus, BlockValue, TxValue, tx_value};
use crate::devnet::node::Devnet;
use crate::devnet::state::DevnetState;
use crate::tx::Txid;

/// Blocks in a `/blocks` answer (Esplora's `BLOCK_LIMIT`).
const BLOCK_LIMIT: u32 = 10;

/// The routes.
pub(super) fn routes() -> Router<DevnetState> {
    Router::new()
        .route("/blocks", get(blocks_from_tip))
        .route("/blocks/{start}", get(blocks_from))
        .route("/blocks/tip/height", get(tip_height))
        .route("/blocks/tip/hash", get(tip_hash))
        .route("/block-height/{height}", get(block_at_height))
        .route("/block/{hash}", get(block))
        .route("/block/{hash}/status", get(status))
        .route("/block/{hash}/txids", get(txids))
        .route("/block/{hash}/txs", get(txs_first))
        .route("/block/{hash}/txs/{start}", get(txs_from))
        .route("/block/{hash}/header", get(header_hex))
        .route("/block/{hash}/raw", get(raw))
        .route("/block/{hash}/txid/{index}", get(txid_at))
}

/// The block with hash `hash` and its height: 400 for a malformed hash, 404 `Block not
/// found` for an unknown one.
fn find<'a>(d: &'a Devnet, hash: &str) -> ApiResult<(u32, &'a Block)> {
    let hash = parse_block_hash(hash)?;
    let height = d
        .chain()
        .height_of(&hash)
        .ok_or_else(|| ApiError::not_found("Block not found"))?;
    let block = d
        .chain()
        .block(height)
        .ok_or_else(|| ApiError::not_found("Block not found"))?;
    Ok((height, block))
}

/// Up to ten blocks, newest first, from `start` down.
fn blocks_down_from(d: &Devnet, start: u32) -> ApiResult<Json<Vec<BlockValue>>> {
    if start > d.chain().height() {
        return Err(ApiError::not_found("Block not found"));
    }
    let lowest = start.saturating_sub(BLOCK_LIMIT - 1);
    Ok(Json(
        (lowest..=start)
            .rev()
            .filter_map(|h| BlockValue::at(d.chain(), h))
            .collect(),
    ))
}

async fn blocks_from_tip(State(s): State<DevnetState>) -> ApiResult<Json<Vec<BlockValue>>> {
    let d = s.lock();
    blocks_down_from(&d, d.chain().height())
}

/// `/blocks/:start_height`; like electrs, a start that is not a number means the tip.
async fn blocks_from(
    State(s): State<DevnetState>,
    Path(start): Path<String>,
) -> ApiResult<Json<Vec<BlockValue>>> {
    let d = s.lock();
    let start = start.parse().unwrap_or(d.chain().height());
    blocks_down_from(&d, start)
}

async fn tip_height(State(s): State<DevnetState>) -> String {
    s.lock().chain().height().to_string()
}

async fn tip_hash(State(s): State<DevnetState>) -> String {
    s.lock().chain().tip_hash().to_string()
}

async fn block_at_height(State(s): State<DevnetState>, Path(h): Path<String>) -> ApiResult<String> {
    let h: u32 = parse_number(&h)?;
    s.lock()
        .chain()
        .block_hash(h)
        .map(|h| h.to_string())
        .ok_or_else(|| ApiError::not_found("Block not found"))
}

async fn block(
    State(s): State<DevnetState>,
    Path(hash): Path<String>,
) -> ApiResult<Json<BlockValue>> {
    let d = s.lock();
    let (height, _) = find(&d, &hash)?;
    BlockValue::at(d.chain(), height)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Block not found"))
}

/// `/block/:hash/status`: an unknown hash is `{"in_best_chain":false,…}`, as electrs
/// answers orphaned and unknown blocks alike.
async fn status(
    State(s): State<DevnetState>,
    Path(hash): Path<String>,
) -> ApiResult<Json<BlockStatus>> {
    let hash = parse_block_hash(&hash)?;
    Ok(Json(BlockStatus::of(s.lock().chain(), &hash)))
}

async fn txids(
    State(s): State<DevnetState>,
    Path(hash): Path<String>,
) -> ApiResult<Json<Vec<Txid>>> {
    let d = s.lock();
    let (_, block) = find(&d, &hash)?;
    Ok(Json(block.txdata.iter().map(|t| t.txid()).collect()))
}

/// 25 transactions from `start` (a multiple of 25: 400 otherwise; 404 past the end).
fn txs_page(d: &Devnet, hash: &str, start: usize) -> ApiResult<Json<Vec<TxValue>>> {
    let (height, block) = find(d, hash)?;
    if start >= block.txdata.len() {
        return Err(ApiError::not_found("start index out of range"));
    }
    if !start.is_multiple_of(CHAIN_TXS_PER_PAGE) {
        return Err(ApiError::bad_request(format!(
            "start index must be a multipication of {CHAIN_TXS_PER_PAGE}"
        )));
    }
    let confirmation = d.confirmation(height);
    let page = block
        .txdata
        .iter()
        .skip(start)
        .take(CHAIN_TXS_PER_PAGE)
        .map(|tx| {
            let prevouts: Vec<_> = tx
                .input
                .iter()
                .map(|i| {
                    (!tx.is_coinbase())
                        .then(|| d.chain().output(&i.previous_output).cloned())
                        .flatten()
                })
                .collect();
            tx_value(tx, confirmation, &prevouts)
        })
        .collect();
    Ok(Json(page))
}

async fn txs_first(
    State(s): State<DevnetState>,
    Path(hash): Path<String>,
) -> ApiResult<Json<Vec<TxValue>>> {
    txs_page(&s.lock(), &hash, 0)
}

/// `/block/:hash/txs/:start`; like electrs, a start that is not a number means 0.
async fn txs_from(
    State(s): State<DevnetState>,
    Path((hash, start)): Path<(String, String)>,
) -> ApiResult<Json<Vec<TxValue>>> {
    txs_page(&s.lock(), &hash, start.parse().unwrap_or(0))
}

async fn header_hex(State(s): State<DevnetState>, Path(hash): Path<String>) -> ApiResult<String> {
    let d = s.lock();
    let (_, block) = find(&d, &hash)?;
    Ok(hex::encode(block.header.serialize()))
}

async fn raw(State(s): State<DevnetState>, Path(hash): Path<String>) -> ApiResult<Response> {
    let d = s.lock();
    let (_, block) = find(&d, &hash)?;
    let raw = block.serialize();
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], raw).into_response())
}

async fn txid_at(
    State(s): State<DevnetState>,
    Path((hash, index)): Path<(String, String)>,
) -> ApiResult<String> {
    let d = s.lock();
    let (_, block) = find(&d, &hash)?;
    let index: usize = parse_number(&index)?;
    block
        .txdata
        .get(index)
        .map(|t| t.txid().to_string())
        .ok_or_else(|| ApiError::not_found("tx index out of range"))
}
