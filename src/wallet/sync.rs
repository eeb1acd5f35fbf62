//! Sync: discovers the wallet's used addresses on both key chains with a gap limit, asks
//! the backend for their history with a bounded number of requests in flight, and derives
//! the unspent coins from that history (an output to one of our scripts that no transaction
//! in the history spends). The network questions go through [`ChainBackend`]; turning the
//! answers into coins and transactions ([`apply_histories`]) is pure.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::Account;
use super::builder::WalletUtxo;
use super::cache::CachedTx;
use crate::chain::{ChainBackend, ChainError, Discovery, HistoryTx, MempoolView};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, Txid};

/// Confirmations a coinbase output needs before it may be spent (Core's
/// `COINBASE_MATURITY`): younger ones are left out of the spendable coins.
pub const COINBASE_MATURITY: u32 = 100;

/// Bitcoin Core's and BIP-0044's default gap limit.
pub const DEFAULT_GAP_LIMIT: u32 = 20;
/// Requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Stop after this many consecutive unused addresses past the last used one.
    pub gap_limit: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Scan at least this far on the receive chain (addresses already handed out).
    pub receive_floor: u32,
    /// Scan at least this far on the change chain.
    pub change_floor: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            gap_limit: DEFAULT_GAP_LIMIT,
            concurrency: DEFAULT_CONCURRENCY,
            receive_floor: 0,
            change_floor: 0,
        }
    }
}

/// A used address found by the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedAddress {
    /// Its chain.
    pub chain: KeyChain,
    /// Its index.
    pub index: u32,
    /// Its address text.
    pub address: String,
    /// Its scriptPubKey.
    pub script_pubkey: ScriptBuf,
}

/// What a sync found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// The tip height when the sync started.
    pub tip_height: u32,
    /// The wallet's unspent coins.
    pub utxos: Vec<WalletUtxo>,
    /// The wallet's transactions.
    pub txs: Vec<CachedTx>,
    /// Addresses with history.
    pub used: Vec<UsedAddress>,
    /// Addresses asked about.
    pub scanned: usize,
    /// Requests made to the backend.
    pub requests: usize,
    /// Whether `txs` is the whole history (history discovery), or only the transactions
    /// behind the unspent coins and the mempool's (a UTXO scan): then what a transaction
    /// spent of the wallet's may be unknown.
    pub history_complete: bool,
}

/// Syncs `account` against `backend`; `progress` is called with the number of addresses
/// scanned so far. Esplora-like backends are asked each address's history; Bitcoin Core is
/// asked for the unspent outputs of whole ranges of addresses at once ([`Discovery`]).
///
/// # Errors
/// The first [`ChainError`] of any request.
pub async fn sync(
    backend: Arc<dyn ChainBackend>,
    account: &Account,
    options: SyncOptions,
    progress: impl FnMut(usize),
) -> Result<SyncResult, ChainError> {
    match backend.discovery() {
        Discovery::ScriptHistory => sync_by_history(backend, account, options, progress).await,
        Discovery::UtxoScan => sync_by_utxo_scan(backend, account, options, progress).await,
    }
}

fn derivation_failed(backend: &Arc<dyn ChainBackend>, e: impl std::fmt::Display) -> ChainError {
    ChainError::Protocol {
        url: backend.describe(),
        reason: format!("derivation failed: {e}"),
    }
}

