//! `ferry address`: the next receive (or change) address not handed out yet, recorded as
//! handed out, or the one at an index. Reads `wallet.sqlite` only: never the password.

use clap::Args;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde::Serialize;

use super::code::Code;
use super::{CliError, Ctx};
use ferry::keys::KeyChain;
use ferry::script::AddressType;
use ferry::wallet::WalletAddress;

/// `ferry address` options.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// The address at this index instead of the next unused one.
    #[arg(long)]
    index: Option<u32>,
    /// A change address (internal chain) instead of a receive address.
    #[arg(long)]
    change: bool,
    /// Also draw the address as a QR code in the terminal.
    #[arg(long)]
    qr: bool,
}

/// The JSON shape of an address (DESIGN.md section 3).
#[derive(Debug, Serialize)]
pub struct AddressView {
    address: String,
    path: String,
    index: u32,
    change: bool,
    script_pubkey: String,
}

impl From<&WalletAddress> for AddressView {
    fn from(a: &WalletAddress) -> Self {
        Self {
            address: a.address.clone(),
            path: a.path.to_string(),
            index: a.index,
            change: a.chain == KeyChain::Change,
            script_pubkey: a.script_pubkey.to_hex(),
        }
    }
}

/// Draws `text` as a QR code with Unicode half blocks (two modules per character cell).
/// Bech32 addresses are upper-cased first: QR's alphanumeric mode makes the code smaller,
/// and BIP-0173 allows the upper-case form.
pub fn qr_text(text: &str, address_type: AddressType) -> Result<String, CliError> {
    let data = match address_type {
        AddressType::P2wpkh | AddressType::P2tr => text.to_uppercase(),
        AddressType::P2pkh | AddressType::P2shP2wpkh => text.to_owned(),
    };
    let code = QrCode::new(data.as_bytes()).map_err(CliError::internal)?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build())
}

pub(super) fn run(ctx: &Ctx, args: AddressArgs) -> Result<(), CliError> {
    let wallet = ctx.open_wallet()?;
    let chain = if args.change {
        KeyChain::Change
    } else {
        KeyChain::Receive
    };
    if args.index.is_some_and(|i| i >= 1 << 31) {
        return Err(CliError::new(
            Code::BadIndex,
            "--index must be below 2147483648 (2^31, where hardened indexes start)",
        ));
    }
    let addr = wallet.hand_out(chain, args.index)?;
    let view = AddressView::from(&addr);
    let qr = if args.qr && !ctx.json {
        Some(qr_text(&addr.address, wallet.account().address_type)?)
    } else {
        None
    };
    ctx.out.emit(&view, |v| match qr {
        Some(q) => format!("{q}\n{}", v.address),
        None => v.address.clone(),
    })
}
