//! `ferry send`: build, confirm, sign, check and push a payment — directly, over the
//! peer-to-peer network, or through friends' relays ([`super::fan_out`]).

use std::sync::Arc;

use clap::Args;
use ferry::chain::ChainBackend;
use ferry::keys::KeyChain;
use ferry::script::Address;
use ferry::tx::{OutPoint, Transaction};
use ferry::units::{Amount, FeeRate};
use ferry::wallet::Payment;
use ferry::wallet::Wallet;
use ferry::wallet::builder::{self, Built, Recipient};
use ferry::wallet::fees::{self, FeeChoice};
use ferry::wallet::rng::WalletRng;
use ferry::wallet::signing;
use serde::Serialize;

use super::chain::{SyncArgs, sync_wallet};
use super::code::Code;
use super::fan_out::{BroadcastOutcome, Broadcaster, ViaArgs};
use super::p2p::P2pArgs;
use super::{CliError, Ctx, prompts};
use ferry::p2p::P2pReport;

/// How a payment is built: the options `send` and `psbt create` share.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildArgs {
    /// Fee rate in sat/vB (e.g. 2 or 1.5).
    #[arg(long, value_name = "SAT/VB", conflicts_with = "target")]
    pub fee_rate: Option<String>,
    /// Confirmation target in blocks, priced from the backend's estimates (default 6).
    #[arg(long, value_name = "BLOCKS")]
    pub target: Option<u16>,
    /// Send everything (or everything in the --utxo coins), with no change.
    #[arg(long)]
    pub max: bool,
    /// Signal replaceability (BIP-0125); the default.
    #[arg(long, overrides_with = "no_rbf")]
    pub rbf: bool,
    /// Do not signal replaceability.
    #[arg(long)]
    pub no_rbf: bool,
    /// Spend exactly these coins (TXID:VOUT, repeatable).
    #[arg(long = "utxo", value_name = "TXID:VOUT")]
    pub utxos: Vec<String>,
    /// Allow a fee above 1,000 sat/vB or above 10 % of the amount.
    #[arg(long)]
    pub allow_high_fee: bool,
}

/// Arguments of `ferry send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The recipient's address (of the wallet's network), or a BIP-0021 `bitcoin:` URI.
    pub address: String,
    /// The amount with its unit, e.g. 150000sat or 0.0015btc (omit with --max, or when the
    /// URI gives one).
    pub amount: Option<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Sign but do not broadcast; print the transaction.
    #[arg(long)]
    pub no_broadcast: bool,
    /// Print an unsigned PSBT (BIP-0174, base64) for offline signing instead.
    #[arg(long)]
    pub psbt: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Label the payment's transaction and the recipient's address (BIP-0329; kept once
    /// the payment is broadcast or signed with --no-broadcast; with --psbt, the address).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub via: ViaArgs,
    #[command(flatten)]
    pub p2p: P2pArgs,
    #[command(flatten)]
    pub handoff: super::handoff::HandoffArgs,
}

/// What `ferry send --json` prints (DESIGN.md §3).
#[derive(Serialize)]
struct SendReport {
    txid: String,
    hex: String,
    fee_sat: u64,
    vsize: u64,
    fee_rate: f64,
    amount_sat: u64,
    change_sat: Option<u64>,
    inputs: usize,
    selection: ferry::wallet::builder::SelectionAlgorithm,
    broadcast: Vec<BroadcastOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2p: Option<P2pReport>,
}

fn os_rng() -> WalletRng {
    let mut seed = [0u8; 8];
    // A failing OS RNG only makes the non-secret choices predictable.
    let _ = getrandom::fill(&mut seed);
    WalletRng::seeded(u64::from_le_bytes(seed))
}

pub(super) fn parse_fee_rate(s: &str) -> Result<FeeRate, CliError> {
    FeeRate::parse_sat_per_vb(s).map_err(|e| CliError::new(Code::BadFeeRate, e))
}

/// The lowest fee rate a payment may pay: the backend's node's floor where it says
/// (Core: `getmempoolinfo`), else Core's long-standing default of 1 sat/vB.
async fn relay_floor(backend: &Arc<dyn ChainBackend>) -> Result<FeeRate, CliError> {
    Ok(backend.relay_floor().await?.unwrap_or(FeeRate::MIN_RELAY))
}

async fn choose_fee_rate(
    ctx: &Ctx,
    backend: &Arc<dyn ChainBackend>,
    network: ferry::network::Network,
    target: Option<u16>,
    floor: FeeRate,
) -> Result<FeeRate, CliError> {
    let estimates = backend.fee_estimates().await?;
    match fees::choose_fee_rate(&estimates, target, floor, network) {
        Some(FeeChoice::Estimate(rate)) => Ok(rate),
        Some(FeeChoice::TestNetworkFallback(rate)) => {
            if !ctx.json {
                eprintln!(
                    "note: {} has no fee estimates; using the minimum relay fee {} on {network}",
                    backend.describe(),
                    rate.display_sat_per_vb()
                );
            }
            Ok(rate)
        }
        None => Err(CliError::new(
            Code::NoFeeEstimates,
            format!(
                "{} gave no fee estimates: pass --fee-rate SAT/VB",
                backend.describe()
            ),
        )),
    }
}

