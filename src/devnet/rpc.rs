//! A Bitcoin Core JSON-RPC subset on `POST /`, with Core's error codes, for tools that
//! speak to a node: getblockchaininfo, getblockcount, getbestblockhash,
//! getrawtransaction, sendrawtransaction, testmempoolaccept, generatetoaddress,
//! estimatesmartfee, scantxoutset (`addr(…)`, `raw(…)`), getblockhash, getrawmempool,
//! getmempoolentry, getmempoolinfo and gettxout; batches too (what ferry's Core backend asks).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::mempool::{ESPLORA_TARGETS, INCREMENTAL_RELAY_FEE, MIN_RELAY_FEE, RejectKind};
use super::node::{BroadcastLimits, Devnet};
use super::state::DevnetState;
use crate::descriptor::checksum;
use crate::network::Network;
use crate::script::ScriptBuf;
use crate::script::address::Address;
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

fn dispatch(d: &mut Devnet, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match method {
        "getblockcount" => Ok(json!(d.chain().height())),
        "getbestblockhash" => Ok(json!(d.chain().tip_hash())),
        "getblockchaininfo" => {
            let h = d.chain().height();
            let tip = d.chain().block(h).map_or(0, |b| b.header.time);
            // Regtest blocks each carry 2 units of work (target 0x7fffff << 232).
            let chainwork = format!("{:064x}", (u64::from(h) + 1) * 2);
            Ok(json!({
                "chain": "regtest",
                "blocks": h,
                "headers": h,
                "bestblockhash": d.chain().tip_hash(),
                "difficulty": 4.656542373906925e-10,
                "time": tip,
                "mediantime": d.chain().median_time_past(h),
                "verificationprogress": 1,
                "initialblockdownload": false,
                "chainwork": chainwork,
                "size_on_disk": 0,
                "pruned": false,
                "warnings": [],
            }))
        }
        "getrawtransaction" => {
            let txid = param_txid(params, 0)?;
            let verbose = params
                .get(1)
                .is_some_and(|v| v.as_bool() == Some(true) || v.as_u64().is_some_and(|n| n > 0));
            let (tx, conf, _) = d.transaction(&txid).ok_or_else(|| {
                err(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
                )
            })?;
            if !verbose {
                return Ok(json!(tx.to_hex()));
            }
            let mut v = json!({
                "txid": txid,
                "hash": tx.wtxid().to_string(),
                "hex": tx.to_hex(),
                "size": tx.total_size(),
                "vsize": tx.vsize(),
                "weight": tx.weight().to_wu(),
                "version": tx.version,
                "locktime": tx.lock_time,
            });
            if let Some(c) = conf {
                v["blockhash"] = json!(c.hash);
                v["confirmations"] = json!(d.chain().height() - c.height + 1);
                v["time"] = json!(c.time);
                v["blocktime"] = json!(c.time);
            }
            Ok(v)
        }
        "sendrawtransaction" => {
            let tx = decode_tx(&param_str(params, 0, "hexstring")?)?;
            let limits = BroadcastLimits {
                max_fee_rate: param_fee_rate(params, 1)?,
                max_burn: param_amount(params, 2, "maxburnamount")?
                    .unwrap_or(BroadcastLimits::default().max_burn),
            };
            d.broadcast(&tx, &limits)
                .map(|txid| json!(txid))
                .map_err(|r| err(r.kind.rpc_code(), r.rpc_message()))
        }
        "testmempoolaccept" => {
            let raws = params
                .first()
                .and_then(Value::as_array)
                .ok_or_else(|| err(RPC_TYPE_ERROR, "Expected type array for rawtxs"))?;
            let limits = BroadcastLimits {
                max_fee_rate: param_fee_rate(params, 1)?,
                ..BroadcastLimits::default()
            };
            let mut out = Vec::new();
            for raw in raws {
                let tx = decode_tx(raw.as_str().unwrap_or_default())?;
                let mut v = json!({"txid": tx.txid(), "wtxid": tx.wtxid().to_string()});
                match d.test_accept(&tx) {
                    Ok(a) if limits.exceeded_by(&a) => {
                        v["allowed"] = json!(false);
                        v["reject-reason"] = json!("max-fee-exceeded");
                    }
                    Ok(a) => {
                        v["allowed"] = json!(true);
                        v["vsize"] = json!(a.entry.vsize);
                        v["fees"] = json!({"base": btc(a.entry.fee.to_sat())});
                    }
                    // Core names missing inputs so here, without details.
                    Err(r) if r.kind == RejectKind::MissingInputs => {
                        v["allowed"] = json!(false);
                        v["reject-reason"] = json!("missing-inputs");
                    }
                    Err(r) => {
                        v["allowed"] = json!(false);
                        v["reject-reason"] = json!(r.reason);
                        v["reject-details"] = json!(r.to_string());
                    }
                }
                out.push(v);
            }
            Ok(json!(out))
        }
        "generatetoaddress" => {
            let n = param_u64(params, 0, "nblocks")?;
            let addr = Address::parse(&param_str(params, 1, "address")?, Network::Regtest)
                .map_err(|_| err(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?;
            let n = u32::try_from(n).map_err(|_| err(RPC_INVALID_PARAMETER, "too many blocks"))?;
            d.mine(n, Some(&addr.script_pubkey()))
                .map(|h| json!(h))
                .map_err(|e| err(RPC_MISC_ERROR, e.to_string()))
        }
        "estimatesmartfee" => {
            let target = param_u64(params, 0, "conf_target")?.clamp(1, 1008);
            let est = d.mempool().fee_estimates();
            let key = ESPLORA_TARGETS
                .iter()
                .copied()
                .find(|t| u64::from(*t) >= target)
                .unwrap_or(1008);
            let sat_vb = est.get(&key).copied().unwrap_or(1.0);
            Ok(json!({"feerate": sat_vb * 1000.0 / SAT_PER_BTC as f64, "blocks": key}))
        }
        "scantxoutset" => scantxoutset(d, params),
        "getblockhash" => {
            let h = param_u64(params, 0, "height")?;
            u32::try_from(h)
                .ok()
                .and_then(|h| d.chain().block_hash(h))
                .map(|hash| json!(hash))
                .ok_or_else(|| err(RPC_INVALID_PARAMETER, "Block height out of range"))
        }
        "getrawmempool" => {
            let txids: Vec<Value> = d
                .mempool()
                .entries_in_order()
                .iter()
                .map(|e| json!(e.txid))
                .collect();
            Ok(Value::Array(txids))
        }
        "getmempoolentry" => {
            let txid = param_txid(params, 0)?;
            let e = d
                .mempool()
                .get(&txid)
                .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool"))?;
            Ok(json!({
                "vsize": e.vsize,
                "weight": e.tx.weight().to_wu(),
                "fees": {"base": btc(e.fee.to_sat())},
                "bip125-replaceable": e.tx.input.iter().any(|i| i.sequence <= 0xffff_fffd),
            }))
        }
        "gettxout" => gettxout(d, params),
        "getmempoolinfo" => {
            let m = d.mempool();
            let floor = btc(MIN_RELAY_FEE.to_sat_per_kvb());
            Ok(json!({
                "loaded": true,
                "size": m.len(),
                "minrelaytxfee": floor,
                "mempoolminfee": floor,
                "incrementalrelayfee": btc(INCREMENTAL_RELAY_FEE.to_sat_per_kvb()),
                "fullrbf": true,
            }))
        }
        _ => Err(err(RPC_METHOD_NOT_FOUND, "Method not found")),
    }
}

fn param_txid(params: &[Value], i: usize) -> Result<Txid, RpcError> {
    param_str(params, i, "txid")?
        .parse()
        .map_err(|_| err(RPC_INVALID_PARAMETER, "txid must be of length 64 (not hex)"))
}

/// Core's `gettxout txid n include_mempool`: an unspent output (from the UTXO set, or a
/// mempool transaction's when `include_mempool`), `null` when spent or unknown.
fn gettxout(d: &Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let txid = param_txid(params, 0)?;
    let vout = u32::try_from(param_u64(params, 1, "n")?)
        .map_err(|_| err(RPC_INVALID_PARAMETER, "n out of range"))?;
    let include_mempool = params.get(2).and_then(Value::as_bool).unwrap_or(true);
    let op = crate::tx::OutPoint { txid, vout };
    let tip = d.chain().height();
    let (output, confirmations, coinbase) = if include_mempool {
        if d.mempool().spender(&op).is_some() {
            return Ok(Value::Null);
        }
        match d.mempool().get(&txid) {
            Some(e) => match e.tx.output.get(vout as usize) {
                Some(o) => (o.clone(), 0, false),
                None => return Ok(Value::Null),
            },
            None => match d.chain().coin(&op) {
                Some(c) => (c.output.clone(), tip - c.height + 1, c.is_coinbase),
                None => return Ok(Value::Null),
            },
        }
    } else {
        match d.chain().coin(&op) {
            Some(c) => (c.output.clone(), tip - c.height + 1, c.is_coinbase),
            None => return Ok(Value::Null),
        }
    };
    Ok(json!({
        "bestblock": d.chain().tip_hash(),
        "confirmations": confirmations,
        "value": btc(output.value.to_sat()),
        "scriptPubKey": {"hex": output.script_pubkey.to_hex()},
        "coinbase": coinbase,
    }))
}

fn descriptor_script(desc: &str) -> Result<ScriptBuf, RpcError> {
    let body = desc.split_once('#').map_or(desc, |(b, _)| b);
    let invalid = || {
        err(
            RPC_INVALID_ADDRESS_OR_KEY,
            format!("'{desc}' is not a valid descriptor function"),
        )
    };
    if let Some(a) = body.strip_prefix("addr(").and_then(|r| r.strip_suffix(')')) {
        Address::parse(a, Network::Regtest)
            .map(|a| a.script_pubkey())
            .map_err(|_| {
                err(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    format!("Address is not valid: {a}"),
                )
            })
    } else if let Some(h) = body.strip_prefix("raw(").and_then(|r| r.strip_suffix(')')) {
        ScriptBuf::from_hex(h).map_err(|_| err(RPC_INVALID_ADDRESS_OR_KEY, "Raw script is not hex"))
    } else {
        Err(invalid())
    }
}

fn scantxoutset(d: &Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let action = param_str(params, 0, "action")?;
    match action.as_str() {
        "start" => {}
        "status" => return Ok(Value::Null),
        "abort" => return Ok(json!(false)),
        _ => return Err(err(RPC_INVALID_PARAMETER, "Invalid action")),
    }
    let descs = params.get(1).and_then(Value::as_array).ok_or_else(|| {
        err(
            RPC_MISC_ERROR,
            "scanobjects argument is required for the start action",
        )
    })?;
    let mut wanted: Vec<(ScriptBuf, String)> = Vec::new();
    for dv in descs {
        let desc = dv
            .as_str()
            .or_else(|| dv.get("desc").and_then(Value::as_str))
            .ok_or_else(|| {
                err(
                    RPC_INVALID_PARAMETER,
                    "Scan object needs to be either a string or an object",
                )
            })?;
        let script = descriptor_script(desc)?;
        let plain = desc.split_once('#').map_or(desc, |(b, _)| b).to_owned();
        let with_sum = checksum(&plain).map_or(plain.clone(), |c| format!("{plain}#{c}"));
        wanted.push((script, with_sum));
    }
    let chain = d.chain();
    let tip = chain.height();
    let mut unspents = Vec::new();
    let mut total = 0u64;
    let wanted: std::collections::HashMap<ScriptBuf, String> = wanted.into_iter().collect();
    let mut found: Vec<_> = chain
        .utxos()
        .filter_map(|(op, coin)| {
            let desc = wanted.get(&coin.output.script_pubkey)?;
            Some((*op, coin.clone(), desc.clone()))
        })
        .collect();
    found.sort_by_key(|(op, c, _)| (c.height, op.txid, op.vout));
    for (op, coin, desc) in found {
        total += coin.output.value.to_sat();
        unspents.push(json!({
            "txid": op.txid,
            "vout": op.vout,
            "scriptPubKey": coin.output.script_pubkey.to_hex(),
            "desc": desc,
            "amount": btc(coin.output.value.to_sat()),
            "coinbase": coin.is_coinbase,
            "height": coin.height,
            "blockhash": chain.block_hash(coin.height),
            "confirmations": tip - coin.height + 1,
        }));
    }
    Ok(json!({
        "success": true,
        "txouts": chain.utxo_count(),
        "height": tip,
        "bestblock": chain.tip_hash(),
        "unspents": unspents,
        "total_amount": btc(total),
    }))
}
