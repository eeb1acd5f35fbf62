//! The mempool, with Bitcoin Core's acceptance policy as of Core 30/31 (cluster mempool):
//! context-free checks, standardness, finality, inputs that exist and have matured, the
//! ephemeral-dust and 0.1 sat/vB fee floors, TRUC (version 3) rules, full replace-by-fee
//! ([`replace`]), cluster limits of 64 transactions and 101 kvB, and every input
//! verified by Bitcoin Core's script interpreter with all spent outputs.

pub mod replace;
pub mod truc;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use super::block::Block;
use super::chain::{Chain, Coin, TxRuleError, check_tx_inputs, check_tx_reason, is_final_tx};
use super::policy::{check_ephemeral_spends, check_standard, dust_outputs, verify_scripts};
use crate::tx::{OutPoint, Transaction, TxOut, Txid, check_transaction};
use crate::units::{Amount, FeeRate, Weight};

/// Core's `DEFAULT_MIN_RELAY_TX_FEE` since Core 30: 0.1 sat/vB.
pub const MIN_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kvb(100);
/// Core's `DEFAULT_INCREMENTAL_RELAY_FEE` since Core 30: what a replacement pays on top,
/// 0.1 sat/vB of its own size (BIP-0125 rule 4).
pub const INCREMENTAL_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kvb(100);
/// Core's `DEFAULT_CLUSTER_LIMIT`: transactions in one cluster (connected unconfirmed
/// transactions); it replaced the 25-ancestor limit in Core 31.
pub const CLUSTER_LIMIT: usize = 64;
/// Core's `DEFAULT_CLUSTER_SIZE_LIMIT_KVB`: a cluster's virtual size, 101 kvB.
pub const CLUSTER_SIZE_LIMIT: u64 = 101_000;
/// The fee-estimate targets Esplora answers.
pub const ESPLORA_TARGETS: [u16; 28] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 144,
    504, 1008,
];

/// How Core classifies a refusal; it decides the RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// A rule of policy or consensus (`RPC_VERIFY_REJECTED`, -26).
    Invalid,
    /// An input that does not exist or is already spent (`RPC_VERIFY_ERROR`, -25).
    MissingInputs,
    /// The transaction is already confirmed (`RPC_VERIFY_ALREADY_IN_CHAIN`, -27).
    AlreadyInChain,
    /// The transaction is already in the mempool (sendrawtransaction answers its txid).
    AlreadyInMempool,
    /// `sendrawtransaction`: the fee is above the caller's `maxfeerate`
    /// (`RPC_TRANSACTION_ERROR`, -25).
    MaxFeeExceeded,
    /// `sendrawtransaction`: an unspendable output carries more than the caller's
    /// `maxburnamount` (`RPC_TRANSACTION_ERROR`, -25).
    MaxBurnExceeded,
}

impl RejectKind {
    /// Returns Bitcoin Core's RPC error code.
    pub fn rpc_code(self) -> i32 {
        match self {
            RejectKind::Invalid | RejectKind::AlreadyInMempool => -26,
            RejectKind::MissingInputs
            | RejectKind::MaxFeeExceeded
            | RejectKind::MaxBurnExceeded => -25,
            RejectKind::AlreadyInChain => -27,
        }
    }
}

/// Why the mempool refused a transaction: Core's reject reason and its detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Reject {
    /// The class of refusal.
    pub kind: RejectKind,
    /// Core's reject reason, e.g. `min relay fee not met`.
    pub reason: String,
    /// Core's debug detail, e.g. `100 < 141` (may be empty).
    pub debug: String,
}

