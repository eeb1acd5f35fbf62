//! Errors of the PSBT module: one enum for the format and the creator/updater/combiner
//! roles, and one each for the signer, the finalizer and the extractor.

use std::fmt;

use thiserror::Error;

use crate::tx::{DecodeError, Txid};
use crate::units::{Amount, FeeRate};

/// Which key-value map of a PSBT a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The global map.
    Global,
    /// The map of input `n`.
    Input(usize),
    /// The map of output `n`.
    Output(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Global => f.write_str("global map"),
            Location::Input(n) => write!(f, "input {n}"),
            Location::Output(n) => write!(f, "output {n}"),
        }
    }
}

/// Why a PSBT did not parse, or why a creator/updater/combiner step was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PsbtError {
    /// The data does not start with `psbt\xff`.
    #[error("missing psbt magic bytes (0x70736274ff): this is not a psbt")]
    InvalidMagic,
    /// The text is not base64.
    #[error("invalid base64: {0}")]
    Base64(String),
    /// The text is not hex.
    #[error("invalid hex: {0}")]
    Hex(String),
    /// Bytes ended early or a length was malformed while reading a map.
    #[error("malformed {location}: {error}")]
    Decode {
        /// The map being read.
        location: Location,
        /// What went wrong (in the message, not a `source()`: printed once).
        error: DecodeError,
    },
    /// A key appears twice in one map.
    #[error("duplicate key {key} in {location}")]
    DuplicateKey {
        /// The map.
        location: Location,
        /// The whole key (type and key data), hex.
        key: String,
    },
    /// A known key type has key data of the wrong length or form.
    #[error(
        "key of type {key_type:#04x} in {location} has {actual} bytes of key data, expected {expected}"
    )]
    InvalidKey {
        /// The map.
        location: Location,
        /// The key type.
        key_type: u64,
        /// What the type requires.
        expected: &'static str,
        /// The key data length found.
        actual: usize,
    },
    /// A known key's value does not have the form its type requires.
    #[error("invalid value for key type {key_type:#04x} in {location}: {reason}")]
    InvalidValue {
        /// The map.
        location: Location,
        /// The key type.
        key_type: u64,
        /// What is wrong.
        reason: String,
    },
    /// The global map has no unsigned transaction.
    #[error("global map has no unsigned transaction (PSBT_GLOBAL_UNSIGNED_TX)")]
    MissingUnsignedTx,
    /// An input of the unsigned transaction carries a scriptSig or witness.
    #[error("unsigned transaction input {input} has a non-empty scriptSig or witness")]
    UnsignedTxNotEmpty {
        /// The input index.
        input: usize,
    },
    /// The PSBT declares a version this implementation does not speak.
    #[error("unsupported psbt version {0} (versions 0 and 2 are supported)")]
    UnsupportedVersion(u32),
    /// A field that the PSBT's version does not allow (BIP-0370).
    #[error("key type {key_type:#04x} in {location} is not allowed in a version {version} psbt")]
    FieldNotInVersion {
        /// The map.
        location: Location,
        /// The key type.
        key_type: u64,
        /// The PSBT's version.
        version: u32,
    },
    /// A field that a version 2 PSBT requires is missing (BIP-0370).
    #[error("{location} lacks {what}, which a version 2 psbt requires")]
    MissingField {
        /// The map.
        location: Location,
        /// The field's name.
        what: &'static str,
    },
    /// The inputs of a version 2 PSBT require a height and a time locktime at once, which no
    /// transaction can have (BIP-0370, "Determining Lock Time").
    #[error(
        "the inputs require both a block-height and a time locktime: no locktime satisfies them all"
    )]
    LocktimeUndetermined,
    /// Two PSBTs to combine are of different versions.
    #[error("cannot combine a version {ours} psbt with a version {theirs} one; convert one first")]
    DifferentVersions {
        /// This PSBT's version.
        ours: u32,
        /// The other's.
        theirs: u32,
    },
    /// The non-witness UTXO of an input is not the transaction its prevout names.
    #[error("non-witness utxo of input {input} has txid {actual}, but the input spends {expected}")]
    NonWitnessUtxoMismatch {
        /// The input index.
        input: usize,
        /// The prevout's txid.
        expected: Txid,
        /// The supplied transaction's txid.
        actual: Txid,
    },
    /// The non-witness UTXO has no output at the prevout's index.
    #[error("non-witness utxo of input {input} has no output {vout}")]
    PrevoutIndexOutOfRange {
        /// The input index.
        input: usize,
        /// The missing output index.
        vout: u32,
    },
    /// Bytes follow the last output map.
    #[error("{0} bytes of trailing data after the last output map")]
    TrailingData(usize),
    /// Two PSBTs to combine are for different transactions.
    #[error("cannot combine psbts of different transactions: {ours} and {theirs}")]
    DifferentTransactions {
        /// This PSBT's unsigned txid.
        ours: Txid,
        /// The other PSBT's unsigned txid.
        theirs: Txid,
    },
    /// An input or output index is beyond the transaction.
    #[error("{what} index {index} out of range (there are {len})")]
    IndexOutOfRange {
        /// "input" or "output".
        what: &'static str,
        /// The index asked for.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// The transaction given to the creator already has scriptSigs or witnesses.
    #[error("the creator needs an unsigned transaction; input {input} has a scriptSig or witness")]
    CreatorTxNotUnsigned {
        /// The input index.
        input: usize,
    },
}

