//! `ferry bump`: a BIP-0125 replacement of an unconfirmed payment at a higher fee rate,
//! planned by [`ferry::wallet::Wallet::build_fee_bump`]; with `--cpfp`, a child that pays
//! for it instead ([`super::cpfp`]).

use clap::Args;
use ferry::units::{Amount, FeeRate};
use ferry::wallet::fee_bump::BumpError;
use serde::Serialize;

use super::chain::SyncArgs;
use super::code::Code;
use super::fan_out::{BroadcastOutcome, Broadcaster, ViaArgs};
use super::p2p::P2pArgs;
use super::send::{confirm, parse_fee_rate, sign};
use super::{CliError, Ctx};

fn bump_error(e: BumpError) -> CliError {
    let code = match &e {
        BumpError::UnknownTx(_) => Code::UnknownTx,
        BumpError::AlreadyConfirmed { .. } => Code::AlreadyConfirmed,
        BumpError::NotReplaceable(_) => Code::NotReplaceable,
        BumpError::NotOurs { .. } => Code::NotOurs,
        BumpError::NoChange(_) => Code::NoChange,
        BumpError::FeeRateTooLow { .. } => Code::FeeRateTooLow,
        BumpError::ChangeTooSmall { .. } => Code::InsufficientFunds,
        BumpError::HighFee { .. } => Code::HighFee,
        BumpError::Unsignable | _ => return CliError::internal(e),
    };
    CliError::new(code, e)
}

/// Arguments of `ferry bump`.
#[derive(Debug, Args)]
pub struct BumpArgs {
    /// The transaction to replace (or, with --cpfp, to pay for).
    pub txid: String,
    /// The new fee rate in sat/vB.
    #[arg(long, value_name = "SAT/VB")]
    pub fee_rate: String,
    /// Allow a fee above 1,000 sat/vB or above 10 % of the amount.
    #[arg(long)]
    pub allow_high_fee: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Child pays for parent: spend the wallet's output of the transaction (a payment of
    /// its own or to it) so that the pair reaches --fee-rate, instead of replacing it.
    #[arg(long)]
    pub cpfp: bool,
    #[command(flatten)]
    pub via: ViaArgs,
    #[command(flatten)]
    pub p2p: P2pArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

/// `ferry bump`: a BIP-0125 replacement paying `--fee-rate`, the extra fee taken from the
/// change output.
pub(super) async fn run(ctx: &Ctx, args: BumpArgs) -> Result<(), CliError> {
    let txid: ferry::tx::Txid = args
        .txid
        .parse()
        .map_err(|_| CliError::new(Code::BadTxid, format!("{:?} is not a txid", args.txid)))?;
    let fee_rate = parse_fee_rate(&args.fee_rate)?;
    if !args.yes && !ctx.interactive {
        return Err(CliError::new(
            Code::ConfirmationRequired,
            "no terminal to confirm the replacement on: check the details and pass --yes",
        ));
    }
    if args.cpfp {
        return super::cpfp::run(ctx, txid, fee_rate, &args).await;
    }
    let (wallet, backend) = ctx.synced_wallet(&args.sync).await?;
    let p2p = super::p2p::plan_for(ctx, &args.p2p, wallet.network()).await?;
    let plan = wallet
        .build_fee_bump(txid, fee_rate, args.allow_high_fee)
        .map_err(bump_error)?;
    let text = format!(
        "Replace {txid}: fee {} -> {} ({}), change {} -> {}",
        plan.old_fee,
        plan.built.fee,
        fee_rate.display_sat_per_vb(),
        plan.old_change,
        plan.built.change.map_or(Amount::ZERO, |(_, v)| v),
    );
    confirm(ctx, args.yes, &text, "Sign and broadcast the replacement?")?;
    let tx = sign(ctx, &wallet, &plan.built)?;
    // The network first, as `send` does; the backend only without --p2p.
    let p2p = match &p2p {
        Some(config) => Some(super::p2p::run(config, &tx).await?),
        None => None,
    };
    let outcomes = if p2p.is_some() && args.via.via.is_empty() {
        Vec::new()
    } else {
        let direct = p2p.is_none().then_some(backend);
        Broadcaster::new(ctx, &args.via, direct)?
            .broadcast(&tx)
            .await
    };
    let report = BumpReport {
        txid: tx.txid().to_string(),
        replaces: txid.to_string(),
        hex: tx.to_hex(),
        fee_sat: plan.built.fee.to_sat(),
        vsize: tx.vsize(),
        fee_rate: FeeRate::from_fee_and_vbytes(plan.built.fee, tx.vsize())
            .unwrap_or(FeeRate::ZERO)
            .to_sat_per_vb_f64(),
        broadcast: outcomes,
        p2p,
    };
    super::p2p::conclude(ctx, &report.broadcast, report.p2p.as_ref(), &report)?;
    ctx.out.emit(&report, |r| {
        let text = format!("replaced {} with {}", r.replaces, r.txid);
        match &r.p2p {
            Some(p) => format!("{}\n{text}", super::p2p::human(p)),
            None => text,
        }
    })
}

/// What `ferry bump --json` prints (DESIGN.md §3).
#[derive(Debug, Serialize)]
struct BumpReport {
    txid: String,
    replaces: String,
    hex: String,
    fee_sat: u64,
    vsize: u64,
    fee_rate: f64,
    broadcast: Vec<BroadcastOutcome>,
    /// With `--p2p`: what the peer-to-peer broadcast did.
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p: Option<ferry::p2p::P2pReport>,
}
