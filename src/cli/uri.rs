//! BIP-0021 payment URIs on the command line: `ferry send 'bitcoin:ADDR?amount=…'` (the
//! amount and label taken from the URI; an amount on the command line too must agree) and
//! `ferry address --uri [--amount A] [--label L]`.

use ferry::script::bip21::{Bip21Error, PaymentUri, is_uri};
use ferry::units::Amount;
use ferry::wallet::Wallet;
use ferry::wallet::labels::LabelType;

use super::CliError;
use super::code::Code;

/// What to pay, once a URI (if it is one) is read.
#[derive(Debug)]
pub struct Payee {
    /// The address text.
    pub address: String,
    /// The amount text for `send`'s usual parsing (`NNNsat` when it came from the URI).
    pub amount: Option<String>,
    /// The URI's label, if any.
    pub label: Option<String>,
}

fn uri_error(e: Bip21Error) -> CliError {
    let code = match e {
        Bip21Error::UnknownRequired(_) => Code::UnsupportedUri,
        _ => Code::BadUri,
    };
    CliError::new(code, e)
}

/// Reads `send`'s ADDRESS argument: a plain address passes through; a `bitcoin:` URI gives
/// its address, amount and label. An amount both in the URI and on the command line must be
/// the same amount; `--max` with a URI amount is refused.
///
/// # Errors
/// `bad_uri`, `unsupported_uri` (a `req-` parameter), `bad_amount` or `amount_conflict`.
pub fn payee(address: &str, amount: Option<&str>, max: bool) -> Result<Payee, CliError> {
    if !is_uri(address) {
        return Ok(Payee {
            address: address.to_owned(),
            amount: amount.map(str::to_owned),
            label: None,
        });
    }
    let uri = PaymentUri::parse(address).map_err(uri_error)?;
    let amount = match (uri.amount, amount) {
        (Some(_), _) if max => {
            return Err(CliError::new(
                Code::AmountConflict,
                "the payment URI asks for an amount: --max would pay something else",
            ));
        }
        (Some(asked), Some(given)) => {
            let given_amount: Amount = given
                .parse()
                .map_err(|e| CliError::new(Code::BadAmount, e))?;
            if given_amount != asked {
                return Err(CliError::new(
                    Code::AmountConflict,
                    format!(
                        "the payment URI asks for {asked} ({} BTC) but the command line says {given_amount}: nothing was sent",
                        asked.to_btc_string()
                    ),
                ));
            }
            Some(format!("{}sat", asked.to_sat()))
        }
        (Some(asked), None) => Some(format!("{}sat", asked.to_sat())),
        (None, given) => given.map(str::to_owned),
    };
    Ok(Payee {
        address: uri.address,
        amount,
        label: uri.label,
    })
}

/// Keeps the labels of a payment (BIP-0329): `label` (`send --label`), else the payment
/// URI's label, on the recipient's address and, when the transaction is known, on it.
///
/// # Errors
/// A database error, or a reference that does not check (not expected: both were
/// checked before the payment was built).
pub fn remember_label(
    wallet: &mut Wallet,
    payee: &Payee,
    label: Option<&str>,
    txid: Option<&ferry::tx::Txid>,
) -> Result<(), CliError> {
    let Some(label) = label.or(payee.label.as_deref()).filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let mut records = vec![
        wallet
            .label_record(LabelType::Addr, &payee.address, label)
            .map_err(super::label::ref_error)?,
    ];
    if let Some(txid) = txid {
        records.push(
            wallet
                .label_record(LabelType::Tx, &txid.to_string(), label)
                .map_err(super::label::ref_error)?,
        );
    }
    wallet.put_labels(&records)?;
    Ok(())
}

/// Builds the URI `ferry address --uri` prints.
///
/// # Errors
/// `bad_amount` for an amount without a unit.
pub fn receive_uri(
    address: &str,
    amount: Option<&str>,
    label: Option<&str>,
) -> Result<String, CliError> {
    let amount = amount
        .map(|a| {
            a.parse::<Amount>()
                .map_err(|e| CliError::new(Code::BadAmount, e))
        })
        .transpose()?;
    Ok(PaymentUri {
        address: address.to_owned(),
        amount,
        label: label.map(str::to_owned),
        ..PaymentUri::default()
    }
    .to_string())
}
