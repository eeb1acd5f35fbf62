//! A Bitcoin Core JSON-RPC subset on `POST /`, with Core's shapes and error codes, for
//! tools that speak to a node; batches too. `chain`: getblockcount, getbestblockhash,
//! getblockchaininfo, getblockhash, getblock (verbosity 0–3), getblockheader,
//! getchaintips, generatetoaddress. `txs`: getrawtransaction (verbosity 0–2, blockhash),
//! decoderawtransaction, sendrawtransaction, testmempoolaccept, submitpackage,
//! estimatesmartfee, getrawmempool, getmempoolentry, getmempoolinfo. `utxo`:
//! scantxoutset (`addr(…)`, `raw(…)`), gettxout. `decode`: Core's transaction JSON.

mod chain;
mod decode;
mod txs;
mod utxo;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::node::{BroadcastLimits, Devnet};
use super::state::DevnetState;
use crate::tx::{Transaction, Txid};
use crate::units::{Amount, FeeRate, SAT_PER_BTC};

/// Core's `RPC_MISC_ERROR`.
const RPC_MISC_ERROR: i32 = -1;
/// Core's `RPC_TYPE_ERROR`.
const RPC_TYPE_ERROR: i32 = -3;
/// Core's `RPC_INVALID_ADDRESS_OR_KEY`.
const RPC_INVALID_ADDRESS_OR_KEY: i32 = -5;
/// Core's `RPC_INVALID_PARAMETER`.
const RPC_INVALID_PARAMETER: i32 = -8;
/// Core's `RPC_DESERIALIZATION_ERROR`.
const RPC_DESERIALIZATION_ERROR: i32 = -22;
/// Core's `RPC_INVALID_REQUEST`.
const RPC_INVALID_REQUEST: i32 = -32600;
/// Core's `RPC_METHOD_NOT_FOUND`.
const RPC_METHOD_NOT_FOUND: i32 = -32601;
/// Core's `RPC_PARSE_ERROR`.
const RPC_PARSE_ERROR: i32 = -32700;

struct RpcError {
    code: i32,
    message: String,
}

fn err(code: i32, message: impl Into<String>) -> RpcError {
    RpcError {
        code,
        message: message.into(),
    }
}

fn btc(sats: u64) -> Value {
    json!(sats as f64 / SAT_PER_BTC as f64)
}

/// Handles a JSON-RPC request or a batch of them. Core's two styles: a 1.0 request's error
/// comes with HTTP 500 (404 for an unknown method); a `"jsonrpc": "2.0"` request's, and a
/// batch's, with HTTP 200.
pub async fn handle(State(state): State<DevnetState>, body: String) -> Response {
    let req: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return reply(Value::Null, Err(err(RPC_PARSE_ERROR, "Parse error")), false),
    };
    if let Value::Array(calls) = req {
        let answers = state
            .blocking(move |d| {
                calls
                    .iter()
                    .map(|c| {
                        let (id, result, _) = call(d, c);
                        answer(id, result)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        return match answers {
            Ok(a) => Json(Value::Array(a)).into_response(),
            Err(e) => reply(Value::Null, Err(err(RPC_MISC_ERROR, e.to_string())), true),
        };
    }
    match state.blocking(move |d| call(d, &req)).await {
        Ok((id, result, v2)) => reply(id, result, v2),
        Err(e) => reply(Value::Null, Err(err(RPC_MISC_ERROR, e.to_string())), false),
    }
}

/// One call: its id, its outcome, and whether it asked for JSON-RPC 2.0.
fn call(d: &mut Devnet, req: &Value) -> (Value, Result<Value, RpcError>, bool) {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let v2 = req.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return (
            id,
            Err(err(RPC_INVALID_REQUEST, "Method must be a string")),
            v2,
        );
    };
    let params = match req.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return (
                id,
                Err(err(RPC_INVALID_REQUEST, "Params must be an array")),
                v2,
            );
        }
    };
    let result = dispatch(d, method, &params);
    (id, result, v2)
}

