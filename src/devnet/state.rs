//! The devnet as its servers share it (the Esplora API, the Core RPC subset, the block
//! timer): one [`Devnet`] behind a lock, and the signal that stops them all when
//! libbitcoinkernel refuses a block.

use std::sync::{Arc, Mutex, MutexGuard};

use super::node::Devnet;

/// A blocking devnet task panicked or was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("devnet task failed: {0}")]
pub struct TaskFailed(pub String);

/// The devnet shared between request handlers and the block timer.
#[derive(Debug, Clone)]
pub struct DevnetState {
    inner: Arc<Mutex<Devnet>>,
    pub(super) halt: Arc<tokio::sync::Notify>,
}

impl DevnetState {
    /// Wraps an opened devnet.
    pub fn new(devnet: Devnet) -> Self {
        Self {
            inner: Arc::new(Mutex::new(devnet)),
            halt: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Locks the devnet. A panic in another handler leaves consistent state behind
    /// (every change is validated before it is applied), so a poisoned lock is reused.
    pub fn lock(&self) -> MutexGuard<'_, Devnet> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the locked devnet on tokio's blocking pool (script checks, mining).
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Devnet) -> T + Send + 'static,
    ) -> Result<T, TaskFailed> {
        let state = self.clone();
        let (out, halted) = tokio::task::spawn_blocking(move || {
            let mut d = state.lock();
            let out = f(&mut d);
            (out, d.halted().is_some())
        })
        .await
        .map_err(|e| TaskFailed(e.to_string()))?;
        if halted {
            // A block libbitcoinkernel refused: stop the server (see `run`).
            self.halt.notify_one();
        }
        Ok(out)
    }
}
