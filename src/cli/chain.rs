//! The chain side of the wallet commands: choosing the backend, and syncing the wallet
//! with it (cached in wallet.sqlite, used addresses marked as handed out).

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;
use ferry::chain::ChainBackend;
use ferry::network::Network;
use ferry::wallet::Wallet;
use ferry::wallet::sync;

use super::code::Code;
use super::{CliError, Ctx};

/// Options of every command that syncs.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Stop discovery after this many consecutive unused addresses.
    #[arg(long, default_value_t = sync::DEFAULT_GAP_LIMIT, value_name = "N")]
    pub gap_limit: u32,
}

impl Ctx {
    /// Opens the backend named by `--backend`/`FERRY_BACKEND`, or the network's default.
    pub fn backend(&self, network: Network) -> Result<Arc<dyn ChainBackend>, CliError> {
        self.backend_with(|| Ok(network))
    }

    /// Opens `--backend`, or else the default backend of the network `network` names, which
    /// is asked only then (e.g. a wallet opened only when no URL was given).
    pub fn backend_with(
        &self,
        network: impl FnOnce() -> Result<Network, CliError>,
    ) -> Result<Arc<dyn ChainBackend>, CliError> {
        let url = match self.backend.as_deref() {
            Some(u) => u.to_owned(),
            None => {
                let network = network()?;
                network.default_backend().map(str::to_owned).ok_or_else(|| {
                    CliError::new(
                        Code::NoBackend,
                        format!("ferry has no default backend for {network}: pass --backend URL or set FERRY_BACKEND"),
                    )
                })?
            }
        };
        Ok(ferry::chain::open(&url)?)
    }

    /// Opens the selected wallet and its backend, and syncs the one with the other.
    pub async fn synced_wallet(
        &self,
        args: &SyncArgs,
    ) -> Result<(Wallet, Arc<dyn ChainBackend>), CliError> {
        let mut wallet = self.open_wallet()?;
        let backend = self.backend(wallet.network())?;
        sync_wallet(self, &mut wallet, &backend, args).await?;
        Ok((wallet, backend))
    }
}

/// Syncs `wallet` with `backend` and applies the result (cached, used addresses marked as
/// handed out).
pub async fn sync_wallet(
    ctx: &Ctx,
    wallet: &mut Wallet,
    backend: &Arc<dyn ChainBackend>,
    args: &SyncArgs,
) -> Result<(), CliError> {
    let options = wallet.sync_options(args.gap_limit)?;
    // A progress line on a terminal only; never on stdout.
    let show = std::io::stderr().is_terminal() && !ctx.json;
    if show && backend.discovery() == ferry::chain::Discovery::UtxoScan {
        // Each pass reads the node's whole UTXO set: say so before the wait.
        eprintln!(
            "scanning the UTXO set of {} (a few minutes on mainnet)…",
            backend.describe()
        );
    }
    let result = ferry::chain::sync::sync(Arc::clone(backend), wallet.account(), options, |n| {
        if show {
            eprint!(
                "\rsyncing with {}: {n} addresses scanned",
                backend.describe()
            );
        }
    })
    .await;
    if show {
        eprintln!();
    }
    wallet.apply_sync(result?)?;
    Ok(())
}
