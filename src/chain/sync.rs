//! The sync driver: the I/O half of [`crate::wallet::sync`]. The wallet says which scripts it
//! wants to know about; this asks a [`ChainBackend`] (with a bounded number of requests in
//! flight) and hands the answers back. Esplora-like backends are asked each address's
//! history; Bitcoin Core is asked for the unspent outputs of whole ranges at once
//! ([`Discovery`]).

use std::sync::Arc;

use super::{ChainBackend, ChainError, Discovery};
use crate::wallet::Account;
use crate::wallet::sync::{HistoryScan, SyncError, SyncOptions, SyncResult, UtxoScanner};

/// Syncs `account` against `backend`; `progress` is called with the number of addresses
/// scanned so far.
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
        Discovery::ScriptHistory => by_history(backend, account, options, progress).await,
        Discovery::UtxoScan => by_utxo_scan(backend, account, options, progress).await,
    }
}

fn protocol(backend: &Arc<dyn ChainBackend>, e: SyncError) -> ChainError {
    ChainError::Protocol {
        url: backend.describe(),
        reason: e.to_string(),
    }
}

async fn by_history(
    backend: Arc<dyn ChainBackend>,
    account: &Account,
    options: SyncOptions,
    mut progress: impl FnMut(usize),
) -> Result<SyncResult, ChainError> {
    let tip_height = backend.tip_height().await?;
    let mut requests = 1;
    let mut scan = HistoryScan::new(account, options);
    while let Some(batch) = scan.next_batch().map_err(|e| protocol(&backend, e))? {
        let mut set = tokio::task::JoinSet::new();
        for request in batch {
            let backend = Arc::clone(&backend);
            set.spawn(async move {
                let history = backend.script_history(request.script_pubkey()).await;
                (request, history)
            });
        }
        while let Some(joined) = set.join_next().await {
            let (request, history) = joined.map_err(|e| ChainError::Protocol {
                url: backend.describe(),
                reason: format!("sync task failed: {e}"),
            })?;
            requests += 1;
            scan.apply(request, history?);
        }
        progress(scan.scanned());
    }
    Ok(scan.finish(tip_height, requests))
}

async fn by_utxo_scan(
    backend: Arc<dyn ChainBackend>,
    account: &Account,
    options: SyncOptions,
    mut progress: impl FnMut(usize),
) -> Result<SyncResult, ChainError> {
    let tip_height = backend.tip_height().await?;
    let mut requests = 1;
    let mut scanner = UtxoScanner::new(account, options);
    while let Some(scripts) = scanner.next_scan().map_err(|e| protocol(&backend, e))? {
        let scan = backend.scan_utxos(scripts).await?;
        requests += scan.requests;
        progress(scanner.scanned());
        scanner
            .apply_scan(scan)
            .map_err(|e| protocol(&backend, e))?;
    }
    let view = backend.mempool_view(&scanner.outpoints()).await?;
    requests += view.requests;
    Ok(scanner.finish(tip_height, &view, requests))
}
