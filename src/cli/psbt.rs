//! `ferry psbt decode` — inspect a PSBT (BIP-0174), like Bitcoin Core's `decodepsbt`.

use clap::Subcommand;

use super::code::Code;
use super::input::file_or_stdin;
use super::{CliError, Ctx};
use ferry::psbt::{DecodedPsbt, Psbt};

/// `ferry psbt …`
#[derive(Debug, Subcommand)]
pub enum PsbtCommand {
    /// Decode a PSBT from a file (binary, base64 or hex) or `-` for stdin.
    Decode {
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
        if text.starts_with("70736274ff") {
            Psbt::from_hex(text)
        } else {
            Psbt::from_base64(text)
        }
    };
    result.map_err(|e| CliError::new(Code::MalformedPsbt, format!("not a valid PSBT: {e}")))
}

pub(super) fn run(ctx: &Ctx, cmd: PsbtCommand) -> Result<(), CliError> {
    let out = &ctx.out;
    match cmd {
        PsbtCommand::Decode { file } => {
            let psbt = parse_psbt(&file_or_stdin(&file, "PSBT")?)?;
            let view = psbt.decode();
            out.emit(&view, psbt_text)
        }
    }
}

/// A short summary for a person: what is spent, what is signed, what it pays.
fn psbt_text(p: &DecodedPsbt) -> String {
    let mut s = format!(
        "PSBT for txid {} (version {}, locktime {})\ninputs ({}):\n",
        p.tx.txid,
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