fn answer(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(v) => json!({"result": v, "error": null, "id": id}),
        Err(e) => {
            json!({"result": null, "error": {"code": e.code, "message": e.message}, "id": id})
        }
    }
}

fn reply(id: Value, result: Result<Value, RpcError>, v2: bool) -> Response {
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(_) if v2 => StatusCode::OK,
        Err(e) if e.code == RPC_METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(answer(id, result))).into_response()
}

fn param_str(params: &[Value], i: usize, name: &str) -> Result<String, RpcError> {
    params
        .get(i)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| err(RPC_TYPE_ERROR, format!("Expected type string for {name}")))
}

fn param_u64(params: &[Value], i: usize, name: &str) -> Result<u64, RpcError> {
    params
        .get(i)
        .and_then(Value::as_u64)
        .ok_or_else(|| err(RPC_TYPE_ERROR, format!("Expected type number for {name}")))
}

/// An amount in BTC (a JSON number or numeric string, as Core's `AmountFromValue`);
/// `None` when absent or null.
fn param_amount(params: &[Value], i: usize, name: &str) -> Result<Option<Amount>, RpcError> {
    let bad = || err(RPC_TYPE_ERROR, format!("Invalid amount for {name}"));
    let btc = match params.get(i) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !(0.0..=21e6).contains(&btc) {
        return Err(err(RPC_TYPE_ERROR, "Amount out of range"));
    }
    Ok(Some(Amount::from_sat(
        (btc * SAT_PER_BTC as f64).round() as u64
    )))
}

/// `maxfeerate` in BTC/kvB (Core's default 0.10 when absent; 0 turns the check off).
fn param_fee_rate(params: &[Value], i: usize) -> Result<FeeRate, RpcError> {
    Ok(param_amount(params, i, "maxfeerate")?
        .map_or(BroadcastLimits::default().max_fee_rate, |a| {
            FeeRate::from_sat_per_kvb(a.to_sat())
        }))
}

fn decode_tx(hex: &str) -> Result<Transaction, RpcError> {
    Transaction::from_hex(hex).map_err(|_| {
        err(
            RPC_DESERIALIZATION_ERROR,
            "TX decode failed. Make sure the tx has at least one input.",
        )
    })
}

/// The methods, each its own function (Core's `CRPCTable`).
type Method = fn(&mut Devnet, &[Value]) -> Result<Value, RpcError>;

const METHODS: &[(&str, Method)] = &[
    ("getblockcount", chain::getblockcount),
    ("getbestblockhash", chain::getbestblockhash),
    ("getblockchaininfo", chain::getblockchaininfo),
    ("getblockhash", chain::getblockhash),
    ("getblock", chain::getblock),
    ("getblockheader", chain::getblockheader),
    ("getchaintips", chain::getchaintips),
    ("generatetoaddress", chain::generatetoaddress),
    ("getrawtransaction", txs::getrawtransaction),
    ("decoderawtransaction", txs::decoderawtransaction),
    ("sendrawtransaction", txs::sendrawtransaction),
    ("testmempoolaccept", txs::testmempoolaccept),
    ("submitpackage", txs::submitpackage),
    ("estimatesmartfee", txs::estimatesmartfee),
    ("getrawmempool", txs::getrawmempool),
    ("getmempoolentry", txs::getmempoolentry),
    ("getmempoolinfo", txs::getmempoolinfo),
    ("scantxoutset", utxo::scantxoutset),
    ("gettxout", utxo::gettxout),
];

fn dispatch(d: &mut Devnet, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match METHODS.iter().find(|(name, _)| *name == method) {
        Some((_, f)) => f(d, params),
        None => Err(err(RPC_METHOD_NOT_FOUND, "Method not found")),
    }
}

fn param_txid(params: &[Value], i: usize) -> Result<Txid, RpcError> {
    param_str(params, i, "txid")?
        .parse()
        .map_err(|_| err(RPC_INVALID_PARAMETER, "txid must be of length 64 (not hex)"))
}
