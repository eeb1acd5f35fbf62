//! The chain side of the wallet commands: choosing the backend, and syncing the wallet
//! with it (cached in wallet.sqlite, used addresses marked as handed out).

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;
use ferry::chain::ChainBackend;
use ferry::network::Network;
use ferry::wallet::Wallet;
use ferry::wallet::sync::{self, SyncOptions, SyncResult};

use super::{CliError, Ctx};

/// Options of every command that syncs.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Stop discovery after this many consecutive unused addresses.
    #[arg(long, default_value_t = sync::DEFAULT_GAP_LIMIT, value_name = "N")]
    pub gap_limit: u32,
}

/// Opens the backend named by `--backend`/`FERRY_BACKEND`, or the network's default.
pub fn open_backend(ctx: &Ctx, network: Network) -> Result<Arc<dyn ChainBackend>, CliError> {
    open_backend_with(ctx, || Ok(network))
}

/// Opens `--backend`, or else the default backend of the network `network` names, which is
/// asked only then (e.g. a wallet opened only when no URL was given).
pub fn open_backend_with(
    ctx: &Ctx,
    network: impl FnOnce() -> Result<Network, CliError>,
) -> Result<Arc<dyn ChainBackend>, CliError> {
    let url = match ctx.backend.as_deref() {
        Some(u) => u.to_owned(),
        None => {
            let network = network()?;
            network.default_backend().map(str::to_owned).ok_or_else(|| {
            CliError::user(
                "no_backend",
                format!("ferry has no default backend for {network}: pass --backend URL or set FERRY_BACKEND"),
            )
        })?
        }
    };
    Ok(ferry::chain::open(&url)?)
}

/// Syncs `wallet`, caches the result and marks used addresses as handed out.
pub async fn sync_wallet(
    ctx: &Ctx,
    wallet: &Wallet,
    backend: &Arc<dyn ChainBackend>,
    args: &SyncArgs,
) -> Result<SyncResult, CliError> {
    use ferry::keys::KeyChain;
    let options = SyncOptions {
        gap_limit: args.gap_limit.max(1),
        receive_floor: wallet.store.next_unused_index(KeyChain::Receive)?,
        change_floor: wallet.store.next_unused_index(KeyChain::Change)?,
        ..SyncOptions::default()
    };
    // A progress line on a terminal only; never on stdout.
    let show = std::io::stderr().is_terminal() && !ctx.json;
    if show && backend.discovery() == ferry::chain::Discovery::UtxoScan {
        // Each pass reads the node's whole UTXO set: say so before the wait.
        eprintln!(
            "scanning the UTXO set of {} (a few minutes on mainnet)…",
            backend.describe()
        );
    }
    let result = ferry::chain::sync::sync(Arc::clone(backend), &wallet.account, options, |n| {
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
    let result = result?;
    wallet
        .store
        .replace_chain_cache(result.tip_height, &result.utxos, &result.txs)?;
    for used in &result.used {
        wallet.store.record_handed_out(
            used.chain,
            used.index,
            &used.address,
            &used.script_pubkey,
        )?;
    }
    Ok(result)
}
