//! Chain backends: what ferry asks of the Bitcoin network — UTXOs and history by script,
//! transactions, fee estimates, broadcast — behind one trait, so the wallet and the relay
//! work the same against an Esplora server (mempool.space, blockstream.info, self-hosted,
//! the devnet) or a Bitcoin Core node.
//!
//! This is an edge module: it does network I/O (reqwest) and is async. The core never
//! imports it.

pub mod core_rpc;
pub mod esplora;
mod http;
pub mod sync;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, TxOut, Txid};
use crate::units::FeeRate;

pub use core_rpc::CoreRpcBackend;
pub use esplora::EsploraBackend;
// The answers' shapes are the wallet's, which applies them (sans-I/O sync).
pub use crate::wallet::sync::{HistoryTx, MempoolView, ScannedUtxo, Utxo, UtxoScan};

/// Opens the backend a URL names: `core+http://…` is a Bitcoin Core (or qtumd) node,
/// anything else an Esplora server.
///
/// # Errors
/// [`ChainError::InvalidUrl`] when neither can use it.
pub fn open(url: &str) -> Result<Arc<dyn ChainBackend>, ChainError> {
    if url.starts_with("core+") {
        Ok(Arc::new(CoreRpcBackend::new(url)?))
    } else {
        Ok(Arc::new(EsploraBackend::new(url)?))
    }
}

/// A boxed future, so that `dyn ChainBackend` can be shared (`Arc<dyn ChainBackend>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TxStatus {
    /// Unknown to the backend (never seen, or dropped from its mempool).
    Unknown,
    /// In the backend's mempool.
    Mempool,
    /// In a block at this height.
    Confirmed {
        /// The block height.
        height: u32,
    },
}

/// How a backend finds a wallet's coins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// By each script's history (Esplora): every transaction, spent coins too.
    ScriptHistory,
    /// By scanning the UTXO set for many scripts at once (Bitcoin Core's `scantxoutset`):
    /// unspent coins and the transactions that made them.
    UtxoScan,
}

/// What spends an output, as far as the backend knows ([`ChainBackend::outspend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outspend {
    /// Nothing spends it (or the backend does not know the output).
    Unspent,
    /// A mempool transaction spends it.
    InMempool(Txid),
    /// A block spends it; the spender's txid where the backend names it.
    InBlock(Option<Txid>),
}

/// What a backend's refusal of a transaction means for whoever keeps trying to broadcast it,
/// read from the node's own reason (Core's reject strings, which Esplora passes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// The node has it already (in its mempool): as good as accepted.
    AlreadyKnown,
    /// It can never be accepted as it is: a conflict, missing or spent inputs, a script
    /// failure, a replacement the node refuses, or already mined.
    Definitive,
    /// Anything else (a fee floor raised by a full mempool, a policy limit): worth retrying.
    Transient,
}

impl RejectKind {
    /// Classifies a backend's reject reason.
    pub fn of(reason: &str) -> RejectKind {
        const ALREADY_KNOWN: &[&str] = &[
            "already-in-mempool",
            "already in mempool",
            "already known",
            "txn-already-known",
        ];
        const DEFINITIVE: &[&str] = &[
            "conflict",
            "missingorspent",
            "missing-inputs",
            "missing inputs",
            "bad-txns",
            "mandatory-script-verify",
            "non-mandatory-script-verify",
            // Core 30+: `mempool-script-verify-flag-failed (…)`.
            "script-verify-flag-failed",
            // Core 30+ (full RBF): a conflicting spend the node keeps over ours.
            "rejecting replacement",
            // Core, for a transaction already mined.
            "already in block chain",
            "already in utxo set",
        ];
        if ALREADY_KNOWN.iter().any(|r| reason.contains(r)) {
            RejectKind::AlreadyKnown
        } else if DEFINITIVE.iter().any(|r| reason.contains(r)) {
            RejectKind::Definitive
        } else {
            RejectKind::Transient
        }
    }
}

/// Why a backend request failed. Messages from the backend are carried as data, never
/// parsed as a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The backend could not be reached (connection refused, DNS, TLS) or timed out.
    #[error("backend {url} unreachable: {reason}")]
    Unreachable {
        /// The backend URL (without credentials).
        url: String,
        /// What failed.
        reason: String,
    },
    /// The backend refused a transaction; `reason` is its own text (e.g. Core's
    /// `min relay fee not met`).
    #[error("backend rejected the transaction: {reason}")]
    Rejected {
        /// The backend's reason, verbatim.
        reason: String,
    },
    /// The backend answered something ferry does not understand.
    #[error("unexpected answer from backend {url}: {reason}")]
    Protocol {
        /// The backend URL (without credentials).
        url: String,
        /// What was unexpected.
        reason: String,
    },
    /// The backend cannot answer this kind of question.
    #[error("{backend} cannot give {what}")]
    Unsupported {
        /// The backend, as [`ChainBackend::describe`] gives it.
        backend: String,
        /// What was asked.
        what: &'static str,
    },
    /// A backend URL ferry cannot use.
    #[error(
        "invalid backend URL {0:?}: use https://host/api (Esplora) or core+http://user:pass@host:port (Bitcoin Core)"
    )]
    InvalidUrl(String),
}

/// The questions ferry asks of the chain. Every implementation puts a timeout on every
/// request and retries 429/5xx answers with backoff (honouring `Retry-After`).
pub trait ChainBackend: Send + Sync {
    /// Returns a description for messages, without credentials (e.g. `esplora https://…`).
    fn describe(&self) -> String;

