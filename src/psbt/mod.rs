//! Partially signed Bitcoin transactions, version 0 (BIP-0174) and version 2 (BIP-0370),
//! with the BIP-0371 taproot fields. A PSBT is written back in the version it was read in;
//! [`Psbt::set_version`] converts (see the `v2` module).
//!
//! [`Psbt`] parses and writes the binary format and its base64 text form strictly: duplicate
//! keys, key or value lengths a known type does not allow, a missing or non-empty unsigned
//! transaction, map counts that do not match it, a non-witness UTXO that is not the
//! transaction an input spends, and trailing bytes are all refused. Pairs of unknown types
//! are kept and written back unchanged, so a PSBT passes through ferry byte for byte.
//!
//! The roles of BIP-0174 are methods: [`Psbt::from_unsigned_tx`] (creator),
//! [`Psbt::update`] and friends (updater), [`Psbt::sign`] (signer), [`Psbt::combine`]
//! (combiner), [`Psbt::finalize`] (finalizer) and [`Psbt::extract_tx`] (extractor, which
//! refuses an absurd fee rate unless [`Psbt::extract_tx_unchecked_fee_rate`] is used).
//! [`Psbt::decode`] returns a serializable summary like Bitcoin Core's `decodepsbt`.
//!
//! Fields are written in Bitcoin Core's order: known types by type, then proprietary pairs,
//! then unknown pairs sorted by key, so that ferry and Core produce identical bytes.
//!
//! # Examples
//!
//! ```
//! use ferry::psbt::Psbt;
//! let b64 = "cHNidP8BAAoAAAAAAAAAAAAAAA==";
//! let psbt: Psbt = b64.parse()?;
//! assert_eq!(psbt.to_base64(), b64);
//! # Ok::<_, ferry::psbt::PsbtError>(())
//! ```
//!
//! [BIP-0174]: https://github.com/bitcoin/bips/blob/master/bip-0174.mediawiki
//! [BIP-0370]: https://github.com/bitcoin/bips/blob/master/bip-0370.mediawiki
//! [BIP-0371]: https://github.com/bitcoin/bips/blob/master/bip-0371.mediawiki

pub mod bbqr;
mod decode;
mod error;
mod finalize;
mod input;
mod output;
mod raw;
mod roles;
mod signer;
mod v2;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use decode::{
    DecodedInput, DecodedKeySource, DecodedOutput, DecodedPsbt, DecodedTx, DecodedTxIn,
    DecodedTxOut,
};
pub use error::{ExtractTxError, FeeError, FinalizeError, Location, PsbtError, SignerError};
pub use input::Input;
pub use output::Output;
pub use roles::{MAX_FEE_RATE, UpdateData};
pub use v2::{LOCKTIME_THRESHOLD, compute_locktime};

use crate::script::ScriptBuf;
use crate::tx::Transaction;
use crate::tx::encode::Reader;

/// The five bytes every PSBT starts with: `psbt` and 0xff.
pub const MAGIC: [u8; 5] = *b"psbt\xff";

const GLOBAL_UNSIGNED_TX: u64 = 0x00;
const GLOBAL_XPUB: u64 = 0x01;
const GLOBAL_VERSION: u64 = 0xfb;

/// Where a key comes from: the master key's fingerprint and the BIP-0032 derivation path
/// (hardened steps have bit 31 set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySource {
    /// The first four bytes of HASH160 of the master public key.
    pub fingerprint: [u8; 4],
    /// The derivation steps from the master key.
    pub path: Vec<u32>,
}

impl From<([u8; 4], Vec<u32>)> for KeySource {
    fn from((fingerprint, path): ([u8; 4], Vec<u32>)) -> Self {
        KeySource { fingerprint, path }
    }
}

/// Shows `fingerprint/path` the way descriptors do, e.g. `d90c6a4f/0'/0'/1'`.
impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.fingerprint))?;
        for step in &self.path {
            if step & 0x8000_0000 != 0 {
                write!(f, "/{}'", step & 0x7fff_ffff)?;
            } else {
                write!(f, "/{step}")?;
            }
        }
        Ok(())
    }
}

/// A taproot key's origin and the leaf hashes of the scripts it appears in (BIP-0371).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapKeyOrigin {
    /// Leaf hashes of the scripts using the key (empty for the internal key only).
    pub leaf_hashes: Vec<[u8; 32]>,
    /// Where the key comes from.
    pub source: KeySource,
}

/// A taproot leaf script with its leaf version, as kept by its control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapLeafScript {
    /// The script.
    pub script: ScriptBuf,
    /// The leaf version (0xc0 for BIP-0342 tapscript).
    pub leaf_version: u8,
}

/// One leaf of an output's taproot tree, listed depth-first (BIP-0371 `PSBT_OUT_TAP_TREE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapTreeLeaf {
    /// The leaf's depth in the tree.
    pub depth: u8,
    /// The leaf version.
    pub leaf_version: u8,
    /// The script.
    pub script: ScriptBuf,
}

