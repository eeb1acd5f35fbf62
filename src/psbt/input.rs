//! The per-input map (BIP-0174, and the BIP-0371 taproot fields).

use std::collections::BTreeMap;

use super::error::{Location, PsbtError};
use super::raw::{self, Pair, write_pair, write_raw_pair};
use super::{KeySource, TapKeyOrigin, TapLeafScript};
use crate::hashes::{hash160, sha256, sha256d};
use crate::script::ScriptBuf;
use crate::tx::encode::Reader;
use crate::tx::{Transaction, TxIn, TxOut, Witness};

const NON_WITNESS_UTXO: u64 = 0x00;
const WITNESS_UTXO: u64 = 0x01;
const PARTIAL_SIG: u64 = 0x02;
const SIGHASH_TYPE: u64 = 0x03;
const REDEEM_SCRIPT: u64 = 0x04;
const WITNESS_SCRIPT: u64 = 0x05;
const BIP32_DERIVATION: u64 = 0x06;
const FINAL_SCRIPTSIG: u64 = 0x07;
const FINAL_SCRIPTWITNESS: u64 = 0x08;
const RIPEMD160: u64 = 0x0a;
const SHA256: u64 = 0x0b;
const HASH160: u64 = 0x0c;
const HASH256: u64 = 0x0d;
const TAP_KEY_SIG: u64 = 0x13;
const TAP_SCRIPT_SIG: u64 = 0x14;
const TAP_LEAF_SCRIPT: u64 = 0x15;
const TAP_BIP32_DERIVATION: u64 = 0x16;
const TAP_INTERNAL_KEY: u64 = 0x17;
const TAP_MERKLE_ROOT: u64 = 0x18;
pub(crate) const PROPRIETARY: u64 = 0xfc;

/// Everything a PSBT knows about one input.
///
/// Public keys are kept as their SEC1 bytes (33 or 65, checked to be on the curve when
/// parsed); maps are ordered by key so that serialization is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The whole transaction that created the spent output.
    pub non_witness_utxo: Option<Transaction>,
    /// The spent output alone (enough for segwit signing).
    pub witness_utxo: Option<TxOut>,
    /// Signatures (DER + sighash byte) by public key.
    pub partial_sigs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The sighash type signers must use.
    pub sighash_type: Option<u32>,
    /// The P2SH redeem script.
    pub redeem_script: Option<ScriptBuf>,
    /// The P2WSH witness script.
    pub witness_script: Option<ScriptBuf>,
    /// Key origins of the public keys involved.
    pub bip32_derivation: BTreeMap<Vec<u8>, KeySource>,
    /// The finished scriptSig.
    pub final_script_sig: Option<ScriptBuf>,
    /// The finished witness.
    pub final_script_witness: Option<Witness>,
    /// RIPEMD160 preimages by hash.
    pub ripemd160_preimages: BTreeMap<[u8; 20], Vec<u8>>,
    /// SHA256 preimages by hash.
    pub sha256_preimages: BTreeMap<[u8; 32], Vec<u8>>,
    /// HASH160 preimages by hash.
    pub hash160_preimages: BTreeMap<[u8; 20], Vec<u8>>,
    /// HASH256 preimages by hash.
    pub hash256_preimages: BTreeMap<[u8; 32], Vec<u8>>,
    /// The BIP-0340 key-path signature (64 bytes, or 65 with a sighash byte).
    pub tap_key_sig: Option<Vec<u8>>,
    /// Script-path signatures by (x-only key, leaf hash).
    pub tap_script_sigs: BTreeMap<([u8; 32], [u8; 32]), Vec<u8>>,
    /// Leaf scripts by control block.
    pub tap_leaf_scripts: BTreeMap<Vec<u8>, TapLeafScript>,
    /// Key origins of x-only keys, with the leaves they appear in.
    pub tap_bip32_derivation: BTreeMap<[u8; 32], TapKeyOrigin>,
    /// The taproot internal key.
    pub tap_internal_key: Option<[u8; 32]>,
    /// The taproot script tree's merkle root.
    pub tap_merkle_root: Option<[u8; 32]>,
    /// Proprietary pairs (type 0xFC) by key data.
    pub proprietary: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Pairs of unknown types by whole key, kept to be written back unchanged.
    pub unknown: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Version 2: `PSBT_IN_REQUIRED_TIME_LOCKTIME` (a Unix time, at least 500000000).
    pub required_time_locktime: Option<u32>,
    /// Version 2: `PSBT_IN_REQUIRED_HEIGHT_LOCKTIME` (a block height, 1 to 499999999).
    pub required_height_locktime: Option<u32>,
    /// Version 2: whether `PSBT_IN_SEQUENCE` is written even when the sequence (kept in
    /// the unsigned transaction) is 0xffffffff, its default.
    pub explicit_sequence: bool,
}

