//! A serializable summary of a PSBT, the data behind `ferry psbt decode` (modelled on
//! Bitcoin Core's `decodepsbt`). Hex everywhere, amounts in satoshis.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Input, KeySource, Output, Psbt};
use crate::script::base58;
use crate::tx::{TxOut, Txid};

/// The summary of a whole PSBT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedPsbt {
    /// The unsigned transaction.
    pub tx: DecodedTx,
    /// Global extended public keys (base58check) with their origins.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub global_xpubs: BTreeMap<String, DecodedKeySource>,
    /// The explicit PSBT version, if the PSBT states one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psbt_version: Option<u32>,
    /// Version 2: the fallback locktime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_locktime: Option<u32>,
    /// Version 2: the "transaction modifiable" flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_modifiable: Option<u8>,
    /// Global proprietary pairs, hex key data to hex value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proprietary: BTreeMap<String, String>,
    /// Global unknown pairs, hex key to hex value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
    /// One entry per input.
    pub inputs: Vec<DecodedInput>,
    /// One entry per output.
    pub outputs: Vec<DecodedOutput>,
    /// The fee in satoshis, when every input's UTXO is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_sat: Option<u64>,
}

/// The unsigned transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedTx {
    /// Its txid.
    pub txid: Txid,
    /// nVersion.
    pub version: i32,
    /// nLockTime.
    pub locktime: u32,
    /// Its inputs.
    pub inputs: Vec<DecodedTxIn>,
    /// Its outputs.
    pub outputs: Vec<DecodedTxOut>,
}

/// An input of the unsigned transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedTxIn {
    /// The spent transaction.
    pub txid: Txid,
    /// The spent output's index.
    pub vout: u32,
    /// nSequence.
    pub sequence: u32,
}

/// A transaction output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedTxOut {
    /// The value in satoshis.
    pub value_sat: u64,
    /// The output script, hex.
    pub script_pubkey: String,
}

impl From<&TxOut> for DecodedTxOut {
    fn from(o: &TxOut) -> Self {
        DecodedTxOut {
            value_sat: o.value.to_sat(),
            script_pubkey: o.script_pubkey.to_hex(),
        }
    }
}

/// A key origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedKeySource {
    /// The master key fingerprint, hex.
    pub master_fingerprint: String,
    /// The derivation path, `m/…` with `'` for hardened steps.
    pub path: String,
}

impl From<&KeySource> for DecodedKeySource {
    fn from(s: &KeySource) -> Self {
        let full = s.to_string();
        let path = match full.split_once('/') {
            Some((_, rest)) => format!("m/{rest}"),
            None => "m".to_string(),
        };
        DecodedKeySource {
            master_fingerprint: hex::encode(s.fingerprint),
            path,
        }
    }
}

/// What the PSBT knows about one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedInput {
    /// The spent output, when known (from either UTXO field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utxo: Option<DecodedTxOut>,
    /// Whether the whole previous transaction is present.
    pub has_non_witness_utxo: bool,
    /// Whether the spent output alone is present.
    pub has_witness_utxo: bool,
    /// Signatures by public key, hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub partial_signatures: BTreeMap<String, String>,
    /// The sighash type, by name (`ALL`, `NONE|ANYONECANPAY`, …) or number if unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sighash: Option<String>,
    /// The redeem script, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redeem_script: Option<String>,
    /// The witness script, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_script: Option<String>,
    /// Key origins by public key, hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bip32_derivs: BTreeMap<String, DecodedKeySource>,
    /// The final scriptSig, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_scriptsig: Option<String>,
    /// The final witness items, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_scriptwitness: Option<Vec<String>>,
    /// The taproot key-path signature, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taproot_key_path_sig: Option<String>,
    /// The taproot internal key, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taproot_internal_key: Option<String>,
    /// The taproot merkle root, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taproot_merkle_root: Option<String>,
    /// Taproot key origins by x-only key, hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub taproot_bip32_derivs: BTreeMap<String, DecodedKeySource>,
    /// Unknown pairs, hex key to hex value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
    /// Version 2: the Unix time this input requires the locktime to be at least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_time_locktime: Option<u32>,
    /// Version 2: the block height this input requires the locktime to be at least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_height_locktime: Option<u32>,
}

/// What the PSBT knows about one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedOutput {
    /// The redeem script, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redeem_script: Option<String>,
    /// The witness script, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_script: Option<String>,
    /// Key origins by public key, hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bip32_derivs: BTreeMap<String, DecodedKeySource>,
    /// The taproot internal key, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taproot_internal_key: Option<String>,
    /// Taproot key origins by x-only key, hex.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub taproot_bip32_derivs: BTreeMap<String, DecodedKeySource>,
    /// Unknown pairs, hex key to hex value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
}

