//! Feature `kernel`: every block the devnet connects is also handed to Bitcoin Core's
//! libbitcoinkernel (regtest, in-memory databases). A block the kernel does not connect
//! is a devnet bug, reported as [`KernelRejected`] so the devnet stops loudly.
//!
//! `process_block` answering "new block" does not mean valid: the validation callback's
//! verdict and the kernel's tip are both checked.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bitcoinkernel::prelude::{BlockHashExt, BlockValidationStateExt};
use bitcoinkernel::{
    Block as KernelBlock, BlockValidationStateRef, ChainType, ChainstateManager, Context,
    ContextBuilder, KernelError, ValidationMode,
};

use super::block::BlockHash;

/// The kernel refused (or failed to process) a devnet block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("libbitcoinkernel did not connect devnet block {height} ({hash}): {reason}")]
pub struct KernelRejected {
    /// The block height.
    pub height: u32,
    /// The block hash.
    pub hash: String,
    /// What the kernel said.
    pub reason: String,
}

type Verdict = Arc<Mutex<Option<Result<(), String>>>>;

/// A libbitcoinkernel chainstate following the devnet's chain.
pub struct KernelCheck {
    chainman: ChainstateManager,
    _context: Context,
    verdict: Verdict,
}

impl std::fmt::Debug for KernelCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KernelCheck")
    }
}

fn setup_err(e: impl std::fmt::Display) -> KernelRejected {
    KernelRejected {
        height: 0,
        hash: String::new(),
        reason: format!("kernel setup failed: {e}"),
    }
}

impl KernelCheck {
    /// Starts an empty regtest chainstate in `dir` (wiped first: the devnet replays its
    /// stored blocks into it on every start).
    ///
    /// # Errors
    /// [`KernelRejected`] with height 0 when the kernel cannot start.
    pub fn open(dir: &Path) -> Result<Self, KernelRejected> {
        // Core asserts if logging is disabled twice in one process.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(bitcoinkernel::disable_logging);
        // A leftover directory is only a cache of blocks the devnet replays anyway.
        let _ = std::fs::remove_dir_all(dir);
        let blocks = dir.join("blocks");
        crate::fs::create_private_dir_all(&blocks).map_err(setup_err)?;
        let verdict: Verdict = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&verdict);
        let context = ContextBuilder::new()
            .chain_type(ChainType::Regtest)
            .with_block_checked_validation(
                move |_b: KernelBlock, state: BlockValidationStateRef<'_>| {
                    let v = if state.mode() == ValidationMode::Valid {
                        Ok(())
                    } else {
                        Err(format!("{:?} ({:?})", state.mode(), state.result()))
                    };
                    *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
                },
            )
            .build()
            .map_err(setup_err)?;
        let dir_str = dir
            .to_str()
            .ok_or_else(|| setup_err("data dir is not UTF-8"))?;
        let blocks_str = blocks
            .to_str()
            .ok_or_else(|| setup_err("data dir is not UTF-8"))?;
        let chainman = ChainstateManager::builder(&context, dir_str, blocks_str)
            .and_then(|b| {
                b.block_tree_db_in_memory(true)
                    .chainstate_db_in_memory(true)
                    .build()
            })
            .map_err(setup_err)?;
        Ok(KernelCheck {
            chainman,
            _context: context,
            verdict,
        })
    }

    /// Hands the block (raw) to the kernel and checks it became the tip at `height`.
    ///
    /// # Errors
    /// [`KernelRejected`] with the kernel's verdict.
    pub fn connect(&self, raw: &[u8], height: u32, hash: &BlockHash) -> Result<(), KernelRejected> {
        let rejected = |reason: String| KernelRejected {
            height,
            hash: hash.to_string(),
            reason,
        };
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let block = KernelBlock::new(raw).map_err(|e: KernelError| rejected(e.to_string()))?;
        let result = self.chainman.process_block(&block);
        if result.is_rejected() {
            return Err(rejected("process_block rejected it".into()));
        }
        if let Some(Err(v)) = self
            .verdict
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(rejected(format!("validation callback: {v}")));
        }
        let tip = self.chainman.active_chain().tip();
        let tip_hash = tip.block_hash().to_bytes();
        if i64::from(tip.height()) != i64::from(height) || tip_hash != hash.to_byte_array() {
            return Err(rejected(format!(
                "the kernel's tip is height {}, not this block",
                tip.height()
            )));
        }
        Ok(())
    }
}