impl Reject {
    /// The message Core's `sendrawtransaction` gives for this refusal.
    pub fn rpc_message(&self) -> String {
        match self.kind {
            RejectKind::AlreadyInChain => "Transaction outputs already in utxo set".into(),
            RejectKind::MaxFeeExceeded => {
                "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)".into()
            }
            RejectKind::MaxBurnExceeded => {
                "Unspendable output exceeds maximum configured by user (maxburnamount)".into()
            }
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Reject {
    /// Formats as Core's `TxValidationState::ToString`: `reason, debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if !self.debug.is_empty() {
            write!(f, ", {}", self.debug)?;
        }
        Ok(())
    }
}

pub(super) fn reject(reason: impl Into<String>, debug: impl Into<String>) -> Reject {
    Reject {
        kind: RejectKind::Invalid,
        reason: reason.into(),
        debug: debug.into(),
    }
}

impl From<TxRuleError> for Reject {
    fn from(e: TxRuleError) -> Self {
        reject(e.reason, e.debug)
    }
}

/// A transaction in the mempool.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Its txid.
    pub txid: Txid,
    /// Its fee.
    pub fee: Amount,
    /// Its virtual size.
    pub vsize: u64,
    /// The outputs its inputs spend, in input order.
    pub prevouts: Vec<TxOut>,
    /// Arrival order (also a topological order).
    pub seq: u64,
}

impl MempoolEntry {
    /// Core's `CFeeRate(fee, vsize)`: sat/kvB, truncated.
    pub fn fee_rate(&self) -> FeeRate {
        FeeRate::from_sat_per_kvb(self.fee.to_sat() * 1000 / self.vsize.max(1))
    }
}

/// Where the 0.1 sat/vB floor applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeFloor {
    /// To the transaction alone (`sendrawtransaction`, `testmempoolaccept`).
    Individual,
    /// To its package as a whole, checked by the caller (`submitpackage`).
    Package,
}

/// Core's `CheckFeeRate` against the 0.1 sat/vB floor: `min relay fee not met`.
///
/// # Errors
/// The refusal, with Core's `fee < needed` detail.
pub fn check_fee_floor(fee: Amount, vsize: u64) -> Result<(), Reject> {
    let min_fee = MIN_RELAY_FEE
        .fee_for_vbytes(vsize)
        .unwrap_or(Amount::MAX_MONEY);
    if fee < min_fee {
        return Err(reject(
            "min relay fee not met",
            format!("{} < {}", fee.to_sat(), min_fee.to_sat()),
        ));
    }
    Ok(())
}

/// A transaction that passed every check, with what accepting it evicts.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The new entry.
    pub entry: MempoolEntry,
    /// Transactions it replaces (BIP-0125), descendants included.
    pub replaced: Vec<Txid>,
}

/// The mempool.
#[derive(Debug, Default, Clone)]
pub struct Mempool {
    entries: HashMap<Txid, MempoolEntry>,
    spent_by: HashMap<OutPoint, Txid>,
    next_seq: u64,
}

