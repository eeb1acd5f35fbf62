//! `ferry balance`, `ferry utxos`, `ferry history`: sync, then report (amounts in sats).

use std::collections::HashSet;

use clap::Args;
use ferry::script::Address;
use serde::Serialize;

use super::chain::{SyncArgs, open_backend, sync_wallet};
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
}

fn confirmations(tip: u32, height: Option<u32>) -> u32 {
    height.map_or(0, |h| tip.saturating_sub(h) + 1)
}

/// `ferry balance`.
pub async fn balance(ctx: &Ctx, args: ReportArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    let backend = open_backend(ctx, wallet.account.network)?;
    let r = sync_wallet(ctx, &wallet, &backend, &args.sync).await?;
    let (mut confirmed, mut unconfirmed) = (0u64, 0u64);
    for u in &r.utxos {
        match u.height {
            Some(_) => confirmed += u.txout.value.to_sat(),
            None => unconfirmed += u.txout.value.to_sat(),
        }
    }
    let b = Balance {
        confirmed,
        unconfirmed,
        total: confirmed + unconfirmed,
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
    let wallet = ctx.open_wallet()?;
    let network = wallet.account.network;
    let backend = open_backend(ctx, network)?;
    let r = sync_wallet(ctx, &wallet, &backend, &args.sync).await?;
    let rows: Vec<UtxoRow> = r
        .utxos
        .iter()
        .map(|u| UtxoRow {
            txid: u.outpoint.txid.to_string(),
            vout: u.outpoint.vout,
            value_sat: u.txout.value.to_sat(),
            address: Address::from_script(&u.txout.script_pubkey, network)
                .map_or_else(|| u.txout.script_pubkey.to_hex(), |a| a.to_string()),
            confirmations: confirmations(r.tip_height, u.height),
        })
        .collect();
    ctx.out.emit(&rows, |rows| {
        if rows.is_empty() {
            return "no coins".to_owned();
        }
        rows.iter()
            .map(|u| {
                format!(
                    "{}:{}  {:>12} sat  {}  {} conf",
                    u.txid, u.vout, u.value_sat, u.address, u.confirmations
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `ferry history`.
pub async fn history(ctx: &Ctx, args: ReportArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    let backend = open_backend(ctx, wallet.account.network)?;
    let r = sync_wallet(ctx, &wallet, &backend, &args.sync).await?;
    let ours: HashSet<_> = r.used.iter().map(|u| u.script_pubkey.clone()).collect();
    // Values of our outputs, to price what each transaction spends of ours.
    let mut our_outputs = std::collections::HashMap::new();
    for t in &r.txs {
        let txid = t.tx.txid();
        for (vout, o) in t.tx.output.iter().enumerate() {
            if ours.contains(&o.script_pubkey) {
                our_outputs.insert((txid, vout as u32), o.value.to_sat());
            }
        }
    }
    let known: HashSet<_> = r.txs.iter().map(|t| t.tx.txid()).collect();
    let mut rows: Vec<HistoryRow> = r
        .txs
        .iter()
        .map(|t| {
            let received: u64 =
                t.tx.output
                    .iter()
                    .filter(|o| ours.contains(&o.script_pubkey))
                    .map(|o| o.value.to_sat())
                    .sum();
            let sent: u64 = t
                .tx
                .input
                .iter()
                .filter_map(|i| our_outputs.get(&(i.previous_output.txid, i.previous_output.vout)))
                .sum();
            // With a partial history an input whose transaction is unknown may be ours.
            let sent = (r.history_complete
                || t.tx.is_coinbase()
                || t.tx
                    .input
                    .iter()
                    .all(|i| known.contains(&i.previous_output.txid)))
            .then_some(sent);
            HistoryRow {
                txid: t.tx.txid().to_string(),
                height: t.height,
                confirmations: confirmations(r.tip_height, t.height),
                received_sat: received,
                sent_sat: sent,
                net_sat: sent.map(|sent| {
                    i64::try_from(received).unwrap_or(i64::MAX)
                        - i64::try_from(sent).unwrap_or(i64::MAX)
                }),
                fee_sat: t.fee.map(|f| f.to_sat()),
            }
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
                match h.net_sat {
                    Some(net) => format!("{}  {net:>+13} sat  {when}", h.txid),
                    None => format!(
                        "{}  received {} sat, spent: not visible to this backend  {when}",
                        h.txid, h.received_sat
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
