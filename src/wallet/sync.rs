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
use crate::chain::{ChainBackend, ChainError, Discovery, HistoryTx};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Txid};

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
/// then again for the addresses a found coin pushes the gap past. An address whose coins
/// are all spent looks unused to such a scan, so the floors (addresses already handed
/// out) matter more here than with history.
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
    let mut used: BTreeMap<(usize, u32), UsedAddress> = BTreeMap::new();
    let mut utxos = Vec::new();
    let mut txs: BTreeMap<Txid, CachedTx> = BTreeMap::new();
    loop {
        let mut batch = Vec::new();
        for (slot, chain) in KeyChain::ALL.into_iter().enumerate() {
            for index in scanned_to[slot]..want[slot] {
                let (out, _) = account
                    .output_at(chain, index)
                    .map_err(|e| derivation_failed(&backend, e))?;
                batch.push((slot, chain, index, out));
            }
            scanned_to[slot] = want[slot];
        }
        if batch.is_empty() {
            break;
        }
        let scripts: Vec<ScriptBuf> = batch.iter().map(|b| b.3.script_pubkey.clone()).collect();
        let scan = backend.scan_utxos(&scripts).await?;
        requests += scan.requests;
        progress(scanned_to.iter().map(|n| *n as usize).sum());
        // Coins a mempool transaction spends count as use of their address (and the
        // replacement of that spend needs to know them), but are not spendable.
        let spendable = scan.utxos.len();
        for (n, found) in scan
            .utxos
            .into_iter()
            .chain(scan.spent_in_mempool)
            .enumerate()
        {
            let (slot, chain, index, out) =
                batch
                    .get(found.script_index)
                    .ok_or_else(|| ChainError::Protocol {
                        url: backend.describe(),
                        reason: "UTXO scan named a script not asked about".into(),
                    })?;
            want[*slot] = want[*slot].max(index + 1 + options.gap_limit);
            used.entry((*slot, *index)).or_insert_with(|| UsedAddress {
                chain: *chain,
                index: *index,
                address: out.address.to_string(),
                script_pubkey: out.script_pubkey.clone(),
            });
            if n < spendable {
                utxos.push(WalletUtxo {
                    outpoint: found.utxo.outpoint,
                    txout: found.txout,
                    chain: *chain,
                    index: *index,
                    height: found.utxo.height,
                });
            }
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
        used: used.into_values().collect(),
        scanned: scanned_to.iter().map(|n| *n as usize).sum(),
        requests,
        history_complete: false,
    })
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
