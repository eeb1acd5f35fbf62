//! `ferry restore`: a wallet from its mnemonic, typed hidden on a terminal or given as one
//! line on stdin. Errors name the one wrong word (with the closest list word), never the
//! whole phrase.

use std::io::BufRead;

use clap::Args;
use zeroize::Zeroizing;

use super::code::Code;
use super::create::{WalletCreated, refuse_existing};
use super::{CliError, Ctx, prompts};
use ferry::keys::{Mnemonic, MnemonicError};
use ferry::network::Network;
use ferry::script::AddressType;
use ferry::wallet::keystore::KdfParams;
use ferry::wallet::{NewWallet, create_wallet};

/// `ferry restore` options.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Read the mnemonic as one line from stdin (the default when stdin is not a terminal).
    #[arg(long)]
    mnemonic_stdin: bool,
    /// Network: bitcoin, testnet, testnet4, signet, regtest (asked on a terminal; default bitcoin).
    #[arg(long)]
    network: Option<Network>,
    /// Address type: p2wpkh, p2tr, p2sh-p2wpkh or p2pkh (asked on a terminal; default p2wpkh).
    #[arg(long)]
    address_type: Option<AddressType>,
    /// The wallet has a BIP39 passphrase (prompted, or FERRY_BIP39_PASSPHRASE).
    #[arg(long)]
    bip39_passphrase: bool,
    /// Replace an existing wallet of this name; its files are kept as *.bak-<time>.
    #[arg(long)]
    force: bool,
}

fn mnemonic_error(e: &MnemonicError) -> CliError {
    CliError::new(Code::BadMnemonic, format!("{e}; nothing was written"))
}

fn read_stdin_line() -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::new(
            Code::BadInput,
            format!("cannot read the mnemonic from stdin: {e}"),
        )
    })?;
    if line.trim().is_empty() {
        return Err(CliError::new(
            Code::BadMnemonic,
            "no mnemonic on stdin: give the words as one line, or run in a terminal",
        ));
    }
    Ok(line)
}

fn ask_until_valid() -> Result<Mnemonic, CliError> {
    const TRIES: usize = 5;
    for _ in 1..TRIES {
        let phrase = prompts::ask_mnemonic()?;
        match Mnemonic::parse(&phrase) {
            Ok(m) => return Ok(m),
            Err(e) => prompts::say(&format!("{e}. Try again.")),
        }
    }
    let phrase = prompts::ask_mnemonic()?;
    Mnemonic::parse(&phrase).map_err(|e| mnemonic_error(&e))
}

pub(super) fn run(ctx: &Ctx, args: RestoreArgs) -> Result<(), CliError> {
    let paths = ctx.wallet_paths()?;
    refuse_existing(&paths, args.force)?;
    prompts::require_password_source(ctx.interactive)?;
    let from_stdin = args.mnemonic_stdin || !ctx.interactive;
    let mnemonic = if from_stdin {
        let line = read_stdin_line()?;
        Mnemonic::parse(&line).map_err(|e| mnemonic_error(&e))?
    } else {
        ask_until_valid()?
    };
    // Questions need the terminal on stdin; with the words piped in there is none to ask.
    let interactive = ctx.interactive && !args.mnemonic_stdin;
    let network = prompts::network(interactive, args.network)?;
    let address_type = prompts::address_type(interactive, network, args.address_type)?;
    let passphrase = prompts::bip39_passphrase(
        interactive,
        args.bip39_passphrase,
        "Was this wallet made with a BIP39 passphrase?",
        false,
    )?;
    let password = prompts::new_password(interactive)?;
    let created = create_wallet(
        &paths,
        &NewWallet {
            mnemonic: &mnemonic,
            passphrase: &passphrase,
            network,
            address_type,
            password: &password,
            kdf: KdfParams::DEFAULT,
            force: args.force,
        },
    )?;
    let view = WalletCreated::new(&paths, &created, None);
    ctx.out.emit(&view, WalletCreated::to_text)
}