impl Mempool {
    /// An empty mempool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true if the mempool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns an entry.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// Returns the mempool transaction spending `outpoint`.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spent_by.get(outpoint).copied()
    }

    /// Returns every entry in arrival order (parents before children).
    pub fn entries_in_order(&self) -> Vec<&MempoolEntry> {
        let mut v: Vec<_> = self.entries.values().collect();
        v.sort_by_key(|e| e.seq);
        v
    }

    /// Returns the coin at `outpoint` as the mempool sees it: an output of a mempool
    /// transaction (at the next block's height) or a confirmed one. Coins already spent
    /// in the mempool are still returned; conflicts are handled by the caller.
    pub fn coin(&self, outpoint: &OutPoint, chain: &Chain) -> Option<Coin> {
        if let Some(e) = self.entries.get(&outpoint.txid) {
            return e.tx.output.get(outpoint.vout as usize).map(|o| Coin {
                output: o.clone(),
                height: chain.height() + 1,
                is_coinbase: false,
            });
        }
        chain.coin(outpoint).cloned()
    }

    /// The mempool transactions spending outputs of `txid`.
    pub(super) fn children(&self, txid: &Txid) -> Vec<Txid> {
        let Some(e) = self.entries.get(txid) else {
            return Vec::new();
        };
        (0..e.tx.output.len() as u32)
            .filter_map(|vout| self.spent_by.get(&OutPoint { txid: *txid, vout }).copied())
            .collect()
    }

    /// The mempool transactions `tx` spends outputs of (its parents), each once.
    pub(super) fn parents(&self, tx: &Transaction) -> Vec<Txid> {
        let mut parents: Vec<Txid> = Vec::new();
        for txin in &tx.input {
            let t = txin.previous_output.txid;
            if self.entries.contains_key(&t) && !parents.contains(&t) {
                parents.push(t);
            }
        }
        parents
    }

    /// Returns `roots` and all their in-mempool descendants.
    pub fn with_descendants(&self, roots: impl IntoIterator<Item = Txid>) -> HashSet<Txid> {
        let mut out = HashSet::new();
        let mut stack: Vec<Txid> = roots.into_iter().collect();
        while let Some(t) = stack.pop() {
            if out.insert(t) {
                stack.extend(self.children(&t));
            }
        }
        out
    }

    /// Returns the in-mempool ancestors of `txid` (itself not included).
    pub(super) fn ancestors(&self, txid: &Txid) -> HashSet<Txid> {
        let mut out = HashSet::new();
        let mut stack: Vec<Txid> = self
            .entries
            .get(txid)
            .map(|e| self.parents(&e.tx))
            .unwrap_or_default();
        while let Some(t) = stack.pop() {
            if out.insert(t)
                && let Some(e) = self.entries.get(&t)
            {
                stack.extend(self.parents(&e.tx));
            }
        }
        out
    }

    /// The clusters holding `roots`: every mempool transaction connected to them through
    /// spends, in either direction, leaving out `removed`.
    pub(super) fn cluster(
        &self,
        roots: impl IntoIterator<Item = Txid>,
        removed: &HashSet<Txid>,
    ) -> HashSet<Txid> {
        let mut out = HashSet::new();
        let mut stack: Vec<Txid> = roots.into_iter().collect();
        while let Some(t) = stack.pop() {
            if removed.contains(&t) || !out.insert(t) {
                continue;
            }
            if let Some(e) = self.entries.get(&t) {
                stack.extend(self.parents(&e.tx));
                stack.extend(self.children(&t));
            }
        }
        out
    }

    /// Runs every acceptance check without changing the mempool (`testmempoolaccept`), in
    /// the order of Core's `MemPoolAccept`, so that the first rule broken gives Core's
    /// reason.
    ///
    /// # Errors
    /// A [`Reject`] with Core's reason.
    pub fn check(&self, tx: &Transaction, chain: &Chain) -> Result<Accepted, Reject> {
        self.check_as(tx, chain, FeeFloor::Individual)
    }

    /// [`check`](Self::check), with the 0.1 sat/vB floor applied to `tx` alone or left to
    /// its package ([`FeeFloor::Package`], Core's `m_package_feerates`).
    pub(super) fn check_as(
        &self,
        tx: &Transaction,
        chain: &Chain,
        floor: FeeFloor,
    ) -> Result<Accepted, Reject> {
        self.pre_checks(tx, chain)?;
        // Direct conflicts: mempool transactions spending one of our inputs. Full RBF
        // (Core 28+): any of them may be replaced, signalled or not.
        let mut direct: Vec<Txid> = Vec::new();
        for txin in &tx.input {
            if let Some(&other) = self.spent_by.get(&txin.previous_output)
                && !direct.contains(&other)
            {
                direct.push(other);
            }
        }
        let coins = self.input_coins(tx, chain)?;
        let entry = self.fee_checks(tx, chain, coins, floor)?;
        let parents = self.parents(tx);
        let sibling_eviction = match truc::check(self, &entry, &parents, &direct) {
            Ok(None) => false,
            Ok(Some(sibling)) => {
                direct.push(sibling);
                true
            }
            Err(why) => return Err(reject("TRUC-violation", why)),
        };
        let all_conflicts = self.with_descendants(direct.iter().copied());
        if !direct.is_empty() {
            replace::check(self, &entry, &direct, &all_conflicts, sibling_eviction)?;
        }
        self.check_cluster_limits(&entry, &parents, &all_conflicts)?;
        check_ephemeral_spends(tx, |t| self.entries.get(t).map(|e| &e.tx))?;
        for txin in &tx.input {
            let parent = txin.previous_output.txid;
            if all_conflicts.contains(&parent) {
                return Err(reject(
                    "bad-txns-spends-conflicting-tx",
                    format!("{} spends conflicting transaction {parent}", entry.txid),
                ));
            }
        }
        verify_scripts(tx, &entry.prevouts)
            .map_err(|e| reject(format!("mempool-script-verify-flag-failed ({e})"), ""))?;
        Ok(Accepted {
            entry,
            replaced: all_conflicts.into_iter().collect(),
        })
    }

    /// The first of Core's `PreChecks`: `CheckTransaction`, no coinbase, standardness,
    /// finality for the next block, and not already in the mempool.
    fn pre_checks(&self, tx: &Transaction, chain: &Chain) -> Result<(), Reject> {
        check_transaction(tx).map_err(|e| reject(check_tx_reason(&e), ""))?;
        if tx.is_coinbase() {
            return Err(reject("coinbase", ""));
        }
        check_standard(tx)?;
        let next_height = chain.height() + 1;
        if !is_final_tx(tx, next_height, chain.median_time_past(chain.height())) {
            return Err(reject("non-final", ""));
        }
        if let Some(e) = self.entries.get(&tx.txid()) {
            return Err(if e.tx.wtxid() == tx.wtxid() {
                Reject {
                    kind: RejectKind::AlreadyInMempool,
                    reason: "txn-already-in-mempool".into(),
                    debug: String::new(),
                }
            } else {
                reject("txn-same-nonwitness-data-in-mempool", "")
            });
        }
        Ok(())
    }

    /// The coins `tx` spends, from the mempool or the UTXO set; a missing one is
    /// `bad-txns-inputs-missingorspent`, or `txn-already-known` when an output of `tx`
    /// itself is in the UTXO set (it is confirmed).
    fn input_coins(&self, tx: &Transaction, chain: &Chain) -> Result<Vec<Coin>, Reject> {
        let mut coins = Vec::with_capacity(tx.input.len());
        for txin in &tx.input {
            match self.coin(&txin.previous_output, chain) {
                Some(c) => coins.push(c),
                None => {
                    let txid = tx.txid();
                    let confirmed = (0..tx.output.len() as u32)
                        .any(|vout| chain.coin(&OutPoint { txid, vout }).is_some());
                    return Err(if confirmed {
                        Reject {
                            kind: RejectKind::AlreadyInChain,
                            reason: "txn-already-known".into(),
                            debug: String::new(),
                        }
                    } else {
                        Reject {
                            kind: RejectKind::MissingInputs,
                            reason: "bad-txns-inputs-missingorspent".into(),
                            debug: String::new(),
                        }
                    });
                }
            }
        }
        Ok(coins)
    }

    /// BIP-0068 locks, Core's `CheckTxInputs` (the fee), the ephemeral-dust rule and, for
    /// [`FeeFloor::Individual`], the 0.1 sat/vB floor. Returns the would-be entry.
    fn fee_checks(
        &self,
        tx: &Transaction,
        chain: &Chain,
        coins: Vec<Coin>,
        floor: FeeFloor,
    ) -> Result<MempoolEntry, Reject> {
        let next_height = chain.height() + 1;
        if !chain.sequence_locks_ok(tx, &coins, next_height) {
            return Err(reject("non-BIP68-final", ""));
        }
        let fee = check_tx_inputs(tx, &coins, next_height)?;
        // Ephemeral dust: the one dust output `check_standard` lets through needs a
        // transaction that pays nothing (a child must then spend it in a package).
        if fee != Amount::ZERO && dust_outputs(tx) > 0 {
            return Err(reject("dust", "tx with dust output must be 0-fee"));
        }
        let vsize = tx.vsize();
        if floor == FeeFloor::Individual {
            check_fee_floor(fee, vsize)?;
        }
        Ok(MempoolEntry {
            tx: tx.clone(),
            txid: tx.txid(),
            fee,
            vsize,
            prevouts: coins.into_iter().map(|c| c.output).collect(),
            seq: self.next_seq,
        })
    }

    /// Core's `CheckMemPoolPolicyLimits`: the cluster `entry` would join (its parents'
    /// clusters, without what it replaces) stays within [`CLUSTER_LIMIT`] transactions and
    /// [`CLUSTER_SIZE_LIMIT`] virtual bytes.
    fn check_cluster_limits(
        &self,
        entry: &MempoolEntry,
        parents: &[Txid],
        removed: &HashSet<Txid>,
    ) -> Result<(), Reject> {
        let cluster = self.cluster(parents.iter().copied(), removed);
        let vsize: u64 = cluster
            .iter()
            .filter_map(|t| self.entries.get(t))
            .map(|e| e.vsize)
            .sum::<u64>()
            + entry.vsize;
        if cluster.len() + 1 > CLUSTER_LIMIT || vsize > CLUSTER_SIZE_LIMIT {
            return Err(reject("too-large-cluster", ""));
        }
        Ok(())
    }

    /// Checks `tx` and adds it, evicting what it replaces.
    ///
    /// # Errors
    /// A [`Reject`] with Core's reason; the mempool is unchanged.
    pub fn accept(&mut self, tx: &Transaction, chain: &Chain) -> Result<Accepted, Reject> {
        let accepted = self.check(tx, chain)?;
        self.commit(&accepted);
        Ok(accepted)
    }

    /// Adds a checked transaction, removing what it replaces.
    pub fn commit(&mut self, accepted: &Accepted) {
        for t in &accepted.replaced {
            self.remove(t);
        }
        let mut entry = accepted.entry.clone();
        entry.seq = self.next_seq;
        self.next_seq += 1;
        for txin in &entry.tx.input {
            self.spent_by.insert(txin.previous_output, entry.txid);
        }
        self.entries.insert(entry.txid, entry);
    }

    /// Removes a transaction and its descendants; returns their txids.
    pub fn evict(&mut self, txid: &Txid) -> Vec<Txid> {
        let doomed = self.with_descendants([*txid]);
        for t in &doomed {
            self.remove(t);
        }
        doomed.into_iter().collect()
    }

    fn remove(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let e = self.entries.remove(txid)?;
        for txin in &e.tx.input {
            if self.spent_by.get(&txin.previous_output) == Some(txid) {
                self.spent_by.remove(&txin.previous_output);
            }
        }
        Some(e)
    }

    /// Removes what a new block confirmed and everything that now conflicts with it.
    /// Returns the txids removed as conflicts.
    pub fn remove_for_block(&mut self, block: &Block) -> Vec<Txid> {
        let mut conflicts = Vec::new();
        for tx in &block.txdata {
            let txid = tx.txid();
            self.remove(&txid);
            for txin in &tx.input {
                if let Some(&other) = self.spent_by.get(&txin.previous_output)
                    && other != txid
                {
                    conflicts.push(other);
                }
            }
        }
        let doomed = self.with_descendants(conflicts);
        for t in &doomed {
            self.remove(t);
        }
        doomed.into_iter().collect()
    }

    /// Picks transactions for a block in arrival order, up to `max_weight`, skipping any
    /// whose parent did not fit.
    pub fn block_template(&self, max_weight: Weight) -> Vec<&MempoolEntry> {
        let mut picked = Vec::new();
        let mut included: HashSet<Txid> = HashSet::new();
        let mut weight = 0u64;
        for e in self.entries_in_order() {
            let parents_ok = e.tx.input.iter().all(|i| {
                !self.entries.contains_key(&i.previous_output.txid)
                    || included.contains(&i.previous_output.txid)
            });
            let w = e.tx.weight().to_wu();
            if parents_ok && weight + w <= max_weight.to_wu() {
                weight += w;
                included.insert(e.txid);
                picked.push(e);
            }
        }
        picked
    }

    /// Fee estimates in sat/vB for every Esplora target, from this mempool alone: a
    /// target of n blocks needs the rate of the last transaction that fits in the next n
    /// blocks (by fee rate); if everything fits, the 1 sat/vB floor. Never below 1.
    pub fn fee_estimates(&self) -> BTreeMap<u16, f64> {
        let mut rates: Vec<(f64, u64)> = self
            .entries
            .values()
            .map(|e| (e.fee.to_sat() as f64 / e.vsize.max(1) as f64, e.vsize))
            .collect();
        rates.sort_by(|a, b| b.0.total_cmp(&a.0));
        let block_vsize = Weight::MAX_BLOCK.to_wu() / 4;
        ESPLORA_TARGETS
            .iter()
            .map(|&target| {
                let room = block_vsize * u64::from(target);
                let mut used = 0u64;
                let mut rate = 1.0f64;
                for &(r, vsize) in &rates {
                    used += vsize;
                    if used > room {
                        rate = r.max(1.0);
                        break;
                    }
                }
                (target, rate)
            })
            .collect()
    }
}
