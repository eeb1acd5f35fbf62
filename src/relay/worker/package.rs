//! Packages in the worker: a package's members go to the backend together (Core's
//! `submitpackage`, Esplora's `POST /txs/package`) whenever one of them is queued or has
//! dropped out of the backend's mempool, so a child keeps paying for a parent the backend
//! would not take alone; in between, each member is watched like a single transaction.
//! With `--broadcast p2p` a package goes into the peer-to-peer network whole, the child
//! first, so peers judge the pair together (Core's one-parent-one-child relay).

use std::sync::atomic::Ordering;

use super::{Watched, broadcast, judge_rejection, record, retry_sent, sent, watch};
use crate::chain::RejectKind;
use crate::chain::package::PackageOutcome;
use crate::relay::queue::{Attempt, Record, Status, now_ms};
use crate::relay::state::AppState;
use crate::tx::{Transaction, Txid};

/// One look at the package named by its child `package`.
pub(super) async fn step(state: &AppState, package: Txid) {
    let members = match state.queue.package(package).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(%package, "relay worker cannot read a package: {e}");
            return;
        }
    };
    let now = now_ms();
    // Pending members not replaced meanwhile (a replacement takes their claims).
    let mut pending: Vec<Record> = members
        .into_iter()
        .filter(|r| matches!(r.status, Status::Queued | Status::Broadcast))
        .filter(|r| state.claims.contains(&r.txid))
        .collect();
    // A queued member whose backoff has not run out waits, as a single transaction does.
    let mut resend = pending
        .iter()
        .any(|r| r.status == Status::Queued && r.next_attempt_at <= now);
    // The child first: once it is mined, so are its parents, which a Core backend without
    // -txindex could not tell for a parent whose outputs are all spent.
    let due = |r: &Record| r.status == Status::Broadcast && r.next_attempt_at <= now;
    let any_due = pending.iter().any(due);
    let mut i = pending.len();
    while i > 0 {
        i -= 1;
        let rec = &pending[i];
        let is_child = rec.txid == package;
        if rec.status != Status::Broadcast || !(due(rec) || is_child && any_due) {
            continue;
        }
        match watch(state, rec, now).await {
            Watched::Done(a) if a.status == Status::Confirmed && is_child => {
                for member in &pending {
                    record(state, member, a.clone()).await;
                }
                return;
            }
            Watched::Done(a) => {
                let confirmed = a.status == Status::Confirmed;
                record(state, rec, a).await;
                if confirmed {
                    pending.remove(i);
                }
            }
            Watched::Waiting => {}
            Watched::Dropped => resend = true,
        }
    }
    if !resend || pending.is_empty() {
        return;
    }
    if let [only] = pending.as_slice() {
        // The others are mined: the last one goes alone.
        let a = broadcast(state, only, now).await;
        record(state, only, a).await;
        return;
    }
    send(state, &pending, now).await;
}

/// Submits the pending members (parents first) as one package and records each one's
/// outcome.
async fn send(state: &AppState, members: &[Record], now: i64) {
    let cfg = &state.config.worker;
    let mut txs = Vec::with_capacity(members.len());
    for rec in members {
        match Transaction::deserialize(&rec.raw) {
            Ok(tx) => txs.push(tx),
            Err(e) => {
                let a = Attempt::failed(format!("stored transaction does not decode: {e}"), true);
                record(state, rec, a).await;
                return;
            }
        }
    }
    state
        .metrics
        .broadcast_attempts
        .fetch_add(1, Ordering::Relaxed);
    if let Some(p2p) = &cfg.p2p {
        // Into the network: peers take the child as an orphan and judge the pair together.
        let result = super::broadcast_p2p(state, p2p, &txs).await;
        for rec in members {
            let a = match &result {
                Ok(_) => sent(rec, now, cfg),
                Err(e) => retry_sent(rec, now, cfg, &e.to_string()),
            };
            record(state, rec, a).await;
        }
        return;
    }
    let outcome = match state.backend.submit_package(&txs).await {
        Ok(Some(outcome)) => outcome,
        Ok(None) => {
            // A backend without packages: one by one, parents first, as far as it goes.
            for rec in members {
                let a = broadcast(state, rec, now).await;
                let taken = a.status == Status::Broadcast;
                record(state, rec, a).await;
                if !taken {
                    break;
                }
            }
            return;
        }
        Err(e) => {
            state
                .metrics
                .broadcast_errors
                .fetch_add(1, Ordering::Relaxed);
            for rec in members {
                record(state, rec, retry_sent(rec, now, cfg, &e.to_string())).await;
            }
            return;
        }
    };
    if !outcome.accepted() {
        state
            .metrics
            .broadcast_errors
            .fetch_add(1, Ordering::Relaxed);
    }
    for (rec, tx) in members.iter().zip(&txs) {
        let a = judge(state, rec, tx, &outcome, now).await;
        record(state, rec, a).await;
    }
}

/// What the backend's answer to the package means for one member.
async fn judge(
    state: &AppState,
    rec: &Record,
    tx: &Transaction,
    outcome: &PackageOutcome,
    now: i64,
) -> Attempt {
    let cfg = &state.config.worker;
    let result = outcome.results.iter().find(|r| r.txid == rec.txid);
    match result.map(|r| r.error.as_deref()) {
        Some(None) => {
            tracing::info!(txid = %rec.txid, "relayed package member broadcast");
            sent(rec, now, cfg)
        }
        // Refused for a reason of its own: judged as a single transaction's refusal, unless
        // another member's trouble may be the cause (a parent that did not get in leaves
        // its child with missing inputs), which is worth another try.
        Some(Some(reason)) if !others_transient(outcome, rec.txid) => {
            judge_rejection(state, rec, tx, reason.to_owned(), now).await
        }
        Some(Some(reason)) => retry_sent(rec, now, cfg, reason),
        // Not looked at: the package was refused as a whole.
        None => retry_sent(rec, now, cfg, &outcome.message),
    }
}

/// True if a member other than `txid` was refused for a reason that may pass.
fn others_transient(outcome: &PackageOutcome, txid: Txid) -> bool {
    outcome.results.iter().any(|r| {
        r.txid != txid
            && r.error
                .as_deref()
                .is_some_and(|e| RejectKind::of(e) == RejectKind::Transient)
    })
}