fn check_preimage<const N: usize>(
    pair: &Pair<'_>,
    location: Location,
    hash: fn(&[u8]) -> [u8; N],
    name: &'static str,
) -> Result<[u8; N], PsbtError> {
    let expected = match N {
        20 => "20",
        _ => "32",
    };
    let key: [u8; N] = pair.array_key(location, expected)?;
    if hash(pair.value) != key {
        return Err(pair.bad_value(location, format!("{name} preimage does not match its hash")));
    }
    Ok(key)
}

fn ripemd160(data: &[u8]) -> [u8; 20] {
    use ripemd::{Digest, Ripemd160};
    Ripemd160::digest(data).into()
}

fn check_signature_len(pair: &Pair<'_>, location: Location) -> Result<Vec<u8>, PsbtError> {
    if !matches!(pair.value.len(), 64 | 65) {
        return Err(pair.bad_value(
            location,
            format!(
                "schnorr signature must be 64 or 65 bytes, got {}",
                pair.value.len()
            ),
        ));
    }
    Ok(pair.value.to_vec())
}

impl Input {
    /// Builds an input map from its pairs.
    pub(crate) fn decode(pairs: &[Pair<'_>], index: usize) -> Result<Self, PsbtError> {
        let loc = Location::Input(index);
        let mut input = Input::default();
        for pair in pairs {
            match pair.key_type {
                NON_WITNESS_UTXO => {
                    pair.expect_no_key_data(loc)?;
                    let tx = Transaction::deserialize(pair.value)
                        .map_err(|e| pair.bad_value(loc, e.to_string()))?;
                    input.non_witness_utxo = Some(tx);
                }
                WITNESS_UTXO => {
                    pair.expect_no_key_data(loc)?;
                    input.witness_utxo = Some(pair.txout_value(loc)?);
                }
                PARTIAL_SIG => {
                    let pk = pair.pubkey_key(loc)?;
                    input.partial_sigs.insert(pk, pair.value.to_vec());
                }
                SIGHASH_TYPE => {
                    pair.expect_no_key_data(loc)?;
                    input.sighash_type = Some(u32::from_le_bytes(pair.array_value(loc)?));
                }
                REDEEM_SCRIPT => {
                    pair.expect_no_key_data(loc)?;
                    input.redeem_script = Some(pair.script_value());
                }
                WITNESS_SCRIPT => {
                    pair.expect_no_key_data(loc)?;
                    input.witness_script = Some(pair.script_value());
                }
                BIP32_DERIVATION => {
                    let pk = pair.pubkey_key(loc)?;
                    input
                        .bip32_derivation
                        .insert(pk, pair.key_source_value(loc)?);
                }
                FINAL_SCRIPTSIG => {
                    pair.expect_no_key_data(loc)?;
                    input.final_script_sig = Some(pair.script_value());
                }
                FINAL_SCRIPTWITNESS => {
                    pair.expect_no_key_data(loc)?;
                    input.final_script_witness = Some(pair.witness_value(loc)?);
                }
                RIPEMD160 => {
                    let h = check_preimage(pair, loc, ripemd160, "ripemd160")?;
                    input.ripemd160_preimages.insert(h, pair.value.to_vec());
                }
                SHA256 => {
                    let h = check_preimage(pair, loc, sha256, "sha256")?;
                    input.sha256_preimages.insert(h, pair.value.to_vec());
                }
                HASH160 => {
                    let h = check_preimage(pair, loc, hash160, "hash160")?;
                    input.hash160_preimages.insert(h, pair.value.to_vec());
                }
                HASH256 => {
                    let h = check_preimage(pair, loc, sha256d, "hash256")?;
                    input.hash256_preimages.insert(h, pair.value.to_vec());
                }
                TAP_KEY_SIG => {
                    pair.expect_no_key_data(loc)?;
                    input.tap_key_sig = Some(check_signature_len(pair, loc)?);
                }
                TAP_SCRIPT_SIG => {
                    let k: [u8; 64] = pair.array_key(loc, "64 (x-only key and leaf hash)")?;
                    let mut xonly = [0u8; 32];
                    let mut leaf = [0u8; 32];
                    xonly.copy_from_slice(&k[..32]);
                    leaf.copy_from_slice(&k[32..]);
                    input
                        .tap_script_sigs
                        .insert((xonly, leaf), check_signature_len(pair, loc)?);
                }
                TAP_LEAF_SCRIPT => {
                    let cb = pair.key_data;
                    if cb.len() < 33
                        || !(cb.len() - 33).is_multiple_of(32)
                        || cb.len() > 33 + 128 * 32
                    {
                        return Err(pair.bad_key(loc, "33 + 32*k, k <= 128 (a control block)"));
                    }
                    let Some((&leaf_version, script)) = pair.value.split_last() else {
                        return Err(pair.bad_value(loc, "empty leaf script"));
                    };
                    input.tap_leaf_scripts.insert(
                        cb.to_vec(),
                        TapLeafScript {
                            script: ScriptBuf::from_bytes(script.to_vec()),
                            leaf_version,
                        },
                    );
                }
                TAP_BIP32_DERIVATION => {
                    let xonly: [u8; 32] = pair.array_key(loc, "32 (x-only key)")?;
                    let origin = decode_tap_key_origin(pair.value)
                        .map_err(|reason| pair.bad_value(loc, reason))?;
                    input.tap_bip32_derivation.insert(xonly, origin);
                }
                TAP_INTERNAL_KEY => {
                    pair.expect_no_key_data(loc)?;
                    input.tap_internal_key = Some(pair.array_value(loc)?);
                }
                TAP_MERKLE_ROOT => {
                    pair.expect_no_key_data(loc)?;
                    input.tap_merkle_root = Some(pair.array_value(loc)?);
                }
                PROPRIETARY => {
                    input
                        .proprietary
                        .insert(pair.key_data.to_vec(), pair.value.to_vec());
                }
                _ => {
                    input.unknown.insert(pair.key.to_vec(), pair.value.to_vec());
                }
            }
        }
        Ok(input)
    }

    /// Appends the map, separator included, in Bitcoin Core's field order; `v2` is the
    /// transaction input whose fields a version 2 map carries.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>, v2: Option<&TxIn>) {
        if let Some(tx) = &self.non_witness_utxo {
            write_pair(out, NON_WITNESS_UTXO, &[], &tx.serialize());
        }
        if let Some(txout) = &self.witness_utxo {
            write_pair(out, WITNESS_UTXO, &[], &raw::encode_txout(txout));
        }
        // Core keys partial signatures by key id (HASH160 of the key), so that is the order.
        let mut sigs: Vec<_> = self.partial_sigs.iter().collect();
        sigs.sort_by_cached_key(|(pk, _)| hash160(pk));
        for (pk, sig) in sigs {
            write_pair(out, PARTIAL_SIG, pk, sig);
        }
        if let Some(sighash) = self.sighash_type {
            write_pair(out, SIGHASH_TYPE, &[], &sighash.to_le_bytes());
        }
        if let Some(s) = &self.redeem_script {
            write_pair(out, REDEEM_SCRIPT, &[], s.as_bytes());
        }
        if let Some(s) = &self.witness_script {
            write_pair(out, WITNESS_SCRIPT, &[], s.as_bytes());
        }
        for (pk, source) in &self.bip32_derivation {
            write_pair(out, BIP32_DERIVATION, pk, &raw::encode_key_source(source));
        }
        for (h, p) in &self.ripemd160_preimages {
            write_pair(out, RIPEMD160, h, p);
        }
        for (h, p) in &self.sha256_preimages {
            write_pair(out, SHA256, h, p);
        }
        for (h, p) in &self.hash160_preimages {
            write_pair(out, HASH160, h, p);
        }
        for (h, p) in &self.hash256_preimages {
            write_pair(out, HASH256, h, p);
        }
        if let Some(sig) = &self.tap_key_sig {
            write_pair(out, TAP_KEY_SIG, &[], sig);
        }
        for ((xonly, leaf), sig) in &self.tap_script_sigs {
            write_pair(out, TAP_SCRIPT_SIG, &[&xonly[..], &leaf[..]].concat(), sig);
        }
        // Core groups leaf scripts by (script, leaf version), control blocks shortest first.
        let mut leaves: Vec<_> = self.tap_leaf_scripts.iter().collect();
        leaves.sort_by(|(cb_a, a), (cb_b, b)| {
            // Core's CScript (a prevector) compares length before bytes.
            (a.script.len(), &a.script, a.leaf_version, cb_a.len(), cb_a).cmp(&(
                b.script.len(),
                &b.script,
                b.leaf_version,
                cb_b.len(),
                cb_b,
            ))
        });
        for (cb, leaf) in leaves {
            let mut value = leaf.script.as_bytes().to_vec();
            value.push(leaf.leaf_version);
            write_pair(out, TAP_LEAF_SCRIPT, cb, &value);
        }
        for (xonly, origin) in &self.tap_bip32_derivation {
            write_pair(
                out,
                TAP_BIP32_DERIVATION,
                xonly,
                &encode_tap_key_origin(origin),
            );
        }
        if let Some(k) = &self.tap_internal_key {
            write_pair(out, TAP_INTERNAL_KEY, &[], k);
        }
        if let Some(root) = &self.tap_merkle_root {
            write_pair(out, TAP_MERKLE_ROOT, &[], root);
        }
        // Core writes the final fields after the taproot ones; follow it byte for byte.
        if let Some(s) = &self.final_script_sig {
            write_pair(out, FINAL_SCRIPTSIG, &[], s.as_bytes());
        }
        if let Some(w) = &self.final_script_witness {
            write_pair(out, FINAL_SCRIPTWITNESS, &[], &raw::encode_witness(w));
        }
        if let Some(txin) = v2 {
            super::v2::write_input(out, self, txin);
        }
        for (k, v) in &self.proprietary {
            write_pair(out, PROPRIETARY, k, v);
        }
        for (k, v) in &self.unknown {
            write_raw_pair(out, k, v);
        }
        out.push(0x00);
    }

