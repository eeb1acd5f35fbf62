//! Replace-by-fee as Bitcoin Core 30/31 applies it (`policy/rbf.cpp`, cluster mempool):
//! full RBF (no BIP-0125 signal needed), at most 100 conflicting clusters, the replacement
//! paying the fees of everything it evicts plus 0.1 sat/vB of its own size (rules 3 and
//! 4), and a mempool feerate diagram the replacement strictly improves. The old rule 2 (no
//! new unconfirmed inputs) and rule 6 (a higher fee rate than each conflict) are gone; the
//! diagram check does rule 6's work.
//!
//! The diagram is computed over the affected transactions only (the clusters of the
//! conflicts and of the replacement's parents), each side linearized greedily by
//! ancestor-set fee rate and then chunked. Core linearizes each cluster optimally; for the
//! small clusters a devnet sees the two agree.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::{INCREMENTAL_RELAY_FEE, Mempool, MempoolEntry, Reject, reject};
use crate::tx::Txid;
use crate::units::Amount;

/// Core's `MAX_REPLACEMENT_CANDIDATES`: distinct clusters one replacement may conflict with.
pub const MAX_REPLACEMENT_CANDIDATES: usize = 100;

/// A fee and a virtual size: a transaction, or a chunk of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeFrac {
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub size: u64,
}

impl FeeFrac {
    fn add(self, other: FeeFrac) -> FeeFrac {
        FeeFrac {
            fee: self.fee + other.fee,
            size: self.size + other.size,
        }
    }

    /// Compares fee rates exactly (`fee / size`).
    fn cmp_rate(self, other: FeeFrac) -> Ordering {
        (u128::from(self.fee) * u128::from(other.size))
            .cmp(&(u128::from(other.fee) * u128::from(self.size)))
    }
}

/// BIP-0125 rules 3–5 and the feerate diagram, with Core's reasons and details.
///
/// # Errors
/// `too many potential replacements`, `insufficient fee` (with ` (including sibling
/// eviction)` when a TRUC sibling is evicted), `replacement-failed`.
pub(super) fn check(
    pool: &Mempool,
    entry: &MempoolEntry,
    direct: &[Txid],
    all_conflicts: &HashSet<Txid>,
    sibling_eviction: bool,
) -> Result<(), Reject> {
    let txid = entry.txid;
    let suffix = if sibling_eviction {
        " (including sibling eviction)"
    } else {
        ""
    };
    // Rule 5: the direct conflicts span at most this many clusters.
    let mut clusters: Vec<HashSet<Txid>> = Vec::new();
    for t in direct {
        if !clusters.iter().any(|c| c.contains(t)) {
            clusters.push(pool.cluster([*t], &HashSet::new()));
        }
    }
    if clusters.len() > MAX_REPLACEMENT_CANDIDATES {
        return Err(reject(
            format!("too many potential replacements{suffix}"),
            format!(
                "rejecting replacement {txid}; too many conflicting clusters ({} > {MAX_REPLACEMENT_CANDIDATES})",
                clusters.len()
            ),
        ));
    }
    // Rule 3: at least the absolute fees of everything evicted.
    let old_fees = Amount::checked_sum(
        all_conflicts
            .iter()
            .filter_map(|t| pool.get(t))
            .map(|e| e.fee),
    )
    .unwrap_or(Amount::MAX_MONEY);
    let insufficient = |debug: String| reject(format!("insufficient fee{suffix}"), debug);
    let Some(additional) = entry.fee.checked_sub(old_fees) else {
        return Err(insufficient(format!(
            "rejecting replacement {txid}, less fees than conflicting txs; {} < {}",
            money(entry.fee),
            money(old_fees)
        )));
    };
    // Rule 4: the extra fee pays for the replacement's own relay.
    let relay = INCREMENTAL_RELAY_FEE
        .fee_for_vbytes(entry.vsize)
        .unwrap_or(Amount::MAX_MONEY);
    if additional < relay {
        return Err(insufficient(format!(
            "rejecting replacement {txid}, not enough additional fees to relay; {} < {}",
            money(additional),
            money(relay)
        )));
    }
    // The feerate diagram of the affected transactions must strictly improve.
    let parents = pool.parents(&entry.tx);
    let affected = pool.cluster(
        direct.iter().chain(parents.iter()).copied(),
        &HashSet::new(),
    );
    let old: Vec<Node> = affected.iter().map(|t| node_of(pool, t)).collect();
    let mut new: Vec<Node> = affected
        .iter()
        .filter(|t| !all_conflicts.contains(t))
        .map(|t| node_of(pool, t))
        .collect();
    new.push(Node {
        txid,
        parents: parents.clone(),
        feefrac: FeeFrac {
            fee: entry.fee.to_sat(),
            size: entry.vsize,
        },
    });
    if compare_diagrams(&chunks(&new), &chunks(&old)) != Some(Ordering::Greater) {
        return Err(reject(
            "replacement-failed",
            "insufficient feerate: does not improve feerate diagram",
        ));
    }
    Ok(())
}

