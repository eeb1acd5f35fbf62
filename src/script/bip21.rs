//! BIP-0021 payment URIs: `bitcoin:ADDRESS?amount=0.001&label=…&message=…`.
//!
//! [`PaymentUri::parse`] reads one strictly: the scheme in any case, an address (not checked
//! here: the caller checks it against its network), `amount` in BTC as a plain decimal
//! (at most 8 decimals, at most 21 million), `label` and `message` percent-decoded as UTF-8,
//! and any parameter named `req-…` refused, as BIP-0021 requires of a client that does not
//! know it. A parameter given twice is refused. [`PaymentUri::to_string`] writes one.
//!
//! [BIP-0021]: https://github.com/bitcoin/bips/blob/master/bip-0021.mediawiki

use std::fmt;

use crate::units::Amount;

/// The most bitcoin there will ever be, in satoshis.
const MAX_MONEY_SAT: u64 = 21_000_000 * 100_000_000;

/// Why a payment URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Bip21Error {
    /// Not a `bitcoin:` URI.
    #[error("not a bitcoin: payment URI")]
    NotBitcoinUri,
    /// No address after `bitcoin:`.
    #[error("the payment URI has no address")]
    MissingAddress,
    /// The amount is not a plain BTC decimal within range.
    #[error(
        "invalid amount {0:?} in the payment URI: it must be in BTC, like 0.001, with at most 8 decimals"
    )]
    InvalidAmount(String),
    /// A `%` escape that is not two hex digits, or text that is not UTF-8.
    #[error("invalid percent-encoding in parameter {0:?}")]
    InvalidEncoding(String),
    /// A parameter appears twice.
    #[error("parameter {0:?} appears twice in the payment URI")]
    Duplicate(String),
    /// A required parameter this wallet does not understand (BIP-0021: the whole URI is
    /// then invalid).
    #[error(
        "the payment URI requires {0:?}, which ferry does not understand, so it must not pay it (BIP-0021)"
    )]
    UnknownRequired(String),
}

/// A parsed `bitcoin:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentUri {
    /// The address, as written (check it against the network before paying).
    pub address: String,
    /// The amount asked for.
    pub amount: Option<Amount>,
    /// A label for the recipient.
    pub label: Option<String>,
    /// A message for the payer.
    pub message: Option<String>,
    /// Other parameters (not `req-`), decoded, kept in order.
    pub other: Vec<(String, String)>,
}

/// Returns true if `s` starts with the `bitcoin:` scheme (in any case).
pub fn is_uri(s: &str) -> bool {
    s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("bitcoin:"))
}

fn percent_decode(key: &str, s: &str) -> Result<String, Bip21Error> {
    let bad = || Bip21Error::InvalidEncoding(key.to_owned());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses a BTC decimal (`1`, `0.001`, `.5`) into an amount.
fn parse_btc(s: &str) -> Result<Amount, Bip21Error> {
    let bad = || Bip21Error::InvalidAmount(s.to_owned());
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || frac.len() > 8
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|c| c.is_ascii_digit())
        || whole.len() > 8
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = format!("{frac:0<8}").parse().map_err(|_| bad())?;
    let sat = whole * 100_000_000 + frac;
    if sat > MAX_MONEY_SAT {
        return Err(bad());
    }
    Ok(Amount::from_sat(sat))
}

impl PaymentUri {
    /// Parses a `bitcoin:` URI.
    ///
    /// # Errors
    /// [`Bip21Error`] naming what is wrong.
    pub fn parse(s: &str) -> Result<Self, Bip21Error> {
        let s = s.trim();
        if !is_uri(s) {
            return Err(Bip21Error::NotBitcoinUri);
        }
        let rest = &s[8..];
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        if address.is_empty() {
            return Err(Bip21Error::MissingAddress);
        }
        let mut uri = PaymentUri {
            address: percent_decode("address", address)?,
            ..PaymentUri::default()
        };
        let mut seen = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let key = key.to_ascii_lowercase();
            if seen.contains(&key) {
                return Err(Bip21Error::Duplicate(key));
            }
            seen.push(key.clone());
            let value = percent_decode(&key, value)?;
            match key.as_str() {
                "amount" => uri.amount = Some(parse_btc(&value)?),
                "label" => uri.label = Some(value),
                "message" => uri.message = Some(value),
                k if k.starts_with("req-") => return Err(Bip21Error::UnknownRequired(key)),
                _ => uri.other.push((key, value)),
            }
        }
        Ok(uri)
    }
}

