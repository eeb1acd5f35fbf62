//! `ferry balance`, `ferry utxos`, `ferry history`: sync, then report (amounts in sats).

use clap::Args;
use ferry::script::Address;
use serde::Serialize;

use super::chain::SyncArgs;
use super::labels::printable;
use super::{CliError, Ctx};

/// Arguments of the reporting commands.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Serialize)]
struct Balance {
    confirmed: u64,
    unconfirmed: u64,
    total: u64,
}

#[derive(Serialize)]
struct UtxoRow {
    txid: String,
    vout: u32,
    value_sat: u64,
    address: String,
    confirmations: u32,
    /// The output's label, else its address's, else its transaction's (BIP-0329).
    label: Option<String>,
    /// False when the coin is labelled `spendable: false`: `send` leaves it alone.
    spendable: bool,
}

#[derive(Serialize)]
struct HistoryRow {
    txid: String,
    height: Option<u32>,
    confirmations: u32,
    received_sat: u64,
    /// `None` when the backend cannot show what the transaction spent (a UTXO scan does
    /// not see spent coins): better no number than a wrong one.
    sent_sat: Option<u64>,
    net_sat: Option<i64>,
    fee_sat: Option<u64>,
    /// The transaction's label (BIP-0329).
    label: Option<String>,
}

fn confirmations(tip: u32, height: Option<u32>) -> u32 {
    height.map_or(0, |h| tip.saturating_sub(h) + 1)
}

/// `ferry balance`.
pub async fn balance(ctx: &Ctx, args: ReportArgs) -> Result<(), CliError> {
    let (wallet, _) = ctx.synced_wallet(&args.sync).await?;
    let balance = wallet.balance();
    let b = Balance {
        confirmed: balance.confirmed.to_sat(),
        unconfirmed: balance.unconfirmed.to_sat(),
        total: balance.total().to_sat(),
    };
    ctx.out.emit(&b, |b| {
        format!(
            "confirmed:   {} sat\nunconfirmed: {} sat\ntotal:       {} sat",
            b.confirmed, b.unconfirmed, b.total
        )
    })
}

/// `ferry utxos`.
pub async fn utxos(ctx: &Ctx, args: ReportArgs) -> Result<(), CliError> {
    let (wallet, _) = ctx.synced_wallet(&args.sync).await?;
    let network = wallet.network();
    let book = wallet.label_book()?;
    let r = wallet.synced();
    let rows: Vec<UtxoRow> = r
        .utxos
        .iter()
        .map(|u| {
            let address = Address::from_script(&u.txout.script_pubkey, network)
                .map_or_else(|| u.txout.script_pubkey.to_hex(), |a| a.to_string());
            let label = book
                .output(&u.outpoint)
                .or_else(|| book.addr(&address))
                .or_else(|| book.tx(&u.outpoint.txid))
                .map(str::to_owned);
            UtxoRow {
                txid: u.outpoint.txid.to_string(),
                vout: u.outpoint.vout,
                value_sat: u.txout.value.to_sat(),
                address,
                confirmations: confirmations(r.tip_height, u.height),
                label,
                spendable: book.spendable(&u.outpoint),
            }
        })
        .collect();
    ctx.out.emit(&rows, |rows| {
        if rows.is_empty() {
            return "no coins".to_owned();
        }
        rows.iter()
            .map(|u| {
                let mut line = format!(
                    "{}:{}  {:>12} sat  {}  {} conf",
                    u.txid, u.vout, u.value_sat, u.address, u.confirmations
                );
                if !u.spendable {
                    line.push_str("  [unspendable]");
                }
                if let Some(l) = &u.label {
                    line.push_str(&format!("  {}", printable(l)));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `ferry history`.
pub async fn history(ctx: &Ctx, args: ReportArgs) -> Result<(), CliError> {
    let (wallet, _) = ctx.synced_wallet(&args.sync).await?;
    let tip = wallet.synced().tip_height;
    let book = wallet.label_book()?;
    let mut rows: Vec<HistoryRow> = wallet
        .history()
        .into_iter()
        .map(|(t, flows)| HistoryRow {
            txid: t.tx.txid().to_string(),
            height: t.height,
            confirmations: confirmations(tip, t.height),
            received_sat: flows.received.to_sat(),
            sent_sat: flows.sent.map(|a| a.to_sat()),
            net_sat: flows.net_sat(),
            fee_sat: t.fee.map(|f| f.to_sat()),
            label: book.tx(&t.tx.txid()).map(str::to_owned),
        })
        .collect();
    rows.reverse(); // newest first
    ctx.out.emit(&rows, |rows| {
        if rows.is_empty() {
            return "no transactions".to_owned();
        }
        rows.iter()
            .map(|h| {
                let when = h
                    .height
                    .map_or_else(|| "unconfirmed".to_owned(), |x| format!("block {x}"));
                let line = match h.net_sat {
                    Some(net) => format!("{}  {net:>+13} sat  {when}", h.txid),
                    None => format!(
                        "{}  received {} sat, spent: not visible to this backend  {when}",
                        h.txid, h.received_sat
                    ),
                };
                match &h.label {
                    Some(l) => format!("{line}  {}", printable(l)),
                    None => line,
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
