//! `ferry broadcast`: push an already-signed transaction — directly, over the peer-to-peer
//! network, or through friends' relays ([`super::fan_out`]).

use clap::Args;
use ferry::p2p::P2pReport;
use serde::Serialize;

use super::code::Code;
use super::fan_out::{BroadcastOutcome, Broadcaster, ViaArgs};
use super::p2p::P2pArgs;
use super::{CliError, Ctx};

/// Arguments of `ferry broadcast`.
#[derive(Debug, Args)]
pub struct BroadcastArgs {
    /// The signed transaction in hex, or a file (or `-` for stdin) holding hex, a
    /// finalized PSBT or BBQr frames.
    #[arg(value_name = "HEX|FILE|-")]
    pub hex: String,
    #[command(flatten)]
    via: ViaArgs,
    #[command(flatten)]
    p2p: P2pArgs,
}

/// `ferry broadcast`.
pub(super) async fn run(ctx: &Ctx, args: BroadcastArgs) -> Result<(), CliError> {
    let tx = super::handoff::read_transaction(&args.hex)?;
    ferry::tx::check_transaction(&tx)
        .map_err(|e| CliError::new(Code::InvalidTx, format!("the transaction is invalid: {e}")))?;
    let p2p = match args.p2p.p2p_network {
        Some(n) => super::p2p::plan(ctx.proxy.as_deref(), &args.p2p, n).await?,
        None if args.p2p.p2p => {
            let network = ctx.open_wallet().map_err(|_| {
                CliError::new(
                    Code::NoNetwork,
                    "--p2p needs the transaction's network: pass --p2p-network NETWORK (or use a wallet)",
                )
            })?;
            super::p2p::plan(ctx.proxy.as_deref(), &args.p2p, network.network()).await?
        }
        None => None,
    };
    // Relays need no backend of ours; a direct broadcast does (never with --p2p).
    let direct = if args.via.uses_direct() && p2p.is_none() {
        // The wallet's network picks the default backend, only when no URL is given.
        Some(ctx.backend_with(|| Ok(ctx.open_wallet()?.network()))?)
    } else {
        None
    };
    let broadcaster = Broadcaster::new(ctx, &args.via, direct)?;
    // The network first, then any relay (see `send`).
    let report = match &p2p {
        Some(config) => Some(super::p2p::run(config, &tx).await?),
        None => None,
    };
    let outcomes = broadcaster.broadcast(&tx).await;
    let report = BroadcastReport {
        txid: tx.txid().to_string(),
        broadcast: outcomes,
        p2p: report,
    };
    let human = |r: &BroadcastReport| match &r.p2p {
        Some(p) => super::p2p::human(p),
        None => format!("broadcast {}", r.txid),
    };
    super::p2p::conclude(ctx, &report.broadcast, report.p2p.as_ref(), &report)?;
    ctx.out.emit(&report, human)
}

/// What `ferry broadcast --json` prints (DESIGN.md §3).
#[derive(Debug, Serialize)]
struct BroadcastReport {
    txid: String,
    broadcast: Vec<BroadcastOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p: Option<P2pReport>,
}