fn build_error(e: builder::BuildError) -> CliError {
    use builder::BuildError as B;
    let code = match &e {
        B::Dust { .. } => Code::DustAmount,
        B::FeeRateBelowMinimum { .. } => Code::FeeRateTooLow,
        B::HighFee { .. } => Code::HighFee,
        B::UnknownCoin(_) => Code::UnknownCoin,
        B::Selection(_) => Code::InsufficientFunds,
        _ => Code::CannotBuild,
    };
    CliError::new(code, e)
}

/// Says, when a payment cannot be funded, how much sits in coins marked unspendable.
fn frozen_note(wallet: &Wallet, e: CliError) -> CliError {
    let frozen = wallet.unspendable_coins();
    if e.code != Code::InsufficientFunds || frozen.is_empty() {
        return e;
    }
    let sats: u64 = frozen.iter().map(|u| u.txout.value.to_sat()).sum();
    let message = format!(
        "{} ({} coin{} of {sats} sat in all are labelled unspendable and were left out: `ferry label output TXID:VOUT --spendable true`, or name them with --utxo)",
        e.message,
        frozen.len(),
        if frozen.len() == 1 { "" } else { "s" },
    );
    CliError { message, ..e }
}

fn summary(built: &Built, recipient: &str, network: ferry::network::Network) -> String {
    let vb = built.weight.to_vbytes_ceil();
    let rate = FeeRate::from_fee_and_vbytes(built.fee, vb).unwrap_or(FeeRate::ZERO);
    let mut s = format!(
        "Send {} ({} BTC) to {recipient}\n  fee:      {} ({}, {vb} vB at most)\n",
        built.amount(),
        built.amount().to_btc_string(),
        built.fee,
        rate.display_sat_per_vb(),
    );
    match built.change {
        Some((vout, v)) => s.push_str(&format!("  change:   {v} (output {vout})\n")),
        None => s.push_str("  change:   none\n"),
    }
    s.push_str(&format!("  inputs:   {}\n", built.inputs.len()));
    for u in &built.inputs {
        let addr = Address::from_script(&u.txout.script_pubkey, network)
            .map_or_else(String::new, |a| a.to_string());
        s.push_str(&format!("    {} {} {addr}\n", u.outpoint, u.txout.value));
    }
    s
}

pub(super) fn confirm(ctx: &Ctx, yes: bool, text: &str, question: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !ctx.interactive {
        return Err(CliError::new(
            Code::ConfirmationRequired,
            "no terminal to confirm on: check the details and pass --yes",
        ));
    }
    prompts::say(text);
    let ok = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(prompts::prompt_error)?;
    if ok {
        Ok(())
    } else {
        Err(CliError::new(
            Code::Cancelled,
            "cancelled: nothing was signed or sent",
        ))
    }
}

pub(super) fn sign(ctx: &Ctx, wallet: &Wallet, built: &Built) -> Result<Transaction, CliError> {
    if wallet.is_watch_only() {
        return Err(super::sign::watch_only_error());
    }
    let password = prompts::existing_password(ctx.interactive)?;
    let secret = wallet.unlock(&password)?;
    let keys = signing::derive_keys(
        &secret,
        wallet.account(),
        built.inputs.iter().map(|u| (u.chain, u.index)),
    )?;
    signing::sign_built(built, &keys).map_err(CliError::internal)
}

