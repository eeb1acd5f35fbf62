//! TRUC (version 3, BIP-0431) rules for one transaction, as Core's `SingleTRUCChecks`: a
//! version 3 transaction and its unconfirmed parents are all version 3 or none is, it is at
//! most 10,000 vB, it has at most one unconfirmed ancestor, then it is at most 1,000 vB and
//! that parent's only child — or it may evict the parent's other child (sibling eviction).

use super::{Mempool, MempoolEntry};
use crate::tx::Txid;

/// Core's `TRUC_VERSION`.
pub const TRUC_VERSION: i32 = 3;
/// Core's `TRUC_MAX_VSIZE`.
pub const TRUC_MAX_VSIZE: u64 = 10_000;
/// Core's `TRUC_CHILD_MAX_VSIZE`.
pub const TRUC_CHILD_MAX_VSIZE: u64 = 1_000;

/// Checks `entry` (whose in-mempool parents are `parents`, and whose direct conflicts are
/// `direct`) against the TRUC rules.
///
/// Returns `Ok(Some(sibling))` when the only way in is evicting the parent's other child
/// (the caller then treats it as a conflict, under the replacement rules).
///
/// # Errors
/// The `TRUC-violation` detail, worded as Core's.
pub(super) fn check(
    pool: &Mempool,
    entry: &MempoolEntry,
    parents: &[Txid],
    direct: &[Txid],
) -> Result<Option<Txid>, String> {
    let tx = &entry.tx;
    let (txid, wtxid) = (entry.txid, tx.wtxid());
    for p in parents {
        let Some(parent) = pool.get(p) else { continue };
        let pw = parent.tx.wtxid();
        if tx.version != TRUC_VERSION && parent.tx.version == TRUC_VERSION {
            return Err(format!(
                "non-version=3 tx {txid} (wtxid={wtxid}) cannot spend from version=3 tx {p} (wtxid={pw})"
            ));
        }
        if tx.version == TRUC_VERSION && parent.tx.version != TRUC_VERSION {
            return Err(format!(
                "version=3 tx {txid} (wtxid={wtxid}) cannot spend from non-version=3 tx {p} (wtxid={pw})"
            ));
        }
    }
    if tx.version != TRUC_VERSION {
        return Ok(None);
    }
    if entry.vsize > TRUC_MAX_VSIZE {
        return Err(format!(
            "version=3 tx {txid} (wtxid={wtxid}) is too big: {} > {TRUC_MAX_VSIZE} virtual bytes",
            entry.vsize
        ));
    }
    let too_many_ancestors = || format!("tx {txid} (wtxid={wtxid}) would have too many ancestors");
    let [parent] = parents else {
        return if parents.is_empty() {
            Ok(None)
        } else {
            Err(too_many_ancestors())
        };
    };
    if !pool.ancestors(parent).is_empty() {
        return Err(too_many_ancestors());
    }
    if entry.vsize > TRUC_CHILD_MAX_VSIZE {
        return Err(format!(
            "version=3 child tx {txid} (wtxid={wtxid}) is too big: {} > {TRUC_CHILD_MAX_VSIZE} virtual bytes",
            entry.vsize
        ));
    }
    let mut descendants = pool.with_descendants([*parent]);
    descendants.remove(parent);
    let child_replaced = descendants.iter().any(|d| direct.contains(d));
    if !descendants.is_empty() && !child_replaced {
        // Sibling eviction: the parent has exactly one child, whose only ancestor it is.
        let sibling = descendants.iter().next().copied();
        return match sibling {
            Some(s) if descendants.len() == 1 && pool.ancestors(&s).len() == 1 => Ok(Some(s)),
            _ => {
                let pw = pool.get(parent).map(|e| e.tx.wtxid().to_string());
                Err(format!(
                    "tx {parent} (wtxid={}) would exceed descendant count limit",
                    pw.unwrap_or_default()
                ))
            }
        };
    }
    Ok(None)
}