/// A partially signed Bitcoin transaction, version 0 (BIP-0174) or 2 (BIP-0370).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psbt {
    /// The transaction being signed; its scriptSigs and witnesses are empty. In version 2
    /// it is assembled from the per-input and per-output fields, its locktime computed
    /// by [`compute_locktime`].
    pub unsigned_tx: Transaction,
    /// Extended public keys (78-byte serialization) with their origins.
    pub xpubs: BTreeMap<[u8; 78], KeySource>,
    /// The explicit `PSBT_GLOBAL_VERSION`, if present: 0, or 2 for a BIP-0370 PSBT.
    pub version: Option<u32>,
    /// Version 2: `PSBT_GLOBAL_FALLBACK_LOCKTIME`, the locktime when no input requires one.
    pub fallback_locktime: Option<u32>,
    /// Version 2: `PSBT_GLOBAL_TX_MODIFIABLE` (bit 0 inputs, bit 1 outputs may be added,
    /// bit 2 an input is signed with SIGHASH_SINGLE).
    pub tx_modifiable: Option<u8>,
    /// Proprietary global pairs (type 0xFC) by key data.
    pub proprietary: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Global pairs of unknown types by whole key.
    pub unknown: BTreeMap<Vec<u8>, Vec<u8>>,
    /// One map per input of `unsigned_tx`.
    pub inputs: Vec<Input>,
    /// One map per output of `unsigned_tx`.
    pub outputs: Vec<Output>,
}

/// Checks that `prev` is the transaction input `index` spends (BIP-0174: its txid must
/// match the prevout, which must exist in it).
pub(crate) fn check_non_witness_utxo(
    index: usize,
    prevout: crate::tx::OutPoint,
    prev: &Transaction,
) -> Result<(), PsbtError> {
    let txid = prev.txid();
    if txid != prevout.txid {
        return Err(PsbtError::NonWitnessUtxoMismatch {
            input: index,
            expected: prevout.txid,
            actual: txid,
        });
    }
    if prevout.vout as usize >= prev.output.len() {
        return Err(PsbtError::PrevoutIndexOutOfRange {
            input: index,
            vout: prevout.vout,
        });
    }
    Ok(())
}

