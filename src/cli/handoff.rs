//! Hand-off without a network: `--qr` shows a signed transaction (or an unsigned PSBT) as a
//! QR code on the terminal — a series of BBQr frames, one per key press, when one code
//! cannot hold it — and `--handoff FILE` writes it to a file; a friend runs `ferry
//! broadcast FILE`, which reads a hex transaction, a finalized PSBT or BBQr frames.

use std::path::{Path, PathBuf};

use clap::Args;
use ferry::psbt::bbqr::{self, FileType};
use ferry::tx::Transaction;
use qrcode::bits::Bits;
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode, Version};

use super::code::Code;
use super::input::file_or_stdin;
use super::{CliError, Ctx, prompts};

/// The largest QR version ferry draws: 77 modules, 85 columns with its quiet zone, so a code
/// fits a common terminal; larger data goes in several frames.
pub const MAX_QR_VERSION: i16 = 15;

/// `--qr` and `--handoff FILE`.
#[derive(Debug, Clone, Default, Args)]
pub struct HandoffArgs {
    /// Show it as a QR code on the terminal (BBQr frames, one per key press, when one code
    /// cannot hold it).
    #[arg(long)]
    pub qr: bool,
    /// Write it to FILE for a friend to push with `ferry broadcast FILE` (an existing file
    /// is never replaced).
    #[arg(long, value_name = "FILE")]
    pub handoff: Option<PathBuf>,
}

impl HandoffArgs {
    /// True if either was asked for.
    pub fn wanted(&self) -> bool {
        self.qr || self.handoff.is_some()
    }