/// Why the signer refused a PSBT or an input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignerError {
    /// A witness UTXO was supplied for an input whose output script is not segwit.
    #[error("input {input}: witness utxo given for a non-witness output script {script_pubkey}")]
    WitnessUtxoForNonWitnessInput {
        /// The input index.
        input: usize,
        /// The output script, hex.
        script_pubkey: String,
    },
    /// The redeem script does not hash to the P2SH output script.
    #[error("input {input}: redeem script does not match the p2sh script_pubkey {script_pubkey}")]
    RedeemScriptMismatch {
        /// The input index.
        input: usize,
        /// The output script, hex.
        script_pubkey: String,
    },
    /// The witness script does not hash to the P2WSH program.
    #[error("input {input}: witness script does not match the p2wsh program {program}")]
    WitnessScriptMismatch {
        /// The input index.
        input: usize,
        /// The P2WSH program (script or redeem script), hex.
        program: String,
    },
    /// The non-witness UTXO is not the transaction the input spends.
    #[error("input {input}: non-witness utxo is {actual}, but the input spends {expected}")]
    NonWitnessUtxoMismatch {
        /// The input index.
        input: usize,
        /// The prevout's txid.
        expected: Txid,
        /// The supplied transaction's txid.
        actual: Txid,
    },
    /// The witness UTXO differs from the output in the non-witness UTXO.
    #[error("input {input}: witness utxo differs from the spent output in the non-witness utxo")]
    UtxoMismatch {
        /// The input index.
        input: usize,
    },
    /// A segwit input to be signed has only a non-witness UTXO, or none at all.
    #[error("input {input}: the spent output is not known (no utxo)")]
    MissingUtxo {
        /// The input index.
        input: usize,
    },
    /// A non-segwit input to be signed has only a witness UTXO (legacy signing needs the whole
    /// previous transaction to commit to the amount safely).
    #[error("input {input}: a non-segwit input needs its non-witness utxo to be signed")]
    MissingNonWitnessUtxo {
        /// The input index.
        input: usize,
    },
    /// The requested sighash type is not one the signer accepts for this input.
    #[error("input {input}: sighash type {sighash:#x} is not acceptable")]
    UnacceptableSighash {
        /// The input index.
        input: usize,
        /// The requested type.
        sighash: u32,
    },
    /// The input's script needs a redeem or witness script that is absent.
    #[error("input {input}: missing {what}")]
    MissingScript {
        /// The input index.
        input: usize,
        /// "redeem script" or "witness script".
        what: &'static str,
    },
    /// The input is of a kind this signer does not handle.
    #[error("input {input}: cannot sign a spend of {script_pubkey}")]
    UnsupportedScript {
        /// The input index.
        input: usize,
        /// The output script, hex.
        script_pubkey: String,
    },
    /// Computing the signature hash failed.
    #[error("input {input}: sighash: {reason}")]
    Sighash {
        /// The input index.
        input: usize,
        /// The cause.
        reason: String,
    },
    /// The secret key could not produce a signature (e.g. a zero taproot tweak).
    #[error("input {input}: signing failed: {reason}")]
    Signing {
        /// The input index.
        input: usize,
        /// The cause.
        reason: String,
    },
}

/// Why the finalizer could not finalize an input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FinalizeError {
    /// The spent output is unknown.
    #[error("input {input}: the spent output is not known (no utxo)")]
    MissingUtxo {
        /// The input index.
        input: usize,
    },
    /// Not enough signatures for the script.
    #[error("input {input}: {have} of {need} signatures present")]
    NotEnoughSignatures {
        /// The input index.
        input: usize,
        /// Signatures present for the script's keys.
        have: usize,
        /// Signatures required.
        need: usize,
    },
    /// A script needed for finalizing is absent or does not match.
    #[error("input {input}: {reason}")]
    BadScript {
        /// The input index.
        input: usize,
        /// What is wrong.
        reason: String,
    },
    /// The output type is not one the finalizer knows.
    #[error("input {input}: cannot finalize a spend of {script_pubkey}")]
    UnsupportedScript {
        /// The input index.
        input: usize,
        /// The script being satisfied, hex.
        script_pubkey: String,
    },
}

/// Why the final transaction was not extracted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExtractTxError {
    /// An input has neither a final scriptSig nor a final witness.
    #[error("input {input} is not finalized")]
    NotFinalized {
        /// The input index.
        input: usize,
    },
    /// The fee cannot be computed.
    #[error(transparent)]
    Fee(#[from] FeeError),
    /// The fee rate is above the sanity limit.
    #[error("absurd fee rate {} (fee {fee}, limit {}); use extract_tx_unchecked_fee_rate to override", fee_rate.display_sat_per_vb(), max.display_sat_per_vb())]
    AbsurdFeeRate {
        /// The fee paid.
        fee: Amount,
        /// The fee rate of the extracted transaction.
        fee_rate: FeeRate,
        /// The limit.
        max: FeeRate,
    },
}

/// Why the fee of a PSBT cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FeeError {
    /// The value spent by an input is unknown.
    #[error("input {input}: the spent output is not known (no utxo)")]
    MissingUtxo {
        /// The input index.
        input: usize,
    },
    /// The outputs pay more than the inputs spend.
    #[error("outputs ({outputs}) exceed inputs ({inputs})")]
    NegativeFee {
        /// Total input value.
        inputs: Amount,
        /// Total output value.
        outputs: Amount,
    },
    /// A sum overflowed.
    #[error("amount overflow while summing values")]
    Overflow,
}
