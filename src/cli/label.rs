//! `ferry label tx|addr|output REF TEXT`: label one thing of the wallet (BIP-0329 records,
//! kept in wallet.sqlite); an empty TEXT removes the label. `--spendable false` on an
//! output keeps coin selection off it. Offline: never the backend, never the password.

use clap::{Args, ValueEnum};
use ferry::wallet::labels::{LabelError, LabelRecord, LabelType};
use serde::Serialize;

use super::code::Code;
use super::{CliError, Ctx};

/// What a label is put on.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabelKind {
    /// A transaction: REF is its txid.
    Tx,
    /// An address of the wallet's network (the wallet's own, or one it pays).
    Addr,
    /// An output: REF is TXID:VOUT.
    Output,
}

impl From<LabelKind> for LabelType {
    fn from(k: LabelKind) -> Self {
        match k {
            LabelKind::Tx => LabelType::Tx,
            LabelKind::Addr => LabelType::Addr,
            LabelKind::Output => LabelType::Output,
        }
    }
}

/// `ferry label` arguments.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// What to label: tx, addr or output.
    kind: LabelKind,
    /// Its txid, address or TXID:VOUT.
    reference: String,
    /// The label; an empty one ("") removes it. May be left out with --spendable.
    #[arg(required_unless_present = "spendable")]
    text: Option<String>,
    /// Outputs only: false keeps `send` from choosing the coin (BIP-0329 `spendable`);
    /// true lifts that.
    #[arg(long, value_name = "BOOL")]
    spendable: Option<bool>,
}

/// What `ferry label --json` prints: the record as kept.
#[derive(Debug, Serialize)]
struct Labelled {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "ref")]
    reference: String,
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spendable: Option<bool>,
}

/// Checks a label typed on the command line: one line of text.
///
/// # Errors
/// `bad_label` for control characters (a newline, a tab…).
pub fn check_text(text: &str) -> Result<(), CliError> {
    if text.chars().any(char::is_control) {
        return Err(CliError::new(
            Code::BadLabel,
            "a label is one line of text: it may not hold control characters (newlines, tabs)",
        ));
    }
    Ok(())
}

/// The CLI error for a reference that does not fit its type.
pub fn ref_error(e: LabelError) -> CliError {
    let code = match &e {
        LabelError::BadRef {
            kind: LabelType::Tx,
            ..
        } => Code::BadTxid,
        LabelError::BadRef {
            kind: LabelType::Addr,
            ..
        } => Code::BadAddress,
        LabelError::BadRef {
            kind: LabelType::Output,
            ..
        } => Code::BadUtxo,
        _ => Code::BadLabel,
    };
    CliError::new(code, format!("{e}; nothing was labelled"))
}

pub(super) fn run(ctx: &Ctx, args: LabelArgs) -> Result<(), CliError> {
    let kind = LabelType::from(args.kind);
    if args.spendable.is_some() && kind != LabelType::Output {
        return Err(CliError::new(
            Code::BadLabel,
            "--spendable is for outputs only (ferry label output TXID:VOUT …)",
        ));
    }
    if let Some(t) = &args.text {
        check_text(t)?;
    }
    let mut wallet = ctx.open_wallet()?;
    let mut record: LabelRecord = wallet
        .label_record(kind, &args.reference, args.text.as_deref().unwrap_or(""))
        .map_err(ref_error)?;
    if args.text.is_none() {
        // Only the spendable mark changes: the label and its origin stay as they are.
        record.label = None;
        record.origin = None;
    }
    record.spendable = args.spendable;
    wallet.put_labels(std::slice::from_ref(&record))?;
    let book = wallet.label_book()?;
    let kept = wallet_record(&book, &record);
    ctx.out.emit(&kept, |k| {
        let what = format!("{} {}", k.kind, k.reference);
        let mut text = match &k.label {
            Some(l) => format!("{what}: {}", super::labels::printable(l)),
            None => format!("{what}: no label"),
        };
        if k.spendable == Some(false) {
            text.push_str(" [unspendable: send leaves it alone]");
        }
        text
    })
}

fn wallet_record(book: &ferry::wallet::labels::LabelBook, r: &LabelRecord) -> Labelled {
    let (label, spendable) = match r.kind {
        LabelType::Tx => (r.reference.parse().ok().and_then(|t| book.tx(&t)), None),
        LabelType::Addr => (book.addr(&r.reference), None),
        _ => {
            let o = r.reference.parse().ok();
            (
                o.as_ref().and_then(|o| book.output(o)),
                o.as_ref().map(|o| book.spendable(o)),
            )
        }
    };
    Labelled {
        kind: r.kind.as_str(),
        reference: r.reference.clone(),
        label: label.map(str::to_owned),
        spendable,
    }
}
