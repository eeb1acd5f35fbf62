//! Wallet labels in BIP-0329's format: one JSON object per line, typed records (`tx`,
//! `addr`, `pubkey`, `input`, `output`, `xpub`, `spscan`) with a reference checked per type,
//! an optional `label`, an optional `origin` (an abbreviated descriptor naming the wallet)
//! and, on outputs only, `spendable`. Pure: parsing and writing lines, no storage.
//!
//! Rules kept from the BIP: a record of a type the BIP does not define is ignored (reported,
//! never an error); a missing `label` or `spendable` leaves the stored value alone; fields
//! beyond these five (the BIP's "additional fields": `height`, `fee`, `value`…) are read
//! and not kept.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::keys::{DerivationPath, Xpub};
use crate::network::Network;
use crate::script::Address;
use crate::tx::{OutPoint, Txid};

/// The record types BIP-0329 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelType {
    /// A transaction, by txid.
    Tx,
    /// An address.
    Addr,
    /// A public key (32, 33 or 65 bytes, hex).
    Pubkey,
    /// A transaction input, `TXID:INDEX`.
    Input,
    /// A transaction output, `TXID:VOUT`.
    Output,
    /// An extended public key (BIP-0032).
    Xpub,
    /// A silent payments scan key expression (BIP-0392).
    Spscan,
}

impl LabelType {
    /// Every type, in export order.
    pub const ALL: [LabelType; 7] = [
        LabelType::Tx,
        LabelType::Addr,
        LabelType::Pubkey,
        LabelType::Input,
        LabelType::Output,
        LabelType::Xpub,
        LabelType::Spscan,
    ];

    /// The BIP's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelType::Tx => "tx",
            LabelType::Addr => "addr",
            LabelType::Pubkey => "pubkey",
            LabelType::Input => "input",
            LabelType::Output => "output",
            LabelType::Xpub => "xpub",
            LabelType::Spscan => "spscan",
        }
    }
}

impl fmt::Display for LabelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LabelType {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| LabelError::UnknownType(s.to_owned()))
    }
}

/// Why a line is not a BIP-0329 record ferry can keep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The line is not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The line is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The line is JSON but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A required field is missing.
    #[error("no {0:?} field")]
    Missing(&'static str),
    /// A field has the wrong JSON type.
    #[error("{field:?} must be {expected}")]
    WrongFieldType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A type BIP-0329 does not define (ignored on import, as the BIP says).
    #[error("unknown type {0:?}")]
    UnknownType(String),
    /// The reference does not fit its type.
    #[error("bad {kind} ref: {reason}")]
    BadRef {
        /// The record type.
        kind: LabelType,
        /// What is wrong.
        reason: String,
    },
    /// `spendable` on a record other than an output.
    #[error("\"spendable\" is only for output records, not {0}")]
    SpendableNotOutput(LabelType),
    /// The origin is not an abbreviated descriptor with key origins.
    #[error("bad origin: {0}")]
    BadOrigin(String),
    /// The reference is a private key (WIF or extended): never stored, never echoed.
    #[error(
        "the {0} ref is a private key: ferry neither keeps nor shows it (BIP-0329 defines no private key types); remove that line and keep the key secret"
    )]
    PrivateKey(LabelType),
}

/// One BIP-0329 record, its reference in ferry's canonical form (lower-case txids,
/// addresses as the wallet prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRecord {
    /// The type.
    pub kind: LabelType,
    /// The reference, checked for the type.
    pub reference: String,
    /// The label; `None` leaves a stored label alone, an empty one removes it.
    pub label: Option<String>,
    /// The originating wallet, e.g. `wpkh([d34db33f/84'/0'/0'])`.
    pub origin: Option<String>,
    /// Whether the wallet may spend the output (outputs only).
    pub spendable: Option<bool>,
}