fn money(a: Amount) -> String {
    // Core's FormatMoney: at least two decimals, trailing zeros trimmed.
    let s = a.to_btc_string();
    let trimmed = s.trim_end_matches('0');
    let (int, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    format!("{int}.{frac:0<2}")
}

/// A transaction in a set being linearized.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its txid.
    pub txid: Txid,
    /// Its in-mempool parents (only those in the set count).
    pub parents: Vec<Txid>,
    /// Its fee and virtual size.
    pub feefrac: FeeFrac,
}

fn node_of(pool: &Mempool, txid: &Txid) -> Node {
    let e = pool
        .get(txid)
        .expect("affected transactions are in the mempool");
    Node {
        txid: *txid,
        parents: pool.parents(&e.tx),
        feefrac: FeeFrac {
            fee: e.fee.to_sat(),
            size: e.vsize,
        },
    }
}

/// Linearizes `nodes` (parents first, best ancestor-set fee rate first) and chunks the
/// linearization: the chunks' fee rates do not increase.
pub fn chunks(nodes: &[Node]) -> Vec<FeeFrac> {
    let in_set: HashSet<Txid> = nodes.iter().map(|n| n.txid).collect();
    let by_id = |t: &Txid| nodes.iter().find(|n| n.txid == *t);
    let mut done: HashSet<Txid> = HashSet::new();
    let mut order: Vec<FeeFrac> = Vec::new();
    while done.len() < in_set.len() {
        // The not-yet-placed ancestor set (itself included) of every remaining node.
        let mut best: Option<(Vec<Txid>, FeeFrac)> = None;
        for n in nodes.iter().filter(|n| !done.contains(&n.txid)) {
            let mut set: Vec<Txid> = Vec::new();
            let mut stack = vec![n.txid];
            while let Some(t) = stack.pop() {
                if done.contains(&t) || set.contains(&t) || !in_set.contains(&t) {
                    continue;
                }
                set.push(t);
                if let Some(m) = by_id(&t) {
                    stack.extend(m.parents.iter().copied());
                }
            }
            let total = set
                .iter()
                .filter_map(by_id)
                .fold(FeeFrac { fee: 0, size: 0 }, |acc, m| acc.add(m.feefrac));
            if best
                .as_ref()
                .is_none_or(|(_, b)| total.cmp_rate(*b) == Ordering::Greater)
            {
                best = Some((set, total));
            }
        }
        let (set, _) = best.expect("a node remains");
        // Place the set parents first: repeatedly the members whose parents are placed.
        let mut left = set;
        while !left.is_empty() {
            let (ready, rest): (Vec<Txid>, Vec<Txid>) = left.into_iter().partition(|t| {
                by_id(t).is_some_and(|m| {
                    m.parents
                        .iter()
                        .all(|p| done.contains(p) || !in_set.contains(p))
                })
            });
            assert!(!ready.is_empty(), "the mempool holds no cycles");
            for t in ready {
                done.insert(t);
                order.push(by_id(&t).expect("in the set").feefrac);
            }
            left = rest;
        }
    }
    // Chunking: merge a chunk into the one before while it pays a higher rate.
    let mut out: Vec<FeeFrac> = Vec::new();
    for f in order {
        let mut c = f;
        while let Some(&last) = out.last() {
            if c.cmp_rate(last) == Ordering::Greater {
                out.pop();
                c = last.add(c);
            } else {
                break;
            }
        }
        out.push(c);
    }
    out
}

