//! Bitcoin Core's JSON for transactions and scripts (`TxToUniv`, `ScriptToUniv`,
//! `ScriptToAsmStr`): what `decoderawtransaction`, `getrawtransaction` verbose and
//! `getblock` verbosity 2 show.

use serde_json::{Value, json};

use super::btc;
use crate::descriptor::checksum;
use crate::devnet::policy::{OutputType, output_type};
use crate::network::Network;
use crate::script::address::Address;
use crate::script::{Instruction, ScriptBuf, opcodes};
use crate::tx::{Transaction, TxOut};

/// Core's `GetOpName` for a non-push opcode.
fn op_name(op: u8) -> String {
    match op {
        0x00 => "0".into(),
        0x4f => "-1".into(),
        0x51..=0x60 => (op - 0x50).to_string(),
        _ => opcodes::name(op).map_or_else(|| "OP_UNKNOWN".into(), |n| format!("OP_{n}")),
    }
}

/// Core's `CScriptNum(vch).getint()` for a push of at most 4 bytes.
fn script_num(data: &[u8]) -> i64 {
    let Some((&last, _)) = data.split_last() else {
        return 0;
    };
    let mut v: i64 = 0;
    for (i, b) in data.iter().enumerate() {
        v |= i64::from(*b) << (8 * i);
    }
    if last & 0x80 != 0 {
        -(v & !(0x80_i64 << (8 * (data.len() - 1))))
    } else {
        v
    }
}

/// BIP-0066 strict DER plus a defined sighash type (Core's `CheckSignatureEncoding` with
/// `STRICTENC`).
fn is_strict_signature(sig: &[u8]) -> bool {
    let n = sig.len();
    if !(9..=73).contains(&n) || sig[0] != 0x30 || usize::from(sig[1]) != n - 3 {
        return false;
    }
    let len_r = usize::from(sig[3]);
    if 5 + len_r >= n {
        return false;
    }
    let len_s = usize::from(sig[5 + len_r]);
    if len_r + len_s + 7 != n || sig[2] != 0x02 || len_r == 0 || sig[4] & 0x80 != 0 {
        return false;
    }
    if len_r > 1 && sig[4] == 0 && sig[5] & 0x80 == 0 {
        return false;
    }
    let s = 6 + len_r;
    if sig[s - 2] != 0x02 || len_s == 0 || sig[s] & 0x80 != 0 {
        return false;
    }
    if len_s > 1 && sig[s] == 0 && sig[s + 1] & 0x80 == 0 {
        return false;
    }
    matches!(sig[n - 1] & !0x80, 1..=3)
}

fn sighash_name(t: u8) -> &'static str {
    match t {
        0x01 => "ALL",
        0x02 => "NONE",
        0x03 => "SINGLE",
        0x81 => "ALL|ANYONECANPAY",
        0x82 => "NONE|ANYONECANPAY",
        _ => "SINGLE|ANYONECANPAY",
    }
}

/// Core's `ScriptToAsmStr`: pushes of up to 4 bytes as numbers, longer ones as hex
/// (signatures in a scriptSig, `sighash_decode`, with their type as `[ALL]`…), opcodes by
/// name, `[error]` where parsing stops.
pub fn core_asm(script: &ScriptBuf, sighash_decode: bool) -> String {
    let decode = sighash_decode && !crate::devnet::policy::is_unspendable(script);
    let mut parts = Vec::new();
    for i in script.instructions() {
        match i {
            Ok(Instruction::Push(d)) if d.len() <= 4 => parts.push(script_num(d).to_string()),
            Ok(Instruction::Push(d)) if decode && is_strict_signature(d) => {
                let (t, sig) = d.split_last().expect("a signature is not empty");
                parts.push(format!("{}[{}]", hex::encode(sig), sighash_name(*t)));
            }
            Ok(Instruction::Push(d)) => parts.push(hex::encode(d)),
            Ok(Instruction::Op(op)) => parts.push(op_name(op)),
            Err(_) => {
                parts.push("[error]".into());
                break;
            }
        }
    }
    parts.join(" ")
}

fn pushes(script: &ScriptBuf) -> Vec<Vec<u8>> {
    script
        .instructions()
        .filter_map(|i| match i {
            Ok(Instruction::Push(d)) => Some(d.to_vec()),
            _ => None,
        })
        .collect()
}

/// Core's `InferDescriptor` without keys: `pk()`, `multi()`, `rawtr()`, `addr()` or
/// `raw()`, with its checksum.
fn infer_descriptor(script: &ScriptBuf, kind: Option<OutputType>) -> String {
    let b = script.as_bytes();
    let body = match kind {
        Some(OutputType::P2pk) => format!("pk({})", hex::encode(&b[1..b.len() - 1])),
        Some(OutputType::Multisig) => {
            let m = b[0] - 0x50;
            let keys: Vec<String> = pushes(script).iter().map(hex::encode).collect();
            format!("multi({m},{})", keys.join(","))
        }
        Some(OutputType::P2tr) => format!("rawtr({})", hex::encode(&b[2..])),
        _ => match Address::from_script(script, Network::Regtest) {
            Some(a) => format!("addr({a})"),
            None => format!("raw({})", hex::encode(b)),
        },
    };
    checksum(&body).map_or(body.clone(), |c| format!("{body}#{c}"))
}

