//! The per-output map (BIP-0174, and the BIP-0371 taproot fields).

use std::collections::BTreeMap;

use super::error::{Location, PsbtError};
use super::input::{PROPRIETARY, decode_tap_key_origin, encode_tap_key_origin};
use super::raw::{self, Pair, write_pair, write_raw_pair};
use super::{KeySource, TapKeyOrigin, TapTreeLeaf};
use crate::script::ScriptBuf;
use crate::tx::TxOut;
use crate::tx::encode::{Reader, write_var_bytes};

const REDEEM_SCRIPT: u64 = 0x00;
const WITNESS_SCRIPT: u64 = 0x01;
const BIP32_DERIVATION: u64 = 0x02;
const TAP_INTERNAL_KEY: u64 = 0x05;
const TAP_TREE: u64 = 0x06;
const TAP_BIP32_DERIVATION: u64 = 0x07;

/// Everything a PSBT knows about one output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The P2SH redeem script.
    pub redeem_script: Option<ScriptBuf>,
    /// The P2WSH witness script.
    pub witness_script: Option<ScriptBuf>,
    /// Key origins of the public keys involved (SEC1 bytes).
    pub bip32_derivation: BTreeMap<Vec<u8>, KeySource>,
    /// The taproot internal key.
    pub tap_internal_key: Option<[u8; 32]>,
    /// The taproot script tree, leaves in depth-first order.
    pub tap_tree: Option<Vec<TapTreeLeaf>>,
    /// Key origins of x-only keys, with the leaves they appear in.
    pub tap_bip32_derivation: BTreeMap<[u8; 32], TapKeyOrigin>,
    /// Proprietary pairs (type 0xFC) by key data.
    pub proprietary: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Pairs of unknown types by whole key, kept to be written back unchanged.
    pub unknown: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn decode_tap_tree(value: &[u8]) -> Result<Vec<TapTreeLeaf>, String> {
    let mut r = Reader::new(value);
    let mut leaves = Vec::new();
    while r.remaining() > 0 {
        let depth = r.u8("leaf depth").map_err(|e| e.to_string())?;
        let leaf_version = r.u8("leaf version").map_err(|e| e.to_string())?;
        let script = r.var_bytes("leaf script").map_err(|e| e.to_string())?;
        if depth > 128 {
            return Err(format!("leaf depth {depth} is above 128"));
        }
        if leaf_version & 0x01 != 0 {
            return Err(format!("leaf version {leaf_version:#04x} is odd"));
        }
        leaves.push(TapTreeLeaf {
            depth,
            leaf_version,
            script: ScriptBuf::from_bytes(script.to_vec()),
        });
    }
    if leaves.is_empty() {
        return Err("empty tap tree".into());
    }
    Ok(leaves)
}

impl Output {
    /// Builds an output map from its pairs.
    pub(crate) fn decode(pairs: &[Pair<'_>], index: usize) -> Result<Self, PsbtError> {
        let loc = Location::Output(index);
        let mut output = Output::default();
        for pair in pairs {
            match pair.key_type {
                REDEEM_SCRIPT => {
                    pair.expect_no_key_data(loc)?;
                    output.redeem_script = Some(pair.script_value());
                }
                WITNESS_SCRIPT => {
                    pair.expect_no_key_data(loc)?;
                    output.witness_script = Some(pair.script_value());
                }
                BIP32_DERIVATION => {
                    let pk = pair.pubkey_key(loc)?;
                    output
                        .bip32_derivation
                        .insert(pk, pair.key_source_value(loc)?);
                }
                TAP_INTERNAL_KEY => {
                    pair.expect_no_key_data(loc)?;
                    output.tap_internal_key = Some(pair.array_value(loc)?);
                }
                TAP_TREE => {
                    pair.expect_no_key_data(loc)?;
                    output.tap_tree =
                        Some(decode_tap_tree(pair.value).map_err(|r| pair.bad_value(loc, r))?);
                }
                TAP_BIP32_DERIVATION => {
                    let xonly: [u8; 32] = pair.array_key(loc, "32 (x-only key)")?;
                    let origin = decode_tap_key_origin(pair.value)
                        .map_err(|reason| pair.bad_value(loc, reason))?;
                    output.tap_bip32_derivation.insert(xonly, origin);
                }
                PROPRIETARY => {
                    output
                        .proprietary
                        .insert(pair.key_data.to_vec(), pair.value.to_vec());
                }
                _ => {
                    output
                        .unknown
                        .insert(pair.key.to_vec(), pair.value.to_vec());
                }
            }
        }
        Ok(output)
    }

    /// Appends the map, separator included, in Bitcoin Core's field order; `v2` is the
    /// transaction output whose amount and script a version 2 map carries.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>, v2: Option<&TxOut>) {
        if let Some(s) = &self.redeem_script {
            write_pair(out, REDEEM_SCRIPT, &[], s.as_bytes());
        }
        if let Some(s) = &self.witness_script {
            write_pair(out, WITNESS_SCRIPT, &[], s.as_bytes());
        }
        for (pk, source) in &self.bip32_derivation {
            write_pair(out, BIP32_DERIVATION, pk, &raw::encode_key_source(source));
        }
        if let Some(txout) = v2 {
            super::v2::write_output(out, txout);
        }
        if let Some(k) = &self.tap_internal_key {
            write_pair(out, TAP_INTERNAL_KEY, &[], k);
        }
        if let Some(tree) = &self.tap_tree {
            let mut value = Vec::new();
            for leaf in tree {
                value.push(leaf.depth);
                value.push(leaf.leaf_version);
                write_var_bytes(&mut value, leaf.script.as_bytes());
            }
            write_pair(out, TAP_TREE, &[], &value);
        }
        for (xonly, origin) in &self.tap_bip32_derivation {
            write_pair(
                out,
                TAP_BIP32_DERIVATION,
                xonly,
                &encode_tap_key_origin(origin),
            );
        }
        for (k, v) in &self.proprietary {
            write_pair(out, PROPRIETARY, k, v);
        }
        for (k, v) in &self.unknown {
            write_raw_pair(out, k, v);
        }
        out.push(0x00);
    }

    /// Adds every pair of `other` that this output lacks (the value here wins a conflict).
    pub fn combine(&mut self, other: Output) {
        macro_rules! take_opt {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        macro_rules! union {
            ($($f:ident),*) => { $( for (k, v) in other.$f { self.$f.entry(k).or_insert(v); } )* };
        }
        take_opt!(redeem_script, witness_script, tap_internal_key, tap_tree);
        union!(bip32_derivation, tap_bip32_derivation, proprietary, unknown);
    }
}
