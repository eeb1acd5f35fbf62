//! The command line: parses arguments into a [`Cli`], runs one command, renders the
//! result for a person or as one JSON document (`--json`). This is the only layer that
//! prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod devnet;
mod error;
mod input;
mod output;
mod tx;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::CliError;
pub use output::Output;

/// ferry: pay with Bitcoin by yourself, or by asking a friend's relay.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, propagate_version = true)]
pub struct Cli {
    /// Where wallets, the identity key, friends and relay data live.
    #[arg(long, global = true, env = "FERRY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Which wallet to use.
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub wallet: String,

    /// Chain backend: an Esplora URL or core+http://… for a Bitcoin Core node.
    #[arg(long, global = true, env = "FERRY_BACKEND", value_name = "URL")]
    pub backend: Option<String>,

    /// Print one JSON document on stdout (errors too) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Run the embedded local regtest chain with an Esplora API (issue 4).
    Devnet(devnet::DevnetArgs),
}

/// Runs the parsed command, writing its result to stdout.
///
/// # Errors
/// A [`CliError`] whose kind decides the exit code.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let out = Output::new(cli.json);
    match cli.command {
        Command::Tx(cmd) => tx::run_tx(cmd, &out),
        Command::Devnet(_) => Err(CliError::internal("`devnet` runs on the async path")),
    }
}

/// Returns true if the command needs the tokio runtime main.rs starts for it.
pub fn needs_runtime(cli: &Cli) -> bool {
    matches!(cli.command, Command::Devnet(_))
}

/// Runs a command that needs the tokio runtime.
///
/// # Errors
/// A [`CliError`] whose kind decides the exit code.
pub async fn run_async(cli: Cli) -> Result<(), CliError> {
    let out = Output::new(cli.json);
    match cli.command {
        Command::Devnet(args) => devnet::run(args, cli.data_dir, &out).await,
        other => run(Cli {
            command: other,
            ..cli
        }),
    }
}
