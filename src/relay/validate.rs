//! The checks a transaction passes before the relay queues it (DESIGN.md section 5):
//! consensus decoding, Core's CheckTransaction, size and weight limits, prevouts known to
//! the backend, the fee floor, and every input verified by Bitcoin Core's interpreter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::error::AppError;
use crate::chain::{ChainBackend, ChainError};
use crate::consensus::ConsensusError;
use crate::tx::{CheckTxError, DecodeError, OutPoint, Transaction, TxOut, Txid, check_transaction};
use crate::units::{Amount, FeeRate, Weight};

/// Why a transaction is refused before it is queued, in Bitcoin's terms; it becomes the
/// protocol's code and HTTP status in one place (`From<Refusal> for AppError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// More hex than a transaction of the relay's size limit can take.
    #[error("{hex_len} hex characters is more than a {max_vbytes} vB transaction can take")]
    HexTooLong {
        /// Characters sent.
        hex_len: usize,
        /// The relay's limit.
        max_vbytes: u64,
    },
    /// Not a transaction.
    #[error("not a consensus-encoded transaction: {0}")]
    Undecodable(DecodeError),
    /// Over the size limit.
    #[error("{vsize} vB ({weight_wu} WU) is over this relay's limit of {max_vbytes} vB")]
    TooLarge {
        /// Its virtual size.
        vsize: u64,
        /// Its weight.
        weight_wu: u64,
        /// The relay's limit.
        max_vbytes: u64,
    },
    /// Fails Core's CheckTransaction.
    #[error(transparent)]
    Invalid(CheckTxError),
    /// A coinbase.
    #[error("a coinbase transaction cannot be relayed")]
    Coinbase,
    /// Spends an output the backend does not know.
    #[error("input {index} spends {outpoint}, which this relay's backend does not know")]
    MissingInput {
        /// The input.
        index: usize,
        /// What it spends.
        outpoint: OutPoint,
    },
    /// The spent values do not add up.
    #[error("input values overflow")]
    InputsOverflow,
    /// The output values do not add up.
    #[error("output values overflow")]
    OutputsOverflow,
    /// Pays out more than it spends.
    #[error("outputs ({} sat) exceed inputs ({} sat)", .outputs.to_sat(), .inputs.to_sat())]
    OutputsExceedInputs {
        /// What it spends.
        inputs: Amount,
        /// What it pays out.
        outputs: Amount,
    },
    /// Pays less than the relay's floor.
    #[error("fee rate {} is below this relay's floor of {}", .rate.display_sat_per_vb(), .floor.display_sat_per_vb())]
    FeeBelowFloor {
        /// What it pays.
        rate: FeeRate,
        /// The floor.
        floor: FeeRate,
    },
    /// An input's script does not verify in Core's interpreter.
    #[error(transparent)]
    Script(ConsensusError),
    /// The backend refused it, with the backend's reason.
    #[error("{0}")]
    BackendRejected(String),
    /// The backend could not be asked.
    #[error("{0}")]
    BackendUnavailable(String),
    /// A fault of the relay's own.
    #[error("{0}")]
    Internal(&'static str),
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> AppError {
        let message = r.to_string();
        match r {
            Refusal::HexTooLong { .. } | Refusal::TooLarge { .. } => AppError::too_large(message),
            Refusal::Undecodable(_)
            | Refusal::Invalid(_)
            | Refusal::Coinbase
            | Refusal::InputsOverflow
            | Refusal::OutputsOverflow
            | Refusal::OutputsExceedInputs { .. } => AppError::malformed(message),
            Refusal::MissingInput { .. } => AppError::missing_inputs(message),
            Refusal::FeeBelowFloor { .. } => AppError::fee_too_low(message),
            Refusal::Script(_) => AppError::script_failed(message),
            Refusal::BackendRejected(_) => AppError::backend_rejected(message),
            Refusal::BackendUnavailable(_) => AppError::backend_unavailable(message),
            Refusal::Internal(_) => AppError::internal(message),
        }
    }
}

/// The most transactions the prevout cache holds before it starts over.
const PREVOUT_CACHE: usize = 20_000;

/// From this many inputs on, scripts are verified on a blocking thread: one input costs
/// ~50 µs (less than a thread hand-off is worth), a hundred several milliseconds.
const BLOCKING_VERIFY_INPUTS: usize = 4;

