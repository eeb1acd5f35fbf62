//! `--p2p` on `send` and `broadcast`: hand the transaction straight to Bitcoin nodes
//! (DESIGN §3, §5b; `docs/p2p.md`), alone or beside `--via` relays.

use std::time::Duration;

use clap::Args;
use ferry::network::Network;
use ferry::p2p::broadcast::DEFAULT_OBSERVERS;
use ferry::p2p::{BroadcastConfig, P2pReport, Route, seeds};
use ferry::tx::Transaction;

use super::code::Code;
use super::fan_out::{BroadcastOutcome, finish_broadcast};
use super::{CliError, Ctx};

/// Broadcasting over the peer-to-peer network.
#[derive(Debug, Clone, Args)]
pub struct P2pArgs {
    /// Broadcast it yourself, straight into the Bitcoin peer-to-peer network (BIP-0324).
    #[arg(long)]
    pub p2p: bool,
    /// A node to hand the transaction to (repeatable; default: from the network's seeds).
    #[arg(long = "peer", value_name = "HOST:PORT", requires = "p2p")]
    pub peers: Vec<String>,
    /// A node that is not given the transaction and must announce it back (repeatable).
    #[arg(long = "observer", value_name = "HOST:PORT", requires = "p2p")]
    pub observers: Vec<String>,
    /// How many peers get the transaction.
    #[arg(long, value_name = "N", default_value_t = ferry::p2p::broadcast::DEFAULT_SENDERS, requires = "p2p")]
    pub p2p_senders: usize,
    /// Seconds one connection may take (connect, handshake, hand-over).
    #[arg(long, value_name = "SECS", default_value_t = 20, requires = "p2p")]
    pub p2p_timeout: u64,
    /// Seconds to listen for the transaction coming back.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "p2p")]
    pub p2p_wait: u64,
    /// Speak only the unencrypted v1 protocol (default: BIP-0324 v2, v1 as fallback).
    #[arg(long, requires = "p2p")]
    pub p2p_v1: bool,
    /// The network of the transaction (default: the wallet's).
    #[arg(long, value_name = "NETWORK", requires = "p2p")]
    pub p2p_network: Option<Network>,
}

/// Returns the `HOST:PORT` of a checked `--proxy` URL (credentials in it are dropped:
/// every connection gets random ones).
fn proxy_addr(url: &str) -> String {
    let rest = url
        .strip_prefix("socks5h://")
        .or_else(|| url.strip_prefix("socks5://"))
        .unwrap_or(url)
        .trim_end_matches('/');
    rest.rsplit_once('@')
        .map_or(rest, |(_, hostport)| hostport)
        .to_owned()
}

/// Turns `--p2p` arguments into a checked configuration; `None` without `--p2p`. Peers
/// and observers not given come from the network's seeds (DNS seeds only without a proxy).
///
/// # Errors
/// A user error for a network without peer-to-peer support, bad addresses, no peer.
pub async fn plan(
    proxy: Option<&str>,
    args: &P2pArgs,
    network: Network,
) -> Result<Option<BroadcastConfig>, CliError> {
    if !args.p2p {
        return Ok(None);
    }
    let bad = |e: ferry::p2p::P2pError| CliError::new(Code::BadP2p, e);
    for a in args.peers.iter().chain(&args.observers) {
        ferry::p2p::transport::split_host_port(a).map_err(bad)?;
    }
    let route = match proxy {
        Some(p) => Route::Socks5(proxy_addr(p)),
        None => Route::Direct,
    };
    let (mut peers, mut observers) = (args.peers.clone(), args.observers.clone());
    if peers.is_empty() || observers.is_empty() {
        let want = args.p2p_senders * 2 + DEFAULT_OBSERVERS;
        let found = seeds::candidates(network, &route, want)
            .await
            .map_err(bad)?
            .into_iter()
            .filter(|c| !peers.contains(c) && !observers.contains(c));
        let mut found: Vec<String> = found.collect();
        if observers.is_empty() {
            let n = DEFAULT_OBSERVERS.min(found.len());
            observers = found.drain(..n).collect();
        }
        if peers.is_empty() {
            peers = found;
        }
    }
    let mut config = BroadcastConfig::new(network, peers, observers);
    config.route = route;
    config.senders = args.p2p_senders;
    config.v2 = !args.p2p_v1;
    config.connection_timeout = Duration::from_secs(args.p2p_timeout.max(1));
    config.propagation_timeout = Duration::from_secs(args.p2p_wait);
    config.check().map_err(bad)?;
    Ok(Some(config))
}

