//! The command line: parses arguments into a [`Cli`], runs one command, renders the
//! result for a person or as one JSON document (`--json`). This is the only layer that
//! prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod address;
mod balance;
mod broadcast;
mod bump;
mod chain;
mod code;
mod completions;
mod cpfp;
mod create;
mod demo;
mod devnet;
mod error;
mod export;
mod fan_out;
mod friends;
mod handoff;
mod identity;
mod input;
mod keystore;
mod label;
mod labels;
mod output;
mod p2p;
mod prompts;
mod psbt;
mod psbt_create;
mod psbt_roles;
mod relay;
mod restore;
mod send;
mod sign;
mod tx;
mod uri;
mod wallets;
mod watch_only;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::{CliError, Code};
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

    /// Reach friends' relays through this SOCKS5 proxy (socks5h://HOST:PORT resolves names
    /// at the proxy, as Tor's .onion addresses need; socks5://… resolves them locally).
    #[arg(long, global = true, env = "FERRY_PROXY", value_name = "URL")]
    pub proxy: Option<String>,

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
    /// Create a new wallet (interactive on a terminal).
    Create(create::CreateArgs),
    /// Restore a wallet from its mnemonic.
    Restore(restore::RestoreArgs),
    /// Show a receive (or change) address; never asks for the password.
    Address(address::AddressArgs),
    /// Export watch-only data.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Show (creating on first use) this install's identity key, or import one.
    Identity(identity::IdentityArgs),
    /// List the wallets in the data directory.
    Wallets,
    /// Check the wallet's keystore.
    #[command(subcommand)]
    Keystore(keystore::KeystoreCommand),
    /// Inspect transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// The whole story on a throw-away local devnet, narrated, in one command.
    Demo(demo::DemoArgs),
    /// PSBTs (BIP-0174, BIP-0370): create, decode, combine, finalize, extract.
    #[command(subcommand)]
    Psbt(psbt::PsbtCommand),
    /// Sign a PSBT from any wallet with this wallet's keys (offline).
    Sign(sign::SignArgs),
    /// Run the embedded local regtest chain with an Esplora API.
    Devnet(devnet::DevnetArgs),
    /// Label a transaction, address or output (BIP-0329); an empty TEXT removes it.
    Label(label::LabelArgs),
    /// Export or import the wallet's labels as BIP-0329 JSON Lines.
    #[command(subcommand)]
    Labels(labels::LabelsCommand),
    /// Sync, then show the wallet's balance (sats).
    Balance(balance::ReportArgs),
    /// Sync, then list the wallet's unspent coins.
    Utxos(balance::ReportArgs),
    /// Sync, then list the wallet's transactions.
    History(balance::ReportArgs),
    /// Pay an address: build, confirm, sign, broadcast.
    Send(send::SendArgs),
    /// Push an already-signed transaction.
    Broadcast(broadcast::BroadcastArgs),
    /// Replace an unconfirmed payment with one paying a higher fee rate (BIP-0125).
    Bump(bump::BumpArgs),
    /// Run a relay for friends, or ask one about a transaction.
    #[command(subcommand)]
    Relay(relay::RelayCommand),
    /// Your friends' relays and keys.
    #[command(subcommand)]
    Friends(friends::FriendsCommand),
}

/// What every command may need: where data lives, which wallet, how to print, and whether a
/// person can answer prompts.
#[derive(Debug)]
pub struct Ctx {
    /// The data directory (`None` if there is no home directory to put it in).
    data_dir: Option<PathBuf>,
    /// The `--wallet` name.
    pub wallet: String,
    /// The output mode.
    pub out: Output,
    /// True in `--json` mode.
    pub json: bool,
    /// True if stdin and stderr are terminals.
    pub interactive: bool,
    /// The `--backend` URL.
    pub backend: Option<String>,
    /// The `--proxy` URL for relay requests, already checked by [`check_proxy`].
    pub proxy: Option<String>,
}

impl Ctx {
    /// The data directory.
    pub fn data_dir(&self) -> Result<&std::path::Path, CliError> {
        self.data_dir.as_deref().ok_or_else(|| {
            CliError::new(
                Code::NoDataDir,
                "cannot find a home directory for ferry's data: pass --data-dir or set FERRY_DATA_DIR",
            )
        })
    }

    /// The paths of the selected wallet.
    pub fn wallet_paths(&self) -> Result<ferry::wallet::WalletPaths, CliError> {
        Ok(ferry::wallet::WalletPaths::new(
            self.data_dir()?,
            &self.wallet,
        )?)
    }

    /// Opens the selected wallet (database only), warning about a keystore others may read.
    pub fn open_wallet(&self) -> Result<ferry::wallet::Wallet, CliError> {
        let wallet = ferry::wallet::Wallet::open(self.wallet_paths()?)?;
        warn_loose_permissions(&wallet.keystore_path());
        Ok(wallet)
    }
}

