//! `ferry labels export FILE` / `ferry labels import FILE`: the wallet's labels as BIP-0329
//! JSON Lines (`-` for stdout/stdin). An import with any bad line is refused whole, every
//! bad line named by number, unless `--skip-bad`; lines of types the BIP does not define
//! are ignored, as the BIP says, and listed. See docs/labels.md.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferry::wallet::labels::parse_file;
use serde::Serialize;

use super::code::Code;
use super::{CliError, Ctx};

/// `ferry labels` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Write every label as BIP-0329 JSON Lines to FILE (`-`: stdout).
    Export(ExportArgs),
    /// Read BIP-0329 JSON Lines from FILE (`-`: stdin) into the wallet.
    Import(ImportArgs),
}

/// `ferry labels export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write (mode 0600: labels say a lot about you), or `-` for stdout.
    file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

/// `ferry labels import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to read, or `-` for stdin.
    file: String,
    /// Import the good lines of a file with bad ones, and list the lines skipped.
    #[arg(long)]
    skip_bad: bool,
}

#[derive(Serialize)]
struct LineNote {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    r#type: Option<String>,
    reason: String,
}

#[derive(Serialize)]
struct Imported {
    imported: usize,
    ignored: Vec<LineNote>,
    skipped: Vec<LineNote>,
}

#[derive(Serialize)]
struct Exported {
    exported: usize,
    file: String,
}

/// Shows a label on one line: control characters escaped.
pub fn printable(label: &str) -> String {
    if label.chars().any(char::is_control) {
        label.escape_debug().to_string()
    } else {
        label.to_owned()
    }
}

pub(super) fn run(ctx: &Ctx, cmd: LabelsCommand) -> Result<(), CliError> {
    match cmd {
        LabelsCommand::Export(args) => export(ctx, args),
        LabelsCommand::Import(args) => import(ctx, args),
    }
}

fn export(ctx: &Ctx, args: ExportArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    let text = wallet.export_labels()?;
    let count = text.lines().count();
    if args.file.as_os_str() == "-" {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match out.write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::internal(e)),
            _ => Ok(()),
        };
    }
    if args.file.exists() && !args.force {
        return Err(CliError::new(
            Code::FileExists,
            format!(
                "{} exists already: choose another file or pass --force (nothing was written)",
                args.file.display()
            ),
        ));
    }
    ferry::fs::write_atomic(&args.file, text.as_bytes(), 0o600).map_err(|e| {
        CliError::new(
            Code::CannotWrite,
            format!("cannot write {}: {e}", args.file.display()),
        )
    })?;
    let report = Exported {
        exported: count,
        file: args.file.display().to_string(),
    };
    ctx.out.emit(&report, |r| {
        let s = if r.exported == 1 { "" } else { "s" };
        format!(
            "wrote {} record{s} to {} (BIP-0329 JSON Lines)",
            r.exported, r.file
        )
    })
}

fn import(ctx: &Ctx, args: ImportArgs) -> Result<(), CliError> {
    let bytes = super::input::file_or_stdin(&args.file, "the labels file")?;
    let mut wallet = ctx.open_wallet()?;
    let parsed = parse_file(&bytes, wallet.network());
    let ignored: Vec<LineNote> = parsed
        .ignored
        .iter()
        .map(|(line, t)| LineNote {
            line: *line,
            r#type: Some(t.clone()),
            reason: format!("type {t:?} is not defined by BIP-0329: ignored, as the BIP says"),
        })
        .collect();
    let bad: Vec<LineNote> = parsed
        .bad
        .iter()
        .map(|(line, e)| LineNote {
            line: *line,
            r#type: None,
            reason: e.to_string(),
        })
        .collect();
    let name = if args.file == "-" {
        "stdin"
    } else {
        &args.file
    };
    if !bad.is_empty() && !args.skip_bad {
        let lines: Vec<String> = bad
            .iter()
            .map(|b| format!("  line {}: {}", b.line, b.reason))
            .collect();
        let report = serde_json::json!({ "bad_lines": bad, "ignored": ignored });
        return Err(CliError::new(
            Code::BadLabelFile,
            format!(
                "{name}: {} bad line{}, nothing was imported:\n{}\nfix them, or pass --skip-bad to import the {} good record{}",
                bad.len(),
                if bad.len() == 1 { "" } else { "s" },
                lines.join("\n"),
                parsed.records.len(),
                if parsed.records.len() == 1 { "" } else { "s" },
            ),
        )
        .with_report(report));
    }
    let records: Vec<_> = parsed.records.into_iter().map(|(_, r)| r).collect();
    wallet.put_labels(&records)?;
    let report = Imported {
        imported: records.len(),
        ignored,
        skipped: bad,
    };
    ctx.out.emit(&report, |r| {
        let s = if r.imported == 1 { "" } else { "s" };
        let mut text = format!("imported {} record{s} from {name}", r.imported);
        for n in &r.ignored {
            text.push_str(&format!("\nline {}: {}", n.line, n.reason));
        }
        for n in &r.skipped {
            text.push_str(&format!("\nline {}: skipped: {}", n.line, n.reason));
        }
        text
    })
}
