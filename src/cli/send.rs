//! `ferry send`, `ferry broadcast`, `ferry bump`: build, confirm, sign, check and push
//! transactions — directly, or through friends' relays ([`super::broadcast`]).

use std::sync::Arc;

use clap::Args;
use ferry::chain::ChainBackend;
use ferry::keys::KeyChain;
use ferry::script::Address;
use ferry::tx::{OutPoint, Transaction};
use ferry::units::{Amount, FeeRate};
use ferry::wallet::Wallet;
use ferry::wallet::builder::{self, Built, PaymentRequest, Recipient};
use ferry::wallet::rng::WalletRng;
use ferry::wallet::signing;
use serde::Serialize;

use super::broadcast::{BroadcastOutcome, Broadcaster, ViaArgs, finish_broadcast};
use super::chain::{SyncArgs, open_backend, open_backend_with, sync_wallet};
use super::p2p::P2pArgs;
use super::{CliError, Ctx, prompts};
use ferry::p2p::P2pReport;

/// Arguments of `ferry send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The recipient's address (of the wallet's network), or a BIP-0021 `bitcoin:` URI.
    pub address: String,
    /// The amount with its unit, e.g. 150000sat or 0.0015btc (omit with --max, or when the
    /// URI gives one).
    pub amount: Option<String>,
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
    /// Sign but do not broadcast; print the transaction.
    #[arg(long)]
    pub no_broadcast: bool,
    /// Print an unsigned PSBT (BIP-0174, base64) for offline signing instead.
    #[arg(long)]
    pub psbt: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub via: ViaArgs,
    #[command(flatten)]
    pub p2p: P2pArgs,
    #[command(flatten)]
    pub handoff: super::handoff::HandoffArgs,
}

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

fn parse_fee_rate(s: &str) -> Result<FeeRate, CliError> {
    FeeRate::parse_sat_per_vb(s).map_err(|e| CliError::user("bad_fee_rate", e))
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
    fee_rate: Option<&str>,
    target: Option<u16>,
    floor: FeeRate,
) -> Result<FeeRate, CliError> {
    if let Some(r) = fee_rate {
        return parse_fee_rate(r);
    }
    let target = target.unwrap_or(6).max(1);
    let estimates = backend.fee_estimates().await?;
    if estimates.is_empty() && !network.is_mainnet() {
        // A test chain often has no fee history (Core's regtest answers "Insufficient
        // data"): its coins are worthless, so the relay minimum is a safe fallback. On a
        // main network ferry never guesses.
        // At least 1 sat/vB, which every node relays, whatever the floor.
        let fallback = floor.max(FeeRate::MIN_RELAY);
        if !ctx.json {
            eprintln!(
                "note: {} has no fee estimates; using the minimum relay fee {} on {network}",
                backend.describe(),
                fallback.display_sat_per_vb()
            );
        }
        return Ok(fallback);
    }
    // The estimate for the largest target not above the one asked, else the nearest.
    estimates
        .range(..=target)
        .next_back()
        .or_else(|| estimates.iter().next())
        .map(|(_, r)| (*r).max(floor))
        .ok_or_else(|| {
            CliError::backend(
                "no_fee_estimates",
                format!(
                    "{} gave no fee estimates: pass --fee-rate SAT/VB",
                    backend.describe()
                ),
            )
        })
}

