//! The broadcast worker: takes due records from the queue, broadcasts them to the backend
//! with exponential backoff, watches them until confirmed (rebroadcasting when they drop
//! out of the backend's mempool), and marks them `failed` on a definitive rejection or
//! expiry. Every attempt is recorded in the queue.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::queue::{Attempt, Record, Status, now_ms};
use super::state::AppState;
pub use super::state::WorkerConfig;
use crate::chain::{ChainError, RejectKind, TxStatus};
use crate::p2p::BroadcastConfig;
use crate::tx::{Transaction, Txid};

mod package;

/// How often finished records past the retention window are deleted.
const PRUNE_EVERY_MS: i64 = 60_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs until `stop` turns true.
pub async fn run_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let cfg = state.config.worker.clone();
    let mut last_prune = i64::MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        // Finished records are kept for the retention window (friends may still ask about
        // them), then deleted, so the database does not grow forever.
        let now = now_ms();
        if now.saturating_sub(last_prune) >= PRUNE_EVERY_MS {
            last_prune = now;
            match state.queue.prune(now.saturating_sub(ms(cfg.retain))).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!("pruned {n} finished transactions past the retention window")
                }
                Err(e) => tracing::error!("relay worker cannot prune the queue: {e}"),
            }
        }
        let due = match state.queue.due(now_ms(), 1024).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("relay worker cannot read the queue: {e}");
                Vec::new()
            }
        };
        let busy = !due.is_empty();
        let width = || {
            if state.submissions_in_flight() > 0 {
                cfg.parallel_while_accepting.max(1)
            } else {
                cfg.parallel.max(1)
            }
        };
        let mut set = tokio::task::JoinSet::new();
        // A package is one step, however many of its members are due.
        let mut packages = HashSet::new();
        for rec in due {
            if rec.package.is_some_and(|p| !packages.insert(p)) {
                continue;
            }
            while set.len() >= width() {
                let _ = set.join_next().await;
            }
            let st = state.clone();
            set.spawn(async move {
                match rec.package {
                    Some(p) => package::step(&st, p).await,
                    None => step(&st, rec).await,
                }
            });
        }
        while set.join_next().await.is_some() {}
        if busy {
            continue;
        }
        tokio::select! {
            () = state.wake.notified() => {}
            () = tokio::time::sleep(cfg.poll) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn step(state: &AppState, rec: Record) {
    // Replaced meanwhile (its replacement took its claims): nothing more to do for it.
    if !state.claims.contains(&rec.txid) {
        return;
    }
    let now = now_ms();
    let attempt = if rec.status == Status::Broadcast {
        match watch(state, &rec, now).await {
            Watched::Done(a) => a,
            Watched::Waiting => return,
            // Dropped from the backend's mempool: broadcast again.
            Watched::Dropped => broadcast(state, &rec, now).await,
        }
    } else {
        broadcast(state, &rec, now).await
    };
    record(state, &rec, attempt).await;
}

/// Records an attempt; a record that finished (confirmed or failed) gives up its claims.
async fn record(state: &AppState, rec: &Record, a: Attempt) {
    let finished = matches!(a.status, Status::Confirmed | Status::Failed);
    match state.queue.record(rec.txid, a).await {
        Ok(()) if finished => {
            state.claims.release(&rec.txid);
            state.outspends.forget_parents_of(&rec.raw);
        }
        Ok(()) => {}
        Err(e) => tracing::error!(txid = %rec.txid, "cannot record a broadcast attempt: {e}"),
    }
}

/// What a look at a broadcast record found.
enum Watched {
    /// Confirmed, or the backend could not be asked (a retry): record this.
    Done(Attempt),
    /// Still in the backend's mempool (recorded quietly).
    Waiting,
    /// No longer in the backend's mempool, and not mined.
    Dropped,
}

/// Asks the backend where a broadcast record stands.
async fn watch(state: &AppState, rec: &Record, now: i64) -> Watched {
    let cfg = &state.config.worker;
    // By the transaction, not its id: a Core backend without -txindex finds a
    // confirmed transaction only through its outputs.
    let status = match Transaction::deserialize(&rec.raw) {
        Ok(tx) => state.backend.tx_status_of(&tx).await,
        Err(_) => state.backend.tx_status(rec.txid).await,
    };
    match status {
        Ok(TxStatus::Confirmed { height }) => {
            tracing::info!(txid = %rec.txid, height, "relayed transaction confirmed");
            Watched::Done(Attempt::confirmed(false))
        }
        Ok(TxStatus::Mempool) => {
            // Still waiting: no row in the attempt log for a quiet check.
            let _ = state
                .queue
                .record(
                    rec.txid,
                    Attempt {
                        status: Status::Broadcast,
                        broadcast: false,
                        error: None,
                        backend_txid: None,
                        next_attempt_at: now + ms(cfg.confirm_poll),
                    },
                )
                .await;
            Watched::Waiting
        }
        Ok(TxStatus::Unknown) => Watched::Dropped,
        Err(e) => Watched::Done(retry(rec, now, cfg, Status::Broadcast, &e.to_string())),
    }
}

fn retry(rec: &Record, now: i64, cfg: &WorkerConfig, status: Status, error: &str) -> Attempt {
    if now - rec.created_at > ms(cfg.expiry) {
        return Attempt::failed(format!("expired unconfirmed; last error: {error}"), false);
    }
    let shift = rec.attempts.min(20);
    let delay = cfg
        .backoff_base
        .saturating_mul(1u32 << shift)
        .min(cfg.backoff_max);
    Attempt {
        status,
        broadcast: false,
        error: Some(error.to_owned()),
        backend_txid: None,
        next_attempt_at: now + ms(delay),
    }
}

/// [`retry`] after a broadcast attempt (it counts in `attempts`), keeping the status.
fn retry_sent(rec: &Record, now: i64, cfg: &WorkerConfig, error: &str) -> Attempt {
    Attempt {
        broadcast: true,
        ..retry(rec, now, cfg, rec.status, error)
    }
}

/// The backend (or the network) has `rec` now: watch it from the next confirmation poll.
fn sent(rec: &Record, now: i64, cfg: &WorkerConfig) -> Attempt {
    Attempt::sent(rec.txid.to_string(), now + ms(cfg.confirm_poll))
}

async fn broadcast(state: &AppState, rec: &Record, now: i64) -> Attempt {
    let cfg = state.config.worker.clone();
    state
        .metrics
        .broadcast_attempts
        .fetch_add(1, Ordering::Relaxed);
    let tx = match Transaction::deserialize(&rec.raw) {
        Ok(t) => t,
        Err(e) => {
            return Attempt::failed(format!("stored transaction does not decode: {e}"), true);
        }
    };
    let result = match &cfg.p2p {
        Some(p2p) => broadcast_p2p(state, p2p, std::slice::from_ref(&tx)).await,
        None => state.backend.broadcast(&tx).await,
    };
    match result {
        Ok(txid) => {
            tracing::info!(txid = %rec.txid, "relayed transaction broadcast");
            Attempt::sent(txid.to_string(), now + ms(cfg.confirm_poll))
        }
        Err(ChainError::Rejected { reason }) => {
            state
                .metrics
                .broadcast_errors
                .fetch_add(1, Ordering::Relaxed);
            judge_rejection(state, rec, &tx, reason, now).await
        }
        Err(e) => {
            state
                .metrics
                .broadcast_errors
                .fetch_add(1, Ordering::Relaxed);
            retry_sent(rec, now, &cfg, &e.to_string())
        }
    }
}

/// The attempt a backend's refusal of `tx` makes: accepted if it has it already, failed if
/// it can never be accepted (unless it is mined or in the mempool after all), else a retry.
async fn judge_rejection(
    state: &AppState,
    rec: &Record,
    tx: &Transaction,
    reason: String,
    now: i64,
) -> Attempt {
    let cfg = &state.config.worker;
    match RejectKind::of(&reason) {
        RejectKind::AlreadyKnown => sent(rec, now, cfg),
        // A conflict may be our own transaction already mined: ask first.
        RejectKind::Definitive => match state.backend.tx_status_of(tx).await {
            Ok(TxStatus::Confirmed { .. }) => Attempt::confirmed(true),
            Ok(TxStatus::Mempool) => sent(rec, now, cfg),
            Ok(TxStatus::Unknown) => {
                tracing::warn!(txid = %rec.txid, "backend rejected relayed transaction: {reason}");
                Attempt::failed(reason, true)
            }
            Err(e) => retry_sent(rec, now, cfg, &e.to_string()),
        },
        RejectKind::Transient => retry_sent(rec, now, cfg, &reason),
    }
}

/// Broadcasts over the peer-to-peer network (a package: all of it, child first). Success
/// is an observer announcing it (the child) back, or the backend's node having it; anything else is retried (no peer says why it drops a
/// transaction, so nothing here is definitive).
async fn broadcast_p2p(
    state: &AppState,
    config: &BroadcastConfig,
    txs: &[Transaction],
) -> Result<Txid, ChainError> {
    let unseen = |reason: String| ChainError::Unreachable {
        url: "p2p".into(),
        reason,
    };
    // One transaction, or a package whose child stands for it.
    let Some(tx) = txs.last() else {
        return Err(unseen("nothing to broadcast".into()));
    };
    let report = crate::p2p::broadcast_package(config, txs)
        .await
        .map_err(|e| unseen(e.to_string()))?;
    if report.propagated {
        return Ok(tx.txid());
    }
    match state.backend.tx_status_of(tx).await {
        Ok(TxStatus::Mempool | TxStatus::Confirmed { .. }) => Ok(tx.txid()),
        _ if report.handed_over() => {
            Err(unseen("handed over, but no observer announced it".into()))
        }
        _ => {
            let why: Vec<String> = report
                .peers
                .iter()
                .map(|p| format!("{}: {}", p.peer, p.error.as_deref().unwrap_or("failed")))
                .collect();
            Err(unseen(format!("no peer took it ({})", why.join("; "))))
        }
    }
}
