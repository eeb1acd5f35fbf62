//! The chain's methods: getblockcount, getbestblockhash, getblockchaininfo,
//! getblockhash, getblock, getblockheader, getchaintips, generatetoaddress.

use serde_json::{Value, json};

use super::decode::{script_pubkey_json, tx_json};
use super::{
    RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RpcError, btc, err,
    param_str, param_u64,
};
use crate::devnet::block::{Block, BlockHash, compact_to_target};
use crate::devnet::chain::Chain;
use crate::devnet::node::Devnet;
use crate::network::Network;
use crate::script::address::Address;
use crate::tx::TxOut;

/// Core's difficulty of a regtest block (`0x207fffff` against mainnet's `0x1d00ffff`).
const REGTEST_DIFFICULTY: f64 = 4.656_542_373_906_925e-10;

/// Core's `nChainWork` of the block at `height`: regtest blocks each carry 2 units of
/// work (target `0x7fffff << 232`).
fn chainwork(height: u32) -> String {
    format!("{:064x}", (u64::from(height) + 1) * 2)
}

pub(super) fn getblockcount(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(d.chain().height()))
}

pub(super) fn getbestblockhash(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(d.chain().tip_hash()))
}

pub(super) fn getblockchaininfo(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
    let h = d.chain().height();
    let tip = d.chain().block(h).map_or(0, |b| b.header.time);
    Ok(json!({
        "chain": "regtest",
        "blocks": h,
        "headers": h,
        "bestblockhash": d.chain().tip_hash(),
        "difficulty": REGTEST_DIFFICULTY,
        "time": tip,
        "mediantime": d.chain().median_time_past(h),
        "verificationprogress": 1,
        "initialblockdownload": false,
        "chainwork": chainwork(h),
        "size_on_disk": 0,
        "pruned": false,
        "warnings": [],
    }))
}

pub(super) fn getblockhash(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let h = param_u64(params, 0, "height")?;
    u32::try_from(h)
        .ok()
        .and_then(|h| d.chain().block_hash(h))
        .map(|hash| json!(hash))
        .ok_or_else(|| err(RPC_INVALID_PARAMETER, "Block height out of range"))
}

