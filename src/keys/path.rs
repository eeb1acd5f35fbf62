//! BIP-0032 child numbers and derivation paths, and the BIP-0044/49/84/86 account paths
//! `m/purpose'/coin_type'/account'` with their receive and change chains.

use std::fmt;
use std::str::FromStr;

use crate::network::Network;
use crate::script::AddressType;

/// The first hardened child index, 2^31.
pub const HARDENED: u32 = 0x8000_0000;

/// One step of a BIP-0032 derivation: a normal or a hardened child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildNumber {
    /// A normal child (index below 2^31), derivable from the public key.
    Normal(u32),
    /// A hardened child; the index is given without the 2^31 offset.
    Hardened(u32),
}

/// Why a child number or derivation path did not parse or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The index does not fit below 2^31.
    #[error("child index {0} is out of range: it must be below 2^31")]
    IndexOutOfRange(u64),
    /// A step that is not a decimal index with an optional hardened marker.
    #[error("invalid derivation step {step:?} in path {path:?}")]
    InvalidStep {
        /// The whole path as given.
        path: String,
        /// The offending step.
        step: String,
    },
}

impl ChildNumber {
    /// Returns the normal child `index`.
    ///
    /// # Errors
    /// [`PathError::IndexOutOfRange`] if `index >= 2^31`.
    pub fn normal(index: u32) -> Result<Self, PathError> {
        if index >= HARDENED {
            return Err(PathError::IndexOutOfRange(index.into()));
        }
        Ok(ChildNumber::Normal(index))
    }

    /// Returns the hardened child `index` (given without the 2^31 offset).
    ///
    /// # Errors
    /// [`PathError::IndexOutOfRange`] if `index >= 2^31`.
    pub fn hardened(index: u32) -> Result<Self, PathError> {
        if index >= HARDENED {
            return Err(PathError::IndexOutOfRange(index.into()));
        }
        Ok(ChildNumber::Hardened(index))
    }

    /// Returns the child for a raw 32-bit index as serialized (hardened at 2^31 and above).
    pub const fn from_u32(raw: u32) -> Self {
        if raw >= HARDENED {
            ChildNumber::Hardened(raw - HARDENED)
        } else {
            ChildNumber::Normal(raw)
        }
    }

    /// Returns the raw 32-bit index as serialized (hardened ones with 2^31 added).
    pub const fn to_u32(self) -> u32 {
        match self {
            ChildNumber::Normal(i) => i,
            ChildNumber::Hardened(i) => i | HARDENED,
        }
    }

    /// Returns true for a hardened child.
    pub const fn is_hardened(self) -> bool {
        matches!(self, ChildNumber::Hardened(_))
    }

    /// Parses one step, `5`, `5'`, `5h` or `5H`.
    fn parse_step(step: &str, path: &str) -> Result<Self, PathError> {
        let bad = || PathError::InvalidStep {
            path: path.to_owned(),
            step: step.to_owned(),
        };
        let (digits, hardened) = match step.strip_suffix(['\'', 'h', 'H']) {
            Some(d) => (d, true),
            None => (step, false),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let index: u64 = digits.parse().map_err(|_| bad())?;
        let index = u32::try_from(index)
            .ok()
            .filter(|i| *i < HARDENED)
            .ok_or(PathError::IndexOutOfRange(index))?;
        Ok(if hardened {
            ChildNumber::Hardened(index)
        } else {
            ChildNumber::Normal(index)
        })
    }
}

/// Shows `5` or `5'`; the alternate form `{:#}` shows `5h` (the shell-safe marker that
/// Bitcoin Core prints in descriptors).
impl fmt::Display for ChildNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildNumber::Normal(i) => write!(f, "{i}"),
            ChildNumber::Hardened(i) if f.alternate() => write!(f, "{i}h"),
            ChildNumber::Hardened(i) => write!(f, "{i}'"),
        }
    }
}

impl FromStr for ChildNumber {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChildNumber::parse_step(s, s)
    }
}

/// A BIP-0032 derivation path such as `m/84'/0'/0'/0/5`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct DerivationPath(Vec<ChildNumber>);

impl DerivationPath {
    /// Returns the empty path `m`.
    pub const fn master() -> Self {
        Self(Vec::new())
    }

    /// Returns this path extended by one child.
    pub fn child(&self, child: ChildNumber) -> Self {
        let mut steps = self.0.clone();
        steps.push(child);
        Self(steps)
    }

    /// Returns this path followed by `other`.
    pub fn extend(&self, other: &DerivationPath) -> Self {
        let mut steps = self.0.clone();
        steps.extend_from_slice(&other.0);
        Self(steps)
    }

    /// Returns the steps.
    pub fn as_slice(&self) -> &[ChildNumber] {
        &self.0
    }

    /// Returns the number of steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true for `m`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns true if any step is hardened.
    pub fn has_hardened(&self) -> bool {
        self.0.iter().any(|c| c.is_hardened())
    }

