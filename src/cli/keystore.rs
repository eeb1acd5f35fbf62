//! `ferry keystore verify`: checks that the keystore decrypts with the password (asked on a
//! terminal, or `FERRY_PASSWORD`). Reads only; changes nothing on disk.

use std::time::Instant;

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Ctx, prompts};

/// `ferry keystore …`
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// Check your password and that the keystore decrypts.
    Verify,
}

#[derive(Debug, Serialize)]
struct Verified<'a> {
    wallet: &'a str,
    ok: bool,
    words: usize,
    bip39_passphrase: bool,
    unlock_ms: u128,
}

pub(super) fn run(ctx: &Ctx, cmd: KeystoreCommand) -> Result<(), CliError> {
    match cmd {
        KeystoreCommand::Verify => {
            let wallet = ctx.open_wallet()?;
            if wallet.is_watch_only() {
                return Err(super::sign::watch_only_error());
            }
            let password = prompts::existing_password(ctx.interactive)?;
            let started = Instant::now();
            let secret = wallet.unlock(&password)?;
            let unlock_ms = started.elapsed().as_millis();
            let view = Verified {
                wallet: wallet.name(),
                ok: true,
                words: secret.mnemonic.split_whitespace().count(),
                bip39_passphrase: !secret.passphrase.is_empty(),
                unlock_ms,
            };
            drop(secret);
            ctx.out.emit(&view, |v| {
                format!(
                    "The keystore of wallet {:?} decrypts with this password ({} words{}; unlocked in {} ms).",
                    v.wallet,
                    v.words,
                    if v.bip39_passphrase { ", with a BIP39 passphrase" } else { "" },
                    v.unlock_ms
                )
            })
        }
    }
}
