//! `ferry psbt create ADDRESS AMOUNT`: the unsigned PSBT of a payment, for a signer
//! elsewhere. Watch-only: it syncs and builds like `ferry send` (same building options)
//! but never asks for the password, and the PSBT carries every field a signer needs
//! ([`ferry::wallet::psbt::psbt_for_payment`]).

use clap::Args;
use ferry::keys::KeyChain;
use ferry::units::FeeRate;
use ferry::wallet::Wallet;
use ferry::wallet::builder::Built;
use serde::Serialize;

use super::chain::SyncArgs;
use super::fan_out::ViaArgs;
use super::p2p::P2pArgs;
use super::send::{BuildArgs, SendArgs};
use super::{CliError, Ctx};

/// Arguments of `ferry psbt create` (`ferry send`'s building options).
#[derive(Debug, Args)]
pub struct PsbtCreateArgs {
    /// The recipient's address (of the wallet's network).
    pub address: String,
    /// The amount with its unit, e.g. 150000sat or 0.0015btc (omit with --max).
    pub amount: Option<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub handoff: super::handoff::HandoffArgs,
}

impl Default for P2pArgs {
    fn default() -> Self {
        Self {
            p2p: false,
            peers: Vec::new(),
            observers: Vec::new(),
            p2p_senders: ferry::p2p::broadcast::DEFAULT_SENDERS,
            p2p_timeout: 20,
            p2p_wait: 30,
            p2p_v1: false,
            p2p_network: None,
        }
    }
}

/// `ferry psbt create`: `ferry send --psbt` with only the building options.
pub async fn run(ctx: &Ctx, args: PsbtCreateArgs) -> Result<(), CliError> {
    let send = SendArgs {
        address: args.address,
        amount: args.amount,
        build: args.build,
        no_broadcast: false,
        psbt: true,
        yes: false,
        label: None,
        sync: args.sync,
        via: ViaArgs::default(),
        p2p: P2pArgs::default(),
        handoff: args.handoff,
    };
    super::send::send(ctx, send).await
}

#[derive(Serialize)]
struct PsbtReport {
    psbt: String,
    fee_sat: u64,
    /// The estimated size once signed.
    vsize: u64,
    fee_rate: f64,
    amount_sat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_sat: Option<u64>,
    inputs: usize,
}

/// Prints the unsigned PSBT of `built` (change at `change_index` on the change chain,
/// which is recorded as handed out so the next PSBT does not reuse it).
pub fn emit(
    ctx: &Ctx,
    wallet: &Wallet,
    built: &Built,
    change_index: u32,
    handoff: &super::handoff::HandoffArgs,
) -> Result<(), CliError> {
    // The sync `send` just applied holds them (no second read of the cache).
    let prev_txs: Vec<_> = wallet.synced().txs.iter().map(|c| c.tx.clone()).collect();
    let psbt = ferry::wallet::psbt::psbt_for_payment(
        wallet.account(),
        built,
        Some(change_index),
        &prev_txs,
    )?;
    if built.change.is_some() {
        wallet.hand_out(KeyChain::Change, Some(change_index))?;
    }
    let vsize = built.weight.to_vbytes_ceil();
    let report = PsbtReport {
        psbt: psbt.to_base64(),
        fee_sat: built.fee.to_sat(),
        vsize,
        fee_rate: FeeRate::from_fee_and_vbytes(built.fee, vsize)
            .unwrap_or(FeeRate::ZERO)
            .to_sat_per_vb_f64(),
        amount_sat: built.amount().to_sat(),
        change_sat: built.change.map(|(_, v)| v.to_sat()),
        inputs: built.inputs.len(),
    };
    if !ctx.json {
        super::prompts::say(&format!(
            "unsigned PSBT: pays {} sat, fee {} sat ({:.2} sat/vB at {} vB signed), {} input(s); sign it with `ferry sign`",
            report.amount_sat, report.fee_sat, report.fee_rate, report.vsize, report.inputs
        ));
    }
    if handoff.wanted() {
        let doc = serde_json::to_value(&report).map_err(CliError::internal)?;
        let kind = ferry::psbt::bbqr::FileType::Psbt;
        return super::handoff::emit(ctx, handoff, &psbt.serialize(), kind, doc, &report.psbt);
    }
    ctx.out.emit(&report, |r| r.psbt.clone())
}
