//! What the relay's pending transactions (queued or broadcast, not yet confirmed or
//! failed) spend, and who submitted them: the relay's own view of its mempool.
//!
//! A transaction spending an output that a pending one already spends is taken only as a
//! valid replacement (it then replaces the earlier one), and every submitter has a bounded
//! number of pending transactions, so the queue cannot be flooded with conflicting spends
//! of one coin (issue 14, finding 7). Kept in memory, rebuilt from the queue at start.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::tx::{OutPoint, Transaction, Txid};
use crate::units::{Amount, FeeRate};

/// A pending transaction, as far as conflicts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What it spends.
    pub inputs: Vec<OutPoint>,
    /// Its fee, once known (not kept in the queue: `None` after a restart).
    pub fee: Option<Amount>,
    /// Its virtual size.
    pub vsize: u64,
    /// Who submitted it (`friend:HEX`, `ip:ADDR`).
    pub submitter: String,
}

/// Why a reservation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The submitter has too many pending transactions.
    #[error(
        "{who} has {pending} transactions pending at this relay (the most is {max}); wait for some to confirm"
    )]
    TooManyPending {
        /// The submitter.
        who: String,
        /// How many they have.
        pending: usize,
        /// The cap.
        max: usize,
    },
    /// The relay holds as many pending transactions as it takes.
    #[error("this relay's queue is full ({0} pending transactions); try another relay or later")]
    QueueFull(usize),
    /// Another conflicting transaction arrived between the check and the reservation.
    #[error("a conflicting transaction was submitted meanwhile; retry")]
    Raced,
}

#[derive(Debug, Default)]
struct Inner {
    spent_by: HashMap<OutPoint, Txid>,
    pending: HashMap<Txid, Pending>,
    per_submitter: HashMap<String, usize>,
}

impl Inner {
    fn insert(&mut self, txid: Txid, p: Pending) {
        for op in &p.inputs {
            self.spent_by.insert(*op, txid);
        }
        *self.per_submitter.entry(p.submitter.clone()).or_insert(0) += 1;
        self.pending.insert(txid, p);
    }

    fn remove(&mut self, txid: &Txid) -> Option<Pending> {
        let p = self.pending.remove(txid)?;
        for op in &p.inputs {
            if self.spent_by.get(op) == Some(txid) {
                self.spent_by.remove(op);
            }
        }
        if let Some(n) = self.per_submitter.get_mut(&p.submitter) {
            *n -= 1;
            if *n == 0 {
                self.per_submitter.remove(&p.submitter);
            }
        }
        Some(p)
    }
}

/// The limits a reservation is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Pending transactions per submitter.
    pub per_submitter: usize,
    /// Pending transactions in all.
    pub total: usize,
}

/// The pending transactions' claims on outputs; shared by the server and the worker.
#[derive(Debug, Default)]
pub struct Claims(Mutex<Inner>);

/// A reservation: the transactions it replaced, to be marked failed once it is committed,
/// or given back if the commit fails.
#[derive(Debug)]
pub struct Reservation {
    /// The new transaction.
    pub txid: Txid,
    /// The pending transactions it replaces.
    pub replaced: Vec<(Txid, Pending)>,
}

impl Claims {
    /// Rebuilds the claims of the queue's pending transactions.
    pub fn load(pending: impl IntoIterator<Item = (Transaction, String)>) -> Self {
        let mut inner = Inner::default();
        for (tx, submitter) in pending {
            let p = Pending {
                inputs: tx.input.iter().map(|i| i.previous_output).collect(),
                fee: None,
                vsize: tx.vsize(),
                submitter,
            };
            inner.insert(tx.txid(), p);
        }
        Claims(Mutex::new(inner))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the maps half-changed (every change is one call).
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns true if `txid` is pending here.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.lock().pending.contains_key(txid)
    }

    /// Returns the pending transactions (other than `tx` itself) that spend an output `tx`
    /// spends.
    pub fn conflicts(&self, tx: &Transaction) -> Vec<(Txid, Pending)> {
        let inner = self.lock();
        let me = tx.txid();
        let mut out: Vec<(Txid, Pending)> = Vec::new();
        for i in &tx.input {
            if let Some(t) = inner.spent_by.get(&i.previous_output)
                && *t != me
                && !out.iter().any(|(o, _)| o == t)
                && let Some(p) = inner.pending.get(t)
            {
                out.push((*t, p.clone()));
            }
        }
        out
    }