/// Names a sighash type the way Bitcoin Core does.
pub(crate) fn sighash_name(sighash: u32) -> String {
    let base = match sighash & 0x1f {
        0 if sighash == 0 => return "DEFAULT".into(),
        1 => "ALL",
        2 => "NONE",
        3 => "SINGLE",
        _ => return sighash.to_string(),
    };
    match sighash & !0x1f {
        0 => base.to_string(),
        0x80 => format!("{base}|ANYONECANPAY"),
        _ => sighash.to_string(),
    }
}

fn hex_map<K: AsRef<[u8]>>(m: &BTreeMap<K, Vec<u8>>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| (hex::encode(k), hex::encode(v)))
        .collect()
}

fn derivs<K: AsRef<[u8]>>(m: &BTreeMap<K, KeySource>) -> BTreeMap<String, DecodedKeySource> {
    m.iter().map(|(k, v)| (hex::encode(k), v.into())).collect()
}

fn decode_input(input: &Input, vout: u32) -> DecodedInput {
    DecodedInput {
        utxo: input.spent_output(vout).map(DecodedTxOut::from),
        has_non_witness_utxo: input.non_witness_utxo.is_some(),
        has_witness_utxo: input.witness_utxo.is_some(),
        partial_signatures: hex_map(&input.partial_sigs),
        sighash: input.sighash_type.map(sighash_name),
        redeem_script: input.redeem_script.as_ref().map(|s| s.to_hex()),
        witness_script: input.witness_script.as_ref().map(|s| s.to_hex()),
        bip32_derivs: derivs(&input.bip32_derivation),
        final_scriptsig: input.final_script_sig.as_ref().map(|s| s.to_hex()),
        final_scriptwitness: input
            .final_script_witness
            .as_ref()
            .map(|w| w.items().iter().map(hex::encode).collect()),
        taproot_key_path_sig: input.tap_key_sig.as_ref().map(hex::encode),
        taproot_internal_key: input.tap_internal_key.map(hex::encode),
        taproot_merkle_root: input.tap_merkle_root.map(hex::encode),
        taproot_bip32_derivs: input
            .tap_bip32_derivation
            .iter()
            .map(|(k, o)| (hex::encode(k), (&o.source).into()))
            .collect(),
        unknown: hex_map(&input.unknown),
        required_time_locktime: input.required_time_locktime,
        required_height_locktime: input.required_height_locktime,
    }
}

fn decode_output(output: &Output) -> DecodedOutput {
    DecodedOutput {
        redeem_script: output.redeem_script.as_ref().map(|s| s.to_hex()),
        witness_script: output.witness_script.as_ref().map(|s| s.to_hex()),
        bip32_derivs: derivs(&output.bip32_derivation),
        taproot_internal_key: output.tap_internal_key.map(hex::encode),
        taproot_bip32_derivs: output
            .tap_bip32_derivation
            .iter()
            .map(|(k, o)| (hex::encode(k), (&o.source).into()))
            .collect(),
        unknown: hex_map(&output.unknown),
    }
}

impl Psbt {
    /// Returns a serializable summary of the PSBT (what `decodepsbt` shows).
    pub fn decode(&self) -> DecodedPsbt {
        let tx = &self.unsigned_tx;
        DecodedPsbt {
            tx: DecodedTx {
                txid: tx.txid(),
                version: tx.version,
                locktime: tx.lock_time,
                inputs: tx
                    .input
                    .iter()
                    .map(|i| DecodedTxIn {
                        txid: i.previous_output.txid,
                        vout: i.previous_output.vout,
                        sequence: i.sequence,
                    })
                    .collect(),
                outputs: tx.output.iter().map(DecodedTxOut::from).collect(),
            },
            global_xpubs: self
                .xpubs
                .iter()
                .map(|(x, s)| (base58::encode_check(x), s.into()))
                .collect(),
            psbt_version: self.version,
            fallback_locktime: self.fallback_locktime,
            tx_modifiable: self.tx_modifiable,
            proprietary: hex_map(&self.proprietary),
            unknown: hex_map(&self.unknown),
            inputs: self
                .inputs
                .iter()
                .zip(&tx.input)
                .map(|(input, txin)| decode_input(input, txin.previous_output.vout))
                .collect(),
            outputs: self.outputs.iter().map(decode_output).collect(),
            fee_sat: self.fee().ok().map(|f| f.to_sat()),
        }
    }
}