    /// Parses the steps of a path without the leading `m`, e.g. `84h/0h/0h` as written in a
    /// descriptor's key origin. Only `'` and `h` mark hardened steps there (BIP-0380).
    ///
    /// # Errors
    /// [`PathError`] naming the offending step.
    pub fn parse_steps(s: &str, allow_upper_h: bool) -> Result<Self, PathError> {
        if s.is_empty() {
            return Ok(Self::master());
        }
        s.split('/')
            .map(|step| {
                if !allow_upper_h && step.ends_with('H') {
                    return Err(PathError::InvalidStep {
                        path: s.to_owned(),
                        step: step.to_owned(),
                    });
                }
                ChildNumber::parse_step(step, s)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl From<Vec<ChildNumber>> for DerivationPath {
    fn from(steps: Vec<ChildNumber>) -> Self {
        Self(steps)
    }
}

impl<'a> IntoIterator for &'a DerivationPath {
    type Item = &'a ChildNumber;
    type IntoIter = std::slice::Iter<'a, ChildNumber>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Shows `m/84'/0'/0'`; the alternate form `{:#}` uses `h` for hardened steps.
impl fmt::Display for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for c in &self.0 {
            if f.alternate() {
                write!(f, "/{c:#}")?;
            } else {
                write!(f, "/{c}")?;
            }
        }
        Ok(())
    }
}

/// Parses `m`, `m/84'/0'/0'/0/5` or `84h/0h/0h` (`'`, `h` and `H` mark hardened steps).
impl FromStr for DerivationPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let steps = match s {
            "m" | "M" => "",
            _ => s
                .strip_prefix("m/")
                .or_else(|| s.strip_prefix("M/"))
                .unwrap_or(s),
        };
        if steps.is_empty() && !s.is_empty() && s != "m" && s != "M" {
            return Err(PathError::InvalidStep {
                path: s.to_owned(),
                step: String::new(),
            });
        }
        Self::parse_steps(steps, true).map_err(|e| match e {
            PathError::InvalidStep { step, .. } => PathError::InvalidStep {
                path: s.to_owned(),
                step,
            },
            other => other,
        })
    }
}

/// Which chain of an account a key is on: addresses given out, or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyChain {
    /// The external chain (`/0`): addresses given to payers.
    Receive,
    /// The internal chain (`/1`): change outputs.
    Change,
}

impl KeyChain {
    /// Both chains, receive first.
    pub const ALL: [KeyChain; 2] = [KeyChain::Receive, KeyChain::Change];

    /// Returns the chain's child number under the account key (0 or 1).
    pub const fn child_number(self) -> ChildNumber {
        match self {
            KeyChain::Receive => ChildNumber::Normal(0),
            KeyChain::Change => ChildNumber::Normal(1),
        }
    }
}

/// Returns the account path `m/purpose'/coin_type'/account'` for an address type on a
/// network (BIP-0044/49/84/86; the coin type is the network's SLIP-0044 number).
///
/// # Errors
/// [`PathError::IndexOutOfRange`] if `account >= 2^31`.
pub fn account_path(
    address_type: AddressType,
    network: Network,
    account: u32,
) -> Result<DerivationPath, PathError> {
    Ok(DerivationPath(vec![
        ChildNumber::hardened(address_type.purpose())?,
        ChildNumber::hardened(network.params().coin_type)?,
        ChildNumber::hardened(account)?,
    ]))
}

/// Returns the full path of one address: the account path, the chain, then `index`.
///
/// # Errors
/// [`PathError::IndexOutOfRange`] if `account` or `index` is `>= 2^31`.
pub fn address_path(
    address_type: AddressType,
    network: Network,
    account: u32,
    chain: KeyChain,
    index: u32,
) -> Result<DerivationPath, PathError> {
    Ok(account_path(address_type, network, account)?
        .child(chain.child_number())
        .child(ChildNumber::normal(index)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_paths() {
        let p: DerivationPath = "m/84'/0'/0h/0/5".parse().unwrap();
        assert_eq!(p.to_string(), "m/84'/0'/0'/0/5");
        assert_eq!(format!("{p:#}"), "m/84h/0h/0h/0/5");
        assert_eq!(p.as_slice()[0].to_u32(), 84 | HARDENED);
        assert_eq!(
            "m".parse::<DerivationPath>().unwrap(),
            DerivationPath::master()
        );
        assert_eq!("m/0H/1".parse::<DerivationPath>().unwrap().len(), 2);
        assert!("m/".parse::<DerivationPath>().is_err());
        assert!("m/x".parse::<DerivationPath>().is_err());
        assert!("m/2147483648".parse::<DerivationPath>().is_err());
        assert!("m/1//2".parse::<DerivationPath>().is_err());
        assert!(DerivationPath::parse_steps("0H", false).is_err());
    }

    #[test]
    fn account_paths_follow_purpose_and_coin_type() {
        let p = account_path(AddressType::P2wpkh, Network::Bitcoin, 0).unwrap();
        assert_eq!(p.to_string(), "m/84'/0'/0'");
        let p = address_path(AddressType::P2tr, Network::Signet, 2, KeyChain::Change, 7).unwrap();
        assert_eq!(p.to_string(), "m/86'/1'/2'/1/7");
        let p = account_path(AddressType::P2shP2wpkh, Network::Qtum, 0).unwrap();
        assert_eq!(p.to_string(), "m/49'/2301'/0'");
    }
}