    /// Records the fee of a pending transaction, once computed.
    pub fn set_fee(&self, txid: &Txid, fee: Amount) {
        if let Some(p) = self.lock().pending.get_mut(txid) {
            p.fee = Some(fee);
        }
    }

    /// Reserves `tx`'s outputs for it, replacing exactly `replacing` (the conflicts the
    /// caller judged), within `limits`.
    ///
    /// # Errors
    /// [`ClaimError`]; nothing is changed then.
    pub fn reserve(
        &self,
        tx: &Transaction,
        fee: Amount,
        submitter: &str,
        replacing: &[Txid],
        limits: Limits,
    ) -> Result<Reservation, ClaimError> {
        let mut inner = self.lock();
        let txid = tx.txid();
        let mut now_conflicting: Vec<Txid> = tx
            .input
            .iter()
            .filter_map(|i| inner.spent_by.get(&i.previous_output).copied())
            .filter(|t| *t != txid)
            .collect();
        now_conflicting.sort_unstable();
        now_conflicting.dedup();
        let mut expected = replacing.to_vec();
        expected.sort_unstable();
        if now_conflicting != expected {
            return Err(ClaimError::Raced);
        }
        // What the replaced ones free counts for the cap: a replacement is not a new claim.
        let freed_own = replacing
            .iter()
            .filter(|t| {
                inner
                    .pending
                    .get(t)
                    .is_some_and(|p| p.submitter == submitter)
            })
            .count();
        let mine = inner.per_submitter.get(submitter).copied().unwrap_or(0);
        if mine.saturating_sub(freed_own) >= limits.per_submitter {
            return Err(ClaimError::TooManyPending {
                who: submitter.to_owned(),
                pending: mine,
                max: limits.per_submitter,
            });
        }
        if inner.pending.len().saturating_sub(replacing.len()) >= limits.total {
            return Err(ClaimError::QueueFull(inner.pending.len()));
        }
        let replaced = replacing
            .iter()
            .filter_map(|t| inner.remove(t).map(|p| (*t, p)))
            .collect();
        inner.insert(
            txid,
            Pending {
                inputs: tx.input.iter().map(|i| i.previous_output).collect(),
                fee: Some(fee),
                vsize: tx.vsize(),
                submitter: submitter.to_owned(),
            },
        );
        Ok(Reservation { txid, replaced })
    }

    /// Gives a reservation back (its commit failed): the replaced transactions are pending
    /// again.
    pub fn cancel(&self, r: Reservation) {
        let mut inner = self.lock();
        inner.remove(&r.txid);
        for (txid, p) in r.replaced {
            inner.insert(txid, p);
        }
    }

    /// Forgets a transaction that is no longer pending (confirmed, failed, replaced).
    pub fn release(&self, txid: &Txid) {
        self.lock().remove(txid);
    }

