//! `ferry psbt …`: `decode` inspects a PSBT (BIP-0174 version 0 or BIP-0370 version 2),
//! like Bitcoin Core's `decodepsbt`; `create`, `combine`, `finalize` and `extract` are the
//! other roles ([`super::psbt_create`], [`super::psbt_roles`]).

use clap::Subcommand;

use super::code::Code;
use super::input::file_or_stdin;
use super::{CliError, CommandFuture, Ctx};
use ferry::psbt::{DecodedPsbt, Psbt, PsbtError};

/// `ferry psbt …`
#[derive(Debug, Subcommand)]
pub enum PsbtCommand {
    /// Decode a PSBT from a file (binary, base64 or hex) or `-` for stdin.
    Decode {
        /// The PSBT file, or `-` to read it from stdin.
        file: String,
    },
    /// Make the unsigned PSBT of a payment for a signer elsewhere (watch-only: no password).
    Create(super::psbt_create::PsbtCreateArgs),
    /// Merge PSBTs of one transaction signed by different signers (BIP-0174 combiner).
    Combine {
        /// Two or more PSBT files (one may be `-` for stdin).
        #[arg(required = true, num_args = 2..)]
        files: Vec<String>,
    },
    /// Finalize the inputs; when all are final, also print the transaction in hex.
    Finalize {
        /// The PSBT file, or `-` to read it from stdin.
        file: String,
    },
    /// Print the signed transaction of a finalized PSBT in hex.
    Extract {
        /// The PSBT file, or `-` to read it from stdin.
        file: String,
    },
}

/// Parses a PSBT in any of its usual forms: raw bytes (`psbt\xff…`), base64 or hex text.
pub fn parse_psbt(bytes: &[u8]) -> Result<Psbt, CliError> {
    const MAGIC: &[u8] = b"psbt\xff";
    let result = if bytes.starts_with(MAGIC) {
        Psbt::deserialize(bytes)
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| {
                CliError::new(
                    Code::MalformedPsbt,
                    "not a PSBT: neither binary nor base64/hex text",
                )
            })?
            .trim();
        if text.starts_with("B$") {
            // BBQr frames, one per line, as a scanner saves a Coldcard's or Sparrow's codes.
            let (ty, data) = ferry::psbt::bbqr::join(text.lines())
                .map_err(|e| CliError::new(Code::MalformedPsbt, format!("BBQr frames: {e}")))?;
            if ty != 'P' {
                return Err(CliError::new(
                    Code::MalformedPsbt,
                    format!("BBQr frames of type {ty:?}: expected P (a PSBT)"),
                ));
            }
            return parse_psbt(&data);
        }
        if text.starts_with("70736274ff") {
            Psbt::from_hex(text)
        } else {
            Psbt::from_base64(text)
        }
    };
    result.map_err(|e| match e {
        // A previous transaction that is not the one spent can lie about the amount.
        PsbtError::NonWitnessUtxoMismatch { .. } | PsbtError::PrevoutIndexOutOfRange { .. } => {
            CliError::new(
                Code::UtxoMismatch,
                format!(
                    "refusing this PSBT: {e}; its previous transaction is not the one it spends, so the amounts it shows cannot be trusted"
                ),
            )
        }
        _ => CliError::new(Code::MalformedPsbt, format!("not a valid PSBT: {e}")),
    })
}

pub(super) fn run(
    ctx: &Ctx,
    cmd: PsbtCommand,
    block_on: fn(CommandFuture<'_>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let out = &ctx.out;
    match cmd {
        PsbtCommand::Decode { file } => {
            let psbt = parse_psbt(&file_or_stdin(&file, "PSBT")?)?;
            let view = psbt.decode();
            out.emit(&view, psbt_text)
        }
        PsbtCommand::Create(args) => block_on(Box::pin(super::psbt_create::run(ctx, args))),
        PsbtCommand::Combine { files } => super::psbt_roles::combine(&files, out),
        PsbtCommand::Finalize { file } => super::psbt_roles::finalize(&file, out),
        PsbtCommand::Extract { file } => super::psbt_roles::extract(&file, out),
    }
}

/// A short summary for a person: what is spent, what is signed, what it pays.
fn psbt_text(p: &DecodedPsbt) -> String {
    let mut s = format!(
        "PSBT for txid {} (PSBT version {}, tx version {}, locktime {})\ninputs ({}):\n",
        p.tx.txid,
        p.psbt_version.unwrap_or(0),
        p.tx.version,
        p.tx.locktime,
        p.inputs.len()
    );
    for (txin, input) in p.tx.inputs.iter().zip(&p.inputs) {
        let value = input.utxo.as_ref().map_or("utxo unknown".to_owned(), |u| {
            format!("{} sat", u.value_sat)
        });
        let state = if input.final_scriptsig.is_some() || input.final_scriptwitness.is_some() {
            "finalized".to_owned()
        } else if input.taproot_key_path_sig.is_some() {
            "signed (taproot key path)".to_owned()
        } else {
            format!("{} partial signature(s)", input.partial_signatures.len())
        };
        s.push_str(&format!(
            "  {}:{}  {value}  {state}\n",
            txin.txid, txin.vout
        ));
    }
    s.push_str(&format!("outputs ({}):\n", p.tx.outputs.len()));
    for o in &p.tx.outputs {
        s.push_str(&format!(
            "  {:>16} sat  script {}\n",
            o.value_sat, o.script_pubkey
        ));
    }
    match p.fee_sat {
        Some(fee) => s.push_str(&format!("fee {fee} sat\n")),
        None => s.push_str("fee unknown (some input UTXOs are missing)\n"),
    }
    s
}
