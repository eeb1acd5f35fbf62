//! Package relay in its simplest form, as Bitcoin Core's `submitpackage` (and Esplora's
//! `POST /txs/package`, which calls it): one child with some or all of its unconfirmed
//! parents, topologically sorted. Each transaction is first tried on its own; those that
//! fail only on their fee rate (or on inputs a failed parent would create) are evaluated
//! together, where the 0.1 sat/vB floor applies to the package's fee rate — so a child can
//! pay for a parent below the floor (Core's `AcceptPackage`).
//!
//! Ephemeral dust: a 0-fee parent may carry one dust output if its child spends it
//! (`unspent-dust` otherwise). Left out: package RBF (a package transaction that replaces
//! a mempool one is refused with `package RBF failed`), the mempool size limit and its
//! rising minimum fee.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::mempool::{Accepted, FeeFloor, MempoolEntry, Reject, RejectKind, check_fee_floor};
use super::node::{BroadcastLimits, Devnet};
use super::policy::{has_valid_ops, is_unspendable};
use crate::tx::package::{
    MAX_PACKAGE_COUNT, check_well_formed, is_child_with_parents, is_child_with_parents_tree,
};
use crate::tx::{Transaction, Txid, Wtxid};
use crate::units::{Amount, FeeRate, SAT_PER_BTC};

/// What happened to one transaction of a package (Core's `MempoolAcceptResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Accepted now, at `effective_rate` counted over the transactions `includes`.
    Accepted {
        /// Virtual size.
        vsize: u64,
        /// Its own fee.
        fee: Amount,
        /// Its fee rate, or the package's when it was accepted with it.
        effective_rate: FeeRate,
        /// The wtxids whose fees and sizes make `effective_rate`.
        includes: Vec<Wtxid>,
    },
    /// Already in the mempool.
    InMempool {
        /// Virtual size.
        vsize: u64,
        /// Fee.
        fee: Amount,
    },
    /// A transaction with the same txid and another witness is in the mempool.
    OtherWitness(Wtxid),
    /// Refused.
    Failed(Reject),
    /// The package was refused as a whole before this transaction was looked at.
    NotValidated,
}

/// One transaction's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// The txid.
    pub txid: Txid,
    /// The wtxid (the key of Core's `tx-results`).
    pub wtxid: Wtxid,
    /// What happened.
    pub outcome: TxOutcome,
}

/// The answer to a package: Core's `package_msg` (`success`, or why not), a result per
/// transaction in package order, and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOutcome {
    /// `success`, or the package-wide reason (`transaction failed`, `package-not-sorted`, …).
    pub message: String,
    /// A result per submitted transaction, in order.
    pub results: Vec<TxResult>,
    /// Mempool transactions replaced by accepted ones.
    pub replaced: Vec<Txid>,
}

/// Failures that Core retries as part of the package: fee-rate ones
/// (`TX_RECONSIDERABLE`) and missing inputs (a parent in the package may create them).
fn reconsiderable(r: &Reject) -> bool {
    r.kind == RejectKind::MissingInputs
        || r.reason == "min relay fee not met"
        || r.reason.starts_with("insufficient fee")
        || r.reason == "replacement-failed"
}

/// What evaluating transactions together gave: the package message when it failed, and
/// a result (with what it replaced) for each transaction it has one for.
struct Together {
    message: Option<String>,
    results: Vec<(Wtxid, TxOutcome, Vec<Txid>)>,
}

impl Together {
    fn failed(message: String, results: Vec<(Wtxid, TxOutcome, Vec<Txid>)>) -> Self {
        Together {
            message: Some(message),
            results,
        }
    }
}

fn rate_of(fee: Amount, vsize: u64) -> FeeRate {
    FeeRate::from_sat_per_kvb(fee.to_sat() * 1000 / vsize.max(1))
}

fn over_max(limits: &BroadcastLimits, entry: &MempoolEntry) -> bool {
    limits.max_fee_rate != FeeRate::ZERO && entry.fee_rate() > limits.max_fee_rate
}

fn failed(reason: &str) -> Reject {
    Reject {
        kind: RejectKind::Invalid,
        reason: reason.into(),
        debug: String::new(),
    }
}

/// Why `submitpackage` refused its arguments before looking at the mempool: Core's RPC
/// error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageArgError {
    /// The RPC error code (-8, -22 or -25).
    pub code: i32,
    /// Core's message.
    pub message: String,
}

