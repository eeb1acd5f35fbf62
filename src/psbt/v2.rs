//! PSBT version 2 (BIP-0370): the fields that replace version 0's unsigned transaction.
//!
//! In version 2 the transaction is spread over the maps: the global map holds its version,
//! a fallback locktime, the input and output counts and the "modifiable" flags; each input
//! map holds the previous txid, output index, sequence and the locktimes it requires; each
//! output map holds the amount and script. ferry keeps one model for both versions: the
//! parser builds [`Psbt::unsigned_tx`] from these fields (the locktime computed as BIP-0370
//! says), every role works on that transaction, and [`Psbt::serialize`] writes the PSBT
//! back in the version it came in, in Bitcoin Core's field order. [`Psbt::set_version`]
//! converts between the two.
//!
//! Parsing reads every map generically first (types these fields use are "unknown" to the
//! version 0 maps); the functions here take them out of the unknown pairs, check them, and
//! refuse them in a version 0 PSBT, as BIP-0370 and Bitcoin Core do.
//!
//! [BIP-0370]: https://github.com/bitcoin/bips/blob/master/bip-0370.mediawiki

use std::collections::BTreeMap;

use super::error::{Location, PsbtError};
use super::raw::write_pair;
use super::{Input, Psbt};
use crate::script::ScriptBuf;
use crate::tx::encode::{Reader, write_compact_size};
use crate::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use crate::units::Amount;

pub(crate) const GLOBAL_TX_VERSION: u8 = 0x02;
pub(crate) const GLOBAL_FALLBACK_LOCKTIME: u8 = 0x03;
pub(crate) const GLOBAL_INPUT_COUNT: u8 = 0x04;
pub(crate) const GLOBAL_OUTPUT_COUNT: u8 = 0x05;
pub(crate) const GLOBAL_TX_MODIFIABLE: u8 = 0x06;
const IN_PREVIOUS_TXID: u8 = 0x0e;
const IN_OUTPUT_INDEX: u8 = 0x0f;
const IN_SEQUENCE: u8 = 0x10;
const IN_REQUIRED_TIME_LOCKTIME: u8 = 0x11;
const IN_REQUIRED_HEIGHT_LOCKTIME: u8 = 0x12;
const OUT_AMOUNT: u8 = 0x03;
const OUT_SCRIPT: u8 = 0x04;

/// Locktimes below this are block heights, at or above it Unix times (consensus).
pub const LOCKTIME_THRESHOLD: u32 = 500_000_000;

/// The sequence an input without `PSBT_IN_SEQUENCE` has.
const SEQUENCE_FINAL: u32 = 0xffff_ffff;

/// The global fields of version 2, as read.
#[derive(Debug, Default)]
pub(crate) struct Globals {
    pub tx_version: Option<i32>,
    pub fallback_locktime: Option<u32>,
    pub input_count: Option<u64>,
    pub output_count: Option<u64>,
    pub tx_modifiable: Option<u8>,
}

/// Takes the pair of `key_type` (keyed by type alone) out of `unknown`: its value, or an
/// error if its key has key data.
fn take(
    unknown: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    key_type: u8,
    location: Location,
) -> Result<Option<Vec<u8>>, PsbtError> {
    let Some(key) = unknown
        .keys()
        .find(|k| k.first() == Some(&key_type))
        .cloned()
    else {
        return Ok(None);
    };
    if key.len() != 1 {
        return Err(PsbtError::InvalidKey {
            location,
            key_type: u64::from(key_type),
            expected: "0",
            actual: key.len() - 1,
        });
    }
    Ok(unknown.remove(&key))
}

fn bad(location: Location, key_type: u8, reason: impl Into<String>) -> PsbtError {
    PsbtError::InvalidValue {
        location,
        key_type: u64::from(key_type),
        reason: reason.into(),
    }
}

fn u32_value(v: &[u8], location: Location, key_type: u8) -> Result<u32, PsbtError> {
    let a: [u8; 4] = v.try_into().map_err(|_| {
        bad(
            location,
            key_type,
            format!("expected 4 bytes, got {}", v.len()),
        )
    })?;
    Ok(u32::from_le_bytes(a))
}

fn compact_size_value(v: &[u8], location: Location, key_type: u8) -> Result<u64, PsbtError> {
    let mut r = Reader::new(v);
    let n = r
        .compact_size("count")
        .map_err(|e| bad(location, key_type, e.to_string()))?;
    r.finish()
        .map_err(|e| bad(location, key_type, e.to_string()))?;
    Ok(n)
}