    /// Returns how this backend finds a wallet's coins.
    fn discovery(&self) -> Discovery {
        Discovery::ScriptHistory
    }

    /// Returns the height of the best block.
    fn tip_height(&self) -> BoxFuture<'_, Result<u32, ChainError>>;

    /// Returns the unspent outputs paying to `script_pubkey` (confirmed and in mempool).
    fn script_utxos<'a>(
        &'a self,
        script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<Utxo>, ChainError>>;

    /// Returns the transactions that pay to or spend from `script_pubkey`.
    fn script_history<'a>(
        &'a self,
        script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<HistoryTx>, ChainError>>;

    /// Returns the unspent outputs paying to any of `scripts`, in as few requests as the
    /// backend allows ([`Discovery::UtxoScan`] backends).
    fn scan_utxos<'a>(
        &'a self,
        scripts: &'a [ScriptBuf],
    ) -> BoxFuture<'a, Result<UtxoScan, ChainError>> {
        let _ = scripts;
        Box::pin(async move {
            Err(ChainError::Unsupported {
                backend: self.describe(),
                what: "a UTXO scan",
            })
        })
    }

    /// Returns what the mempool does to `coins` (found by [`ChainBackend::scan_utxos`]):
    /// which it spends, and its transactions where the backend can hand them over.
    fn mempool_view<'a>(
        &'a self,
        coins: &'a [OutPoint],
    ) -> BoxFuture<'a, Result<MempoolView, ChainError>> {
        let _ = coins;
        Box::pin(async move {
            Err(ChainError::Unsupported {
                backend: self.describe(),
                what: "a view of the mempool",
            })
        })
    }

    /// Returns a transaction by id, `None` if the backend does not know it.
    fn transaction(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Transaction>, ChainError>>;

    /// Returns the output `outpoint` names, `None` if its transaction is unknown (the
    /// relay's `missing_inputs` check).
    fn prevout(&self, outpoint: OutPoint) -> BoxFuture<'_, Result<Option<TxOut>, ChainError>> {
        Box::pin(async move {
            Ok(self
                .transaction(outpoint.txid)
                .await?
                .and_then(|tx| tx.output.get(outpoint.vout as usize).cloned()))
        })
    }

    /// Returns what spends `outpoint`, where the backend can tell; `None` where it cannot.
    /// The relay refuses spends of spent outputs with it (issue 14).
    fn outspend(&self, outpoint: OutPoint) -> BoxFuture<'_, Result<Option<Outspend>, ChainError>> {
        let _ = outpoint;
        Box::pin(async { Ok(None) })
    }

    /// Returns what spends each output of `txid` (in output order), in one request where
    /// the backend can (Esplora's `/tx/{txid}/outspends`); `None` where it cannot (ask
    /// [`outspend`](Self::outspend) per output then), or if the transaction is unknown.
    fn outspends(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Vec<Outspend>>, ChainError>> {
        let _ = txid;
        Box::pin(async { Ok(None) })
    }

    /// Returns where a transaction stands.
    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>>;

    /// Returns where `tx` stands; backends that cannot find a confirmed transaction by id
    /// alone (Core without `-txindex`) look at its outputs.
    fn tx_status_of<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> BoxFuture<'a, Result<TxStatus, ChainError>> {
        self.tx_status(tx.txid())
    }

    /// Returns fee rate estimates by confirmation target in blocks.
    fn fee_estimates(&self) -> BoxFuture<'_, Result<BTreeMap<u16, FeeRate>, ChainError>>;

    /// Returns the lowest fee rate the backend's node relays now (Core's `minrelaytxfee`,
    /// or its `mempoolminfee` when a full mempool has raised it), where it can tell;
    /// `None` where it cannot (Esplora).
    fn relay_floor(&self) -> BoxFuture<'_, Result<Option<FeeRate>, ChainError>> {
        Box::pin(async { Ok(None) })
    }

    /// Asks whether the backend would accept `tx` without broadcasting it, where the
    /// backend can tell (Core's `testmempoolaccept`); `None` where it cannot (Esplora).
    fn test_accept<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> BoxFuture<'a, Result<Option<Result<(), String>>, ChainError>> {
        let _ = tx;
        Box::pin(async { Ok(None) })
    }

    /// Broadcasts `tx`, returning its txid as the backend reports it.
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>>;
}

#[cfg(test)]
mod tests {
    use super::RejectKind;

    #[test]
    fn reject_reasons_as_core_and_esplora_give_them() {
        let cases = [
            ("txn-already-known", RejectKind::AlreadyKnown),
            (
                "sendrawtransaction RPC error: {\"code\":-27,\"message\":\"Transaction already in block chain\"}",
                RejectKind::Definitive,
            ),
            ("bad-txns-inputs-missingorspent", RejectKind::Definitive),
            ("txn-mempool-conflict", RejectKind::Definitive),
            (
                "insufficient fee, rejecting replacement abc",
                RejectKind::Definitive,
            ),
            (
                "mempool-script-verify-flag-failed (Signature must be zero)",
                RejectKind::Definitive,
            ),
            ("min relay fee not met, 100 < 141", RejectKind::Transient),
            ("mempool full", RejectKind::Transient),
        ];
        for (reason, kind) in cases {
            assert_eq!(RejectKind::of(reason), kind, "{reason}");
        }
    }
}