/// `submitpackage`'s argument checks, in Core's order: 1 to 25 transactions (-8), each
/// decoding (-22), no unspendable output above `max_burn` (-25), and a child with its
/// parents, none spending another (-25).
///
/// # Errors
/// [`PackageArgError`] with Core's code and message.
pub fn decode_package(
    raws: &[&str],
    max_burn: Amount,
) -> Result<Vec<Transaction>, PackageArgError> {
    let refuse = |code: i32, message: String| PackageArgError { code, message };
    if raws.is_empty() || raws.len() > MAX_PACKAGE_COUNT {
        return Err(refuse(
            -8,
            format!("Array must contain between 1 and {MAX_PACKAGE_COUNT} transactions."),
        ));
    }
    let mut txs = Vec::with_capacity(raws.len());
    for raw in raws {
        let tx = Transaction::from_hex(raw).map_err(|_| {
            refuse(
                -22,
                format!("TX decode failed: {raw} Make sure the tx has at least one input."),
            )
        })?;
        let burns = tx.output.iter().any(|o| {
            (is_unspendable(&o.script_pubkey) || !has_valid_ops(&o.script_pubkey))
                && o.value > max_burn
        });
        if burns {
            return Err(refuse(
                -25,
                "Unspendable output exceeds maximum configured by user (maxburnamount)".into(),
            ));
        }
        txs.push(tx);
    }
    if txs.len() > 1 && !is_child_with_parents_tree(&txs) {
        return Err(refuse(
            -25,
            "package topology disallowed. not child-with-parents or parents depend on each other."
                .into(),
        ));
    }
    Ok(txs)
}

fn btc(sats: u64) -> Value {
    json!(sats as f64 / SAT_PER_BTC as f64)
}

impl PackageOutcome {
    /// Core's `submitpackage` answer: `package_msg`, `tx-results` by wtxid (`txid`, and
    /// `vsize` with `fees` {`base`, `effective-feerate` in BTC/kvB, `effective-includes`},
    /// or `other-wtxid`, or `error`), and `replaced-transactions`.
    pub fn to_json(&self) -> Value {
        let mut results = serde_json::Map::new();
        for r in &self.results {
            let mut v = json!({ "txid": r.txid });
            match &r.outcome {
                TxOutcome::Accepted {
                    vsize,
                    fee,
                    effective_rate,
                    includes,
                } => {
                    v["vsize"] = json!(vsize);
                    v["fees"] = json!({
                        "base": btc(fee.to_sat()),
                        "effective-feerate": btc(effective_rate.to_sat_per_kvb()),
                        "effective-includes": includes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    });
                }
                TxOutcome::InMempool { vsize, fee } => {
                    v["vsize"] = json!(vsize);
                    v["fees"] = json!({ "base": btc(fee.to_sat()) });
                }
                TxOutcome::OtherWitness(w) => v["other-wtxid"] = json!(w.to_string()),
                TxOutcome::Failed(reject) => v["error"] = json!(reject.to_string()),
                TxOutcome::NotValidated => v["error"] = json!("package-not-validated"),
            }
            results.insert(r.wtxid.to_string(), v);
        }
        json!({
            "package_msg": self.message,
            "tx-results": results,
            "replaced-transactions": self.replaced,
        })
    }
}

impl Devnet {
    /// Core's `submitpackage` after its argument checks (count, decoding, burn amounts,
    /// topology, which the caller does): each transaction alone first, then the ones
    /// that failed on fees together. `limits.max_fee_rate` (zero: none) refuses a
    /// transaction whose own rate is above it (`max feerate exceeded`).
    pub fn submit_package(
        &mut self,
        package: &[Transaction],
        limits: &BroadcastLimits,
    ) -> PackageOutcome {
        let ids: Vec<(Txid, Wtxid)> = package.iter().map(|t| (t.txid(), t.wtxid())).collect();
        let abort = |message: String| PackageOutcome {
            message,
            results: ids
                .iter()
                .map(|&(txid, wtxid)| TxResult {
                    txid,
                    wtxid,
                    outcome: TxOutcome::NotValidated,
                })
                .collect(),
            replaced: Vec::new(),
        };
        if let Err(why) = check_well_formed(package) {
            return abort(why);
        }
        if package.len() > 1 && !is_child_with_parents(package) {
            return abort("package-not-child-with-parents".into());
        }
        if let Some(why) = self.halted() {
            return abort(format!("devnet-halted, {why}"));
        }
        let mut outcomes: HashMap<Wtxid, TxOutcome> = HashMap::new();
        let mut replaced: Vec<Txid> = Vec::new();
        let mut message = "success".to_owned();
        let mut quit_early = false;
        let mut to_evaluate: Vec<&Transaction> = Vec::new();
        for tx in package {
            let wtxid = tx.wtxid();
            if let Some(e) = self.mempool().get(&tx.txid()) {
                let outcome = if e.tx.wtxid() == wtxid {
                    TxOutcome::InMempool {
                        vsize: e.vsize,
                        fee: e.fee,
                    }
                } else {
                    TxOutcome::OtherWitness(e.tx.wtxid())
                };
                outcomes.insert(wtxid, outcome);
                continue;
            }
            match self.accept_alone(tx, limits) {
                Ok(a) => {
                    replaced.extend(a.replaced.iter().copied());
                    outcomes.insert(
                        wtxid,
                        TxOutcome::Accepted {
                            vsize: a.entry.vsize,
                            fee: a.entry.fee,
                            effective_rate: a.entry.fee_rate(),
                            includes: vec![wtxid],
                        },
                    );
                }
                Err(r) => {
                    if package.len() == 1 || !reconsiderable(&r) {
                        quit_early = true;
                        message = "transaction failed".into();
                    } else {
                        to_evaluate.push(tx);
                    }
                    outcomes.insert(wtxid, TxOutcome::Failed(r));
                }
            }
        }
        if !quit_early && !to_evaluate.is_empty() {
            let together = self.accept_together(&to_evaluate, limits);
            if let Some(msg) = together.message {
                message = msg;
            }
            for (wtxid, outcome, gone) in together.results {
                replaced.extend(gone);
                outcomes.insert(wtxid, outcome);
            }
        }
        replaced.sort();
        replaced.dedup();
        PackageOutcome {
            message,
            results: ids
                .into_iter()
                .map(|(txid, wtxid)| TxResult {
                    txid,
                    wtxid,
                    outcome: outcomes.remove(&wtxid).unwrap_or(TxOutcome::NotValidated),
                })
                .collect(),
            replaced,
        }
    }