/// Refuses any of `types` in a version 0 map.
fn refuse(
    unknown: &BTreeMap<Vec<u8>, Vec<u8>>,
    types: &[u8],
    location: Location,
) -> Result<(), PsbtError> {
    match unknown
        .keys()
        .filter_map(|k| k.first())
        .find(|t| types.contains(t))
    {
        Some(&key_type) => Err(PsbtError::FieldNotInVersion {
            location,
            key_type: u64::from(key_type),
            version: 0,
        }),
        None => Ok(()),
    }
}

/// Takes the version 2 global fields out of the global map's unknown pairs.
pub(crate) fn take_globals(
    unknown: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    version: u32,
) -> Result<Globals, PsbtError> {
    let loc = Location::Global;
    if version == 0 {
        refuse(
            unknown,
            &[
                GLOBAL_TX_VERSION,
                GLOBAL_FALLBACK_LOCKTIME,
                GLOBAL_INPUT_COUNT,
                GLOBAL_OUTPUT_COUNT,
                GLOBAL_TX_MODIFIABLE,
            ],
            loc,
        )?;
        return Ok(Globals::default());
    }
    let mut g = Globals::default();
    if let Some(v) = take(unknown, GLOBAL_TX_VERSION, loc)? {
        // Core keeps it as a uint32; the transaction field is the same four bytes.
        g.tx_version = Some(u32_value(&v, loc, GLOBAL_TX_VERSION)? as i32);
    }
    if let Some(v) = take(unknown, GLOBAL_FALLBACK_LOCKTIME, loc)? {
        g.fallback_locktime = Some(u32_value(&v, loc, GLOBAL_FALLBACK_LOCKTIME)?);
    }
    if let Some(v) = take(unknown, GLOBAL_INPUT_COUNT, loc)? {
        g.input_count = Some(compact_size_value(&v, loc, GLOBAL_INPUT_COUNT)?);
    }
    if let Some(v) = take(unknown, GLOBAL_OUTPUT_COUNT, loc)? {
        g.output_count = Some(compact_size_value(&v, loc, GLOBAL_OUTPUT_COUNT)?);
    }
    if let Some(v) = take(unknown, GLOBAL_TX_MODIFIABLE, loc)? {
        let [flags]: [u8; 1] = v.as_slice().try_into().map_err(|_| {
            bad(
                loc,
                GLOBAL_TX_MODIFIABLE,
                format!("expected 1 byte, got {}", v.len()),
            )
        })?;
        g.tx_modifiable = Some(flags);
    }
    let missing = |what| PsbtError::MissingField {
        location: loc,
        what,
    };
    if g.tx_version.is_none() {
        return Err(missing("PSBT_GLOBAL_TX_VERSION"));
    }
    if g.input_count.is_none() {
        return Err(missing("PSBT_GLOBAL_INPUT_COUNT"));
    }
    if g.output_count.is_none() {
        return Err(missing("PSBT_GLOBAL_OUTPUT_COUNT"));
    }
    Ok(g)
}

/// Refuses version 2 fields in a version 0 input map.
pub(crate) fn refuse_in_input(input: &Input, index: usize) -> Result<(), PsbtError> {
    refuse(
        &input.unknown,
        &[
            IN_PREVIOUS_TXID,
            IN_OUTPUT_INDEX,
            IN_SEQUENCE,
            IN_REQUIRED_TIME_LOCKTIME,
            IN_REQUIRED_HEIGHT_LOCKTIME,
        ],
        Location::Input(index),
    )
}

/// Refuses version 2 fields in a version 0 output map.
pub(crate) fn refuse_in_output(
    unknown: &BTreeMap<Vec<u8>, Vec<u8>>,
    index: usize,
) -> Result<(), PsbtError> {
    refuse(unknown, &[OUT_AMOUNT, OUT_SCRIPT], Location::Output(index))
}

