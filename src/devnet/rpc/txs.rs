//! The transaction and mempool methods: getrawtransaction, decoderawtransaction,
//! sendrawtransaction, testmempoolaccept, submitpackage, estimatesmartfee,
//! getrawmempool, getmempoolentry, getmempoolinfo.

use serde_json::{Value, json};

use super::chain::add_prevouts;
use super::decode::tx_json;
use super::{
    RPC_DESERIALIZATION_ERROR, RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_TYPE_ERROR,
    RpcError, btc, decode_tx, err, param_amount, param_fee_rate, param_str, param_txid, param_u64,
};
use crate::devnet::block::BlockHash;
use crate::devnet::mempool::{ESPLORA_TARGETS, INCREMENTAL_RELAY_FEE, MIN_RELAY_FEE, RejectKind};
use crate::devnet::node::{BroadcastLimits, Devnet};
use crate::devnet::package::decode_package;
use crate::tx::Transaction;
use crate::units::SAT_PER_BTC;

const NO_SUCH_TX: &str =
    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.";

/// `getrawtransaction txid (verbosity) (blockhash)`: the hex, or with verbosity 1 (or
/// `true`) Core's transaction JSON with `hex` and, when confirmed, `blockhash`,
/// `confirmations`, `time` and `blocktime`; verbosity 2 adds `fee` and each input's
/// `prevout` for a confirmed transaction. With `blockhash` the
/// transaction is looked for in that block only, and `in_active_chain` comes first.
pub(super) fn getrawtransaction(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let txid = param_txid(params, 0)?;
    let verbosity = match params.get(1) {
        Some(Value::Bool(b)) => u64::from(*b),
        Some(v) => v.as_u64().unwrap_or(0),
        None => 0,
    };
    let in_block = match params.get(2) {
        None | Some(Value::Null) => None,
        Some(_) => {
            let s = param_str(params, 2, "blockhash")?;
            let hash: BlockHash = s.parse().map_err(|_| {
                err(
                    RPC_INVALID_PARAMETER,
                    format!(
                        "blockhash must be of length 64 (not {}, for '{s}')",
                        s.len()
                    ),
                )
            })?;
            let height = d
                .chain()
                .height_of(&hash)
                .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
            Some(height)
        }
    };
    let (tx, conf, prevouts) = d
        .transaction(&txid)
        .filter(|(_, c, _)| in_block.is_none_or(|h| c.is_some_and(|c| c.height == h)))
        .ok_or_else(|| match in_block {
            Some(_) => err(
                RPC_INVALID_ADDRESS_OR_KEY,
                "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
            ),
            None => err(RPC_INVALID_ADDRESS_OR_KEY, NO_SUCH_TX),
        })?;
    if verbosity == 0 {
        return Ok(json!(tx.to_hex()));
    }
    let mut v = json!({});
    if in_block.is_some() {
        v["in_active_chain"] = json!(true);
    }
    // Verbosity 2: the fee and each input's prevout, for a confirmed transaction (Core
    // reads them from the block's undo data).
    let spent: Option<Vec<_>> = (verbosity >= 2 && conf.is_some() && !tx.is_coinbase())
        .then(|| prevouts.into_iter().collect::<Option<Vec<_>>>())
        .flatten();
    let mut fields = tx_json(&tx, spent.as_deref(), true);
    if let Some(spent) = &spent {
        add_prevouts(d.chain(), &tx, spent, &mut fields);
    }
    if let (Value::Object(out), Value::Object(fields)) = (&mut v, fields) {
        out.extend(fields);
    }
    if let Some(c) = conf {
        v["blockhash"] = json!(c.hash);
        v["confirmations"] = json!(d.chain().height() - c.height + 1);
        v["time"] = json!(c.time);
        v["blocktime"] = json!(c.time);
    }
    Ok(v)
}

/// `decoderawtransaction hexstring`: Core's transaction JSON (no `hex`, no `fee`).
pub(super) fn decoderawtransaction(_: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let tx = Transaction::from_hex(&param_str(params, 0, "hexstring")?)
        .map_err(|_| err(RPC_DESERIALIZATION_ERROR, "TX decode failed"))?;
    Ok(tx_json(&tx, None, false))
}

pub(super) fn sendrawtransaction(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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

pub(super) fn testmempoolaccept(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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

/// `submitpackage package (maxfeerate) (maxburnamount)`: Core's answer
/// (`package_msg`, `tx-results`, `replaced-transactions`); argument errors with Core's
/// codes (-8 count, -22 decode, -25 burn or topology).
pub(super) fn submitpackage(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let raws = params
        .first()
        .and_then(Value::as_array)
        .ok_or_else(|| err(RPC_TYPE_ERROR, "Expected type array for package"))?;
    let raws: Vec<&str> = raws
        .iter()
        .map(|r| {
            r.as_str()
                .ok_or_else(|| err(RPC_TYPE_ERROR, "Expected type string for rawtx"))
        })
        .collect::<Result<_, _>>()?;
    let max_fee_rate = param_fee_rate(params, 1)?;
    let max_burn =
        param_amount(params, 2, "maxburnamount")?.unwrap_or(BroadcastLimits::default().max_burn);
    let txs = decode_package(&raws, max_burn).map_err(|e| err(e.code, e.message))?;
    let limits = BroadcastLimits {
        max_fee_rate,
        max_burn,
    };
    Ok(d.submit_package(&txs, &limits).to_json())
}

pub(super) fn estimatesmartfee(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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

pub(super) fn getrawmempool(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
    let txids: Vec<Value> = d
        .mempool()
        .entries_in_order()
        .iter()
        .map(|e| json!(e.txid))
        .collect();
    Ok(Value::Array(txids))
}

pub(super) fn getmempoolentry(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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

pub(super) fn getmempoolinfo(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
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
