//! `/address/:address/…` and `/scripthash/:hash/…`: one set of handlers for both, the
//! script picked by the [`ScriptTarget`] extractor.

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::response::Json;
use axum::routing::get;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, CHAIN_TXS_PER_PAGE, parse_txid};
use crate::devnet::esplora::{TxValue, UtxoValue, lookup_tx, script_stats};
use crate::devnet::index::{ScriptHash, script_hash};
use crate::devnet::node::Devnet;
use crate::devnet::state::DevnetState;
use crate::network::Network;
use crate::script::address::Address;
use crate::tx::Txid;

/// Mempool transactions in a history answer (Esplora's `MAX_MEMPOOL_TXS`).
const MAX_MEMPOOL_TXS: usize = 50;

/// The routes, each under `/address/{address}` and `/scripthash/{hash}`.
pub(super) fn routes() -> Router<DevnetState> {
    let mut router = Router::new();
    for prefix in ["/address/{address}", "/scripthash/{hash}"] {
        router = router
            .route(prefix, get(stats))
            .route(&format!("{prefix}/txs"), get(txs))
            .route(&format!("{prefix}/txs/mempool"), get(txs_mempool))
            .route(&format!("{prefix}/txs/chain"), get(txs_chain))
            .route(&format!("{prefix}/txs/chain/{{last}}"), get(txs_chain))
            .route(&format!("{prefix}/utxo"), get(utxo));
    }
    router
}

/// The script a request is about: an address (`{address}`: regtest, 400 `Invalid Bitcoin
/// address` otherwise) or an Esplora scripthash (`{hash}`: 64 hex characters, 400
/// `Invalid scripthash`), and the last txid seen (`{last}`) for chain history pages.
pub(super) struct ScriptTarget {
    /// `address` or `scripthash`: the key of the stats answer.
    kind: &'static str,
    /// The address or scripthash as asked.
    shown: String,
    /// The scripthash.
    hash: ScriptHash,
    /// The last txid of the previous page.
    last: Option<Txid>,
}

impl<S: Send + Sync> FromRequestParts<S> for ScriptTarget {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut target: Option<(&'static str, String, ScriptHash)> = None;
        let mut last = None;
        for (name, value) in &params {
            match name {
                "address" => {
                    let addr = Address::parse(value, Network::Regtest).map_err(|e| {
                        ApiError::bad_request(format!("Invalid Bitcoin address: {e}"))
                    })?;
                    let hash = script_hash(&addr.script_pubkey());
                    target = Some(("address", value.to_owned(), hash));
                }
                "hash" => {
                    let hash = hex::decode(value)
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .ok_or_else(|| ApiError::bad_request("Invalid scripthash"))?;
                    target = Some(("scripthash", value.to_owned(), hash));
                }
                "last" => last = Some(parse_txid(value)?),
                _ => {}
            }
        }
        let (kind, shown, hash) =
            target.ok_or_else(|| ApiError::internal("route without a script"))?;
        Ok(ScriptTarget {
            kind,
            shown,
            hash,
            last,
        })
    }
}

/// History: mempool transactions (newest first, at most 50) if `mempool`, then a page of
/// 25 confirmed ones (newest first) after `chain_after`'s txid if `Some`.
fn history(
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

async fn stats(State(s): State<DevnetState>, t: ScriptTarget) -> Json<Value> {
    let (chain, mempool) = script_stats(&s.lock(), &t.hash);
    Json(json!({ t.kind: t.shown, "chain_stats": chain, "mempool_stats": mempool }))
}

async fn txs(State(s): State<DevnetState>, t: ScriptTarget) -> Json<Vec<TxValue>> {
    Json(history(&s.lock(), &t.hash, true, Some(None)))
}

async fn txs_mempool(State(s): State<DevnetState>, t: ScriptTarget) -> Json<Vec<TxValue>> {
    Json(history(&s.lock(), &t.hash, true, None))
}

async fn txs_chain(State(s): State<DevnetState>, t: ScriptTarget) -> Json<Vec<TxValue>> {
    Json(history(&s.lock(), &t.hash, false, Some(t.last)))
}

async fn utxo(State(s): State<DevnetState>, t: ScriptTarget) -> ApiResult<Json<Vec<UtxoValue>>> {
    let d = s.lock();
    Ok(Json(
        d.utxos(&t.hash).into_iter().map(UtxoValue::from).collect(),
    ))
}
