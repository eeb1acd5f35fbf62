//! Fresher answers to "did it confirm?": the worker looks at a broadcast transaction only
//! every `confirm_poll` (30 s by default), so a status lookup right after a block would
//! report the old state. A lookup of a `broadcast` record older than [`STALE_AFTER`] asks
//! the backend itself — at most once per transaction per [`LOOK_EVERY`], each look bounded
//! by [`LOOK_TIMEOUT`] — and records a confirmation it finds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::queue::{Attempt, Record, Status, now_ms};
use super::state::AppState;
use crate::chain::TxStatus;
use crate::tx::{Transaction, Txid};

/// A record this old (since its last change) is checked against the backend.
pub const STALE_AFTER: Duration = Duration::from_secs(3);
/// The backend is asked about one transaction at most this often.
pub const LOOK_EVERY: Duration = Duration::from_secs(3);
/// The longest a look may take before the record's own state is answered.
pub const LOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// The most transactions whose last look is remembered.
const MAX_LOOKS: usize = 10_000;

/// When each transaction was last looked at.
#[derive(Debug, Default)]
pub struct Looks(Mutex<HashMap<Txid, Instant>>);

impl Looks {
    /// Returns true (and remembers it) if `txid` may be looked at now.
    fn take(&self, txid: Txid, now: Instant) -> bool {
        let Ok(mut looks) = self.0.lock() else {
            return false;
        };
        if looks
            .get(&txid)
            .is_some_and(|t| now.duration_since(*t) < LOOK_EVERY)
        {
            return false;
        }
        if looks.len() >= MAX_LOOKS {
            looks.retain(|_, t| now.duration_since(*t) < LOOK_EVERY);
        }
        looks.insert(txid, now);
        true
    }
}

/// Returns `rec`, updated from the backend when it is a stale `broadcast` record that the
/// backend now reports confirmed (the confirmation is recorded too).
pub async fn fresher(s: &AppState, rec: Record) -> Record {
    let stale = now_ms().saturating_sub(rec.updated_at)
        >= i64::try_from(STALE_AFTER.as_millis()).unwrap_or(i64::MAX);
    if rec.status != Status::Broadcast || !stale || !s.looks.take(rec.txid, Instant::now()) {
        return rec;
    }
    let look = async {
        match Transaction::deserialize(&rec.raw) {
            Ok(tx) => s.backend.tx_status_of(&tx).await,
            Err(_) => s.backend.tx_status(rec.txid).await,
        }
    };
    let Ok(Ok(TxStatus::Confirmed { height })) = tokio::time::timeout(LOOK_TIMEOUT, look).await
    else {
        return rec;
    };
    match s.queue.record(rec.txid, Attempt::confirmed(false)).await {
        Ok(()) => {
            tracing::info!(txid = %rec.txid, height, "relayed transaction confirmed");
            s.claims.release(&rec.txid);
            s.outspends.forget_parents_of(&rec.raw);
        }
        Err(e) => tracing::error!(txid = %rec.txid, "cannot record a confirmation: {e}"),
    }
    Record {
        status: Status::Confirmed,
        ..rec
    }
}
