//! `ferry friends add|list|remove`: the friends' relays and identity keys in
//! `DATA_DIR/friends.toml`, which `send --via` and a relay in friends mode read.

use clap::Subcommand;
use ferry::relay::friends::{FRIENDS_FILE, Friends};

use super::relay::friends_err;
use super::{CliError, Ctx};

/// `ferry friends …`.
#[derive(Debug, Subcommand)]
pub enum FriendsCommand {
    /// Add a friend: their relay URL and/or identity key.
    Add {
        /// A local name.
        name: String,
        /// Their relay's URL.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Their identity key (hex or npub).
        #[arg(long, value_name = "HEX|NPUB")]
        key: Option<String>,
    },
    /// List friends.
    List,
    /// Remove a friend.
    Remove {
        /// The friend's name.
        name: String,
    },
}

/// Runs `ferry friends …`.
///
/// # Errors
/// Unreadable list, duplicate or unknown names, invalid keys.
pub(super) fn run(ctx: &Ctx, cmd: FriendsCommand) -> Result<(), CliError> {
    let out = &ctx.out;
    let path = ctx.data_dir()?.join(FRIENDS_FILE);
    let mut friends = Friends::load(&path).map_err(friends_err)?;
    match cmd {
        FriendsCommand::Add { name, url, key } => {
            let f = friends
                .add(&name, url.as_deref(), key.as_deref())
                .map_err(friends_err)?
                .clone();
            friends.save(&path).map_err(friends_err)?;
            out.emit(
                &serde_json::to_value(&f).map_err(CliError::internal)?,
                |_| format!("added {}", f.name),
            )
        }
        FriendsCommand::List => {
            let v = serde_json::to_value(&friends.friends).map_err(CliError::internal)?;
            out.emit(&v, |_| {
                if friends.friends.is_empty() {
                    return "no friends yet: ferry friends add NAME --url URL --key KEY".into();
                }
                friends
                    .friends
                    .iter()
                    .map(|f| {
                        format!(
                            "{}\t{}\t{}",
                            f.name,
                            f.url.as_deref().unwrap_or("-"),
                            f.key.as_deref().unwrap_or("-")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        FriendsCommand::Remove { name } => {
            let f = friends.remove(&name).map_err(friends_err)?;
            friends.save(&path).map_err(friends_err)?;
            out.emit(&Removed { removed: f.name }, |r| {
                format!("removed {}", r.removed)
            })
        }
    }
}

/// What `ferry friends remove --json` prints.
#[derive(Debug, serde::Serialize)]
struct Removed {
    removed: String,
}
