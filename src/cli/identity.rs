//! `ferry identity`: this install's identity key (`DATA_DIR/identity.key`), created on first
//! use; `ferry identity import` replaces it with an existing Nostr secret key read from stdin
//! (never argv).

use std::io::Read;

use clap::{Args, Subcommand};
use dialoguer::Password;
use serde::Serialize;
use zeroize::Zeroizing;

use super::code::Code;
use super::{CliError, Ctx, prompts, warn_loose_permissions};
use ferry::identity::{self, IDENTITY_FILE, IdentityKey};

/// `ferry identity` options.
#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// What to do (default: show the key).
    #[command(subcommand)]
    command: Option<IdentityCommand>,
}

/// `ferry identity …`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Use an existing Nostr secret key (hex or nsec1…, read from stdin or asked hidden).
    Import {
        /// Replace an existing identity key.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Serialize)]
struct IdentityView {
    key: String,
    npub: String,
}

impl IdentityView {
    fn new(key: &IdentityKey) -> Self {
        Self {
            key: key.public_hex(),
            npub: key.npub(),
        }
    }

    fn to_text(&self) -> String {
        format!("key   {}\nnpub  {}", self.key, self.npub)
    }
}

pub(super) fn run(ctx: &Ctx, args: IdentityArgs) -> Result<(), CliError> {
    let path = ctx.data_dir()?.join(IDENTITY_FILE);
    match args.command {
        None => {
            let (key, created) = identity::load_or_create(&path)?;
            if created {
                prompts::say(&format!(
                    "Created this install's identity key in {} (not related to any wallet's funds).",
                    path.display()
                ));
            } else {
                warn_loose_permissions(&path);
            }
            ctx.out
                .emit(&IdentityView::new(&key), IdentityView::to_text)
        }
        Some(IdentityCommand::Import { force }) => {
            if path.exists() && !force {
                return Err(identity::IdentityError::Exists(path.display().to_string()).into());
            }
            let text = if ctx.interactive {
                Zeroizing::new(
                    Password::new()
                        .with_prompt("Nostr secret key, hex or nsec1… (input hidden)")
                        .interact()
                        .map_err(prompts::prompt_error)?,
                )
            } else {
                let mut s = Zeroizing::new(String::new());
                std::io::stdin().read_to_string(&mut s).map_err(|e| {
                    CliError::new(
                        Code::BadInput,
                        format!("cannot read the key from stdin: {e}"),
                    )
                })?;
                s
            };
            let key = IdentityKey::parse_secret(&text)?;
            identity::import(&path, &key, force)?;
            ctx.out
                .emit(&IdentityView::new(&key), IdentityView::to_text)
        }
    }
}
