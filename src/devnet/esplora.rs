//! Esplora's JSON shapes (Blockstream/esplora `API.md`, as electrs serializes them):
//! transactions, statuses, UTXOs, address stats, and rust-bitcoin's script asm.

use serde::Serialize;

use super::block::BlockHash;
use super::chain::Chain;
use super::index::ScriptHash;
use super::node::{Confirmation, Devnet, Utxo};
use crate::network::Network;
use crate::script::ScriptBuf;
use crate::script::address::Address;
use crate::script::opcodes;
use crate::tx::{Transaction, TxIn, TxOut, Txid};

/// `status`: `block_*` fields only when confirmed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TxStatus {
    /// Whether the transaction is in a block.
    pub confirmed: bool,
    /// The block height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u32>,
    /// The block hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<BlockHash>,
    /// The block time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_time: Option<u32>,
}

impl From<Option<Confirmation>> for TxStatus {
    fn from(c: Option<Confirmation>) -> Self {
        TxStatus {
            confirmed: c.is_some(),
            block_height: c.map(|c| c.height),
            block_hash: c.map(|c| c.hash),
            block_time: c.map(|c| c.time),
        }
    }
}

/// An output (`vout[]` and `vin[].prevout`).
#[derive(Debug, Clone, Serialize)]
pub struct TxOutValue {
    /// The script, hex.
    pub scriptpubkey: String,
    /// The script as rust-bitcoin asm.
    pub scriptpubkey_asm: String,
    /// `p2pkh`, `p2sh`, `v0_p2wpkh`, `v0_p2wsh`, `v1_p2tr`, `op_return`, …
    pub scriptpubkey_type: &'static str,
    /// The regtest address, when the script has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scriptpubkey_address: Option<String>,
    /// The value in satoshis.
    pub value: u64,
}

impl From<&TxOut> for TxOutValue {
    fn from(o: &TxOut) -> Self {
        TxOutValue {
            scriptpubkey: o.script_pubkey.to_hex(),
            scriptpubkey_asm: script_asm(o.script_pubkey.as_bytes()),
            scriptpubkey_type: scriptpubkey_type(&o.script_pubkey),
            scriptpubkey_address: Address::from_script(&o.script_pubkey, Network::Regtest)
                .map(|a| a.to_string()),
            value: o.value.to_sat(),
        }
    }
}

/// An input (`vin[]`).
#[derive(Debug, Clone, Serialize)]
pub struct TxInValue {
    /// The spent transaction.
    pub txid: Txid,
    /// The spent output index.
    pub vout: u32,
    /// The spent output (`null` for a coinbase).
    pub prevout: Option<TxOutValue>,
    /// The scriptSig, hex.
    pub scriptsig: String,
    /// The scriptSig as asm.
    pub scriptsig_asm: String,
    /// The witness items, hex (absent when empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Vec<String>>,
    /// Whether this is a coinbase input.
    pub is_coinbase: bool,
    /// nSequence.
    pub sequence: u32,
    /// The P2SH redeem script as asm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_redeemscript_asm: Option<String>,
    /// The P2WSH witness script (or tapscript) as asm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_witnessscript_asm: Option<String>,
}

/// A transaction (`GET /tx/:txid`, history entries).
#[derive(Debug, Clone, Serialize)]
pub struct TxValue {
    /// The txid.
    pub txid: Txid,
    /// nVersion.
    pub version: u32,
    /// nLockTime.
    pub locktime: u32,
    /// Inputs.
    pub vin: Vec<TxInValue>,
    /// Outputs.
    pub vout: Vec<TxOutValue>,
    /// Serialized size, witnesses included.
    pub size: u32,
    /// Weight units.
    pub weight: u64,
    /// The fee in satoshis (0 for a coinbase).
    pub fee: u64,
    /// Confirmation status.
    pub status: TxStatus,
}

