//! Taking a package (`POST /v1/package`): a child with its unconfirmed parents, as Bitcoin
//! Core's `submitpackage` takes them, so that a child can pay for a parent the backend
//! would not take alone (below its floor, or dropped from its mempool).
//!
//! The checks are a single submission's (decoding, sizes, prevouts, scripts, conflicts,
//! caps) for each member, with the prevouts a member takes from an earlier one read from
//! the package, plus Core's package rules: 2 to 25 transactions, 404,000 WU in all, well
//! formed and a child with its parents where no parent spends another
//! (`IsChildWithParentsTree`). The fee floor is judged as Core judges a package: a parent
//! at or above the floor stands alone; the child together with the parents below it must
//! reach the floor. Every member is committed in one SQLite transaction, so the relay holds
//! all of a package or none of it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use super::claims::{Limits, Reservation};
use super::error::AppError;
use super::queue::{Record, Status};
use super::state::AppState;
use super::submit::{InFlight, check_network, claim_err, judge_conflicts, mark_replaced};
use super::validate::{Refusal, decode, fee, spent_output, verify_scripts};
use crate::tx::package::{
    MAX_PACKAGE_COUNT, MAX_PACKAGE_WEIGHT, check_well_formed, is_child_with_parents_tree,
};
use crate::tx::{OutPoint, Transaction, TxOut, Txid};
use crate::units::{Amount, FeeRate};

/// A member's fee and size, known once its prevouts are.
struct Member {
    tx: Transaction,
    fee: Amount,
}

/// Runs the checks and commits every member to the queue; returns their records in the
/// order given (parents first, the child last).
///
/// # Errors
/// Every refusal of the protocol, as an [`AppError`]; `bad_package` for a package that is
/// not a child with its parents.
pub async fn submit_package(
    s: &AppState,
    hex_txs: &[String],
    network: Option<&str>,
    who: String,
) -> Result<Vec<Record>, AppError> {
    let _submitting = InFlight::enter(&s.submitting);
    check_network(s, network)?;
    let txs = decode_package(hex_txs, s.config.max_tx_vbytes)?;
    let txids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
    let checked = check_members(s, txs).await;
    let members = match checked {
        Ok(m) => m,
        Err(refused) => {
            // A package queued already is answered from its records (idempotent), whatever
            // the checks would say now.
            return match queued_package(s, &txids).await? {
                Some(records) => {
                    s.metrics
                        .duplicates
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    Ok(records)
                }
                None => Err(refused),
            };
        }
    };
    let mut reservations: Vec<Reservation> = Vec::new();
    let limits = Limits {
        per_submitter: s.config.pending_per_submitter,
        total: s.config.max_pending,
    };
    let mut earlier = HashSet::new();
    for m in &members {
        let txid = m.tx.txid();
        if !earlier.insert(txid) || s.claims.contains(&txid) {
            continue;
        }
        let replacing = match judge_conflicts(s, &m.tx, m.fee, &earlier).await {
            Ok(r) => r,
            Err(e) => {
                cancel(s, reservations);
                return Err(e);
            }
        };
        match s.claims.reserve(&m.tx, m.fee, &who, &replacing, limits) {
            Ok(r) => reservations.push(r),
            Err(e) => {
                cancel(s, reservations);
                return Err(claim_err(e));
            }
        }
    }
    let raws = members
        .iter()
        .map(|m| (m.tx.txid(), m.tx.serialize()))
        .collect();
    let committed = match s.queue.submit_package(raws, who).await {
        Ok(c) => c,
        Err(e) => {
            cancel(s, reservations);
            return Err(AppError::internal(e.to_string()));
        }
    };
    // Counted per transaction, as single submissions are.
    let new = committed.iter().filter(|(_, inserted)| *inserted).count() as u64;
    s.metrics.accepted.fetch_add(new, Ordering::Relaxed);
    s.metrics
        .duplicates
        .fetch_add(committed.len() as u64 - new, Ordering::Relaxed);
    if new > 0 {
        s.wake.notify_one();
    }
    for r in reservations {
        let record = committed.iter().find(|(rec, _)| rec.txid == r.txid);
        match record {
            // Known already and finished (confirmed or failed): not pending again.
            Some((rec, false)) if !matches!(rec.status, Status::Queued | Status::Broadcast) => {
                s.claims.cancel(r);
            }
            _ => mark_replaced(s, r.txid, r.replaced.iter().map(|(t, _)| *t).collect()),
        }
    }
    Ok(committed.into_iter().map(|(rec, _)| rec).collect())
}

fn cancel(s: &AppState, reservations: Vec<Reservation>) {
    for r in reservations {
        s.claims.cancel(r);
    }
}

