//! Taking a submission: the checks, the relay's own view of conflicts (what its pending
//! transactions and the backend say the inputs are spent by), the caps, and the commit.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::claims::{ClaimError, Limits, check_replacement};
use super::error::AppError;
use super::queue::{Attempt, Record, Status};
use super::state::AppState;
use super::validate::{backend_err, check_contextual, decode, fee, spent_outputs};
use crate::chain::Outspend;
use crate::tx::{Transaction, Txid};
use crate::units::Amount;

/// Counts a submission in flight until dropped (also when its request is cancelled).
pub(super) struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    pub(super) fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the checks and commits to the queue; returns the transaction's record.
///
/// # Errors
/// Every refusal of the protocol, as an [`AppError`].
pub async fn submit(
    s: &AppState,
    hex_tx: &str,
    network: Option<&str>,
    who: String,
) -> Result<Record, AppError> {
    let _submitting = InFlight::enter(&s.submitting);
    check_network(s, network)?;
    let tx = decode(hex_tx, s.config.max_tx_vbytes)?;
    let txid = tx.txid();
    // A txid already queued is answered from its record (idempotent), whatever the checks
    // would say now (its own confirmation, a raised fee floor, a backend outage). The queue
    // is asked only when the checks fail: a new transaction — nearly every submission —
    // costs no read, and the writer's insert answers a duplicate that passes them.
    let checked = async {
        let fee = check_contextual(&tx, &s.backend, &s.prevouts, s.config.min_fee_rate).await?;
        if s.claims.contains(&txid) {
            return Ok(None);
        }
        let replacing = judge_conflicts(s, &tx, fee, &HashSet::new()).await?;
        Ok(Some((fee, replacing)))
    }
    .await;
    let reservation = match checked {
        Ok(Some((fee, replacing))) => {
            let limits = Limits {
                per_submitter: s.config.pending_per_submitter,
                total: s.config.max_pending,
            };
            Some(
                s.claims
                    .reserve(&tx, fee, &who, &replacing, limits)
                    .map_err(claim_err)?,
            )
        }
        Ok(None) => None,
        Err(refused) => {
            let existing = s
                .queue
                .get(txid)
                .await
                .map_err(|e| AppError::internal(e.to_string()))?;
            return match existing {
                Some(r) => {
                    s.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                    Ok(r)
                }
                None => Err(refused),
            };
        }
    };
    let (record, inserted) = match s.queue.submit(txid, tx.serialize(), who).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(r) = reservation {
                s.claims.cancel(r);
            }
            return Err(AppError::internal(e.to_string()));
        }
    };
    if inserted {
        s.metrics.accepted.fetch_add(1, Ordering::Relaxed);
        s.wake.notify_one();
        if let Some(r) = reservation {
            mark_replaced(s, txid, r.replaced.iter().map(|(t, _)| *t).collect());
        }
    } else {
        s.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
        // Known already and finished (confirmed or failed): not pending again.
        if let Some(r) = reservation
            && !matches!(record.status, Status::Queued | Status::Broadcast)
        {
            s.claims.cancel(r);
        }
    }
    Ok(record)
}

/// Refuses a submission that names another network than the relay's.
///
/// # Errors
/// `wrong_network`.
pub(super) fn check_network(s: &AppState, network: Option<&str>) -> Result<(), AppError> {
    match network {
        Some(n) if n != s.config.network.to_string() => Err(AppError::wrong_network(format!(
            "the transaction is for {n}, this relay is on {}",
            s.config.network
        ))),
        _ => Ok(()),
    }
}

pub(super) fn claim_err(e: ClaimError) -> AppError {
    match e {
        ClaimError::QueueFull(_) => AppError::queue_full(e.to_string()),
        ClaimError::Raced => AppError::rbf(e.to_string()),
        e => AppError::too_many_pending(e.to_string()),
    }
}

/// Records the transactions a committed replacement replaced as failed (off the answer's
/// path: the replacement is already safe).
pub(super) fn mark_replaced(s: &AppState, by: Txid, replaced: Vec<Txid>) {
    if replaced.is_empty() {
        return;
    }
    let queue = s.queue.clone();
    tokio::spawn(async move {
        for txid in replaced {
            let attempt = Attempt::failed(format!("replaced by {by}"), false);
            if let Err(e) = queue.record(txid, attempt).await {
                tracing::error!(%txid, "cannot mark a replaced transaction: {e}");
            }
        }
    });
}

