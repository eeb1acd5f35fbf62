//! Context-free transaction checks, as Bitcoin Core's `CheckTransaction` does them: what
//! any node refuses before looking at the chain.

use std::collections::HashSet;

use super::Transaction;
use crate::units::{Amount, Weight};

/// Why a transaction fails the context-free checks (Core's reject reasons in brackets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckTxError {
    /// No inputs (`bad-txns-vin-empty`).
    #[error("transaction has no inputs (bad-txns-vin-empty)")]
    NoInputs,
    /// No outputs (`bad-txns-vout-empty`).
    #[error("transaction has no outputs (bad-txns-vout-empty)")]
    NoOutputs,
    /// Heavier than a block (`bad-txns-oversize`).
    #[error("transaction weighs {0}, more than a block (bad-txns-oversize)")]
    Oversize(Weight),
    /// An output above 21M BTC (`bad-txns-vout-toolarge`).
    #[error("output {index} pays {value}, more than 21 million BTC (bad-txns-vout-toolarge)")]
    OutputTooLarge {
        /// Output index.
        index: usize,
        /// Its value.
        value: Amount,
    },
    /// The outputs add up to more than 21M BTC (`bad-txns-txouttotal-toolarge`).
    #[error("outputs add up to more than 21 million BTC (bad-txns-txouttotal-toolarge)")]
    OutputTotalTooLarge,
    /// The same outpoint spent twice (`bad-txns-inputs-duplicate`).
    #[error("input {0} is spent twice (bad-txns-inputs-duplicate)")]
    DuplicateInput(super::OutPoint),
    /// Coinbase scriptSig not 2–100 bytes (`bad-cb-length`).
    #[error("coinbase scriptSig is {0} bytes, not 2 to 100 (bad-cb-length)")]
    CoinbaseLength(usize),
    /// A non-coinbase input spends the null outpoint (`bad-txns-prevout-null`).
    #[error("input spends the null outpoint (bad-txns-prevout-null)")]
    NullPrevout,
}

/// Checks `tx` the way Core's `CheckTransaction` does.
///
/// # Errors
/// The first [`CheckTxError`] found.
pub fn check_transaction(tx: &Transaction) -> Result<(), CheckTxError> {
    if tx.input.is_empty() {
        return Err(CheckTxError::NoInputs);
    }
    if tx.output.is_empty() {
        return Err(CheckTxError::NoOutputs);
    }
    // Core compares the no-witness size × 4 with the block weight limit.
    let stripped = Weight::from_wu(tx.base_size() as u64 * 4);
    if stripped > Weight::MAX_BLOCK {
        return Err(CheckTxError::Oversize(stripped));
    }
    let mut total = Amount::ZERO;
    for (index, out) in tx.output.iter().enumerate() {
        if out.value > Amount::MAX_MONEY {
            return Err(CheckTxError::OutputTooLarge {
                index,
                value: out.value,
            });
        }
        total = total
            .checked_add(out.value)
            .filter(|t| *t <= Amount::MAX_MONEY)
            .ok_or(CheckTxError::OutputTotalTooLarge)?;
    }
    let mut seen = HashSet::with_capacity(tx.input.len());
    for txin in &tx.input {
        if !seen.insert(txin.previous_output) {
            return Err(CheckTxError::DuplicateInput(txin.previous_output));
        }
    }
    if tx.is_coinbase() {
        let len = tx.input[0].script_sig.len();
        if !(2..=100).contains(&len) {
            return Err(CheckTxError::CoinbaseLength(len));
        }
    } else if tx
        .input
        .iter()
        .any(|i| i.previous_output == super::OutPoint::NULL)
    {
        return Err(CheckTxError::NullPrevout);
    }
    Ok(())
}