/// Transactions fetched from the backend, by txid: a txid names its content forever, so
/// caching them is always safe and spares the backend one request per input under load.
///
/// Concurrent misses on the same parent share one fetch (single flight): a burst of
/// children of one transaction (a payout batch, a fan-out) would otherwise send the backend
/// one request per child before the first answer lands — measured as the whole p99 of
/// `cargo bench --bench relay_load` (64 clients, 64 fetches of one 2,500-output parent).
#[derive(Debug, Default)]
pub struct PrevoutCache(Mutex<HashMap<Txid, Arc<OnceCell<Fetched>>>>);

/// One fetch's outcome, shared by everyone who waited for it.
type Fetched = Result<Option<Arc<Transaction>>, Refusal>;

impl PrevoutCache {
    /// Returns `txid`'s transaction from the cache, or fetches it once for every caller
    /// waiting on it. Only a found transaction stays cached: an unknown txid may be known
    /// later, and a backend failure may pass.
    async fn get(
        &self,
        txid: Txid,
        backend: &Arc<dyn ChainBackend>,
    ) -> Result<Option<Arc<Transaction>>, Refusal> {
        let cell = {
            let mut map = self
                .0
                .lock()
                .map_err(|_| Refusal::Internal("prevout cache poisoned"))?;
            if map.len() >= PREVOUT_CACHE && !map.contains_key(&txid) {
                map.clear();
            }
            Arc::clone(map.entry(txid).or_default())
        };
        let fetched = cell
            .get_or_init(|| async {
                let fetched = backend
                    .transaction(txid)
                    .await
                    .map(|t| t.map(Arc::new))
                    .map_err(backend_err);
                if !matches!(fetched, Ok(Some(_)))
                    && let Ok(mut map) = self.0.lock()
                    && map.get(&txid).is_some_and(|c| Arc::ptr_eq(c, &cell))
                {
                    // Later callers ask again; those waiting now share this answer.
                    map.remove(&txid);
                }
                fetched
            })
            .await;
        fetched.clone()
    }
}

/// Decodes hex into a transaction and runs the context-free checks.
///
/// # Errors
/// `malformed_tx` or `too_large`.
pub fn decode(hex_tx: &str, max_vbytes: u64) -> Result<Transaction, Refusal> {
    let hex_tx = hex_tx.trim();
    if hex_tx.len() as u64 > max_vbytes.saturating_mul(8) {
        return Err(Refusal::HexTooLong {
            hex_len: hex_tx.len(),
            max_vbytes,
        });
    }
    let tx = Transaction::from_hex(hex_tx).map_err(Refusal::Undecodable)?;
    if tx.vsize() > max_vbytes || tx.weight() > Weight::MAX_STANDARD_TX {
        return Err(Refusal::TooLarge {
            vsize: tx.vsize(),
            weight_wu: tx.weight().to_wu(),
            max_vbytes,
        });
    }
    check_transaction(&tx).map_err(Refusal::Invalid)?;
    if tx.is_coinbase() {
        return Err(Refusal::Coinbase);
    }
    Ok(tx)
}

/// Returns the outputs `tx` spends, from the cache or the backend.
///
/// # Errors
/// `missing_inputs` or `backend_unavailable`.
pub async fn spent_outputs(
    tx: &Transaction,
    backend: &Arc<dyn ChainBackend>,
    cache: &PrevoutCache,
) -> Result<Vec<TxOut>, Refusal> {
    let mut spent: Vec<TxOut> = Vec::with_capacity(tx.input.len());
    for (i, input) in tx.input.iter().enumerate() {
        spent.push(spent_output(i, input.previous_output, backend, cache).await?);
    }
    Ok(spent)
}

/// Returns the output input `index` spends, `outpoint`, from the cache or the backend.
///
/// # Errors
/// `missing_inputs` or `backend_unavailable`.
pub async fn spent_output(
    index: usize,
    outpoint: OutPoint,
    backend: &Arc<dyn ChainBackend>,
    cache: &PrevoutCache,
) -> Result<TxOut, Refusal> {
    let out = match cache.get(outpoint.txid, backend).await? {
        Some(t) => t.output.get(outpoint.vout as usize).cloned(),
        // Some backends cannot hand out a confirmed transaction by id (Core without
        // -txindex) but still know its unspent outputs.
        None => backend.prevout(outpoint).await.map_err(backend_err)?,
    };
    out.ok_or(Refusal::MissingInput { index, outpoint })
}