/// Warns on stderr when a secret file may be read by others on this machine.
pub fn warn_loose_permissions(path: &std::path::Path) {
    if let Some(mode) = ferry::wallet::files::loose_permissions(path) {
        prompts::say(&format!(
            "warning: {} has mode {mode:o}, so other users of this machine may read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
}

/// Checks a `--proxy` value: only SOCKS5 proxies are accepted, so a typo cannot silently
/// send relay traffic some other way (an `http://` proxy would see every request).
///
/// # Errors
/// A user error (exit 1) naming the accepted forms.
pub fn check_proxy(proxy: Option<&str>) -> Result<Option<String>, CliError> {
    let Some(p) = proxy else { return Ok(None) };
    let bad = || {
        CliError::new(
            Code::BadProxy,
            // The value is not echoed: it may carry a proxy password (user:pass@host).
            "--proxy is not a SOCKS5 proxy URL: use socks5h://HOST:PORT (names resolved by the proxy, as Tor needs) or socks5://HOST:PORT",
        )
    };
    let rest = p
        .strip_prefix("socks5h://")
        .or_else(|| p.strip_prefix("socks5://"))
        .ok_or_else(bad)?;
    // HOST:PORT with a non-empty host and a numeric port; reqwest would accept less.
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    reqwest::Proxy::all(p).map_err(|_| bad())?;
    Ok(Some(p.to_owned()))
}

fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "ferry").map(|d| d.data_dir().to_path_buf())
}

/// A future a command returns, run to completion by the binary's runtime.
pub type CommandFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), CliError>> + 'a>>;

/// Runs one command: the one list of commands. Those that talk to the network or serve run
/// on the tokio runtime that `block_on` (from `main.rs`, the only place one is started)
/// provides; the others run without one.
///
/// # Errors
/// A [`CliError`] whose kind decides the exit code.
pub fn run(
    cli: Cli,
    block_on: fn(CommandFuture<'_>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let proxy = check_proxy(cli.proxy.as_deref())?;
    let out = Output::new(cli.json);
    let data_dir = cli.data_dir.or_else(default_data_dir);
    let ctx = Ctx {
        data_dir: data_dir.clone(),
        wallet: cli.wallet,
        out,
        json: cli.json,
        interactive: prompts::is_interactive(),
        backend: cli.backend.clone(),
        proxy: proxy.clone(),
    };
    match cli.command {
        Command::Create(args) => create::run(&ctx, args),
        Command::Restore(args) => restore::run(&ctx, args),
        Command::Address(args) => address::run(&ctx, args),
        Command::Export(cmd) => export::run(&ctx, cmd),
        Command::Identity(args) => identity::run(&ctx, args),
        Command::Wallets => wallets::run(&ctx),
        Command::Keystore(cmd) => keystore::run(&ctx, cmd),
        Command::Tx(cmd) => tx::run(&ctx, cmd),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Psbt(cmd) => psbt::run(&ctx, cmd, block_on),
        Command::Sign(args) => sign::run(&ctx, args),
        Command::Friends(cmd) => friends::run(&ctx, cmd),
        Command::Label(args) => label::run(&ctx, args),
        Command::Labels(cmd) => labels::run(&ctx, cmd),
        Command::Devnet(args) => block_on(Box::pin(devnet::run(&ctx, args))),
        Command::Demo(args) => block_on(Box::pin(demo::run(&ctx, args))),
        Command::Balance(args) => block_on(Box::pin(balance::balance(&ctx, args))),
        Command::Utxos(args) => block_on(Box::pin(balance::utxos(&ctx, args))),
        Command::History(args) => block_on(Box::pin(balance::history(&ctx, args))),
        Command::Send(args) => block_on(Box::pin(send::send(&ctx, args))),
        Command::Broadcast(args) => block_on(Box::pin(broadcast::run(&ctx, args))),
        Command::Bump(args) => block_on(Box::pin(bump::run(&ctx, args))),
        Command::Relay(cmd) => block_on(Box::pin(relay::run(&ctx, cmd))),
    }
}

/// Returns true for the long-running servers (the devnet, a relay), which log what they do
/// at `info` by default; other commands log only warnings unless asked (`-v`).
pub fn is_service(cli: &Cli) -> bool {
    matches!(
        cli.command,
        Command::Devnet(_) | Command::Relay(relay::RelayCommand::Serve(_))
    )
}

/// Binds a listening socket for a server command; returns it with its actual address.
///
/// # Errors
/// `bind_failed` (exit 1) naming the address.
pub async fn bind(
    addr: std::net::SocketAddr,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), CliError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::new(Code::BindFailed, format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(CliError::internal)?;
    Ok((listener, local))
}

/// Resolves on Ctrl-C or SIGTERM: how the long-running commands (devnet, relay) stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM stops the devnet.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