    /// Returns how many transactions are pending.
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// Returns true if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The node's replacement rules that a relay can check without a mempool (BIP125 rules 3
/// and 4, and Core's rule that the replacement's fee rate beats each original's): pays at
/// least the originals' fees plus `incremental` for its own size, at a higher fee rate.
///
/// # Errors
/// The reason, for the `rbf` refusal.
pub fn check_replacement(
    fee: Amount,
    vsize: u64,
    originals: &[(Txid, Amount, u64)],
    incremental: FeeRate,
) -> Result<(), String> {
    let old_fees = Amount::checked_sum(originals.iter().map(|(_, f, _)| *f))
        .ok_or_else(|| "original fees overflow".to_owned())?;
    let needed = incremental
        .fee_for_vbytes(vsize)
        .and_then(|f| old_fees.checked_add(f))
        .ok_or_else(|| "needed fee overflows".to_owned())?;
    if fee < needed {
        return Err(format!(
            "it conflicts with {} and pays {} sat; a replacement must pay at least {} sat \
             (their fees plus {} for its own size)",
            list(originals),
            fee.to_sat(),
            needed.to_sat(),
            incremental.display_sat_per_vb()
        ));
    }
    let rate = FeeRate::from_fee_and_vbytes(fee, vsize).unwrap_or(FeeRate::ZERO);
    for (txid, f, v) in originals {
        let old = FeeRate::from_fee_and_vbytes(*f, *v).unwrap_or(FeeRate::ZERO);
        if rate <= old {
            return Err(format!(
                "its fee rate {} does not beat {}'s {}",
                rate.display_sat_per_vb(),
                txid,
                old.display_sat_per_vb()
            ));
        }
    }
    Ok(())
}

fn list(originals: &[(Txid, Amount, u64)]) -> String {
    originals
        .iter()
        .map(|(t, _, _)| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{TxIn, TxOut};

    fn tx(spends: &[(u8, u32)], value: u64) -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: spends
                .iter()
                .map(|(t, vout)| TxIn {
                    previous_output: OutPoint {
                        txid: Txid::from_byte_array([*t; 32]),
                        vout: *vout,
                    },
                    script_sig: crate::script::ScriptBuf::new(),
                    sequence: TxIn::SEQUENCE_RBF,
                    witness: crate::tx::Witness::new(),
                })
                .collect(),
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: crate::script::ScriptBuf::new(),
            }],
        }
    }

    const LIMITS: Limits = Limits {
        per_submitter: 2,
        total: 3,
    };

    #[test]
    fn conflicts_replace_and_caps() {
        let claims = Claims::default();
        let a = tx(&[(1, 0)], 1000);
        let r = claims
            .reserve(&a, Amount::from_sat(200), "ip:x", &[], LIMITS)
            .unwrap();
        assert!(r.replaced.is_empty());
        // A second spend of the same coin conflicts; reserving without replacing races.
        let b = tx(&[(1, 0), (2, 0)], 900);
        assert_eq!(claims.conflicts(&b).len(), 1);
        assert_eq!(
            claims
                .reserve(&b, Amount::from_sat(500), "ip:x", &[], LIMITS)
                .unwrap_err(),
            ClaimError::Raced
        );
        let r = claims
            .reserve(&b, Amount::from_sat(500), "ip:x", &[a.txid()], LIMITS)
            .unwrap();
        assert_eq!(r.replaced.len(), 1);
        assert!(!claims.contains(&a.txid()) && claims.contains(&b.txid()));
        // The cap per submitter; others still get in, up to the total.
        claims
            .reserve(&tx(&[(3, 0)], 1), Amount::from_sat(1), "ip:x", &[], LIMITS)
            .unwrap();
        assert!(matches!(
            claims.reserve(&tx(&[(4, 0)], 1), Amount::from_sat(1), "ip:x", &[], LIMITS),
            Err(ClaimError::TooManyPending { .. })
        ));
        claims
            .reserve(&tx(&[(5, 0)], 1), Amount::from_sat(1), "ip:y", &[], LIMITS)
            .unwrap();
        assert!(matches!(
            claims.reserve(&tx(&[(6, 0)], 1), Amount::from_sat(1), "ip:z", &[], LIMITS),
            Err(ClaimError::QueueFull(3))
        ));
        // Released ones free their outputs and their submitter's share.
        claims.release(&b.txid());
        assert!(claims.conflicts(&tx(&[(1, 0)], 5)).is_empty());
        claims
            .reserve(&tx(&[(4, 0)], 1), Amount::from_sat(1), "ip:x", &[], LIMITS)
            .unwrap();
    }

    #[test]
    fn a_cancelled_reservation_restores_what_it_replaced() {
        let claims = Claims::default();
        let a = tx(&[(1, 0)], 1000);
        claims
            .reserve(&a, Amount::from_sat(200), "ip:x", &[], LIMITS)
            .unwrap();
        let b = tx(&[(1, 0)], 900);
        let r = claims
            .reserve(&b, Amount::from_sat(500), "ip:x", &[a.txid()], LIMITS)
            .unwrap();
        claims.cancel(r);
        assert!(claims.contains(&a.txid()) && !claims.contains(&b.txid()));
        assert_eq!(claims.conflicts(&b)[0].0, a.txid());
    }

    #[test]
    fn replacement_rules() {
        let inc = FeeRate::from_sat_per_vb(1).unwrap();
        let t = Txid::from_byte_array([9; 32]);
        let orig = [(t, Amount::from_sat(1000), 200)];
        // Needs 1000 + 1 sat/vB * 150 vB.
        assert!(check_replacement(Amount::from_sat(1149), 150, &orig, inc).is_err());
        assert!(check_replacement(Amount::from_sat(1150), 150, &orig, inc).is_ok());
        // Paying more in all but at a lower rate than the original is refused.
        let small = [(t, Amount::from_sat(1000), 10)];
        assert!(check_replacement(Amount::from_sat(5000), 100, &small, inc).is_err());
    }
}
