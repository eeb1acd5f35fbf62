//! What spends the outputs a submission spends, as the backend tells it — one request per
//! parent transaction (Esplora's `/outspends`) shared by every submission that spends it for
//! [`FRESH_FOR`], instead of one request per input.
//!
//! Staleness is bounded and harmless: within the window the relay's own claims
//! ([`super::claims`]) catch conflicts among its pending transactions, and a spend the
//! backend learnt meanwhile from elsewhere is refused by the backend at broadcast (the
//! transaction is then marked `failed`). The check exists to keep spends of long-spent
//! outputs out of the queue, which a two-second-old answer does as well as a fresh one.
//! `cargo bench --bench relay_load` (2,000 children of one parent) asks once, not 2,000
//! times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::chain::{ChainBackend, ChainError, Outspend};
use crate::tx::{OutPoint, Txid};

/// How long a parent's answer is used.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// The most parents remembered.
const MAX_PARENTS: usize = 10_000;

type Answer = Result<Option<Arc<Vec<Outspend>>>, ChainError>;

/// One parent's answer: when it was asked, and the answer once it came.
type Entry = (Instant, Arc<OnceCell<Answer>>);

/// Recent `/outspends` answers by parent txid; concurrent misses share one request.
#[derive(Debug, Default)]
pub struct OutspendCache(Mutex<HashMap<Txid, Entry>>);

impl OutspendCache {
    /// Returns what spends `op`, `None` where the backend cannot tell.
    ///
    /// # Errors
    /// The backend's failure.
    pub async fn get(
        &self,
        op: OutPoint,
        backend: &Arc<dyn ChainBackend>,
    ) -> Result<Option<Outspend>, ChainError> {
        let now = Instant::now();
        let cell = {
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() >= MAX_PARENTS {
                map.retain(|_, (at, _)| now.duration_since(*at) < FRESH_FOR);
            }
            let fresh = map
                .get(&op.txid)
                .is_some_and(|(at, _)| now.duration_since(*at) < FRESH_FOR);
            if !fresh {
                map.insert(op.txid, (now, Arc::default()));
            }
            map.get(&op.txid)
                .map(|(_, c)| Arc::clone(c))
                .unwrap_or_default()
        };
        let answer = cell
            .get_or_init(|| async { backend.outspends(op.txid).await.map(|o| o.map(Arc::new)) })
            .await
            .clone();
        match answer {
            Ok(Some(all)) => Ok(all.get(op.vout as usize).copied()),
            // A failure is not kept: the next submission asks again.
            Err(e) => {
                self.forget(op.txid, &cell);
                Err(e)
            }
            // No batch question on this backend (Core): one per output, not cached.
            Ok(None) => backend.outspend(op).await,
        }
    }

    /// Forgets the answers about what `raw` (a transaction) spends: once it confirms, or is
    /// replaced, the relay's claims no longer cover its inputs, and a cached "unspent" must
    /// not admit a second spend of them.
    pub fn forget_parents_of(&self, raw: &[u8]) {
        let Ok(tx) = crate::tx::Transaction::deserialize(raw) else {
            return;
        };
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for input in &tx.input {
            map.remove(&input.previous_output.txid);
        }
    }

    fn forget(&self, txid: Txid, cell: &Arc<OnceCell<Answer>>) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&txid).is_some_and(|(_, c)| Arc::ptr_eq(c, cell)) {
            map.remove(&txid);
        }
    }
}