fn bad_ref(kind: LabelType, reason: impl fmt::Display) -> LabelError {
    LabelError::BadRef {
        kind,
        reason: reason.to_string(),
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks `reference` as a `kind` reference of a wallet on `network` and returns it in
/// canonical form.
///
/// # Errors
/// [`LabelError::BadRef`] saying what is wrong (an extended key's text is never echoed: it
/// might be a private one).
pub fn check_ref(kind: LabelType, reference: &str, network: Network) -> Result<String, LabelError> {
    if is_private_key(reference) {
        return Err(LabelError::PrivateKey(kind));
    }
    match kind {
        LabelType::Tx => reference
            .parse::<Txid>()
            .map(|t| t.to_string())
            .map_err(|_| bad_ref(kind, format!("{reference:?} is not a txid (64 hex digits)"))),
        LabelType::Addr => Address::parse(reference, network)
            .map(|a| a.to_string())
            .map_err(|e| bad_ref(kind, e)),
        LabelType::Input | LabelType::Output => {
            let ok = reference
                .split_once(':')
                .is_some_and(|(_, i)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
            reference
                .parse::<OutPoint>()
                .ok()
                .filter(|_| ok)
                .map(|o| o.to_string())
                .ok_or_else(|| bad_ref(kind, format!("{reference:?} is not TXID:INDEX")))
        }
        LabelType::Pubkey => check_pubkey(reference).map_err(|r| bad_ref(kind, r)),
        LabelType::Xpub => {
            let xpub: Xpub = reference
                .parse()
                .map_err(|_| bad_ref(kind, "not an extended public key (BIP-0032)"))?;
            xpub.with_network(network).map_err(|_| {
                bad_ref(
                    kind,
                    format!("an extended key of another network than {network}"),
                )
            })?;
            Ok(reference.to_owned())
        }
        LabelType::Spscan => check_spscan(reference, network).map_err(|r| bad_ref(kind, r)),
    }
}

/// True for a base58check WIF key or a private extended key (xprv, tprv, SLIP-0132's).
fn is_private_key(s: &str) -> bool {
    let Ok(data) = crate::script::base58::decode_check(s) else {
        return false;
    };
    let data = zeroize::Zeroizing::new(data);
    match data.len() {
        33 | 34 => Network::ALL
            .iter()
            .any(|n| n.params().wif_prefix == data[0]),
        78 => data
            .get(..4)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .and_then(crate::keys::slip132::lookup)
            .is_some_and(|v| v.private),
        _ => false,
    }
}

fn check_pubkey(s: &str) -> Result<String, String> {
    if !is_hex(s) {
        return Err(format!("{s:?} is not hex"));
    }
    let bytes = hex::decode(s).map_err(|e| e.to_string())?;
    let sec1 = match bytes.len() {
        32 => [&[2u8][..], &bytes].concat(),
        33 if matches!(bytes[0], 2 | 3) => bytes,
        65 if bytes[0] == 4 => bytes,
        n => return Err(format!("{n} bytes: not a 32, 33 or 65-byte public key")),
    };
    k256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| "not a point on secp256k1".to_owned())?;
    Ok(s.to_ascii_lowercase())
}

fn check_spscan(s: &str, network: Network) -> Result<String, String> {
    use bech32::primitives::decode::CheckedHrpstring;
    let checked = CheckedHrpstring::new::<bech32::Bech32m>(s)
        .map_err(|e| format!("not a bech32m string: {e}"))?;
    let hrp = checked.hrp().to_lowercase();
    let want = if network.is_mainnet() {
        "spscan"
    } else {
        "tspscan"
    };
    if hrp != want {
        return Err(format!(
            "prefix {hrp:?}, but a {network} wallet's is {want:?}"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// Checks an `origin`: an abbreviated output descriptor such as `wpkh([d34db33f/84'/0'/0'])`
/// — functions around key origins, no keys, no child steps, no checksum.
///
/// # Errors
/// [`LabelError::BadOrigin`].
pub fn check_origin(origin: &str) -> Result<(), LabelError> {
    let bad = |why: &str| LabelError::BadOrigin(format!("{origin:?}: {why}"));
    if origin.contains('#') {
        return Err(bad("a checksum does not belong in an origin"));
    }
    let mut origins = 0;
    let rest = parse_expr(origin, &mut origins).map_err(|e| bad(&e))?;
    if !rest.is_empty() {
        return Err(bad("text after the descriptor"));
    }
    if origins == 0 {
        return Err(bad("no key origin [fingerprint/path]"));
    }
    Ok(())
}

/// Parses `NAME(ARG,…)`, a number, or `[fp/path]`; returns what follows.
fn parse_expr<'a>(s: &'a str, origins: &mut usize) -> Result<&'a str, String> {
    if let Some(inner) = s.strip_prefix('[') {
        let (origin, rest) = inner.split_once(']').ok_or("a '[' without ']'")?;
        let (fp, path) = origin.split_once('/').unwrap_or((origin, ""));
        if fp.len() != 8 || !is_hex(fp) {
            return Err("a fingerprint is not 8 hex digits".into());
        }
        if !path.is_empty() {
            DerivationPath::parse_steps(path, true).map_err(|e| e.to_string())?;
        }
        *origins += 1;
        return Ok(rest);
    }
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if name_len == 0 {
        return Err("expected a function, a number or a key origin".into());
    }
    let (name, rest) = s.split_at(name_len);
    let Some(mut rest) = rest.strip_prefix('(') else {
        return if name.bytes().all(|b| b.is_ascii_digit()) {
            Ok(rest)
        } else {
            Err(format!(
                "{name} is not a function: a key has no place in an origin"
            ))
        };
    };
    loop {
        rest = parse_expr(rest, origins)?;
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix(')') {
            return Ok(r);
        } else {
            return Err(format!("{name}( is not closed"));
        }
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn string_field(
    obj: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, LabelError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LabelError::WrongFieldType {
            field: name,
            expected: "a string",
        }),
    }
}

impl LabelRecord {
    /// A record setting `label` on `reference` (checked for `kind` on `network`).
    ///
    /// # Errors
    /// [`LabelError::BadRef`].
    pub fn new(
        kind: LabelType,
        reference: &str,
        label: &str,
        network: Network,
    ) -> Result<Self, LabelError> {
        Ok(Self {
            kind,
            reference: check_ref(kind, reference, network)?,
            label: Some(label.to_owned()),
            origin: None,
            spendable: None,
        })
    }

    /// Parses one line of a BIP-0329 file for a wallet on `network`.
    ///
    /// # Errors
    /// A [`LabelError`]; [`LabelError::UnknownType`] for a type the BIP does not define.
    pub fn parse_line(line: &str, network: Network) -> Result<Self, LabelError> {
        let value: Value =
            serde_json::from_str(line).map_err(|e| LabelError::NotJson(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(LabelError::NotObject);
        };
        let kind = string_field(&obj, "type")?.ok_or(LabelError::Missing("type"))?;
        let reference = string_field(&obj, "ref")?.ok_or(LabelError::Missing("ref"))?;
        let kind: LabelType = kind.parse()?;
        let reference = check_ref(kind, &reference, network)?;
        let label = string_field(&obj, "label")?;
        let origin = string_field(&obj, "origin")?;
        if let Some(o) = &origin {
            check_origin(o)?;
        }
        let spendable = match field(&obj, "spendable") {
            None => None,
            Some(_) if kind != LabelType::Output => {
                return Err(LabelError::SpendableNotOutput(kind));
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(LabelError::WrongFieldType {
                    field: "spendable",
                    expected: "true or false (not a string)",
                });
            }
        };
        Ok(Self {
            kind,
            reference,
            label,
            origin,
            spendable,
        })
    }

    /// The record as one JSON line (no newline), fields in the BIP's order.
    pub fn to_json_line(&self) -> String {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            r#type: &'a str,
            r#ref: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            label: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            origin: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            spendable: Option<bool>,
        }
        let line = Line {
            r#type: self.kind.as_str(),
            r#ref: &self.reference,
            label: self.label.as_deref(),
            origin: self.origin.as_deref(),
            spendable: self.spendable,
        };
        // Strings and booleans always serialize.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// A BIP-0329 file read line by line: the records, the lines of unknown types (ignored),
/// and the bad lines, each with its 1-based line number.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedLabels {
    /// Good records, in file order.
    pub records: Vec<(usize, LabelRecord)>,
    /// Lines of types the BIP does not define: `(line, type)`.
    pub ignored: Vec<(usize, String)>,
    /// Lines that are not records: `(line, why)`.
    pub bad: Vec<(usize, LabelError)>,
}

/// Reads a whole BIP-0329 file for a wallet on `network`. Lines end in `\n` (a `\r` before
/// it is dropped); blank lines are skipped.
pub fn parse_file(bytes: &[u8], network: Network) -> ParsedLabels {
    let mut out = ParsedLabels::default();
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            out.bad.push((number, LabelError::NotUtf8));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match LabelRecord::parse_line(line, network) {
            Ok(r) => out.records.push((number, r)),
            Err(LabelError::UnknownType(t)) => out.ignored.push((number, t)),
            Err(e) => out.bad.push((number, e)),
        }
    }
    out
}

/// The labels of a wallet, looked up by what they label.
#[derive(Debug, Default, Clone)]
pub struct LabelBook {
    records: HashMap<(LabelType, String), LabelRecord>,
}

impl LabelBook {
    /// A book of `records` (references canonical, as stored).
    pub fn new(records: impl IntoIterator<Item = LabelRecord>) -> Self {
        Self {
            records: records
                .into_iter()
                .map(|r| ((r.kind, r.reference.clone()), r))
                .collect(),
        }
    }

    fn label(&self, kind: LabelType, reference: String) -> Option<&str> {
        self.records
            .get(&(kind, reference))
            .and_then(|r| r.label.as_deref())
            .filter(|l| !l.is_empty())
    }

    /// The label of a transaction.
    pub fn tx(&self, txid: &Txid) -> Option<&str> {
        self.label(LabelType::Tx, txid.to_string())
    }

    /// The label of an address (as the wallet prints it).
    pub fn addr(&self, address: &str) -> Option<&str> {
        self.label(LabelType::Addr, address.to_owned())
    }

    /// The label of an output.
    pub fn output(&self, outpoint: &OutPoint) -> Option<&str> {
        self.label(LabelType::Output, outpoint.to_string())
    }

    /// False when the output is marked `spendable: false`.
    pub fn spendable(&self, outpoint: &OutPoint) -> bool {
        self.records
            .get(&(LabelType::Output, outpoint.to_string()))
            .and_then(|r| r.spendable)
            .unwrap_or(true)
    }
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