    /// Returns true once the finalizer has produced a scriptSig or witness.
    pub fn is_finalized(&self) -> bool {
        self.final_script_sig.is_some() || self.final_script_witness.is_some()
    }

    /// Adds every pair of `other` that this input lacks (BIP-0174 combiner; on a conflict
    /// the value already here is kept, as Bitcoin Core does).
    pub fn combine(&mut self, other: Input) {
        macro_rules! take_opt {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        macro_rules! union {
            ($($f:ident),*) => { $( for (k, v) in other.$f { self.$f.entry(k).or_insert(v); } )* };
        }
        take_opt!(
            non_witness_utxo,
            witness_utxo,
            sighash_type,
            redeem_script,
            witness_script,
            final_script_sig,
            final_script_witness,
            tap_key_sig,
            tap_internal_key,
            tap_merkle_root,
            required_time_locktime,
            required_height_locktime
        );
        self.explicit_sequence |= other.explicit_sequence;
        union!(
            partial_sigs,
            bip32_derivation,
            ripemd160_preimages,
            sha256_preimages,
            hash160_preimages,
            hash256_preimages,
            tap_script_sigs,
            tap_leaf_scripts,
            tap_bip32_derivation,
            proprietary,
            unknown
        );
    }

    /// Returns the output this input spends, from the witness UTXO or else the
    /// non-witness UTXO (`vout` is the prevout index).
    pub fn spent_output(&self, vout: u32) -> Option<&TxOut> {
        self.witness_utxo.as_ref().or_else(|| {
            self.non_witness_utxo
                .as_ref()
                .and_then(|tx| tx.output.get(vout as usize))
        })
    }
}

/// Decodes `<count><leaf hashes><fingerprint><path>` (BIP-0371).
pub(crate) fn decode_tap_key_origin(value: &[u8]) -> Result<TapKeyOrigin, String> {
    let mut r = Reader::new(value);
    let n = r.count("leaf hash count", 32).map_err(|e| e.to_string())?;
    let mut leaf_hashes = Vec::with_capacity(n);
    for _ in 0..n {
        leaf_hashes.push(r.array("leaf hash").map_err(|e| e.to_string())?);
    }
    let rest = r
        .take(r.remaining(), "key origin")
        .map_err(|e| e.to_string())?;
    Ok(TapKeyOrigin {
        leaf_hashes,
        source: raw::decode_key_source(rest)?,
    })
}

/// Encodes a taproot key origin (BIP-0371).
pub(crate) fn encode_tap_key_origin(origin: &TapKeyOrigin) -> Vec<u8> {
    let mut out = Vec::new();
    crate::tx::encode::write_compact_size(&mut out, origin.leaf_hashes.len() as u64);
    for h in &origin.leaf_hashes {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(&raw::encode_key_source(&origin.source));
    out
}