impl Psbt {
    /// Parses the binary form.
    ///
    /// # Errors
    /// [`PsbtError`] naming the first problem found and where.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, PsbtError> {
        let Some(rest) = bytes.strip_prefix(&MAGIC) else {
            return Err(PsbtError::InvalidMagic);
        };
        let mut r = Reader::new(rest);
        let loc = Location::Global;
        let mut unsigned_tx = None;
        let mut xpubs = BTreeMap::new();
        let mut version = None;
        let mut proprietary = BTreeMap::new();
        let mut unknown = BTreeMap::new();
        for pair in raw::read_map(&mut r, loc)? {
            match pair.key_type {
                GLOBAL_UNSIGNED_TX => {
                    pair.expect_no_key_data(loc)?;
                    let tx = Transaction::deserialize_no_witness(pair.value).map_err(|e| {
                        pair.bad_value(
                            loc,
                            format!("unsigned tx must use the non-witness serialization: {e}"),
                        )
                    })?;
                    unsigned_tx = Some(tx);
                }
                GLOBAL_XPUB => {
                    let xpub: [u8; 78] = pair.array_key(loc, "78 (a serialized xpub)")?;
                    xpubs.insert(xpub, pair.key_source_value(loc)?);
                }
                GLOBAL_VERSION => {
                    pair.expect_no_key_data(loc)?;
                    let v = u32::from_le_bytes(pair.array_value(loc)?);
                    if v != 0 && v != 2 {
                        return Err(PsbtError::UnsupportedVersion(v));
                    }
                    version = Some(v);
                }
                input::PROPRIETARY => {
                    proprietary.insert(pair.key_data.to_vec(), pair.value.to_vec());
                }
                _ => {
                    unknown.insert(pair.key.to_vec(), pair.value.to_vec());
                }
            }
        }
        let v = version.unwrap_or(0);
        let globals = v2::take_globals(&mut unknown, v)?;
        let (n_inputs, n_outputs) = if v == 0 {
            let tx = unsigned_tx.as_ref().ok_or(PsbtError::MissingUnsignedTx)?;
            check_unsigned(tx)?;
            (tx.input.len() as u64, tx.output.len() as u64)
        } else {
            if unsigned_tx.is_some() {
                return Err(PsbtError::FieldNotInVersion {
                    location: loc,
                    key_type: GLOBAL_UNSIGNED_TX,
                    version: 2,
                });
            }
            (
                globals.input_count.unwrap_or(0),
                globals.output_count.unwrap_or(0),
            )
        };
        // Every map takes at least its separator byte: a count beyond the bytes left is
        // caught by reading, and never allocates.
        let left = r.remaining();
        let cap = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).min(left);
        let mut inputs = Vec::with_capacity(cap(n_inputs));
        let mut txins = Vec::new();
        for i in 0..usize::try_from(n_inputs).unwrap_or(usize::MAX) {
            let pairs = raw::read_map(&mut r, Location::Input(i))?;
            let mut input = Input::decode(&pairs, i)?;
            if v == 0 {
                v2::refuse_in_input(&input, i)?;
            } else {
                txins.push(v2::take_input(&mut input, i)?);
            }
            inputs.push(input);
        }
        let mut outputs = Vec::with_capacity(cap(n_outputs));
        let mut txouts = Vec::new();
        for i in 0..usize::try_from(n_outputs).unwrap_or(usize::MAX) {
            let pairs = raw::read_map(&mut r, Location::Output(i))?;
            let mut output = Output::decode(&pairs, i)?;
            if v == 0 {
                v2::refuse_in_output(&output.unknown, i)?;
            } else {
                txouts.push(v2::take_output(&mut output.unknown, i)?);
            }
            outputs.push(output);
        }
        if r.remaining() > 0 {
            return Err(PsbtError::TrailingData(r.remaining()));
        }
        let unsigned_tx = match unsigned_tx {
            Some(tx) => tx,
            None => Transaction {
                version: globals.tx_version.unwrap_or(2),
                lock_time: compute_locktime(globals.fallback_locktime, &inputs)
                    .ok_or(PsbtError::LocktimeUndetermined)?,
                input: txins,
                output: txouts,
            },
        };
        let psbt = Psbt {
            unsigned_tx,
            xpubs,
            version,
            fallback_locktime: globals.fallback_locktime,
            tx_modifiable: globals.tx_modifiable,
            proprietary,
            unknown,
            inputs,
            outputs,
        };
        psbt.check_non_witness_utxos()?;
        Ok(psbt)
    }

    /// Checks that each non-witness UTXO is the transaction its input spends and has the
    /// spent output (Bitcoin Core refuses such a PSBT when parsing).
    fn check_non_witness_utxos(&self) -> Result<(), PsbtError> {
        for (i, (txin, input)) in self.unsigned_tx.input.iter().zip(&self.inputs).enumerate() {
            let Some(prev) = &input.non_witness_utxo else {
                continue;
            };
            check_non_witness_utxo(i, txin.previous_output, prev)?;
        }
        Ok(())
    }

    /// Returns the binary form.
    pub fn serialize(&self) -> Vec<u8> {
        let v2 = self.psbt_version() == 2;
        let mut out = MAGIC.to_vec();
        if !v2 {
            let tx = self.unsigned_tx.serialize_no_witness();
            raw::write_pair(&mut out, GLOBAL_UNSIGNED_TX, &[], &tx);
        }
        // Core orders xpubs by origin, then public key, then chain code.
        let mut xpubs: Vec<_> = self.xpubs.iter().collect();
        xpubs.sort_by(|(xa, sa), (xb, sb)| {
            (sa, &xa[45..], &xa[13..45]).cmp(&(sb, &xb[45..], &xb[13..45]))
        });
        for (xpub, source) in xpubs {
            raw::write_pair(&mut out, GLOBAL_XPUB, xpub, &raw::encode_key_source(source));
        }
        if v2 {
            v2::write_globals(&mut out, self);
        }
        if let Some(v) = self.version {
            raw::write_pair(&mut out, GLOBAL_VERSION, &[], &v.to_le_bytes());
        }
        for (k, v) in &self.proprietary {
            raw::write_pair(&mut out, input::PROPRIETARY, k, v);
        }
        for (k, v) in &self.unknown {
            raw::write_raw_pair(&mut out, k, v);
        }
        out.push(0x00);
        for (input, txin) in self.inputs.iter().zip(&self.unsigned_tx.input) {
            input.encode_into(&mut out, v2.then_some(txin));
        }
        for (output, txout) in self.outputs.iter().zip(&self.unsigned_tx.output) {
            output.encode_into(&mut out, v2.then_some(txout));
        }
        out
    }

    /// Parses the base64 text form (surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`PsbtError::Base64`] or any [`Psbt::deserialize`] error.
    pub fn from_base64(s: &str) -> Result<Self, PsbtError> {
        let bytes = BASE64
            .decode(s.trim())
            .map_err(|e| PsbtError::Base64(e.to_string()))?;
        Self::deserialize(&bytes)
    }

    /// Returns the base64 text form.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.serialize())
    }

    /// Parses the hex form.
    ///
    /// # Errors
    /// [`PsbtError::Hex`] or any [`Psbt::deserialize`] error.
    pub fn from_hex(s: &str) -> Result<Self, PsbtError> {
        let bytes = hex::decode(s.trim()).map_err(|e| PsbtError::Hex(e.to_string()))?;
        Self::deserialize(&bytes)
    }

    /// Returns the hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.serialize())
    }
}

/// Requires empty scriptSigs and witnesses in an unsigned transaction.
fn check_unsigned(tx: &Transaction) -> Result<(), PsbtError> {
    match tx
        .input
        .iter()
        .position(|i| !i.script_sig.is_empty() || !i.witness.is_empty())
    {
        Some(input) => Err(PsbtError::UnsignedTxNotEmpty { input }),
        None => Ok(()),
    }
}

/// Parses base64, the text form PSBTs travel in.
impl FromStr for Psbt {
    type Err = PsbtError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_base64(s)
    }
}

/// Shows the base64 text form.
impl fmt::Display for Psbt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

#[cfg(test)]
mod tests;
