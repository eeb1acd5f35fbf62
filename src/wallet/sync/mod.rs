//! Sync, sans I/O, in the manner of BDK's `bdk_chain`: the wallet says which scripts it wants
//! to know about, a driver at the edge (`chain::sync`) asks a backend, and the wallet applies
//! the answers. Discovery walks both key chains with a gap limit, either by each script's
//! history ([`HistoryScan`], Esplora) or by scanning the UTXO set for whole ranges at once
//! ([`UtxoScanner`], Bitcoin Core). Nothing here touches the network or an async runtime.

mod history;
mod utxo_scan;

pub use history::{HistoryScan, ScriptRequest, apply_histories};
pub use utxo_scan::{MempoolApplied, UtxoScanner, apply_mempool};

use std::collections::HashSet;

use super::builder::WalletUtxo;
use super::cache::CachedTx;
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::units::Amount;

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
    /// Requests in flight at once (the size of a [`HistoryScan`] batch).
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

impl SyncOptions {
    fn floor(&self, chain: KeyChain) -> u32 {
        match chain {
            KeyChain::Receive => self.receive_floor,
            KeyChain::Change => self.change_floor,
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

/// What a sync found (empty by default: before any sync).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Why an answer could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// An address to ask about could not be derived.
    #[error("derivation failed: {0}")]
    Derivation(String),
    /// A UTXO scan's answer named a script that was not asked about.
    #[error("UTXO scan named a script not asked about")]
    UnaskedScript,
}

// The shapes of a backend's answers. They belong to the wallet, which applies them; the
// backends in `chain` fill them in (and re-export them).

/// An unspent output paying to a script the caller asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utxo {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
    /// The height of its block, `None` while unconfirmed.
    pub height: Option<u32>,
}

/// A transaction touching a script, as history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTx {
    /// The transaction.
    pub tx: Transaction,
    /// The height of its block, `None` while unconfirmed.
    pub height: Option<u32>,
    /// The fee, when the backend reports it.
    pub fee: Option<Amount>,
}

/// An unspent output found by a UTXO scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedUtxo {
    /// Which of the scanned scripts it pays to (an index into the slice asked about).
    pub script_index: usize,
    /// The coin.
    pub utxo: Utxo,
    /// The output itself.
    pub txout: TxOut,
}

/// What a UTXO scan found: confirmed coins only (the mempool is asked once per sync, not
/// once per scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtxoScan {
    /// Unspent outputs in the UTXO set paying to the scripts.
    pub utxos: Vec<ScannedUtxo>,
    /// The transactions that created them.
    pub txs: Vec<HistoryTx>,
    /// Requests made.
    pub requests: usize,
}

/// What the mempool does to coins found by a UTXO scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MempoolView {
    /// The mempool's transactions, when the backend could hand them all over (they show
    /// unconfirmed incoming payments); `None` when the mempool is too large to read.
    pub txs: Option<Vec<Transaction>>,
    /// The coins asked about that a mempool transaction spends.
    pub spent: HashSet<OutPoint>,
    /// Requests made.
    pub requests: usize,
}

impl From<HistoryTx> for CachedTx {
    fn from(h: HistoryTx) -> Self {
        CachedTx {
            tx: h.tx,
            height: h.height,
            fee: h.fee,
        }
    }
}

/// Whether an output of `tx` confirmed at `height` may be spent in the next block: not a
/// coinbase, or a coinbase with [`COINBASE_MATURITY`] confirmations by then.
pub fn is_spendable(tx: &Transaction, height: Option<u32>, tip_height: u32) -> bool {
    if !tx.is_coinbase() {
        return true;
    }
    height.is_some_and(|h| (tip_height + 1).saturating_sub(h) >= COINBASE_MATURITY)
}