/// The diagram's fee at virtual size `x`, as a fraction (numerator, denominator); flat
/// past its end.
fn fee_at(chunks: &[FeeFrac], x: u64) -> (u128, u128) {
    let (mut fee, mut size) = (0u128, 0u64);
    for c in chunks {
        if x <= size + c.size {
            let num = fee * u128::from(c.size) + u128::from(x - size) * u128::from(c.fee);
            return (num, u128::from(c.size));
        }
        fee += u128::from(c.fee);
        size += c.size;
    }
    (fee, 1)
}

/// Core's `CompareChunks`: `Greater` if diagram `a` is nowhere below `b` and somewhere
/// above, `Equal` if they coincide, `Less` the other way round, `None` if they cross.
pub fn compare_diagrams(a: &[FeeFrac], b: &[FeeFrac]) -> Option<Ordering> {
    let points = |c: &[FeeFrac]| {
        c.iter()
            .scan(0u64, |s, f| {
                *s += f.size;
                Some(*s)
            })
            .collect::<Vec<u64>>()
    };
    let (mut above, mut below) = (false, false);
    for x in points(a).into_iter().chain(points(b)) {
        let (an, ad) = fee_at(a, x);
        let (bn, bd) = fee_at(b, x);
        match (an * bd).cmp(&(bn * ad)) {
            Ordering::Greater => above = true,
            Ordering::Less => below = true,
            Ordering::Equal => {}
        }
    }
    match (above, below) {
        (true, true) => None,
        (true, false) => Some(Ordering::Greater),
        (false, true) => Some(Ordering::Less),
        (false, false) => Some(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ff(fee: u64, size: u64) -> FeeFrac {
        FeeFrac { fee, size }
    }

    fn node(id: u8, parents: &[u8], fee: u64, size: u64) -> Node {
        Node {
            txid: Txid::from_byte_array([id; 32]),
            parents: parents
                .iter()
                .map(|p| Txid::from_byte_array([*p; 32]))
                .collect(),
            feefrac: ff(fee, size),
        }
    }

    #[test]
    fn chunking_merges_a_child_paying_for_its_parent() {
        // Parent at 1 sat/vB, child at 10: one chunk.
        let c = chunks(&[node(1, &[], 100, 100), node(2, &[1], 1000, 100)]);
        assert_eq!(c, vec![ff(1100, 200)]);
        // Parent at 10, child at 1: two chunks.
        let c = chunks(&[node(1, &[], 1000, 100), node(2, &[1], 100, 100)]);
        assert_eq!(c, vec![ff(1000, 100), ff(100, 100)]);
        // Unrelated: best rate first.
        let c = chunks(&[node(1, &[], 100, 100), node(2, &[], 300, 100)]);
        assert_eq!(c, vec![ff(300, 100), ff(100, 100)]);
    }

    #[test]
    fn diagrams_compare_as_core() {
        let old = [ff(1000, 100)];
        // Same size, more fee: better.
        assert_eq!(
            compare_diagrams(&[ff(1100, 100)], &old),
            Some(Ordering::Greater)
        );
        // More fee but a lower rate: the curves cross.
        assert_eq!(compare_diagrams(&[ff(1200, 1000)], &old), None);
        // The same rate over a larger size (more fee): never below, above at the end.
        assert_eq!(
            compare_diagrams(&[ff(2000, 200)], &old),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_diagrams(&old, &old), Some(Ordering::Equal));
        assert_eq!(
            compare_diagrams(&[ff(900, 100)], &old),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn money_is_formatted_as_core() {
        assert_eq!(money(Amount::ZERO), "0.00");
        assert_eq!(money(Amount::from_sat(10)), "0.0000001");
        assert_eq!(money(Amount::from_sat(109)), "0.00000109");
        assert_eq!(money(Amount::from_sat(150_000_000)), "1.50");
    }
}