/// Returns `tx`'s fee given the outputs it spends.
///
/// # Errors
/// `malformed_tx` when outputs exceed inputs or a sum overflows.
pub fn fee(tx: &Transaction, spent: &[TxOut]) -> Result<Amount, Refusal> {
    let inputs =
        Amount::checked_sum(spent.iter().map(|o| o.value)).ok_or(Refusal::InputsOverflow)?;
    let outputs =
        Amount::checked_sum(tx.output.iter().map(|o| o.value)).ok_or(Refusal::OutputsOverflow)?;
    inputs
        .checked_sub(outputs)
        .ok_or(Refusal::OutputsExceedInputs { inputs, outputs })
}

/// Fetches every prevout, checks the fee floor and verifies every input's script; returns
/// the fee.
///
/// # Errors
/// `missing_inputs`, `malformed_tx` (outputs exceed inputs), `fee_too_low`,
/// `script_verify_failed`, or `backend_unavailable`.
pub async fn check_contextual(
    tx: &Transaction,
    backend: &Arc<dyn ChainBackend>,
    cache: &PrevoutCache,
    min_fee_rate: FeeRate,
) -> Result<Amount, Refusal> {
    let spent = spent_outputs(tx, backend, cache).await?;
    let fee = fee(tx, &spent)?;
    let rate = FeeRate::from_fee_and_vbytes(fee, tx.vsize()).unwrap_or(FeeRate::ZERO);
    if rate < min_fee_rate {
        return Err(Refusal::FeeBelowFloor {
            rate,
            floor: min_fee_rate,
        });
    }
    verify_scripts(tx, spent).await?;
    Ok(fee)
}

/// Verifies every input of `tx` in Bitcoin Core's interpreter, given the outputs it spends.
///
/// # Errors
/// `script_verify_failed`.
pub async fn verify_scripts(tx: &Transaction, spent: Vec<TxOut>) -> Result<(), Refusal> {
    let verified = if tx.input.len() < BLOCKING_VERIFY_INPUTS {
        crate::consensus::verify_transaction(tx, &spent)
    } else {
        // Many inputs take milliseconds: off the async threads, so they keep serving.
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || crate::consensus::verify_transaction(&tx, &spent))
            .await
            .map_err(|_| Refusal::Internal("script verification task failed"))?
    };
    verified.map_err(Refusal::Script)
}

/// Maps a backend failure during checks.
pub fn backend_err(e: ChainError) -> Refusal {
    match e {
        ChainError::Rejected { reason } => Refusal::BackendRejected(reason),
        other => Refusal::BackendUnavailable(other.to_string()),
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;
    use crate::relay::error::Code;

    /// Each refusal becomes the protocol's code once, with its own words as the message.
    #[test]
    fn refusals_become_the_protocol_codes() {
        let cases = [
            (
                Refusal::HexTooLong {
                    hex_len: 9,
                    max_vbytes: 1,
                },
                Code::TooLarge,
            ),
            (Refusal::Coinbase, Code::MalformedTx),
            (
                Refusal::OutputsExceedInputs {
                    inputs: Amount::from_sat(5),
                    outputs: Amount::from_sat(6),
                },
                Code::MalformedTx,
            ),
            (
                Refusal::MissingInput {
                    index: 0,
                    outpoint: OutPoint::NULL,
                },
                Code::MissingInputs,
            ),
            (
                Refusal::FeeBelowFloor {
                    rate: FeeRate::ZERO,
                    floor: FeeRate::MIN_RELAY,
                },
                Code::FeeTooLow,
            ),
            (
                Refusal::BackendRejected("bad-txns".into()),
                Code::BackendRejected,
            ),
            (
                Refusal::BackendUnavailable("down".into()),
                Code::BackendUnavailable,
            ),
            (Refusal::Internal("bug"), Code::Internal),
        ];
        let mut wrong = Vec::new();
        for (refusal, code) in cases {
            let message = refusal.to_string();
            let e = AppError::from(refusal);
            if e.code != code || e.message != message {
                wrong.push(format!("{message}: {:?} (expected {code:?})", e.code));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert_eq!(
            Refusal::OutputsExceedInputs {
                inputs: Amount::from_sat(5),
                outputs: Amount::from_sat(6)
            }
            .to_string(),
            "outputs (6 sat) exceed inputs (5 sat)"
        );
    }
}