/// Writes the URI: the amount as a BTC decimal without trailing zeros, label and message
/// percent-encoded.
impl fmt::Display for PaymentUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bitcoin:{}", self.address)?;
        let mut sep = '?';
        if let Some(a) = self.amount {
            let sat = a.to_sat();
            let mut btc = format!("{}.{:08}", sat / 100_000_000, sat % 100_000_000);
            while btc.ends_with('0') {
                btc.pop();
            }
            if btc.ends_with('.') {
                btc.pop();
            }
            write!(f, "{sep}amount={btc}")?;
            sep = '&';
        }
        for (k, v) in [("label", &self.label), ("message", &self.message)] {
            if let Some(v) = v {
                write!(f, "{sep}{k}={}", percent_encode(v))?;
                sep = '&';
            }
        }
        for (k, v) in &self.other {
            write!(f, "{sep}{}={}", percent_encode(k), percent_encode(v))?;
            sep = '&';
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples BIP-0021 itself gives.
    #[test]
    fn bip21_examples() {
        let a = "175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W";
        let u = PaymentUri::parse(&format!("bitcoin:{a}")).unwrap();
        assert_eq!((u.address.as_str(), u.amount), (a, None));
        let u = PaymentUri::parse(&format!("bitcoin:{a}?label=Luke-Jr")).unwrap();
        assert_eq!(u.label.as_deref(), Some("Luke-Jr"));
        let u = PaymentUri::parse(&format!("bitcoin:{a}?amount=20.3&label=Luke-Jr")).unwrap();
        assert_eq!(u.amount, Some(Amount::from_sat(2_030_000_000)));
        let u = PaymentUri::parse(&format!(
            "bitcoin:{a}?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz"
        ))
        .unwrap();
        assert_eq!(u.amount, Some(Amount::from_sat(5_000_000_000)));
        assert_eq!(u.message.as_deref(), Some("Donation for project xyz"));
        assert_eq!(
            PaymentUri::parse(&format!(
                "bitcoin:{a}?req-somethingyoudontunderstand=50&req-somethingelseyoudontget=999"
            )),
            Err(Bip21Error::UnknownRequired(
                "req-somethingyoudontunderstand".into()
            ))
        );
        let u = PaymentUri::parse(&format!(
            "bitcoin:{a}?somethingyoudontunderstand=50&somethingelseyoudontget=999"
        ))
        .unwrap();
        assert_eq!(u.other.len(), 2);
    }

    #[test]
    fn amounts_are_strict_and_round_trip() {
        for bad in [
            "1,5",
            "1e3",
            "-1",
            "0.123456789",
            "",
            ".",
            "21000001",
            "abc",
        ] {
            assert!(
                matches!(
                    PaymentUri::parse(&format!("bitcoin:x?amount={bad}")),
                    Err(Bip21Error::InvalidAmount(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(parse_btc(".5").unwrap(), Amount::from_sat(50_000_000));
        assert_eq!(parse_btc("0.00000001").unwrap(), Amount::from_sat(1));
        assert!(PaymentUri::parse("bitcoin:x?amount=1&amount=2").is_err());
        assert_eq!(
            PaymentUri::parse("bitcoin:?amount=1"),
            Err(Bip21Error::MissingAddress)
        );
        assert_eq!(
            PaymentUri::parse("litecoin:x"),
            Err(Bip21Error::NotBitcoinUri)
        );
        let u = PaymentUri {
            address: "BCRT1QXYZ".into(),
            amount: Some(Amount::from_sat(100_000)),
            label: Some("rent & food é".into()),
            message: None,
            other: Vec::new(),
        };
        let s = u.to_string();
        assert_eq!(
            s,
            "bitcoin:BCRT1QXYZ?amount=0.001&label=rent%20%26%20food%20%C3%A9"
        );
        assert_eq!(PaymentUri::parse(&s).unwrap(), u);
        assert_eq!(
            PaymentUri::parse("BITCOIN:BCRT1QXYZ?AMOUNT=0.001")
                .unwrap()
                .amount,
            Some(Amount::from_sat(100_000))
        );
    }
}
