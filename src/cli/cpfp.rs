//! `ferry bump TXID --cpfp --fee-rate R`: child pays for parent. The child is planned by
//! [`ferry::wallet::Wallet::build_cpfp`]; parent and child go to the backend as a package
//! where it takes packages (Core's `submitpackage`, Esplora's `POST /txs/package`), so a
//! parent below the node's floor still gets in; elsewhere the child alone. With `--via`
//! the package goes to friends' relays (`POST /v1/package`), which check and queue it and
//! submit it to their backend as a package.

use ferry::keys::KeyChain;
use ferry::p2p::P2pReport;
use ferry::tx::Txid;
use ferry::units::FeeRate;
use ferry::wallet::cpfp::CpfpError;
use serde::Serialize;

use super::bump::BumpArgs;
use super::code::Code;
use super::fan_out::{BroadcastOutcome, Broadcaster, direct_package, finish_broadcast};
use super::send::{confirm, sign};
use super::{CliError, Ctx};

fn cpfp_error(e: CpfpError) -> CliError {
    let code = match &e {
        CpfpError::UnknownTx(_) => Code::UnknownTx,
        CpfpError::AlreadyConfirmed { .. } => Code::AlreadyConfirmed,
        CpfpError::NoOutputOfOurs(_) | CpfpError::OnlyUnspendable(_) => Code::NoOutputOfOurs,
        CpfpError::UnknownParentFee(_) => Code::UnknownFee,
        CpfpError::AlreadyPays { .. } => Code::AlreadyPays,
        CpfpError::CannotReach { .. } => Code::InsufficientFunds,
        CpfpError::HighFee(_) => Code::HighFee,
        CpfpError::Unsignable | _ => return CliError::internal(e),
    };
    CliError::new(code, e)
}

/// What `ferry bump --cpfp --json` prints (DESIGN.md §3).
#[derive(Debug, Serialize)]
struct CpfpReport {
    /// The child.
    txid: String,
    parent: String,
    hex: String,
    fee_sat: u64,
    vsize: u64,
    /// Both fees over both sizes, sat/vB.
    package_fee_rate: f64,
    /// `package` (parent and child judged together) or `child` (the child alone).
    submitted: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    broadcast: Vec<BroadcastOutcome>,
    /// With `--p2p`: what the peer-to-peer broadcast of the pair did.
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p: Option<P2pReport>,
}

/// Runs `bump --cpfp` for the wallet's unconfirmed `parent`.
pub(super) async fn run(
    ctx: &Ctx,
    parent: Txid,
    fee_rate: FeeRate,
    args: &BumpArgs,
) -> Result<(), CliError> {
    let (wallet, backend) = ctx.synced_wallet(&args.sync).await?;
    let p2p = super::p2p::plan_for(ctx, &args.p2p, wallet.network()).await?;
    let change = wallet.next_change_address()?;
    // A payment to us whose fee the backend did not report: look up what it spends.
    let spent = match wallet.parent_needing_prevouts(parent) {
        Some(tx) => {
            let mut spent = Vec::with_capacity(tx.input.len());
            for input in &tx.input {
                match backend.prevout(input.previous_output).await? {
                    Some(out) => spent.push(out),
                    None => break,
                }
            }
            Some(spent)
        }
        None => None,
    };
    let plan = wallet
        .build_cpfp(
            parent,
            fee_rate,
            &change,
            args.allow_high_fee,
            spent.as_deref(),
        )
        .map_err(cpfp_error)?;
    let text = format!(
        "Speed up {parent} with a child: the parent pays {}, the child {}; together {}",
        plan.parent_fee,
        plan.built.fee,
        plan.package_fee_rate.display_sat_per_vb()
    );
    confirm(ctx, args.yes, &text, "Sign and broadcast the child?")?;
    let child = sign(ctx, &wallet, &plan.built)?;
    let package = [plan.parent.clone(), child.clone()];
    let (submitted, broadcast, p2p) = if let Some(config) = &p2p {
        // Into the network: peers get the child first and judge the pair together; any
        // --via relay after that (nodes announce a transaction once, so the observers
        // must hear it from the network before a relay's backend has it).
        let report = ferry::p2p::broadcast_package(config, &package)
            .await
            .map_err(CliError::internal)?;
        let outcomes = if args.via.via.is_empty() {
            Vec::new()
        } else {
            Broadcaster::new(ctx, &args.via, None)?
                .broadcast_package(&package)
                .await
        };
        ("package", outcomes, Some(report))
    } else if args.via.via.is_empty() {
        let (outcome, submitted) = direct_package(&backend, &package).await;
        finish_broadcast(std::slice::from_ref(&outcome), false)?;
        (submitted, Vec::new(), None)
    } else {
        // Through friends' relays, as a package (`POST /v1/package`).
        let outcomes = Broadcaster::new(ctx, &args.via, Some(backend))?
            .broadcast_package(&package)
            .await;
        finish_broadcast(&outcomes, false)?;
        ("package", outcomes, None)
    };
    let report = CpfpReport {
        txid: child.txid().to_string(),
        parent: parent.to_string(),
        hex: child.to_hex(),
        fee_sat: plan.built.fee.to_sat(),
        vsize: child.vsize(),
        package_fee_rate: plan.package_fee_rate.to_sat_per_vb_f64(),
        submitted,
        broadcast,
        p2p,
    };
    let handed_over = report.p2p.as_ref().is_none_or(P2pReport::handed_over)
        || report.broadcast.iter().any(BroadcastOutcome::accepted);
    if handed_over {
        wallet.hand_out(KeyChain::Change, Some(change.index))?;
    }
    // Without --p2p the outcomes were settled above.
    if report.p2p.is_some() {
        super::p2p::conclude(ctx, &report.broadcast, report.p2p.as_ref(), &report)?;
    }
    ctx.out.emit(&report, |r| {
        let text = format!(
            "{} pays for {}: fee {} sat, {:.3} sat/vB for the pair (sent as a {})",
            r.txid, r.parent, r.fee_sat, r.package_fee_rate, r.submitted
        );
        match &r.p2p {
            Some(p) => format!("{}\n{text}", super::p2p::human(p)),
            None => text,
        }
    })
}