/// Returns the pending transactions `tx` replaces: the relay's own that spend one of its
/// inputs, and (where the backend can tell) unconfirmed spends the backend knows. A spend
/// of an output already spent in a block, or a conflict that is not a valid replacement,
/// is refused. Outputs of `in_package` (earlier members of its package, which the backend
/// may not know) are not asked about.
pub(super) async fn judge_conflicts(
    s: &AppState,
    tx: &Transaction,
    fee: Amount,
    in_package: &HashSet<Txid>,
) -> Result<Vec<Txid>, AppError> {
    let txid = tx.txid();
    let mut originals: Vec<(Txid, Amount, u64)> = Vec::new();
    let mut ours: Vec<Txid> = Vec::new();
    for (t, p) in s.claims.conflicts(tx) {
        let f = match p.fee {
            Some(f) => f,
            None => {
                let f = queued_fee(s, t).await?;
                s.claims.set_fee(&t, f);
                f
            }
        };
        originals.push((t, f, p.vsize));
        ours.push(t);
    }
    // The backend's view, one question per parent (shared and cached briefly, so nearly
    // always answered at once: no task per input).
    let mut outside: Vec<Txid> = Vec::new();
    for (i, input) in tx.input.iter().enumerate() {
        let op = input.previous_output;
        if in_package.contains(&op.txid) {
            continue;
        }
        let spend = s.outspends.get(op, &s.backend).await;
        // A backend that is down cannot tell, as one without the question cannot: the relay
        // still accepts what it can check (its known prevouts, its own conflicts) and
        // delivers once the backend is back, which has the last word anyway.
        let spend = spend.unwrap_or_else(|e| {
            tracing::debug!("outspend of {op} unknown: {e}");
            None
        });
        match spend {
            None | Some(Outspend::Unspent) => {}
            Some(Outspend::InMempool(t)) if t == txid || ours.contains(&t) => {}
            Some(Outspend::InMempool(t)) => {
                if !outside.contains(&t) {
                    outside.push(t);
                }
            }
            Some(Outspend::InBlock(Some(t))) if t == txid => {}
            Some(Outspend::InBlock(by)) => {
                // Core names no spender: it may be this very transaction, confirmed.
                if by.is_none()
                    && matches!(
                        s.backend.tx_status_of(tx).await,
                        Ok(crate::chain::TxStatus::Confirmed { .. })
                    )
                {
                    continue;
                }
                return Err(AppError::txn_conflict(format!(
                    "input {i} spends {op}, which is already spent in a block{}",
                    by.map(|t| format!(" by {t}")).unwrap_or_default()
                )));
            }
        }
    }
    for t in outside {
        let other = s
            .backend
            .transaction(t)
            .await
            .map_err(backend_err)?
            .ok_or_else(|| {
                AppError::rbf(format!(
                    "an input is spent by the unconfirmed {t}, which the backend cannot show"
                ))
            })?;
        let spent = spent_outputs(&other, &s.backend, &s.prevouts).await?;
        originals.push((t, fee_of(&other, &spent)?, other.vsize()));
    }
    if !originals.is_empty() {
        check_replacement(fee, tx.vsize(), &originals, s.config.min_fee_rate)
            .map_err(AppError::rbf)?;
    }
    Ok(ours)
}

fn fee_of(tx: &Transaction, spent: &[crate::tx::TxOut]) -> Result<Amount, AppError> {
    fee(tx, spent).map_err(|e| AppError::internal(format!("a conflicting transaction: {e}")))
}

/// The fee of a transaction in the queue (not known since a restart).
async fn queued_fee(s: &AppState, txid: Txid) -> Result<Amount, AppError> {
    let rec = s
        .queue
        .get(txid)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .ok_or_else(|| AppError::internal(format!("pending {txid} is not in the queue")))?;
    let tx = Transaction::deserialize(&rec.raw)
        .map_err(|e| AppError::internal(format!("queued {txid}: {e}")))?;
    let spent = spent_outputs(&tx, &s.backend, &s.prevouts).await?;
    fee_of(&tx, &spent)
}