/// Takes a version 2 input's transaction fields out of its map: the input of the
/// transaction (sequence 0xffffffff when absent), and sets its required locktimes.
pub(crate) fn take_input(input: &mut Input, index: usize) -> Result<TxIn, PsbtError> {
    let loc = Location::Input(index);
    let missing = |what| PsbtError::MissingField {
        location: loc,
        what,
    };
    let txid = take(&mut input.unknown, IN_PREVIOUS_TXID, loc)?
        .ok_or_else(|| missing("PSBT_IN_PREVIOUS_TXID"))?;
    let txid: [u8; 32] = txid.as_slice().try_into().map_err(|_| {
        bad(
            loc,
            IN_PREVIOUS_TXID,
            format!("expected 32 bytes, got {}", txid.len()),
        )
    })?;
    let vout = take(&mut input.unknown, IN_OUTPUT_INDEX, loc)?
        .ok_or_else(|| missing("PSBT_IN_OUTPUT_INDEX"))?;
    let vout = u32_value(&vout, loc, IN_OUTPUT_INDEX)?;
    let sequence = match take(&mut input.unknown, IN_SEQUENCE, loc)? {
        Some(v) => {
            input.explicit_sequence = true;
            u32_value(&v, loc, IN_SEQUENCE)?
        }
        None => SEQUENCE_FINAL,
    };
    if let Some(v) = take(&mut input.unknown, IN_REQUIRED_TIME_LOCKTIME, loc)? {
        let t = u32_value(&v, loc, IN_REQUIRED_TIME_LOCKTIME)?;
        if t < LOCKTIME_THRESHOLD {
            return Err(bad(
                loc,
                IN_REQUIRED_TIME_LOCKTIME,
                format!("required time locktime {t} is below 500000000 (that is a height)"),
            ));
        }
        input.required_time_locktime = Some(t);
    }
    if let Some(v) = take(&mut input.unknown, IN_REQUIRED_HEIGHT_LOCKTIME, loc)? {
        let h = u32_value(&v, loc, IN_REQUIRED_HEIGHT_LOCKTIME)?;
        if h == 0 || h >= LOCKTIME_THRESHOLD {
            return Err(bad(
                loc,
                IN_REQUIRED_HEIGHT_LOCKTIME,
                format!("required height locktime {h} is not a height (1 to 499999999)"),
            ));
        }
        input.required_height_locktime = Some(h);
    }
    Ok(TxIn::new(
        OutPoint {
            txid: Txid::from_byte_array(txid),
            vout,
        },
        sequence,
    ))
}

/// Takes a version 2 output's amount and script out of its map's unknown pairs.
pub(crate) fn take_output(
    unknown: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    index: usize,
) -> Result<TxOut, PsbtError> {
    let loc = Location::Output(index);
    let missing = |what| PsbtError::MissingField {
        location: loc,
        what,
    };
    let amount = take(unknown, OUT_AMOUNT, loc)?.ok_or_else(|| missing("PSBT_OUT_AMOUNT"))?;
    let amount: [u8; 8] = amount.as_slice().try_into().map_err(|_| {
        bad(
            loc,
            OUT_AMOUNT,
            format!("expected 8 bytes, got {}", amount.len()),
        )
    })?;
    let value = i64::from_le_bytes(amount);
    let value = u64::try_from(value)
        .map_err(|_| bad(loc, OUT_AMOUNT, format!("negative amount {value}")))?;
    let script = take(unknown, OUT_SCRIPT, loc)?.ok_or_else(|| missing("PSBT_OUT_SCRIPT"))?;
    Ok(TxOut {
        value: Amount::from_sat(value),
        script_pubkey: ScriptBuf::from_bytes(script),
    })
}

/// Computes the transaction's locktime from the inputs' required locktimes and the
/// fallback (BIP-0370, "Determining Lock Time"): `None` if the inputs require both a
/// height and a time that no single locktime can satisfy.
pub fn compute_locktime(fallback: Option<u32>, inputs: &[Input]) -> Option<u32> {
    let mut time: Option<u32> = Some(0);
    let mut height: Option<u32> = Some(0);
    for input in inputs {
        match (input.required_time_locktime, input.required_height_locktime) {
            (Some(_), None) => {
                height = None;
                time?;
            }
            (None, Some(_)) => {
                time = None;
                height?;
            }
            _ => {}
        }
        if let (Some(t), Some(cur)) = (input.required_time_locktime, time) {
            time = Some(cur.max(t));
        }
        if let (Some(h), Some(cur)) = (input.required_height_locktime, height) {
            height = Some(cur.max(h));
        }
    }
    match (height, time) {
        (Some(h), _) if h > 0 => Some(h),
        (_, Some(t)) if t > 0 => Some(t),
        _ => Some(fallback.unwrap_or(0)),
    }
}

