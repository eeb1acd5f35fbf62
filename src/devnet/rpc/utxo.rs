//! The UTXO set's methods: gettxout and scantxoutset (`addr(…)`, `raw(…)`).

use serde_json::{Value, json};

use super::{
    RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RpcError, btc, err,
    param_str, param_txid, param_u64,
};
use crate::descriptor::checksum;
use crate::devnet::node::Devnet;
use crate::network::Network;
use crate::script::ScriptBuf;
use crate::script::address::Address;

/// Core's `gettxout txid n include_mempool`: an unspent output (from the UTXO set, or a
/// mempool transaction's when `include_mempool`), `null` when spent or unknown.
pub(super) fn gettxout(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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

pub(super) fn scantxoutset(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
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
