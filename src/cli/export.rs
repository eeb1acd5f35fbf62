//! `ferry export descriptors`: the wallet's watch-only output descriptors, with key origin
//! and checksum, for Bitcoin Core's `importdescriptors` or Sparrow. Never the password.

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Ctx};

/// `ferry export …`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The receive and change descriptors (public, watch-only).
    Descriptors,
}

#[derive(Debug, Serialize)]
struct Descriptors {
    receive: String,
    change: String,
}

pub(super) fn run(ctx: &Ctx, cmd: ExportCommand) -> Result<(), CliError> {
    match cmd {
        ExportCommand::Descriptors => {
            let wallet = ctx.open_wallet()?;
            let view = Descriptors {
                receive: wallet.account().receive.to_string(),
                change: wallet.account().change.to_string(),
            };
            ctx.out.emit(&view, |d| {
                format!(
                    "{}\n{}\n\n# Bitcoin Core: importdescriptors '[{{\"desc\":\"{}\",\"timestamp\":\"now\",\"active\":true,\"internal\":false}},{{\"desc\":\"{}\",\"timestamp\":\"now\",\"active\":true,\"internal\":true}}]'",
                    d.receive, d.change, d.receive, d.change
                )
            })
        }
    }
}