/// An unspent output (`GET /address/:a/utxo`).
#[derive(Debug, Clone, Serialize)]
pub struct UtxoValue {
    /// The txid.
    pub txid: Txid,
    /// The output index.
    pub vout: u32,
    /// The funding transaction's status.
    pub status: TxStatus,
    /// The value in satoshis.
    pub value: u64,
}

impl From<Utxo> for UtxoValue {
    fn from(u: Utxo) -> Self {
        UtxoValue {
            txid: u.outpoint.txid,
            vout: u.outpoint.vout,
            status: u.confirmed.into(),
            value: u.value.to_sat(),
        }
    }
}

/// `chain_stats` / `mempool_stats` of `GET /address/:a`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScriptStats {
    /// Transactions touching the script.
    pub tx_count: u64,
    /// Outputs paying to it.
    pub funded_txo_count: u64,
    /// Their sum.
    pub funded_txo_sum: u64,
    /// Outputs of it spent.
    pub spent_txo_count: u64,
    /// Their sum.
    pub spent_txo_sum: u64,
}

/// A block (`GET /block/:hash`, `/blocks`), as electrs serializes it.
#[derive(Debug, Clone, Serialize)]
pub struct BlockValue {
    /// The block hash.
    pub id: BlockHash,
    /// The height.
    pub height: u32,
    /// nVersion.
    pub version: u32,
    /// nTime.
    pub timestamp: u32,
    /// Transactions in the block.
    pub tx_count: u32,
    /// Serialized size in bytes.
    pub size: u32,
    /// Weight units.
    pub weight: u64,
    /// The merkle root, shown byte-reversed.
    pub merkle_root: String,
    /// The previous block's hash (`null` for genesis).
    pub previousblockhash: Option<BlockHash>,
    /// The median time past of this block (BIP-0113).
    pub mediantime: u32,
    /// nNonce.
    pub nonce: u32,
    /// nBits, as a number.
    pub bits: u32,
    /// Difficulty relative to the network's easiest target: 1 on regtest.
    pub difficulty: u64,
}

impl BlockValue {
    /// Builds the JSON of the block at `height` of `chain`.
    pub fn at(chain: &Chain, height: u32) -> Option<Self> {
        let block = chain.block(height)?;
        let h = &block.header;
        let mut root = h.merkle_root;
        root.reverse();
        Some(BlockValue {
            id: block.block_hash(),
            height,
            version: h.version as u32,
            timestamp: h.time,
            tx_count: u32::try_from(block.txdata.len()).ok()?,
            size: u32::try_from(block.serialize().len()).ok()?,
            weight: block.weight().to_wu(),
            merkle_root: hex::encode(root),
            previousblockhash: (height > 0).then_some(h.prev_blockhash),
            mediantime: chain.median_time_past(height),
            nonce: h.nonce,
            bits: h.bits,
            difficulty: 1,
        })
    }
}

/// `GET /block/:hash/status`: `height` and `next_best` are `null` when not in the chain
/// (and `next_best` for the tip).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockStatus {
    /// Whether the block is in the best chain.
    pub in_best_chain: bool,
    /// Its height.
    pub height: Option<u32>,
    /// The next block's hash.
    pub next_best: Option<BlockHash>,
}

impl BlockStatus {
    /// The status of `hash` in `chain`.
    pub fn of(chain: &Chain, hash: &BlockHash) -> Self {
        let height = chain.height_of(hash);
        BlockStatus {
            in_best_chain: height.is_some(),
            height,
            next_best: height.and_then(|h| chain.block_hash(h + 1)),
        }
    }
}

/// An entry of `GET /mempool/recent`.
#[derive(Debug, Clone, Serialize)]
pub struct RecentTx {
    /// The txid.
    pub txid: Txid,
    /// The fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
    /// The sum of its outputs in satoshis.
    pub value: u64,
}

