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
use ferry::wallet::labels::LabelType;

/// `ferry address` options.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// The address at this index instead of the next unused one.
    #[arg(long)]
    index: Option<u32>,
    /// A change address (internal chain) instead of a receive address.
    #[arg(long)]
    change: bool,
    /// Also draw the address (or the --uri) as a QR code in the terminal.
    #[arg(long)]
    qr: bool,
    /// Print a BIP-0021 payment URI (bitcoin:ADDRESS?amount=…&label=…).
    #[arg(long)]
    uri: bool,
    /// With --uri: the amount to ask for, with its unit (e.g. 150000sat, 0.0015btc).
    #[arg(long, requires = "uri")]
    amount: Option<String>,
    /// Label the address (BIP-0329, kept in the wallet); with --uri it is also the URI's
    /// label for the payer's wallet.
    #[arg(long)]
    label: Option<String>,
}

/// The JSON shape of an address (DESIGN.md section 3).
#[derive(Debug, Serialize)]
pub struct AddressView {
    address: String,
    path: String,
    index: u32,
    change: bool,
    script_pubkey: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    /// The address's label (BIP-0329).
    label: Option<String>,
}

impl From<&WalletAddress> for AddressView {
    fn from(a: &WalletAddress) -> Self {
        Self {
            address: a.address.clone(),
            path: a.path.to_string(),
            index: a.index,
            change: a.chain == KeyChain::Change,
            script_pubkey: a.script_pubkey.to_hex(),
            uri: None,
            label: None,
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

/// The address `hand_out` will give, so that a bad `--amount` is refused before anything
/// is recorded.
fn addr_preview(
    wallet: &ferry::wallet::Wallet,
    chain: KeyChain,
    index: Option<u32>,
) -> Result<String, CliError> {
    let index = match index {
        Some(i) => i,
        None => wallet.next_unused_index(chain)?,
    };
    Ok(wallet.address_at(chain, index)?.address)
}

pub(super) fn run(ctx: &Ctx, args: AddressArgs) -> Result<(), CliError> {
    let mut wallet = ctx.open_wallet()?;
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
    if let Some(l) = &args.label {
        super::label::check_text(l)?;
    }
    let uri = args
        .uri
        .then(|| {
            super::uri::receive_uri(
                &addr_preview(&wallet, chain, args.index)?,
                args.amount.as_deref(),
                args.label.as_deref(),
            )
        })
        .transpose()?;
    let addr = wallet.hand_out(chain, args.index)?;
    let mut view = AddressView::from(&addr);
    if let Some(label) = args.label.as_deref().filter(|l| !l.is_empty()) {
        let record = wallet
            .label_record(LabelType::Addr, &addr.address, label)
            .map_err(super::label::ref_error)?;
        wallet.put_labels(&[record])?;
    }
    view.label = wallet.label_of(LabelType::Addr, &addr.address)?;
    view.uri = uri;
    let shown = view.uri.clone().unwrap_or_else(|| view.address.clone());
    let qr = if args.qr && !ctx.json {
        Some(match &view.uri {
            // A URI keeps its case: only the address part may be upper-cased, and some
            // wallets read the scheme case-sensitively; so it is drawn as written.
            Some(u) => qr_text(u, AddressType::P2pkh)?,
            None => qr_text(&addr.address, wallet.account().address_type)?,
        })
    } else {
        None
    };
    let label = view
        .label
        .as_deref()
        .map(|l| format!("\nlabel: {}", super::labels::printable(l)))
        .unwrap_or_default();
    ctx.out.emit(&view, |_| match qr {
        Some(q) => format!("{q}\n{shown}{label}"),
        None => format!("{shown}{label}"),
    })
}
