//! `ferry create --watch-only --descriptor DESC [--change-descriptor DESC] [--network N]`:
//! a wallet without secrets, from public descriptors ([`ferry::wallet::watch_only`]).
//! Address, balance, history, utxos and `psbt create` work; `sign` and `send` say it is
//! watch-only.

use serde::Serialize;

use super::code::Code;
use super::create::CreateArgs;
use super::{CliError, Ctx};
use ferry::network::Network;
use ferry::wallet::watch_only::{WatchOnlyError, account_from_descriptors, create_watch_only};

#[derive(Debug, Serialize)]
struct WatchOnlyCreated<'a> {
    wallet: &'a str,
    network: &'static str,
    address_type: &'static str,
    watch_only: bool,
    master_fingerprint: String,
    receive: String,
    change: String,
}

/// Creates the watch-only wallet; nothing is written unless the descriptors are good.
pub fn create(ctx: &Ctx, args: &CreateArgs, network: Option<Network>) -> Result<(), CliError> {
    let paths = ctx.wallet_paths()?;
    let receive = args.descriptor.as_deref().ok_or_else(|| {
        CliError::new(Code::BadDescriptor, "--watch-only needs --descriptor DESC")
    })?;
    let account = account_from_descriptors(receive, args.change_descriptor.as_deref(), network)
        .map_err(|e| {
            let code = match e {
                WatchOnlyError::MissingChecksum | WatchOnlyError::Descriptor(_) => {
                    Code::BadDescriptor
                }
                WatchOnlyError::Network(_) => Code::WrongNetwork,
                _ => Code::UnsupportedDescriptor,
            };
            CliError::new(code, e)
        })?;
    create_watch_only(&paths, &account)?;
    let view = WatchOnlyCreated {
        wallet: &paths.name,
        network: account.network.name(),
        address_type: account.address_type.name(),
        watch_only: true,
        master_fingerprint: account.master_fingerprint.to_string(),
        receive: account.receive.to_string(),
        change: account.change.to_string(),
    };
    ctx.out.emit(&view, |v| {
        format!(
            "Watch-only wallet {:?} is ready: {} addresses on {} (master fingerprint {}). It has no keys: make PSBTs with `ferry psbt create` and sign them where the keys are.",
            v.wallet, v.address_type, v.network, v.master_fingerprint
        )
    })
}