/// Discovery by UTXO scan: both chains up to their floor plus the gap limit in one scan,
/// then again for the addresses a found coin pushes the gap past; then one look at the
/// mempool for all of it ([`apply_mempool`]). An address whose coins are all spent looks
/// unused to such a scan, so the floors (addresses already handed out) matter more here
/// than with history.
async fn sync_by_utxo_scan(
    backend: Arc<dyn ChainBackend>,
    account: &Account,
    options: SyncOptions,
    mut progress: impl FnMut(usize),
) -> Result<SyncResult, ChainError> {
    let tip_height = backend.tip_height().await?;
    let mut requests = 1;
    let mut scanned_to = [0u32; 2];
    let mut want = [
        options.receive_floor + options.gap_limit,
        options.change_floor + options.gap_limit,
    ];
    // Every scanned script, as the address it is.
    let mut ours: HashMap<ScriptBuf, UsedAddress> = HashMap::new();
    let mut coins = Vec::new();
    let mut txs: BTreeMap<Txid, CachedTx> = BTreeMap::new();
    loop {
        let mut scripts = Vec::new();
        for (slot, chain) in KeyChain::ALL.into_iter().enumerate() {
            for index in scanned_to[slot]..want[slot] {
                let (out, _) = account
                    .output_at(chain, index)
                    .map_err(|e| derivation_failed(&backend, e))?;
                scripts.push(out.script_pubkey.clone());
                ours.insert(
                    out.script_pubkey.clone(),
                    UsedAddress {
                        chain,
                        index,
                        address: out.address.to_string(),
                        script_pubkey: out.script_pubkey,
                    },
                );
            }
            scanned_to[slot] = want[slot];
        }
        if scripts.is_empty() {
            break;
        }
        let scan = backend.scan_utxos(&scripts).await?;
        requests += scan.requests;
        progress(scanned_to.iter().map(|n| *n as usize).sum());
        for found in scan.utxos {
            let addr = scripts
                .get(found.script_index)
                .and_then(|s| ours.get(s))
                .ok_or_else(|| ChainError::Protocol {
                    url: backend.describe(),
                    reason: "UTXO scan named a script not asked about".into(),
                })?;
            let slot = usize::from(addr.chain == KeyChain::Change);
            want[slot] = want[slot].max(addr.index + 1 + options.gap_limit);
            coins.push(WalletUtxo {
                outpoint: found.utxo.outpoint,
                txout: found.txout,
                chain: addr.chain,
                index: addr.index,
                height: found.utxo.height,
            });
        }
        // Each scan is a pass over the whole UTXO set (minutes on mainnet): when the gap
        // moves, at least double the range instead of creeping forward a gap at a time.
        for slot in 0..2 {
            if want[slot] > scanned_to[slot] {
                want[slot] = want[slot].max(scanned_to[slot].saturating_mul(2));
            }
        }
        for h in scan.txs {
            txs.entry(h.tx.txid()).or_insert(CachedTx {
                tx: h.tx,
                height: h.height,
                fee: h.fee,
            });
        }
    }
    let outpoints: Vec<OutPoint> = coins.iter().map(|u| u.outpoint).collect();
    let view = backend.mempool_view(&outpoints).await?;
    requests += view.requests;
    let applied = apply_mempool(coins, &ours, &view);
    for tx in applied.touching {
        txs.entry(tx.txid()).or_insert(CachedTx {
            tx,
            height: None,
            fee: None,
        });
    }
    // Coins a mempool transaction spends still show their address is in use (and the
    // replacement of that spend needs to know them).
    let mut used: Vec<UsedAddress> = applied
        .unspent
        .iter()
        .chain(&applied.spent)
        .filter_map(|u| ours.get(&u.txout.script_pubkey))
        .map(|a| (&a.script_pubkey, a.clone()))
        .collect::<HashMap<_, _>>()
        .into_values()
        .collect();
    used.sort_by_key(|u| (u.chain.child_number(), u.index));
    let mut utxos = applied.unspent;
    utxos.retain(|u| {
        txs.get(&u.outpoint.txid)
            .is_none_or(|t| is_spendable(&t.tx, u.height, tip_height))
    });
    let mut txs: Vec<CachedTx> = txs.into_values().collect();
    txs.sort_by_key(|t| t.height.unwrap_or(u32::MAX));
    Ok(SyncResult {
        tip_height,
        utxos,
        txs,
        used,
        scanned: scanned_to.iter().map(|n| *n as usize).sum(),
        requests,
        history_complete: false,
    })
}

/// The coins of a UTXO scan after the mempool: see [`apply_mempool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolApplied {
    /// Coins still unspent: confirmed ones no mempool transaction spends, and mempool
    /// outputs to the wallet's scripts that no other mempool transaction spends.
    pub unspent: Vec<WalletUtxo>,
    /// The wallet's coins a mempool transaction spends.
    pub spent: Vec<WalletUtxo>,
    /// Mempool transactions paying to or spending from the wallet.
    pub touching: Vec<Transaction>,
}