/// Refuses a `--p2p-network` that is not the wallet's network.
///
/// # Errors
/// `wrong_network`.
pub fn check_network(args: &P2pArgs, network: Network) -> Result<(), CliError> {
    match args.p2p_network {
        Some(n) if n != network => Err(CliError::new(
            Code::WrongNetwork,
            format!("--p2p-network differs from the wallet's network, {network}"),
        )),
        _ => Ok(()),
    }
}

/// [`plan`] for a wallet's transaction, after [`check_network`].
///
/// # Errors
/// `wrong_network`, or [`plan`]'s.
pub async fn plan_for(
    ctx: &Ctx,
    args: &P2pArgs,
    network: Network,
) -> Result<Option<BroadcastConfig>, CliError> {
    check_network(args, network)?;
    plan(ctx.proxy.as_deref(), args, network).await
}

/// Broadcasts `tx` as planned.
///
/// # Errors
/// Only an internal error (the plan was checked).
pub async fn run(config: &BroadcastConfig, tx: &Transaction) -> Result<P2pReport, CliError> {
    ferry::p2p::broadcast(config, tx)
        .await
        .map_err(CliError::internal)
}

/// The text report: one line per connection, then the verdict.
pub fn human(report: &P2pReport) -> String {
    let mut lines = vec![format!("peer-to-peer broadcast of {}:", report.txid)];
    for p in &report.peers {
        lines.push(format!(
            "  peer     {:<24} {}  {}",
            p.peer,
            p.transport,
            match (&p.error, p.handed_over) {
                (_, true) => "handed over".to_owned(),
                (Some(e), false) => format!("failed: {e}"),
                (None, false) => "not handed over".to_owned(),
            }
        ));
    }
    for o in &report.observers {
        let seen = report.seen_by.contains(&o.peer);
        lines.push(format!(
            "  observer {:<24} {}  {}",
            o.peer,
            o.transport,
            match (&o.error, seen) {
                (_, true) => "announced it".to_owned(),
                (Some(e), false) => format!("failed: {e}"),
                (None, false) => "did not announce it".to_owned(),
            }
        ));
    }
    lines.push(if report.propagated {
        format!(
            "propagated: announced back by {} ({} ms)",
            report.seen_by.join(", "),
            report.elapsed_ms
        )
    } else if report.handed_over() {
        "handed over, but not seen: no observer announced it in time".to_owned()
    } else {
        "not handed over: no peer took it".to_owned()
    });
    lines.join("\n")
}

/// [`verdict`], showing the peer-to-peer report first when it fails (the JSON error carries
/// the whole `document`).
///
/// # Errors
/// [`verdict`]'s.
pub fn conclude(
    ctx: &Ctx,
    outcomes: &[BroadcastOutcome],
    p2p: Option<&P2pReport>,
    document: &impl serde::Serialize,
) -> Result<(), CliError> {
    let result = verdict(outcomes, p2p, document);
    if let (Err(_), Some(r), false) = (&result, p2p, ctx.json) {
        ctx.out.emit(r, human)?;
    }
    result
}

/// Decides the exit: success when the transaction propagated or a relay took it; exit 2
/// (with the report attached for `--json`) when it was handed over but not seen, or no
/// peer could be reached. Without `--p2p`, the relays' and backend's outcomes decide.
///
/// # Errors
/// The failure, carrying `document` (the command's report) for `--json`.
pub fn verdict(
    outcomes: &[BroadcastOutcome],
    p2p: Option<&P2pReport>,
    document: &impl serde::Serialize,
) -> Result<(), CliError> {
    let Some(report) = p2p else {
        return finish_broadcast(outcomes, false);
    };
    if report.propagated || outcomes.iter().any(BroadcastOutcome::accepted) {
        return Ok(());
    }
    let err = if report.handed_over() {
        let n = report.peers.iter().filter(|p| p.handed_over).count();
        CliError::new(
            Code::NotPropagated,
            format!(
                "handed over to {n} peer(s), but no observer announced {} in time: nodes do not say \
                 why they drop a transaction (a double spend, a fee below their floor, a non-standard \
                 script); it may also just be slow — check later with a backend or retry",
                report.txid
            ),
        )
    } else {
        let why: Vec<String> = report
            .peers
            .iter()
            .map(|p| format!("{}: {}", p.peer, p.error.as_deref().unwrap_or("failed")))
            .collect();
        CliError::new(
            Code::NoPeerReachable,
            format!("no peer took the transaction ({})", why.join("; ")),
        )
    };
    Err(err.with_report(serde_json::to_value(document).map_err(CliError::internal)?))
}