/// `ferry send`.
pub async fn send(ctx: &Ctx, args: SendArgs) -> Result<(), CliError> {
    let mut wallet = ctx.open_wallet()?;
    if !args.psbt && wallet.is_watch_only() {
        return Err(super::sign::watch_only_error());
    }
    let network = wallet.network();
    // Everything the user typed is checked before the network is touched.
    let payee = super::uri::payee(&args.address, args.amount.as_deref(), args.build.max)?;
    let address =
        Address::parse(&payee.address, network).map_err(|e| CliError::new(Code::BadAddress, e))?;
    let amount = match (&payee.amount, args.build.max) {
        (Some(a), false) => a
            .parse::<Amount>()
            .map_err(|e| CliError::new(Code::BadAmount, e))?,
        (None, true) => Amount::ZERO,
        (Some(_), true) => {
            return Err(CliError::new(
                Code::BadAmount,
                "--max sends everything: give no amount with it",
            ));
        }
        (None, false) => {
            return Err(CliError::new(
                Code::BadAmount,
                "give an amount with its unit (e.g. 150000sat or 0.0015btc), or --max",
            ));
        }
    };
    let fee_rate = args
        .build
        .fee_rate
        .as_deref()
        .map(parse_fee_rate)
        .transpose()?;
    if let Some(l) = &args.label {
        super::label::check_text(l)?;
    }
    let coin_control = args
        .build
        .utxos
        .iter()
        .map(|s| {
            s.parse::<OutPoint>()
                .map_err(|e| CliError::new(Code::BadUtxo, format!("{s:?} is not TXID:VOUT: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !args.yes && !ctx.interactive && !args.no_broadcast && !args.psbt {
        return Err(CliError::new(
            Code::ConfirmationRequired,
            "no terminal to confirm the payment on: check the details and pass --yes",
        ));
    }

    if args.handoff.wanted() && !args.no_broadcast && !args.psbt {
        return Err(CliError::new(
            Code::HandoffNeedsNoBroadcast,
            "--qr and --handoff give the signed transaction to someone else: add --no-broadcast",
        ));
    }
    args.handoff.check()?;
    // Nothing is looked up or contacted for a transaction that will not be broadcast.
    let p2p = if args.no_broadcast {
        super::p2p::check_network(&args.p2p, network)?;
        None
    } else {
        super::p2p::plan_for(ctx, &args.p2p, network).await?
    };
    let backend = ctx.backend(network)?;
    // With --p2p, the network is the broadcast: the backend only builds and checks.
    let direct = p2p.is_none().then(|| Arc::clone(&backend));
    let broadcaster = Broadcaster::new(ctx, &args.via, direct)?;
    sync_wallet(ctx, &mut wallet, &backend, &args.sync).await?;
    let floor = relay_floor(&backend).await?;
    let fee_rate = match fee_rate {
        Some(rate) => rate,
        None => choose_fee_rate(ctx, &backend, network, args.build.target, floor).await?,
    };
    let change = wallet.next_change_address()?;
    let payment = Payment {
        recipients: vec![Recipient {
            script_pubkey: address.script_pubkey(),
            amount,
        }],
        send_max: args.build.max,
        fee_rate,
        min_fee_rate: floor,
        rbf: !args.build.no_rbf,
        allow_high_fee: args.build.allow_high_fee,
        coin_control,
    };
    let built = wallet
        .build_payment(payment, &change, &mut os_rng())
        .map_err(|e| frozen_note(&wallet, build_error(e)))?;

    if args.psbt {
        // The txid is final only once signed: the address is labelled, the transaction not.
        super::uri::remember_label(&mut wallet, &payee, args.label.as_deref(), None)?;
        return super::psbt_create::emit(ctx, &wallet, &built, change.index, &args.handoff);
    }
    let text = summary(&built, &payee.address, network);
    if !args.no_broadcast {
        confirm(ctx, args.yes, &text, "Sign and broadcast?")?;
    }
    let tx = sign(ctx, &wallet, &built)?;
    // The network first, then any relay: a relay's backend that had it already would keep
    // the observers from ever hearing it (nodes announce a transaction once).
    let p2p = match (&p2p, args.no_broadcast) {
        (Some(config), false) => Some(super::p2p::run(config, &tx).await?),
        _ => None,
    };
    let broadcast = if args.no_broadcast {
        Vec::new()
    } else {
        broadcaster.broadcast(&tx).await
    };
    let accepted = broadcast.iter().any(BroadcastOutcome::accepted)
        || p2p.as_ref().is_some_and(P2pReport::handed_over);
    if accepted && built.change.is_some() {
        wallet.hand_out(KeyChain::Change, Some(change.index))?;
    }
    if accepted || args.no_broadcast {
        let txid = tx.txid();
        super::uri::remember_label(&mut wallet, &payee, args.label.as_deref(), Some(&txid))?;
    }
    let report = SendReport {
        txid: tx.txid().to_string(),
        hex: tx.to_hex(),
        fee_sat: built.fee.to_sat(),
        vsize: tx.vsize(),
        fee_rate: FeeRate::from_fee_and_vbytes(built.fee, tx.vsize())
            .unwrap_or(FeeRate::ZERO)
            .to_sat_per_vb_f64(),
        amount_sat: built.amount().to_sat(),
        change_sat: built.change.map(|(_, v)| v.to_sat()),
        inputs: built.inputs.len(),
        selection: built.algorithm,
        broadcast,
        p2p,
    };
    if !args.no_broadcast {
        super::p2p::conclude(ctx, &report.broadcast, report.p2p.as_ref(), &report)?;
    }
    if args.no_broadcast && args.handoff.wanted() {
        let doc = serde_json::to_value(&report).map_err(CliError::internal)?;
        let (bytes, hex) = (tx.serialize(), report.hex.clone());
        let kind = ferry::psbt::bbqr::FileType::Transaction;
        return super::handoff::emit(ctx, &args.handoff, &bytes, kind, doc, &hex);
    }
    ctx.out.emit(&report, |r| {
        if args.no_broadcast {
            r.hex.clone()
        } else {
            let mut text = format!(
                "sent {} sat, fee {} sat ({:.3} sat/vB, {} vB)\ntxid {}",
                r.amount_sat, r.fee_sat, r.fee_rate, r.vsize, r.txid
            );
            if let Some(p) = &r.p2p {
                text = format!("{}\n{text}", super::p2p::human(p));
            }
            text
        }
    })
}
