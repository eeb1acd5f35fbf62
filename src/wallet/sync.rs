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
use crate::chain::{ChainBackend, ChainError, HistoryTx};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Txid};

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
}

/// Syncs `account` against `backend`; `progress` is called with the number of addresses
/// scanned so far.
///
/// # Errors
/// The first [`ChainError`] of any request.
pub async fn sync(
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
                let (out, _) =
                    account
                        .output_at(chain, index)
                        .map_err(|e| ChainError::Protocol {
                            url: backend.describe(),
                            reason: format!("derivation failed: {e}"),
                        })?;
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
    let (utxos, txs) = apply_histories(&found);
    Ok(SyncResult {
        tip_height,
        utxos,
        txs,
        used: found.into_iter().map(|(u, _)| u).collect(),
        scanned,
        requests,
    })
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