/// Esplora's `scriptpubkey_type` names (electrs' classification).
pub fn scriptpubkey_type(script: &ScriptBuf) -> &'static str {
    let b = script.as_bytes();
    if b.is_empty() {
        "empty"
    } else if b[0] == opcodes::OP_RETURN {
        "op_return"
    } else if (b.len() == 35 && b[0] == 33 || b.len() == 67 && b[0] == 65)
        && b[b.len() - 1] == opcodes::OP_CHECKSIG
    {
        "p2pk"
    } else if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "v0_p2wpkh"
    } else if script.is_p2wsh() {
        "v0_p2wsh"
    } else if script.is_p2tr() {
        "v1_p2tr"
    } else {
        "unknown"
    }
}

/// rust-bitcoin's asm, which Esplora shows: `OP_0 OP_PUSHBYTES_20 <hex>`, `OP_PUSHNUM_1`,
/// `OP_CLTV`, `OP_RETURN_187` for undefined opcodes.
pub fn script_asm(b: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let op = b[i];
        i += 1;
        let (len_bytes, name) = match op {
            0x01..=0x4b => (0, format!("OP_PUSHBYTES_{op}")),
            opcodes::OP_PUSHDATA1 => (1, "OP_PUSHDATA1".to_owned()),
            opcodes::OP_PUSHDATA2 => (2, "OP_PUSHDATA2".to_owned()),
            opcodes::OP_PUSHDATA4 => (4, "OP_PUSHDATA4".to_owned()),
            _ => {
                parts.push(opcode_name(op));
                continue;
            }
        };
        let len = if len_bytes == 0 {
            usize::from(op)
        } else {
            let Some(l) = b.get(i..i + len_bytes) else {
                parts.push("<unexpected end>".into());
                break;
            };
            i += len_bytes;
            let mut buf = [0u8; 4];
            buf[..len_bytes].copy_from_slice(l);
            u32::from_le_bytes(buf) as usize
        };
        let Some(data) = b.get(i..i.saturating_add(len)) else {
            parts.push("<push past end>".into());
            break;
        };
        i += len;
        parts.push(format!("{name} {}", hex::encode(data)));
    }
    parts.join(" ")
}

fn opcode_name(op: u8) -> String {
    match op {
        0x00 => "OP_0".into(),
        0x4f => "OP_PUSHNUM_NEG1".into(),
        0x51..=0x60 => format!("OP_PUSHNUM_{}", op - 0x50),
        0x89 => "OP_RESERVED1".into(),
        0x8a => "OP_RESERVED2".into(),
        0xb1 => "OP_CLTV".into(),
        0xb2 => "OP_CSV".into(),
        0xbb..=0xfe => format!("OP_RETURN_{op}"),
        0xff => "OP_INVALIDOPCODE".into(),
        _ => opcodes::name(op).map_or_else(|| format!("OP_UNKNOWN_{op}"), |n| format!("OP_{n}")),
    }
}

fn last_push(script: &ScriptBuf) -> Option<Vec<u8>> {
    match script.instructions().last()? {
        Ok(crate::script::Instruction::Push(d)) => Some(d.to_vec()),
        _ => None,
    }
}

fn inner_scripts(txin: &TxIn, prevout: &TxOut) -> (Option<String>, Option<String>) {
    let redeem = prevout
        .script_pubkey
        .is_p2sh()
        .then(|| last_push(&txin.script_sig))
        .flatten()
        .map(ScriptBuf::from_bytes);
    let items = txin.witness.items();
    let wsh = prevout.script_pubkey.is_p2wsh() || redeem.as_ref().is_some_and(ScriptBuf::is_p2wsh);
    let witness_script = if wsh {
        items.last().cloned()
    } else if prevout.script_pubkey.is_p2tr() {
        // Script path: [..., script, control block], an annex (0x50…) last if present.
        let n = items.len()
            - usize::from(
                items.len() >= 2 && items.last().is_some_and(|a| a.first() == Some(&0x50)),
            );
        (n >= 2).then(|| items[n - 2].clone())
    } else {
        None
    };
    (
        redeem.map(|r| script_asm(r.as_bytes())),
        witness_script.map(|w| script_asm(&w)),
    )
}