    /// Refuses, before anything is built or signed, a hand-off file that exists already.
    ///
    /// # Errors
    /// `file_exists`.
    pub fn check(&self) -> Result<(), CliError> {
        match &self.handoff {
            Some(p) if p.exists() => Err(CliError::new(
                Code::FileExists,
                format!(
                    "{} exists already: choose another --handoff file (nothing was signed)",
                    p.display()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// True for text QR's alphanumeric mode can hold (BBQr frames, upper-case hex).
fn is_qr_alphanumeric(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" $%*+-./:".contains(&b))
}

/// One QR code of `text` at `version`. Alphanumeric text goes in one alphanumeric segment:
/// qrcode's segment optimiser may cut digit runs into numeric segments whose headers cost
/// more than they save, so a frame sized for a version would sometimes not fit it.
fn code_at(text: &str, version: Version) -> Option<QrCode> {
    if !is_qr_alphanumeric(text) {
        return QrCode::with_version(text.as_bytes(), version, EcLevel::L).ok();
    }
    let mut bits = Bits::new(version);
    bits.push_alphanumeric_data(text.as_bytes()).ok()?;
    bits.push_terminator(EcLevel::L).ok()?;
    QrCode::with_bits(bits, EcLevel::L).ok()
}

fn fits(text: &str, version: i16) -> bool {
    code_at(text, Version::Normal(version)).is_some()
}

/// The alphanumeric characters one QR code of `version` (error correction L) holds.
pub fn capacity(version: i16) -> usize {
    let (mut lo, mut hi) = (0usize, 4296usize);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&"A".repeat(mid), version) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The QR texts for `data`: one bare upper-case hex code for a transaction that fits (what
/// Coldcard and Sparrow read first), else BBQr frames no larger than version
/// [`MAX_QR_VERSION`].
///
/// # Errors
/// A transaction beyond what 1295 frames hold.
pub fn qr_texts(data: &[u8], file_type: FileType) -> Result<Vec<String>, CliError> {
    if file_type == FileType::Transaction {
        let bare = hex::encode_upper(data);
        if fits(&bare, MAX_QR_VERSION) {
            return Ok(vec![bare]);
        }
    }
    let frames = bbqr::split(data, file_type, capacity(MAX_QR_VERSION))
        .map_err(|e| CliError::new(Code::TooLarge, e))?;
    Ok(frames.0)
}

/// Draws one QR text for the terminal.
pub fn render(text: &str) -> Result<String, CliError> {
    let code = (1..=40)
        .find_map(|v| code_at(text, Version::Normal(v)))
        .ok_or_else(|| CliError::internal("too much data for one QR code"))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build())
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    // Checked before signing too; a file that appeared since is still not replaced.
    if path.exists() {
        return Err(CliError::new(
            Code::FileExists,
            format!("{} exists already: nothing was written", path.display()),
        ));
    }
    ferry::fs::write_atomic(path, format!("{text}\n").as_bytes(), 0o600).map_err(|e| {
        CliError::new(
            Code::CannotWrite,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// Writes the hand-off file, shows the QR code(s), and prints `doc` (JSON, with `handoff`
/// and `qr_frames` added) or `text` (the hex or PSBT, after the codes).
///
/// # Errors
/// The file cannot be written, a prompt fails, or the data is too large for QR codes.
pub fn emit(
    ctx: &Ctx,
    args: &HandoffArgs,
    data: &[u8],
    file_type: FileType,
    mut doc: serde_json::Value,
    text: &str,
) -> Result<(), CliError> {
    let frames = if args.qr {
        qr_texts(data, file_type)?
    } else {
        Vec::new()
    };
    if let Some(path) = &args.handoff {
        write_file(path, text)?;
        doc["handoff"] = serde_json::json!(path.display().to_string());
    }
    if ctx.json {
        if args.qr {
            doc["qr_frames"] = serde_json::json!(frames);
        }
        return ctx.out.emit(&doc, |_| String::new());
    }
    let n = frames.len();
    for (i, frame) in frames.iter().enumerate() {
        let drawn = render(frame)?;
        ctx.out.emit(&doc, |_| drawn.clone())?;
        if n > 1 {
            prompts::say(&format!("BBQr frame {} of {n}", i + 1));
            if ctx.interactive && i + 1 < n {
                prompts::wait_for_enter("Enter for the next frame ")?;
            }
        }
    }
    if let Some(path) = &args.handoff {
        prompts::say(&format!(
            "written to {}: the friend runs `ferry broadcast {}`",
            path.display(),
            path.display()
        ));
    }
    ctx.out.emit(&doc, |_| text.to_owned())
}

fn not_a_tx() -> CliError {
    CliError::new(
        Code::MalformedTx,
        "not a transaction: expected hex, a file holding hex, a finalized PSBT or BBQr frames",
    )
}

/// Reads what `ferry broadcast` is given: the transaction's hex itself, or `-`/a file
/// holding hex, a finalized PSBT (binary, base64 or hex) or BBQr frames (one per line).
///
/// # Errors
/// `malformed_tx`, `not_finalized`, `invalid_signatures` or a read error.
pub fn read_transaction(arg: &str) -> Result<Transaction, CliError> {
    let bytes = if arg == "-" || Path::new(arg).is_file() {
        file_or_stdin(arg, "the transaction")?
    } else {
        arg.as_bytes().to_vec()
    };
    if bytes.starts_with(&ferry::psbt::MAGIC) {
        let psbt = super::psbt::parse_psbt(&bytes)?;
        return super::psbt_roles::extract_checked(&psbt);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| not_a_tx())?.trim();
    if text.starts_with("B$") {
        let (ty, data) = bbqr::join(text.lines().filter(|l| !l.trim().is_empty()))
            .map_err(|e| CliError::new(Code::MalformedTx, format!("BBQr frames: {e}")))?;
        return match ty {
            'T' => Transaction::deserialize(&data)
                .map_err(|e| CliError::new(Code::MalformedTx, format!("not a transaction: {e}"))),
            'P' => super::psbt_roles::extract_checked(&super::psbt::parse_psbt(&data)?),
            other => Err(CliError::new(
                Code::MalformedTx,
                format!("BBQr frames of type {other:?}: expected T (transaction) or P (PSBT)"),
            )),
        };
    }
    if let Ok(tx) = Transaction::from_hex(text) {
        return Ok(tx);
    }
    if text.starts_with("cHNidP8") || text.to_ascii_lowercase().starts_with("70736274ff") {
        let psbt = super::psbt::parse_psbt(text.as_bytes())?;
        return super::psbt_roles::extract_checked(&psbt);
    }
    Err(not_a_tx())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full-size frame from a 400-input transaction, seen in CI, that qrcode's own
    /// segmentation could not fit: `fdffffff`, an input's sequence, is `77775` and the like
    /// in Base32, and it made those digit runs numeric segments that cost more than they
    /// saved. In one alphanumeric segment it fits.
    #[test]
    fn a_frame_with_digit_runs_fits_the_largest_version() {
        let frame = include_str!("../../fixtures/bbqr_frame_digit_runs.txt").trim();
        assert_eq!(frame.len(), 752);
        assert!(
            QrCode::with_version(frame.as_bytes(), Version::Normal(15), EcLevel::L).is_err(),
            "the case this guards against"
        );
        assert!(fits(frame, MAX_QR_VERSION));
        assert!(render(frame).is_ok());
        assert_eq!(capacity(MAX_QR_VERSION), 758);
    }
}
