//! Transaction-level consensus rules shared by the chain and the mempool: coins, Core's
//! `CheckTxInputs` and `IsFinalTx`, and which outputs never enter the UTXO set.

use crate::script::opcodes::OP_RETURN;
use crate::tx::{Transaction, TxOut};
use crate::units::Amount;

use super::block::COINBASE_MATURITY;

/// `LOCKTIME_THRESHOLD`: lock times below are heights, above are UNIX times.
const LOCKTIME_THRESHOLD: u32 = 500_000_000;

/// An unspent output and where it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// The output.
    pub output: TxOut,
    /// The height of the block that created it (the next block's height for mempool coins).
    pub height: u32,
    /// Whether a coinbase created it (then it matures after [`COINBASE_MATURITY`] blocks).
    pub is_coinbase: bool,
}

/// A transaction rule failure: Core's reason and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRuleError {
    /// Core's reject reason.
    pub reason: String,
    /// Detail, as Core's debug message (may be empty).
    pub debug: String,
}

impl TxRuleError {
    /// Creates a rule failure.
    pub fn new(reason: impl Into<String>, debug: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            debug: debug.into(),
        }
    }
}

/// Returns Core's reject reason for a context-free check failure (`CheckTransaction`).
pub fn check_tx_reason(err: &crate::tx::CheckTxError) -> String {
    // Every CheckTxError message ends with Core's reason in brackets.
    let msg = err.to_string();
    msg.rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .map_or(msg.clone(), str::to_owned)
}

/// Core's `Consensus::CheckTxInputs`: coinbase maturity at `spend_height`, amounts in
/// range, inputs covering outputs. Returns the fee.
///
/// # Errors
/// The rule broken, with Core's reason.
pub fn check_tx_inputs(
    tx: &Transaction,
    coins: &[Coin],
    spend_height: u32,
) -> Result<Amount, TxRuleError> {
    let mut value_in = Amount::ZERO;
    for coin in coins {
        if coin.is_coinbase && spend_height.saturating_sub(coin.height) < COINBASE_MATURITY {
            return Err(TxRuleError::new(
                "bad-txns-premature-spend-of-coinbase",
                format!(
                    "tried to spend coinbase at depth {}",
                    spend_height.saturating_sub(coin.height)
                ),
            ));
        }
        value_in = value_in
            .checked_add(coin.output.value)
            .filter(|v| *v <= Amount::MAX_MONEY && coin.output.value <= Amount::MAX_MONEY)
            .ok_or_else(|| TxRuleError::new("bad-txns-inputvalues-outofrange", ""))?;
    }
    let value_out = Amount::checked_sum(tx.output.iter().map(|o| o.value))
        .ok_or_else(|| TxRuleError::new("bad-txns-txouttotal-toolarge", ""))?;
    value_in.checked_sub(value_out).ok_or_else(|| {
        TxRuleError::new(
            "bad-txns-in-belowout",
            format!(
                "value in ({}) < value out ({})",
                value_in.to_btc_string(),
                value_out.to_btc_string()
            ),
        )
    })
}

/// Core's `IsFinalTx` for a block at `height` whose previous block has median time
/// `time`.
pub fn is_final_tx(tx: &Transaction, height: u32, time: u32) -> bool {
    if tx.lock_time == 0 {
        return true;
    }
    let limit = if tx.lock_time < LOCKTIME_THRESHOLD {
        height
    } else {
        time
    };
    tx.lock_time < limit || tx.input.iter().all(|i| i.sequence == u32::MAX)
}

/// Returns true if an output can never be spent (Core leaves these out of the UTXO set).
pub fn is_unspendable(output: &TxOut) -> bool {
    let b = output.script_pubkey.as_bytes();
    b.first() == Some(&OP_RETURN) || b.len() > 10_000
}