/// Builds Esplora's transaction JSON.
pub fn tx_value(
    tx: &Transaction,
    confirmation: Option<Confirmation>,
    prevouts: &[Option<TxOut>],
) -> TxValue {
    let is_coinbase = tx.is_coinbase();
    let vin = tx
        .input
        .iter()
        .zip(prevouts)
        .map(|(txin, prevout)| {
            let (redeem, witness_script) = prevout
                .as_ref()
                .map_or((None, None), |p| inner_scripts(txin, p));
            TxInValue {
                txid: txin.previous_output.txid,
                vout: txin.previous_output.vout,
                prevout: prevout.as_ref().map(TxOutValue::from),
                scriptsig: txin.script_sig.to_hex(),
                scriptsig_asm: script_asm(txin.script_sig.as_bytes()),
                witness: (!txin.witness.is_empty())
                    .then(|| txin.witness.items().iter().map(hex::encode).collect()),
                is_coinbase,
                sequence: txin.sequence,
                inner_redeemscript_asm: redeem,
                inner_witnessscript_asm: witness_script,
            }
        })
        .collect();
    let value_in: u64 = prevouts.iter().flatten().map(|p| p.value.to_sat()).sum();
    let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    TxValue {
        txid: tx.txid(),
        version: tx.version as u32,
        locktime: tx.lock_time,
        vin,
        vout: tx.output.iter().map(TxOutValue::from).collect(),
        size: tx.total_size() as u32,
        weight: tx.weight().to_wu(),
        fee: if is_coinbase {
            0
        } else {
            value_in.saturating_sub(value_out)
        },
        status: confirmation.into(),
    }
}

/// Looks a transaction up and builds its JSON.
pub fn lookup_tx(devnet: &Devnet, txid: &Txid) -> Option<TxValue> {
    let (tx, conf, prevouts) = devnet.transaction(txid)?;
    Some(tx_value(&tx, conf, &prevouts))
}

/// `chain_stats` and `mempool_stats` for a scripthash.
pub fn script_stats(devnet: &Devnet, sh: &ScriptHash) -> (ScriptStats, ScriptStats) {
    let (mempool, confirmed) = devnet.history(sh);
    let stats = |txids: &[Txid]| {
        let mut s = ScriptStats {
            tx_count: txids.len() as u64,
            ..ScriptStats::default()
        };
        for txid in txids {
            let Some((tx, _, prevouts)) = devnet.transaction(txid) else {
                continue;
            };
            for p in prevouts.iter().flatten() {
                if super::index::script_hash(&p.script_pubkey) == *sh {
                    s.spent_txo_count += 1;
                    s.spent_txo_sum += p.value.to_sat();
                }
            }
            for o in &tx.output {
                if super::index::script_hash(&o.script_pubkey) == *sh {
                    s.funded_txo_count += 1;
                    s.funded_txo_sum += o.value.to_sat();
                }
            }
        }
        s
    };
    (stats(&confirmed), stats(&mempool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asm_like_rust_bitcoin() {
        let s = ScriptBuf::new_p2wpkh(&[0xab; 20]);
        assert_eq!(
            script_asm(s.as_bytes()),
            format!("OP_0 OP_PUSHBYTES_20 {}", "ab".repeat(20))
        );
        let p2pkh = ScriptBuf::new_p2pkh(&[1; 20]);
        assert_eq!(
            script_asm(p2pkh.as_bytes()),
            format!(
                "OP_DUP OP_HASH160 OP_PUSHBYTES_20 {} OP_EQUALVERIFY OP_CHECKSIG",
                "01".repeat(20)
            )
        );
        assert_eq!(
            script_asm(&[0x51, 0xb1, 0xbb]),
            "OP_PUSHNUM_1 OP_CLTV OP_RETURN_187"
        );
        assert_eq!(script_asm(&[0x4c, 0x02, 0xaa]), "<push past end>");
    }
}