/// Applies the mempool to the confirmed `coins` of a UTXO scan, `ours` being every script
/// scanned. Pure. Mempool transactions come in any order (a child may be listed before its
/// parent), so outputs are collected before spends are looked at.
pub fn apply_mempool(
    coins: Vec<WalletUtxo>,
    ours: &HashMap<ScriptBuf, UsedAddress>,
    view: &MempoolView,
) -> MempoolApplied {
    let pool = view.txs.as_deref().unwrap_or_default();
    let mut all = coins;
    let mut touching = Vec::new();
    let mut paying = HashSet::new();
    for tx in pool {
        let txid = tx.txid();
        for (vout, out) in (0u32..).zip(&tx.output) {
            if let Some(addr) = ours.get(&out.script_pubkey) {
                paying.insert(txid);
                all.push(WalletUtxo {
                    outpoint: OutPoint { txid, vout },
                    txout: out.clone(),
                    chain: addr.chain,
                    index: addr.index,
                    height: None,
                });
            }
        }
    }
    let mine: HashSet<OutPoint> = all.iter().map(|u| u.outpoint).collect();
    let mut spent_ops = view.spent.clone();
    for tx in pool {
        let spends_ours = tx.input.iter().any(|i| mine.contains(&i.previous_output));
        spent_ops.extend(tx.input.iter().map(|i| i.previous_output));
        if spends_ours || paying.contains(&tx.txid()) {
            touching.push(tx.clone());
        }
    }
    let (spent, unspent) = all
        .into_iter()
        .partition(|u| spent_ops.contains(&u.outpoint));
    MempoolApplied {
        unspent,
        spent,
        touching,
    }
}

async fn sync_by_history(
    backend: Arc<dyn ChainBackend>,
    account: &Account,
    options: SyncOptions,
    mut progress: impl FnMut(usize),
) -> Result<SyncResult, ChainError> {
    let tip_height = backend.tip_height().await?;
    let mut requests = 1;
    let mut scanned = 0;
    let mut found: Vec<(UsedAddress, Vec<HistoryTx>)> = Vec::new();
    let concurrency = options.concurrency.max(1);
    for chain in KeyChain::ALL {
        let floor = match chain {
            KeyChain::Receive => options.receive_floor,
            KeyChain::Change => options.change_floor,
        };
        let mut next = 0u32;
        // One past the last used index (0 if none yet).
        let mut used_end = 0u32;
        while next < used_end.max(floor) + options.gap_limit {
            let end = next + u32::try_from(concurrency).unwrap_or(u32::MAX);
            let mut set = tokio::task::JoinSet::new();
            for index in next..end {
                let (out, _) = account
                    .output_at(chain, index)
                    .map_err(|e| derivation_failed(&backend, e))?;
                let backend = Arc::clone(&backend);
                set.spawn(async move {
                    let history = backend.script_history(&out.script_pubkey).await;
                    (index, out, history)
                });
            }
            while let Some(joined) = set.join_next().await {
                let (index, out, history) = joined.map_err(|e| ChainError::Protocol {
                    url: backend.describe(),
                    reason: format!("sync task failed: {e}"),
                })?;
                let history = history?;
                requests += 1;
                scanned += 1;
                if !history.is_empty() {
                    used_end = used_end.max(index + 1);
                    found.push((
                        UsedAddress {
                            chain,
                            index,
                            address: out.address.to_string(),
                            script_pubkey: out.script_pubkey,
                        },
                        history,
                    ));
                }
            }
            progress(scanned);
            next = end;
        }
    }
    found.sort_by_key(|(u, _)| (u.chain.child_number(), u.index));
    let (mut utxos, txs) = apply_histories(&found);
    let coinbases: HashMap<Txid, &CachedTx> = txs
        .iter()
        .filter(|t| t.tx.is_coinbase())
        .map(|t| (t.tx.txid(), t))
        .collect();
    utxos.retain(|u| {
        coinbases
            .get(&u.outpoint.txid)
            .is_none_or(|t| is_spendable(&t.tx, u.height, tip_height))
    });
    Ok(SyncResult {
        tip_height,
        utxos,
        txs,
        used: found.into_iter().map(|(u, _)| u).collect(),
        scanned,
        requests,
        history_complete: true,
    })
}

/// Whether an output of `tx` confirmed at `height` may be spent in the next block: not a
/// coinbase, or a coinbase with [`COINBASE_MATURITY`] confirmations by then.
pub fn is_spendable(tx: &crate::tx::Transaction, height: Option<u32>, tip_height: u32) -> bool {
    if !tx.is_coinbase() {
        return true;
    }
    height.is_some_and(|h| (tip_height + 1).saturating_sub(h) >= COINBASE_MATURITY)
}

