//! The command line: parses arguments into a [`Cli`], runs one command, renders the
//! result for a person or as one JSON document (`--json`). This is the only layer that
//! prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod demo;
mod error;
mod input;
mod output;
mod psbt;
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
    /// The story so far, narrated, in one command.
    Demo,
    /// Inspect PSBTs (BIP-0174).
    #[command(subcommand)]
    Psbt(psbt::PsbtCommand),
}

/// Runs the parsed command, writing its result to stdout.
///
/// # Errors
/// A [`CliError`] whose kind decides the exit code.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let out = Output::new(cli.json);
    match cli.command {
        Command::Tx(cmd) => tx::run_tx(cmd, &out),
        Command::Psbt(cmd) => psbt::run_psbt(cmd, &out),
        Command::Demo => demo::run_demo(&out),
    }
}
