//! `ferry psbt combine|finalize|extract`: BIP-0174's combiner, finalizer and extractor on
//! the command line. They read PSBTs of either version (binary, base64 or hex; a file or
//! `-`), write them back in the version they came in, and never need a wallet.

use ferry::psbt::Psbt;

use super::code::Code;
use super::input::file_or_stdin;
use super::psbt::parse_psbt;
use super::sign::finalize_all;
use super::{CliError, Output};

fn read(file: &str) -> Result<Psbt, CliError> {
    parse_psbt(&file_or_stdin(file, "PSBT")?)
}

/// `ferry psbt combine FILE…`: one PSBT with every pair of each (the first file's value
/// wins a conflict, as Bitcoin Core's `combinepsbt`).
pub fn combine(files: &[String], out: &Output) -> Result<(), CliError> {
    if files.len() < 2 {
        return Err(CliError::new(
            Code::BadInput,
            "give at least two PSBT files to combine",
        ));
    }
    if files.iter().filter(|f| *f == "-").count() > 1 {
        return Err(CliError::new(
            Code::BadInput,
            "stdin (-) can be read only once",
        ));
    }
    let mut psbts = files.iter().map(|f| read(f));
    let mut combined = psbts.next().expect("at least two files")?;
    for (i, p) in psbts.enumerate() {
        combined.combine(p?).map_err(|e| {
            CliError::new(
                Code::CannotCombine,
                format!("{} cannot be combined with {}: {e}", files[i + 1], files[0]),
            )
        })?;
    }
    out.emit(
        &Combined {
            psbt: combined.to_base64(),
        },
        |r| r.psbt.clone(),
    )
}

/// `ferry psbt finalize FILE|-`: finalizes every input that has what it needs; with all
/// final, also the transaction in hex (checked by Bitcoin Core's interpreter).
pub fn finalize(file: &str, out: &Output) -> Result<(), CliError> {
    let mut psbt = read(file)?;
    let spent = psbt.spent_outputs().map_err(|e| {
        CliError::new(
            Code::UnknownUtxo,
            format!("cannot finalize: {e}; the PSBT must carry every input's UTXO"),
        )
    })?;
    let tx = finalize_all(&mut psbt, &spent)?;
    let report = Finalized {
        psbt: psbt.to_base64(),
        complete: tx.is_some(),
        hex: tx.as_ref().map(ferry::tx::Transaction::to_hex),
    };
    let incomplete: Vec<usize> = (0..psbt.inputs.len())
        .filter(|&i| !psbt.inputs[i].is_finalized())
        .collect();
    if !incomplete.is_empty() && !report.complete {
        super::prompts::say(&format!(
            "not complete: input(s) {incomplete:?} lack signatures; the PSBT follows"
        ));
    }
    out.emit(&report, |r| r.hex.clone().unwrap_or_else(|| r.psbt.clone()))
}

/// `ferry psbt extract FILE|-`: the signed transaction of a finalized PSBT, checked by
/// Bitcoin Core's interpreter; an absurd fee rate is refused.
pub fn extract(file: &str, out: &Output) -> Result<(), CliError> {
    let psbt = read(file)?;
    let tx = extract_checked(&psbt)?;
    out.emit(
        &Extracted {
            txid: tx.txid().to_string(),
            hex: tx.to_hex(),
        },
        |r| r.hex.clone(),
    )
}

/// Extracts a finalized PSBT's transaction and checks it with Core's interpreter.
pub fn extract_checked(psbt: &Psbt) -> Result<ferry::tx::Transaction, CliError> {
    let tx = psbt.extract_tx().map_err(|e| {
        CliError::new(
            Code::NotFinalized,
            format!("cannot extract the transaction: {e} (sign it, then `ferry psbt finalize`)"),
        )
    })?;
    let spent = psbt.spent_outputs().map_err(CliError::internal)?;
    ferry::consensus::verify_transaction(&tx, &spent).map_err(|e| {
        CliError::new(
            Code::InvalidSignatures,
            format!("the transaction does not verify with Bitcoin Core's interpreter: {e}"),
        )
    })?;
    Ok(tx)
}

/// What `ferry psbt combine --json` prints (DESIGN.md §3).
#[derive(serde::Serialize)]
struct Combined {
    psbt: String,
}

/// What `ferry psbt finalize --json` prints (DESIGN.md §3).
#[derive(serde::Serialize)]
struct Finalized {
    psbt: String,
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

/// What `ferry psbt extract --json` prints (DESIGN.md §3).
#[derive(serde::Serialize)]
struct Extracted {
    txid: String,
    hex: String,
}