    /// One transaction on its own (Core's `AcceptSubPackage` of one).
    fn accept_alone(
        &mut self,
        tx: &Transaction,
        limits: &BroadcastLimits,
    ) -> Result<Accepted, Reject> {
        let accepted = self.mempool().check(tx, self.chain())?;
        if over_max(limits, &accepted.entry) {
            return Err(failed("max feerate exceeded"));
        }
        self.commit(&accepted)?;
        Ok(accepted)
    }

    /// The transactions that failed alone on fees, together (Core's
    /// `AcceptMultipleTransactions`): every check but the floor against a copy of the
    /// mempool holding the earlier ones, then the floor on their combined fee rate.
    /// Returns the package message when it failed, and the results it has.
    fn accept_together(&mut self, txs: &[&Transaction], limits: &BroadcastLimits) -> Together {
        let owned: Vec<Transaction> = txs.iter().map(|t| (*t).clone()).collect();
        if let Err(why) = check_well_formed(&owned) {
            return Together::failed(why, Vec::new());
        }
        let mut view = self.mempool().clone();
        let mut accepted: Vec<Accepted> = Vec::new();
        for tx in txs {
            let wtxid = tx.wtxid();
            let result = view
                .check_as(tx, self.chain(), FeeFloor::Package)
                .and_then(|a| {
                    if over_max(limits, &a.entry) {
                        Err(failed("max feerate exceeded"))
                    } else {
                        Ok(a)
                    }
                });
            match result {
                Ok(a) if !a.replaced.is_empty() => {
                    return Together::failed(
                        "package RBF failed: the devnet does not replace in packages".into(),
                        Vec::new(),
                    );
                }
                Ok(a) => {
                    view.commit(&a);
                    accepted.push(a);
                }
                Err(r) => {
                    // Core checks the package's ephemeral dust as a whole: `unspent-dust`.
                    let message = if r.reason == "missing-ephemeral-spends" {
                        "unspent-dust"
                    } else {
                        "transaction failed"
                    };
                    return Together::failed(
                        message.into(),
                        vec![(wtxid, TxOutcome::Failed(r), Vec::new())],
                    );
                }
            }
        }
        let fee = Amount::checked_sum(accepted.iter().map(|a| a.entry.fee)).unwrap_or(Amount::ZERO);
        let vsize: u64 = accepted.iter().map(|a| a.entry.vsize).sum();
        let includes: Vec<Wtxid> = txs.iter().map(|t| t.wtxid()).collect();
        if let Err(r) = check_fee_floor(fee, vsize) {
            let child = *includes.last().expect("at least two transactions");
            return Together::failed(
                "transaction failed".into(),
                vec![(child, TxOutcome::Failed(r), Vec::new())],
            );
        }
        let mut out = Vec::new();
        for a in accepted {
            let wtxid = a.entry.tx.wtxid();
            let outcome = match self.commit(&a) {
                Ok(()) => TxOutcome::Accepted {
                    vsize: a.entry.vsize,
                    fee: a.entry.fee,
                    effective_rate: rate_of(fee, vsize),
                    includes: includes.clone(),
                },
                Err(r) => TxOutcome::Failed(r),
            };
            out.push((wtxid, outcome, a.replaced));
        }
        Together {
            message: None,
            results: out,
        }
    }
}