/// Decodes each member and checks the package's shape (Core's `IsWellFormedPackage` and
/// `IsChildWithParentsTree`).
///
/// # Errors
/// `bad_package`, `too_large`, or a member's `malformed_tx` (its index in the message).
pub fn decode_package(hex_txs: &[String], max_vbytes: u64) -> Result<Vec<Transaction>, AppError> {
    if hex_txs.len() < 2 || hex_txs.len() > MAX_PACKAGE_COUNT {
        return Err(AppError::bad_package(format!(
            "a package is a child with its unconfirmed parents, 2 to {MAX_PACKAGE_COUNT} \
             transactions (this has {}; one transaction goes to /v1/tx)",
            hex_txs.len()
        )));
    }
    let txs = hex_txs
        .iter()
        .enumerate()
        .map(|(i, h)| {
            decode(h, max_vbytes).map_err(|r| {
                let e = AppError::from(r);
                AppError {
                    message: format!("transaction {i} of the package: {}", e.message),
                    ..e
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let weight: u64 = txs.iter().map(|t| t.weight().to_wu()).sum();
    if weight > MAX_PACKAGE_WEIGHT {
        return Err(AppError::too_large(format!(
            "the package weighs {weight} WU, over Core's limit of {MAX_PACKAGE_WEIGHT}"
        )));
    }
    check_well_formed(&txs).map_err(AppError::bad_package)?;
    if !is_child_with_parents_tree(&txs) {
        return Err(AppError::bad_package(
            "package-not-child-with-parents-tree: every transaction but the last must be a \
             parent of the last, and no parent may spend another",
        ));
    }
    Ok(txs)
}

/// The contextual checks of every member: prevouts (from the package for what an earlier
/// member creates), fees, scripts, and the package's fee floor.
async fn check_members(s: &AppState, txs: Vec<Transaction>) -> Result<Vec<Member>, AppError> {
    let mut created: HashMap<OutPoint, TxOut> = HashMap::new();
    let mut members = Vec::with_capacity(txs.len());
    for (i, tx) in txs.into_iter().enumerate() {
        let at = |e: AppError| AppError {
            message: format!("transaction {i} of the package: {}", e.message),
            ..e
        };
        let spent = package_spent_outputs(s, &tx, &created)
            .await
            .map_err(|r| at(r.into()))?;
        let fee = fee(&tx, &spent).map_err(|r| at(r.into()))?;
        verify_scripts(&tx, spent).await.map_err(|r| at(r.into()))?;
        let txid = tx.txid();
        for (vout, out) in (0u32..).zip(&tx.output) {
            created.insert(OutPoint { txid, vout }, out.clone());
        }
        members.push(Member { tx, fee });
    }
    check_package_floor(&members, s.config.min_fee_rate)?;
    Ok(members)
}

/// The outputs `tx` spends: an earlier member's from the package, the rest as for a single
/// submission (cache, then backend).
async fn package_spent_outputs(
    s: &AppState,
    tx: &Transaction,
    created: &HashMap<OutPoint, TxOut>,
) -> Result<Vec<TxOut>, Refusal> {
    let mut spent = Vec::with_capacity(tx.input.len());
    for (i, input) in tx.input.iter().enumerate() {
        let op = input.previous_output;
        spent.push(match created.get(&op) {
            Some(out) => out.clone(),
            None => spent_output(i, op, &s.backend, &s.prevouts).await?,
        });
    }
    Ok(spent)
}

/// Core's package fee rule: a parent paying the floor stands alone; the child with the
/// parents below the floor must reach it together.
///
/// # Errors
/// `fee_too_low`.
fn check_package_floor(members: &[Member], floor: FeeRate) -> Result<(), AppError> {
    let Some((child, parents)) = members.split_last() else {
        return Ok(());
    };
    let rate = |fee: Amount, vsize: u64| FeeRate::from_fee_and_vbytes(fee, vsize);
    let carried = parents
        .iter()
        .filter(|p| rate(p.fee, p.tx.vsize()).is_none_or(|r| r < floor));
    let (mut fees, mut vsize) = (child.fee, child.tx.vsize());
    for p in carried {
        fees = fees.checked_add(p.fee).unwrap_or(Amount::MAX_MONEY);
        vsize += p.tx.vsize();
    }
    let together = rate(fees, vsize).unwrap_or(FeeRate::ZERO);
    if together < floor {
        return Err(AppError::fee_too_low(format!(
            "the child and the parents below the floor pay {} together ({} sat over {vsize} \
             vB), below this relay's floor of {}",
            together.display_sat_per_vb(),
            fees.to_sat(),
            floor.display_sat_per_vb()
        )));
    }
    Ok(())
}

/// The records of `txids`, in that order, if they are queued already as one package under
/// its child (the last).
async fn queued_package(s: &AppState, txids: &[Txid]) -> Result<Option<Vec<Record>>, AppError> {
    let Some(child) = txids.last() else {
        return Ok(None);
    };
    let records = s
        .queue
        .package(*child)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    Ok(txids
        .iter()
        .map(|t| records.iter().find(|r| r.txid == *t).cloned())
        .collect())
}