pub(super) fn generatetoaddress(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let n = param_u64(params, 0, "nblocks")?;
    let addr = Address::parse(&param_str(params, 1, "address")?, Network::Regtest)
        .map_err(|_| err(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?;
    let n = u32::try_from(n).map_err(|_| err(RPC_INVALID_PARAMETER, "too many blocks"))?;
    d.mine(n, Some(&addr.script_pubkey()))
        .map(|h| json!(h))
        .map_err(|e| err(RPC_MISC_ERROR, e.to_string()))
}

/// Core's `ParseHashV` of a block hash, then the block: -8 for a malformed hash, -5
/// `Block not found`.
fn param_block<'a>(chain: &'a Chain, params: &[Value]) -> Result<(u32, &'a Block), RpcError> {
    let s = param_str(params, 0, "blockhash")?;
    if s.len() != 64 {
        return Err(err(
            RPC_INVALID_PARAMETER,
            format!(
                "blockhash must be of length 64 (not {}, for '{s}')",
                s.len()
            ),
        ));
    }
    let hash: BlockHash = s.parse().map_err(|_| {
        err(
            RPC_INVALID_PARAMETER,
            format!("blockhash must be hexadecimal string (not '{s}')"),
        )
    })?;
    let not_found = || err(RPC_INVALID_ADDRESS_OR_KEY, "Block not found");
    let height = chain.height_of(&hash).ok_or_else(not_found)?;
    Ok((height, chain.block(height).ok_or_else(not_found)?))
}

/// Core's `blockheaderToJSON`.
fn header_json(chain: &Chain, height: u32, block: &Block) -> Value {
    let h = &block.header;
    let mut root = h.merkle_root;
    root.reverse();
    let target = compact_to_target(h.bits)
        .map(hex::encode)
        .unwrap_or_default();
    let mut v = json!({
        "hash": block.block_hash(),
        "confirmations": chain.height() - height + 1,
        "height": height,
        "version": h.version,
        "versionHex": format!("{:08x}", h.version),
        "merkleroot": hex::encode(root),
        "time": h.time,
        "mediantime": chain.median_time_past(height),
        "nonce": h.nonce,
        "bits": format!("{:08x}", h.bits),
        "target": target,
        "difficulty": REGTEST_DIFFICULTY,
        "chainwork": chainwork(height),
        "nTx": block.txdata.len(),
    });
    if height > 0 {
        v["previousblockhash"] = json!(h.prev_blockhash);
    }
    if let Some(next) = chain.block_hash(height + 1) {
        v["nextblockhash"] = json!(next);
    }
    v
}

/// A block's spent outputs per transaction (none for the coinbase): Core's undo data.
fn spent_outputs(chain: &Chain, block: &Block) -> Vec<Option<Vec<TxOut>>> {
    block
        .txdata
        .iter()
        .map(|tx| {
            (!tx.is_coinbase()).then(|| {
                tx.input
                    .iter()
                    .filter_map(|i| chain.output(&i.previous_output).cloned())
                    .collect()
            })
        })
        .collect()
}

/// `getblock hash (verbosity)`: 0 the raw block hex, 1 (default) the header fields with
/// sizes and txids, 2 the transactions as `decoderawtransaction` with `fee` and `hex`,
/// 3 also each input's `prevout`.
pub(super) fn getblock(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let chain = d.chain();
    let (height, block) = param_block(chain, params)?;
    let verbosity = match params.get(1) {
        None | Some(Value::Null) => 1,
        Some(Value::Bool(b)) => u64::from(*b),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| err(super::RPC_TYPE_ERROR, "Expected type number for verbosity"))?,
    };
    if verbosity == 0 {
        return Ok(json!(hex::encode(block.serialize())));
    }
    let mut v = header_json(chain, height, block);
    // weight = 3 × stripped size + size.
    let size = block.serialize().len() as u64;
    let weight = block.weight().to_wu();
    v["strippedsize"] = json!((weight - size) / 3);
    v["size"] = json!(size);
    v["weight"] = json!(weight);
    let cb = &block.txdata[0];
    let mut coinbase = json!({
        "version": cb.version,
        "locktime": cb.lock_time,
        "sequence": cb.input[0].sequence,
        "coinbase": cb.input[0].script_sig.to_hex(),
    });
    if let Some(w) = cb.input[0].witness.items().first() {
        coinbase["witness"] = json!(hex::encode(w));
    }
    v["coinbase_tx"] = coinbase;
    v["tx"] = if verbosity == 1 {
        json!(block.txdata.iter().map(|t| t.txid()).collect::<Vec<_>>())
    } else {
        let spent = spent_outputs(chain, block);
        json!(
            block
                .txdata
                .iter()
                .zip(&spent)
                .map(|(tx, prevouts)| {
                    let mut t = tx_json(tx, prevouts.as_deref(), true);
                    if verbosity >= 3
                        && let Some(prevouts) = prevouts
                    {
                        add_prevouts(chain, tx, prevouts, &mut t);
                    }
                    t
                })
                .collect::<Vec<_>>()
        )
    };
    Ok(v)
}

/// Verbosity 3: each input's `prevout` {`generated`, `height`, `value`, `scriptPubKey`}.
pub(super) fn add_prevouts(
    chain: &Chain,
    tx: &crate::tx::Transaction,
    prevouts: &[TxOut],
    t: &mut Value,
) {
    for (i, (txin, prev)) in tx.input.iter().zip(prevouts).enumerate() {
        let loc = chain.tx_location(&txin.previous_output.txid);
        t["vin"][i]["prevout"] = json!({
            "generated": loc.is_some_and(|l| l.pos == 0),
            "height": loc.map_or(0, |l| l.height),
            "value": btc(prev.value.to_sat()),
            "scriptPubKey": script_pubkey_json(&prev.script_pubkey),
        });
    }
}

/// `getblockheader hash (verbose=true)`: the header fields, or its 80 bytes in hex.
pub(super) fn getblockheader(d: &mut Devnet, params: &[Value]) -> Result<Value, RpcError> {
    let chain = d.chain();
    let (height, block) = param_block(chain, params)?;
    let verbose = params.get(1).and_then(Value::as_bool).unwrap_or(true);
    if verbose {
        Ok(header_json(chain, height, block))
    } else {
        Ok(json!(hex::encode(block.header.serialize())))
    }
}

/// `getchaintips`: the devnet has one chain, so one active tip.
pub(super) fn getchaintips(d: &mut Devnet, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!([{
        "height": d.chain().height(),
        "hash": d.chain().tip_hash(),
        "branchlen": 0,
        "status": "active",
    }]))
}