/// Turns the histories of the used addresses into the wallet's transactions and unspent
/// coins. Pure.
pub fn apply_histories(
    found: &[(UsedAddress, Vec<HistoryTx>)],
) -> (Vec<WalletUtxo>, Vec<CachedTx>) {
    let ours: HashMap<&ScriptBuf, &UsedAddress> =
        found.iter().map(|(u, _)| (&u.script_pubkey, u)).collect();
    let mut txs: BTreeMap<Txid, CachedTx> = BTreeMap::new();
    for (_, history) in found {
        for h in history {
            txs.entry(h.tx.txid()).or_insert_with(|| CachedTx {
                tx: h.tx.clone(),
                height: h.height,
                fee: h.fee,
            });
        }
    }
    let spent: HashSet<OutPoint> = txs
        .values()
        .flat_map(|t| t.tx.input.iter().map(|i| i.previous_output))
        .collect();
    let mut utxos = Vec::new();
    for (txid, t) in &txs {
        for (vout, out) in t.tx.output.iter().enumerate() {
            let outpoint = OutPoint {
                txid: *txid,
                vout: u32::try_from(vout).unwrap_or(u32::MAX),
            };
            if let Some(addr) = ours.get(&out.script_pubkey)
                && !spent.contains(&outpoint)
            {
                utxos.push(WalletUtxo {
                    outpoint,
                    txout: out.clone(),
                    chain: addr.chain,
                    index: addr.index,
                    height: t.height,
                });
            }
        }
    }
    let mut txs: Vec<CachedTx> = txs.into_values().collect();
    txs.sort_by_key(|t| t.height.unwrap_or(u32::MAX));
    (utxos, txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{TxIn, TxOut};
    use crate::units::Amount;

    fn spend(from: OutPoint, to: &[&ScriptBuf]) -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: vec![TxIn::new(from, 0xffff_fffd)],
            output: to
                .iter()
                .map(|s| TxOut {
                    value: Amount::from_sat(1_000),
                    script_pubkey: (*s).clone(),
                })
                .collect(),
        }
    }

    /// A confirmed coin spent by a mempool parent that pays the wallet's change, itself
    /// spent by a child listed first: nothing is left unspent, both coins count as spent,
    /// both transactions touch the wallet.
    #[test]
    fn mempool_chains_in_any_order() {
        let change = ScriptBuf::from_hex("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let other = ScriptBuf::from_hex("00140000000000000000000000000000000000000000").unwrap();
        let ours = HashMap::from([(
            change.clone(),
            UsedAddress {
                chain: KeyChain::Change,
                index: 3,
                address: "change".into(),
                script_pubkey: change.clone(),
            },
        )]);
        let confirmed = WalletUtxo {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([7; 32]),
                vout: 1,
            },
            txout: TxOut {
                value: Amount::from_sat(5_000),
                script_pubkey: change.clone(),
            },
            chain: KeyChain::Change,
            index: 3,
            height: Some(100),
        };
        let parent = spend(confirmed.outpoint, &[&change, &other]);
        let child = spend(
            OutPoint {
                txid: parent.txid(),
                vout: 0,
            },
            &[&other],
        );
        let unrelated = spend(
            OutPoint {
                txid: Txid::from_byte_array([9; 32]),
                vout: 0,
            },
            &[&other],
        );
        let view = MempoolView {
            txs: Some(vec![child.clone(), unrelated, parent.clone()]),
            spent: HashSet::new(),
            requests: 0,
        };
        let applied = apply_mempool(vec![confirmed.clone()], &ours, &view);
        assert!(applied.unspent.is_empty(), "{:?}", applied.unspent);
        let spent: HashSet<OutPoint> = applied.spent.iter().map(|u| u.outpoint).collect();
        assert_eq!(
            spent,
            HashSet::from([
                confirmed.outpoint,
                OutPoint {
                    txid: parent.txid(),
                    vout: 0
                }
            ])
        );
        assert_eq!(applied.touching, vec![child, parent]);

        // A mempool too large to read: the backend's own answer decides what is spent.
        let view = MempoolView {
            txs: None,
            spent: HashSet::from([confirmed.outpoint]),
            requests: 0,
        };
        let applied = apply_mempool(vec![confirmed], &ours, &view);
        assert!(applied.unspent.is_empty() && applied.touching.is_empty());
        assert_eq!(applied.spent.len(), 1);
    }
}
