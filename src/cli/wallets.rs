//! `ferry wallets`: the wallets in the data directory, with network and address type.

use serde::Serialize;

use super::{CliError, Ctx};
use ferry::wallet::list_wallets;

#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_type: Option<String>,
    watch_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(super) fn run(ctx: &Ctx) -> Result<(), CliError> {
    let list: Vec<Entry> = list_wallets(ctx.data_dir()?)?
        .into_iter()
        .map(|w| match w.account {
            Ok((network, address_type)) => Entry {
                name: w.name,
                network: Some(network.to_string()),
                address_type: Some(address_type.to_string()),
                watch_only: w.watch_only,
                error: None,
            },
            Err(e) => Entry {
                name: w.name,
                network: None,
                address_type: None,
                watch_only: w.watch_only,
                error: Some(e),
            },
        })
        .collect();
    ctx.out.emit(&list, |list| {
        if list.is_empty() {
            return "No wallets yet: create one with `ferry create`.".to_owned();
        }
        list.iter()
            .map(|e| match (&e.network, &e.address_type, &e.error) {
                (Some(n), Some(t), _) => format!(
                    "{:<20} {:<10} {}{}",
                    e.name,
                    n,
                    t,
                    if e.watch_only { "  (watch-only)" } else { "" }
                ),
                (_, _, err) => format!(
                    "{:<20} unreadable: {}",
                    e.name,
                    err.as_deref().unwrap_or("?")
                ),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