fn build_error(e: builder::BuildError) -> CliError {
    use builder::BuildError as B;
    let code = match &e {
        B::Dust { .. } => "dust_amount",
        B::FeeRateBelowMinimum { .. } => "fee_rate_too_low",
        B::HighFee { .. } => "high_fee",
        B::UnknownCoin(_) => "unknown_coin",
        B::Selection(_) => "insufficient_funds",
        _ => "cannot_build",
    };
    CliError::user(code, e)
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
        return Err(CliError::user(
            "confirmation_required",
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
        Err(CliError::user(
            "cancelled",
            "cancelled: nothing was signed or sent",
        ))
    }
}

fn sign(ctx: &Ctx, wallet: &Wallet, built: &Built) -> Result<Transaction, CliError> {
    if wallet.is_watch_only() {
        return Err(super::sign::watch_only_error());
    }
    let password = prompts::existing_password(ctx.interactive)?;
    let secret = wallet.unlock(&password)?;
    let keys = signing::derive_keys(
        &secret,
        &wallet.account,
        built.inputs.iter().map(|u| (u.chain, u.index)),
    )?;
    signing::sign_built(built, &keys).map_err(CliError::internal)
}

/// `ferry send`.
pub async fn send(ctx: &Ctx, args: SendArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    if !args.psbt && wallet.is_watch_only() {
        return Err(super::sign::watch_only_error());
    }
    let network = wallet.account.network;
    // Everything the user typed is checked before the network is touched.
    let payee = super::uri::payee(&args.address, args.amount.as_deref(), args.max)?;
    let address =
        Address::parse(&payee.address, network).map_err(|e| CliError::user("bad_address", e))?;
    let amount = match (&payee.amount, args.max) {
        (Some(a), false) => a
            .parse::<Amount>()
            .map_err(|e| CliError::user("bad_amount", e))?,
        (None, true) => Amount::ZERO,
        (Some(_), true) => {
            return Err(CliError::user(
                "bad_amount",
                "--max sends everything: give no amount with it",
            ));
        }
        (None, false) => {
            return Err(CliError::user(
                "bad_amount",
                "give an amount with its unit (e.g. 150000sat or 0.0015btc), or --max",
            ));
        }
    };
    if let Some(r) = &args.fee_rate {
        parse_fee_rate(r)?;
    }
    let coin_control = args
        .utxos
        .iter()
        .map(|s| {
            s.parse::<OutPoint>()
                .map_err(|e| CliError::user("bad_utxo", format!("{s:?} is not TXID:VOUT: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !args.yes && !ctx.interactive && !args.no_broadcast && !args.psbt {
        return Err(CliError::user(
            "confirmation_required",
            "no terminal to confirm the payment on: check the details and pass --yes",
        ));
    }

    if args.handoff.wanted() && !args.no_broadcast && !args.psbt {
        return Err(CliError::user(
            "handoff_needs_no_broadcast",
            "--qr and --handoff give the signed transaction to someone else: add --no-broadcast",
        ));
    }
    args.handoff.check()?;
    if args.p2p.p2p_network.is_some_and(|n| n != network) {
        return Err(CliError::user(
            "wrong_network",
            format!("--p2p-network differs from the wallet's network, {network}"),
        ));
    }
    // Nothing is looked up or contacted for a transaction that will not be broadcast.
    let p2p = if args.no_broadcast {
        None
    } else {
        super::p2p::plan(ctx.proxy.as_deref(), &args.p2p, network).await?
    };
    let backend = open_backend(ctx, network)?;
    // With --p2p, the network is the broadcast: the backend only builds and checks.
    let direct = p2p.is_none().then(|| Arc::clone(&backend));
    let broadcaster = Broadcaster::new(ctx, &args.via, direct)?;
    let synced = sync_wallet(ctx, &wallet, &backend, &args.sync).await?;
    let floor = relay_floor(&backend).await?;
    let fee_rate = choose_fee_rate(
        ctx,
        &backend,
        network,
        args.fee_rate.as_deref(),
        args.target,
        floor,
    )
    .await?;
    let change = wallet.address_at(
        KeyChain::Change,
        wallet.store.next_unused_index(KeyChain::Change)?,
    )?;
    let req = PaymentRequest {
        recipients: vec![Recipient {
            script_pubkey: address.script_pubkey(),
            amount,
        }],
        send_max: args.max,
        fee_rate,
        min_fee_rate: floor,
        change_script: change.script_pubkey.clone(),
        rbf: !args.no_rbf,
        tip_height: synced.tip_height,
        allow_high_fee: args.allow_high_fee,
        coin_control,
    };
    let mut rng = os_rng();
    let built = builder::build_payment(&req, &synced.utxos, &mut rng).map_err(build_error)?;

    if args.psbt {
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
    if accepted {
        super::uri::remember_label(&wallet, &payee)?;
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
        let doc = serde_json::to_value(&report).map_err(CliError::internal)?;
        if let Err(e) = super::p2p::verdict(&report.broadcast, report.p2p.as_ref(), &doc) {
            if let (Some(r), false) = (&report.p2p, ctx.json) {
                ctx.out.emit(r, super::p2p::human)?;
            }
            return Err(e);
        }
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
pub async fn broadcast(ctx: &Ctx, args: BroadcastArgs) -> Result<(), CliError> {
    let tx = super::handoff::read_transaction(&args.hex)?;
    ferry::tx::check_transaction(&tx)
        .map_err(|e| CliError::user("invalid_tx", format!("the transaction is invalid: {e}")))?;
    let p2p = match args.p2p.p2p_network {
        Some(n) => super::p2p::plan(ctx.proxy.as_deref(), &args.p2p, n).await?,
        None if args.p2p.p2p => {
            let network = ctx.open_wallet().map_err(|_| {
                CliError::user(
                    "no_network",
                    "--p2p needs the transaction's network: pass --p2p-network NETWORK (or use a wallet)",
                )
            })?;
            super::p2p::plan(ctx.proxy.as_deref(), &args.p2p, network.account.network).await?
        }
        None => None,
    };
    // Relays need no backend of ours; a direct broadcast does (never with --p2p).
    let direct = if args.via.uses_direct() && p2p.is_none() {
        // The wallet's network picks the default backend, only when no URL is given.
        Some(open_backend_with(ctx, || {
            Ok(ctx.open_wallet()?.account.network)
        })?)
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
    let txid = tx.txid().to_string();
    let mut doc = serde_json::json!({"txid": txid, "broadcast": outcomes});
    if let Some(r) = &report {
        doc["p2p"] = serde_json::to_value(r).map_err(CliError::internal)?;
    }
    let human = |_: &serde_json::Value| match &report {
        Some(r) => super::p2p::human(r),
        None => format!("broadcast {txid}"),
    };
    if let Err(e) = super::p2p::verdict(&outcomes, report.as_ref(), &doc) {
        if !ctx.json && report.is_some() {
            ctx.out.emit(&doc, human)?;
        }
        return Err(e);
    }
    ctx.out.emit(&doc, human)
}

/// Arguments of `ferry bump`.
#[derive(Debug, Args)]
pub struct BumpArgs {
    /// The transaction to replace.
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
    #[command(flatten)]
    sync: SyncArgs,
}

/// `ferry bump`: a BIP-0125 replacement paying `--fee-rate`, the extra fee taken from the
/// change output.
pub async fn bump(ctx: &Ctx, args: BumpArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    let network = wallet.account.network;
    let txid: ferry::tx::Txid = args
        .txid
        .parse()
        .map_err(|_| CliError::user("bad_txid", format!("{:?} is not a txid", args.txid)))?;
    let fee_rate = parse_fee_rate(&args.fee_rate)?;
    if !args.yes && !ctx.interactive {
        return Err(CliError::user(
            "confirmation_required",
            "no terminal to confirm the replacement on: check the details and pass --yes",
        ));
    }
    let backend = open_backend(ctx, network)?;
    let synced = sync_wallet(ctx, &wallet, &backend, &args.sync).await?;
    let original = synced
        .txs
        .iter()
        .find(|t| t.tx.txid() == txid)
        .ok_or_else(|| {
            CliError::user(
                "unknown_tx",
                format!("{txid} is not a transaction of this wallet"),
            )
        })?;
    if let Some(h) = original.height {
        return Err(CliError::user(
            "already_confirmed",
            format!("{txid} is already confirmed in block {h}: there is nothing to replace"),
        ));
    }
    let plan = super::bump::plan(
        &wallet,
        &synced,
        &original.tx,
        fee_rate,
        args.allow_high_fee,
    )?;
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
    let outcomes = Broadcaster::new(ctx, &ViaArgs::default(), Some(backend))?
        .broadcast(&tx)
        .await;
    finish_broadcast(&outcomes, false)?;
    let report = serde_json::json!({
        "txid": tx.txid().to_string(),
        "replaces": txid.to_string(),
        "hex": tx.to_hex(),
        "fee_sat": plan.built.fee.to_sat(),
        "vsize": tx.vsize(),
        "fee_rate": FeeRate::from_fee_and_vbytes(plan.built.fee, tx.vsize()).unwrap_or(FeeRate::ZERO).to_sat_per_vb_f64(),
        "broadcast": outcomes,
    });
    ctx.out.emit(&report, |r| {
        format!("replaced {txid} with {}", r["txid"].as_str().unwrap_or(""))
    })
}