/// Core's `GetTxnOutputType` names.
fn type_name(kind: Option<OutputType>) -> &'static str {
    match kind {
        Some(OutputType::P2pk) => "pubkey",
        Some(OutputType::P2pkh) => "pubkeyhash",
        Some(OutputType::P2sh) => "scripthash",
        Some(OutputType::Multisig) => "multisig",
        Some(OutputType::P2wpkh) => "witness_v0_keyhash",
        Some(OutputType::P2wsh) => "witness_v0_scripthash",
        Some(OutputType::P2tr) => "witness_v1_taproot",
        Some(OutputType::Anchor) => "anchor",
        Some(OutputType::WitnessUnknown) => "witness_unknown",
        Some(OutputType::NullData) => "nulldata",
        _ => "nonstandard",
    }
}

/// Core's `ScriptToUniv` of a scriptPubKey: `asm`, `desc`, `hex`, `address` (not for a
/// bare public key) and `type`.
pub fn script_pubkey_json(script: &ScriptBuf) -> Value {
    let kind = output_type(script);
    let mut v = json!({
        "asm": core_asm(script, false),
        "desc": infer_descriptor(script, kind),
        "hex": script.to_hex(),
    });
    if kind != Some(OutputType::P2pk)
        && let Some(a) = Address::from_script(script, Network::Regtest)
    {
        v["address"] = json!(a.to_string());
    }
    v["type"] = json!(type_name(kind));
    v
}

/// Core's `TxToUniv`: `txid`, `hash`, `version`, `size`, `vsize`, `weight`, `locktime`,
/// `vin`, `vout`, then `fee` (BTC) when the spent outputs are given, and `hex` when asked.
pub fn tx_json(tx: &Transaction, prevouts: Option<&[TxOut]>, include_hex: bool) -> Value {
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|txin| {
            let mut v = if tx.is_coinbase() {
                json!({ "coinbase": txin.script_sig.to_hex() })
            } else {
                json!({
                    "txid": txin.previous_output.txid,
                    "vout": txin.previous_output.vout,
                    "scriptSig": {
                        "asm": core_asm(&txin.script_sig, true),
                        "hex": txin.script_sig.to_hex(),
                    },
                })
            };
            if !txin.witness.is_empty() {
                v["txinwitness"] = json!(
                    txin.witness
                        .items()
                        .iter()
                        .map(hex::encode)
                        .collect::<Vec<_>>()
                );
            }
            v["sequence"] = json!(txin.sequence);
            v
        })
        .collect();
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, o)| {
            json!({
                "value": btc(o.value.to_sat()),
                "n": n,
                "scriptPubKey": script_pubkey_json(&o.script_pubkey),
            })
        })
        .collect();
    let mut v = json!({
        "txid": tx.txid(),
        "hash": tx.wtxid().to_string(),
        "version": tx.version,
        "size": tx.total_size(),
        "vsize": tx.vsize(),
        "weight": tx.weight().to_wu(),
        "locktime": tx.lock_time,
        "vin": vin,
        "vout": vout,
    });
    if let Some(prevouts) = prevouts {
        let value_in: u64 = prevouts.iter().map(|p| p.value.to_sat()).sum();
        let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        v["fee"] = btc(value_in.saturating_sub(value_out));
    }
    if include_hex {
        v["hex"] = json!(tx.to_hex());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asm_as_core_writes_it() {
        let s = ScriptBuf::new_p2wpkh(&[0xab; 20]);
        assert_eq!(core_asm(&s, false), format!("0 {}", "ab".repeat(20)));
        let p2pkh = ScriptBuf::new_p2pkh(&[1; 20]);
        assert_eq!(
            core_asm(&p2pkh, false),
            format!(
                "OP_DUP OP_HASH160 {} OP_EQUALVERIFY OP_CHECKSIG",
                "01".repeat(20)
            )
        );
        let odd = ScriptBuf::from_bytes(vec![0x51, 0xb1, 0x02, 0xff, 0x80, 0x01, 0x81, 0xbb]);
        assert_eq!(
            core_asm(&odd, false),
            "1 OP_CHECKLOCKTIMEVERIFY -255 -1 OP_UNKNOWN"
        );
        assert_eq!(script_num(&[0xe8, 0x03]), 1000);
        assert_eq!(
            core_asm(&ScriptBuf::from_bytes(vec![0x4c, 0x05]), false),
            "[error]"
        );
    }
}