/// Writes the version 2 global fields (after the xpubs, as Core does).
pub(crate) fn write_globals(out: &mut Vec<u8>, psbt: &Psbt) {
    let tx = &psbt.unsigned_tx;
    write_pair(
        out,
        u64::from(GLOBAL_TX_VERSION),
        &[],
        &(tx.version as u32).to_le_bytes(),
    );
    if let Some(l) = psbt.fallback_locktime {
        write_pair(
            out,
            u64::from(GLOBAL_FALLBACK_LOCKTIME),
            &[],
            &l.to_le_bytes(),
        );
    }
    let mut count = Vec::new();
    write_compact_size(&mut count, tx.input.len() as u64);
    write_pair(out, u64::from(GLOBAL_INPUT_COUNT), &[], &count);
    count.clear();
    write_compact_size(&mut count, tx.output.len() as u64);
    write_pair(out, u64::from(GLOBAL_OUTPUT_COUNT), &[], &count);
    if let Some(flags) = psbt.tx_modifiable {
        write_pair(out, u64::from(GLOBAL_TX_MODIFIABLE), &[], &[flags]);
    }
}

/// Writes a version 2 input's transaction fields (after the final fields, as Core does).
pub(crate) fn write_input(out: &mut Vec<u8>, input: &Input, txin: &TxIn) {
    write_pair(
        out,
        u64::from(IN_PREVIOUS_TXID),
        &[],
        txin.previous_output.txid.as_bytes(),
    );
    write_pair(
        out,
        u64::from(IN_OUTPUT_INDEX),
        &[],
        &txin.previous_output.vout.to_le_bytes(),
    );
    if input.explicit_sequence || txin.sequence != SEQUENCE_FINAL {
        write_pair(
            out,
            u64::from(IN_SEQUENCE),
            &[],
            &txin.sequence.to_le_bytes(),
        );
    }
    if let Some(t) = input.required_time_locktime {
        write_pair(
            out,
            u64::from(IN_REQUIRED_TIME_LOCKTIME),
            &[],
            &t.to_le_bytes(),
        );
    }
    if let Some(h) = input.required_height_locktime {
        write_pair(
            out,
            u64::from(IN_REQUIRED_HEIGHT_LOCKTIME),
            &[],
            &h.to_le_bytes(),
        );
    }
}

/// Writes a version 2 output's amount and script (after its key origins, as Core does).
pub(crate) fn write_output(out: &mut Vec<u8>, txout: &TxOut) {
    write_pair(
        out,
        u64::from(OUT_AMOUNT),
        &[],
        &txout.value.to_sat().to_le_bytes(),
    );
    write_pair(
        out,
        u64::from(OUT_SCRIPT),
        &[],
        txout.script_pubkey.as_bytes(),
    );
}

/// Returns the transaction that identifies a version 2 PSBT for combining: its unsigned
/// transaction with every sequence zero (Core's `GetUniqueID`), since signers may change
/// sequences.
pub(crate) fn unique_tx(tx: &Transaction) -> Transaction {
    let mut tx = tx.clone();
    for txin in &mut tx.input {
        txin.sequence = 0;
    }
    tx
}

impl Psbt {
    /// Returns the PSBT version: 0 (BIP-0174) or 2 (BIP-0370).
    pub fn psbt_version(&self) -> u32 {
        self.version.unwrap_or(0)
    }

    /// Converts the PSBT to `version` (0 or 2); the transaction stays the same.
    ///
    /// To version 0 the version 2 fields go (the locktime they determine is already the
    /// unsigned transaction's); to version 2 the fallback locktime becomes the
    /// transaction's locktime and every sequence is written explicitly, as Bitcoin Core
    /// does when it creates a version 2 PSBT.
    ///
    /// # Errors
    /// [`PsbtError::UnsupportedVersion`] for any other version.
    pub fn set_version(&mut self, version: u32) -> Result<(), PsbtError> {
        match (self.psbt_version(), version) {
            (0, 0) | (2, 2) => {}
            (2, 0) => {
                self.version = None;
                self.fallback_locktime = None;
                self.tx_modifiable = None;
                for input in &mut self.inputs {
                    input.required_time_locktime = None;
                    input.required_height_locktime = None;
                    input.explicit_sequence = false;
                }
            }
            (0, 2) => {
                self.version = Some(2);
                self.fallback_locktime = Some(self.unsigned_tx.lock_time);
                for input in &mut self.inputs {
                    input.explicit_sequence = true;
                }
            }
            (_, v) => return Err(PsbtError::UnsupportedVersion(v)),
        }
        Ok(())
    }
}
