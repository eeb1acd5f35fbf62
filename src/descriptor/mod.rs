//! Single-key output descriptors (BIP-0380/381/382/386): `pkh(KEY)`, `sh(wpkh(KEY))`,
//! `wpkh(KEY)` and key-path-only `tr(KEY)`, where KEY is a hex public key or an extended
//! public key with optional key origin, e.g.
//! `wpkh([d34db33f/84h/0h/0h]xpub…/0/*)#checksum`. These are the watch-only descriptors
//! `ferry export descriptors` hands to Bitcoin Core's `importdescriptors` or Sparrow.
//!
//! Descriptors are printed with `h` as the hardened marker (as Bitcoin Core prints them) and
//! always with their BIP-0380 checksum.

use std::fmt;
use std::str::FromStr;

use k256::PublicKey;

use crate::keys::{
    self, Bip32Error, ChildNumber, DerivationPath, DerivedOutput, Fingerprint, KeyChain, PathError,
    Xpub,
};
use crate::network::Network;
use crate::script::{Address, AddressType, ScriptBuf};

mod checksum;

pub use checksum::checksum;

/// Why a descriptor did not parse or derive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// A character outside the BIP-0380 descriptor character set.
    #[error("descriptor contains a character outside the descriptor character set")]
    InvalidCharacter,
    /// The part after `#` is not 8 characters.
    #[error("expected an 8 character checksum after '#', found {0} characters")]
    ChecksumLength(usize),
    /// The checksum does not match.
    #[error("descriptor checksum mismatch: it says {found}, the descriptor gives {expected}")]
    Checksum {
        /// The checksum the descriptor computes to.
        expected: String,
        /// The checksum written.
        found: String,
    },
    /// Not one of the single-key forms ferry handles.
    #[error("unsupported descriptor {0:?}: ferry handles pkh(), sh(wpkh()), wpkh() and tr(KEY)")]
    Unsupported(String),
    /// A malformed key expression.
    #[error("invalid key expression {key:?}: {reason}")]
    Key {
        /// The key expression.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A bad derivation step.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Derivation failed.
    #[error(transparent)]
    Bip32(#[from] Bip32Error),
}

fn key_error(key: &str, reason: impl fmt::Display) -> DescriptorError {
    DescriptorError::Key {
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}

/// Where a key came from: the master key's fingerprint and the path from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyOrigin {
    /// Fingerprint of the master key.
    pub fingerprint: Fingerprint,
    /// Path from the master key.
    pub path: DerivationPath,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}", self.fingerprint)?;
        for c in &self.path {
            write!(f, "/{c:#}")?;
        }
        f.write_str("]")
    }
}

/// The key inside a descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorPublicKey {
    /// One public key, written as 66 hex digits (or 64, x-only, inside `tr()`).
    Single {
        /// The key.
        key: PublicKey,
        /// True if it was written x-only.
        x_only: bool,
    },
    /// An extended public key and the normal steps below it, optionally ending in `/*`.
    Extended {
        /// The extended key.
        xpub: Xpub,
        /// Steps below it (normal only: ferry's descriptors are watch-only).
        path: DerivationPath,
        /// True if the path ends in `/*`, the index to derive at.
        wildcard: bool,
    },
}

/// A key expression: optional origin and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorKey {
    /// `[fingerprint/path]`, if given.
    pub origin: Option<KeyOrigin>,
    /// The key.
    pub key: DescriptorPublicKey,
}

impl DescriptorKey {
    /// Returns the public key at `index` (ignored without a wildcard).
    ///
    /// # Errors
    /// [`DescriptorError::Bip32`] if `index >= 2^31` or derivation fails.
    pub fn derive(&self, index: u32) -> Result<PublicKey, DescriptorError> {
        match &self.key {
            DescriptorPublicKey::Single { key, .. } => Ok(*key),
            DescriptorPublicKey::Extended {
                xpub,
                path,
                wildcard,
            } => {
                let mut full = path.clone();
                if *wildcard {
                    full = full.child(ChildNumber::normal(index)?);
                }
                Ok(*xpub.derive_pub(&full)?.public_key())
            }
        }
    }

    fn parse(s: &str, in_tr: bool) -> Result<Self, DescriptorError> {
        let (origin, rest) = match s.strip_prefix('[') {
            Some(inner) => {
                let (origin, rest) = inner
                    .split_once(']')
                    .ok_or_else(|| key_error(s, "key origin has no closing ']'"))?;
                let (fp, path) = origin.split_once('/').unwrap_or((origin, ""));
                if fp.len() != 8 {
                    return Err(key_error(s, "fingerprint is not 8 hex digits"));
                }
                let fingerprint: Fingerprint = fp.parse()?;
                if origin.ends_with('/') {
                    return Err(key_error(s, "trailing '/' in key origin"));
                }
                let path = DerivationPath::parse_steps(path, false)?;
                (Some(KeyOrigin { fingerprint, path }), rest)
            }
            None => (None, s),
        };
        if rest.contains(['[', ']']) {
            return Err(key_error(s, "misplaced key origin"));
        }
        let is_hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
        let key = if rest.len() == 66 && is_hex(rest) {
            let bytes = hex::decode(rest).map_err(|e| key_error(s, e))?;
            if bytes[0] != 2 && bytes[0] != 3 {
                return Err(key_error(s, "not a compressed public key"));
            }
            let key = PublicKey::from_sec1_bytes(&bytes)
                .map_err(|_| key_error(s, "not a point on secp256k1"))?;
            DescriptorPublicKey::Single { key, x_only: false }
        } else if rest.len() == 64 && is_hex(rest) && in_tr {
            let mut bytes = vec![2u8];
            bytes.extend(hex::decode(rest).map_err(|e| key_error(s, e))?);
            let key = PublicKey::from_sec1_bytes(&bytes)
                .map_err(|_| key_error(s, "not an x coordinate on secp256k1"))?;
            DescriptorPublicKey::Single { key, x_only: true }
        } else {
            let mut parts = rest.split('/');
            let encoded = parts.next().unwrap_or_default();
            if encoded.get(1..4) == Some("prv") {
                return Err(key_error(
                    s,
                    "private keys are not accepted: use the xpub (descriptors here are watch-only)",
                ));
            }
            let xpub: Xpub = encoded.parse()?;
            let mut steps = Vec::new();
            let mut wildcard = false;
            for step in parts {
                if wildcard {
                    return Err(key_error(s, "'*' must be the last step"));
                }
                match step {
                    "*" => wildcard = true,
                    "*'" | "*h" => {
                        return Err(key_error(s, "hardened wildcard needs a private key"));
                    }
                    _ => {
                        let c = DerivationPath::parse_steps(step, false)?;
                        if c.has_hardened() {
                            return Err(key_error(s, "hardened step needs a private key"));
                        }
                        steps.extend_from_slice(c.as_slice());
                    }
                }
            }
            DescriptorPublicKey::Extended {
                xpub,
                path: steps.into(),
                wildcard,
            }
        };
        Ok(Self { origin, key })
    }
}

impl fmt::Display for DescriptorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}")?;
        }
        match &self.key {
            DescriptorPublicKey::Single { key, x_only } => {
                let c = keys::bip32::compressed(key);
                let bytes = if *x_only { &c[1..] } else { &c[..] };
                f.write_str(&hex::encode(bytes))
            }
            DescriptorPublicKey::Extended {
                xpub,
                path,
                wildcard,
            } => {
                write!(f, "{xpub}")?;
                for c in path {
                    write!(f, "/{c:#}")?;
                }
                if *wildcard {
                    f.write_str("/*")?;
                }
                Ok(())
            }
        }
    }
}

/// A single-key output descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    address_type: AddressType,
    key: DescriptorKey,
}

impl Descriptor {
    /// Creates a descriptor of `address_type` over `key`.
    pub fn new(address_type: AddressType, key: DescriptorKey) -> Self {
        Self { address_type, key }
    }

    /// Returns the descriptor of one chain of a wallet account:
    /// `TYPE([fingerprint/account_path]account_xpub/chain/*)`.
    pub fn for_account(
        address_type: AddressType,
        master_fingerprint: Fingerprint,
        account_path: DerivationPath,
        account_xpub: Xpub,
        chain: KeyChain,
    ) -> Self {
        Self::new(
            address_type,
            DescriptorKey {
                origin: Some(KeyOrigin {
                    fingerprint: master_fingerprint,
                    path: account_path,
                }),
                key: DescriptorPublicKey::Extended {
                    xpub: account_xpub,
                    path: vec![chain.child_number()].into(),
                    wildcard: true,
                },
            },
        )
    }

    /// Returns the output type.
    pub fn address_type(&self) -> AddressType {
        self.address_type
    }

    /// Returns the key expression.
    pub fn key(&self) -> &DescriptorKey {
        &self.key
    }

    /// Returns true if the descriptor ends in `/*` (one output per index).
    pub fn has_wildcard(&self) -> bool {
        matches!(
            self.key.key,
            DescriptorPublicKey::Extended { wildcard: true, .. }
        )
    }

    /// Returns the descriptor text without `#checksum`.
    pub fn to_string_without_checksum(&self) -> String {
        let inner = self.key.to_string();
        match self.address_type {
            AddressType::P2pkh => format!("pkh({inner})"),
            AddressType::P2shP2wpkh => format!("sh(wpkh({inner}))"),
            AddressType::P2wpkh => format!("wpkh({inner})"),
            AddressType::P2tr => format!("tr({inner})"),
        }
    }

    /// Returns the output at `index` (ignored without a wildcard) on `network`.
    ///
    /// # Errors
    /// [`DescriptorError::Bip32`] if `index >= 2^31` or derivation fails.
    pub fn derive_output(
        &self,
        index: u32,
        network: Network,
    ) -> Result<DerivedOutput, DescriptorError> {
        let pk = self.key.derive(index)?;
        Ok(keys::output_for_key(self.address_type, network, &pk)?)
    }

    /// Returns the scriptPubKey at `index`.
    ///
    /// # Errors
    /// As [`Descriptor::derive_output`].
    pub fn script_pubkey_at(&self, index: u32) -> Result<ScriptBuf, DescriptorError> {
        // The scriptPubKey does not depend on the network; any one will do.
        Ok(self.derive_output(index, Network::Bitcoin)?.script_pubkey)
    }

    /// Returns the address at `index` on `network`.
    ///
    /// # Errors
    /// As [`Descriptor::derive_output`].
    pub fn address_at(&self, index: u32, network: Network) -> Result<Address, DescriptorError> {
        Ok(self.derive_output(index, network)?.address)
    }
}

/// Shows the descriptor with its `#checksum`.
impl fmt::Display for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.to_string_without_checksum();
        let sum = checksum(&body).ok_or(fmt::Error)?;
        write!(f, "{body}#{sum}")
    }
}

/// Parses a descriptor; a `#checksum`, if present, must match.
impl FromStr for Descriptor {
    type Err = DescriptorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = match s.split_once('#') {
            Some((body, sum)) => {
                if sum.len() != 8 {
                    return Err(DescriptorError::ChecksumLength(sum.len()));
                }
                let expected = checksum(body).ok_or(DescriptorError::InvalidCharacter)?;
                if expected != sum {
                    return Err(DescriptorError::Checksum {
                        expected,
                        found: sum.to_owned(),
                    });
                }
                body
            }
            None => {
                checksum(s).ok_or(DescriptorError::InvalidCharacter)?;
                s
            }
        };
        let forms = [
            ("sh(wpkh(", "))", AddressType::P2shP2wpkh),
            ("pkh(", ")", AddressType::P2pkh),
            ("wpkh(", ")", AddressType::P2wpkh),
            ("tr(", ")", AddressType::P2tr),
        ];
        for (open, close, address_type) in forms {
            if let Some(inner) = body.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
                if inner.contains(['(', ')', ',']) {
                    return Err(DescriptorError::Unsupported(body.to_owned()));
                }
                let key = DescriptorKey::parse(inner, address_type == AddressType::P2tr)?;
                return Ok(Self { address_type, key });
            }
        }
        Err(DescriptorError::Unsupported(body.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published descriptors with checksums: BIP-0380's test vector, and Bitcoin Core's
    /// `descriptor_tests.cpp` checksum cases (private and public form).
    const PUBLISHED: [&str; 3] = [
        "raw(deadbeef)#89f8spxm",
        "sh(multi(2,[00000000/111'/222]xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc,xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L/0))#ggrsrxfy",
        "sh(multi(2,[00000000/111'/222]xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL,xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y/0))#tjg09x5t",
    ];

    #[test]
    fn checksums_match_published_examples() {
        for d in PUBLISHED {
            let (body, sum) = d.split_once('#').unwrap();
            assert_eq!(checksum(body).unwrap(), sum, "{d}");
        }
        assert_eq!(checksum("raw(Ü)"), None);
    }

    /// A single-key descriptor with checksum as published in rust-miniscript's tests parses,
    /// and prints back (with `h` markers) to a string that parses to the same descriptor.
    #[test]
    fn parses_published_single_key_descriptor() {
        let s = "wpkh([2cbe2a6d/44'/0'/0']tpubDCvNhURocXGZsLNqWcqD3syHTqPXrMSTwi8feKVwAcpi29oYKsDD3Vex7x2TDneKMVN23RbLprfxB69v94iYqdaYHsVz3kPR37NQXeqouVz/0/*)#nhdxg96s";
        let d: Descriptor = s.parse().unwrap();
        assert_eq!(d.address_type(), AddressType::P2wpkh);
        assert!(d.has_wildcard());
        let printed = d.to_string();
        assert!(
            printed.starts_with("wpkh([2cbe2a6d/44h/0h/0h]tpubDCvNhURoc"),
            "{printed}"
        );
        assert_eq!(printed.parse::<Descriptor>().unwrap(), d);
        let unmarked = s.replace("#nhdxg96s", "");
        assert_eq!(unmarked.parse::<Descriptor>().unwrap(), d);
        assert!(
            s.replace("nhdxg96s", "nhdxg96q")
                .parse::<Descriptor>()
                .is_err()
        );
    }

    #[test]
    fn bip380_checksum_errors() {
        let e = |s: &str| s.parse::<Descriptor>().unwrap_err();
        let body = "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)";
        let good = format!("{body}#{}", checksum(body).unwrap());
        assert!(good.parse::<Descriptor>().is_ok());
        assert!(body.parse::<Descriptor>().is_ok());
        assert_eq!(e(&format!("{body}#")), DescriptorError::ChecksumLength(0));
        assert_eq!(e(&format!("{good}x")), DescriptorError::ChecksumLength(9));
        assert_eq!(
            e(&good[..good.len() - 1]),
            DescriptorError::ChecksumLength(7)
        );
        let flipped = good.replacen("03a3", "03a4", 1);
        assert!(matches!(e(&flipped), DescriptorError::Checksum { .. }));
        assert!(matches!(
            e("raw(deadbeef)#89f8spxm"),
            DescriptorError::Unsupported(_)
        ));
    }

    /// BIP-0381/382/386 test vectors whose key forms ferry supports (scripts at 0, 1, 2).
    #[test]
    fn derives_bip_test_vectors() {
        let cases: [(&str, &[&str]); 5] = [
            (
                "pkh([deadbeef/1/2'/3/4']03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
                &["76a9149a1c78a507689f6f54b847ad1cef1e614ee23f1e88ac"],
            ),
            (
                "pkh([bd16bee5/2147483647h]xpub69H7F5dQzmVd3vPuLKtcXJziMEQByuDidnX3YdwgtNsecY5HRGtAAQC5mXTt4dsv9RzyjgDjAQs9VGVV6ydYCHnprc9vvaA5YtqWyL6hyds/0)",
                &["76a914ebdc90806a9c4356c1c88e42216611e1cb4c1c1788ac"],
            ),
            (
                "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
                &["00149a1c78a507689f6f54b847ad1cef1e614ee23f1e"],
            ),
            (
                "wpkh([ffffffff/13']xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/1/2/*)",
                &[
                    "0014326b2249e3a25d5dc60935f044ee835d090ba859",
                    "0014af0bd98abc2f2cae66e36896a39ffe2d32984fb7",
                    "00141fa798efd1cbf95cebf912c031b8a4a6e9fb9f27",
                ],
            ),
            (
                "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
                &["512077aab6e066f8a7419c5ab714c12c67d25007ed55a43cadcacb4d7a970a093f11"],
            ),
        ];
        for (text, scripts) in cases {
            let d: Descriptor = text.parse().unwrap();
            for (i, spk) in scripts.iter().enumerate() {
                let got = d.script_pubkey_at(u32::try_from(i).unwrap()).unwrap();
                assert_eq!(got.to_hex(), *spk, "{text} at {i}");
            }
            // Printing and parsing again gives the same descriptor.
            let again: Descriptor = d.to_string().parse().unwrap();
            assert_eq!(again, d);
        }
    }

    #[test]
    fn round_trips_account_descriptors() {
        let master = crate::keys::Xpriv::new_master(&[3u8; 32], Network::Regtest).unwrap();
        for address_type in AddressType::ALL {
            let path = crate::keys::path::account_path(address_type, Network::Regtest, 0).unwrap();
            let account = Xpub::from_priv(&master.derive_priv(&path).unwrap());
            for chain in KeyChain::ALL {
                let d = Descriptor::for_account(
                    address_type,
                    master.fingerprint(),
                    path.clone(),
                    account.clone(),
                    chain,
                );
                let s = d.to_string();
                assert!(s.contains(&format!("[{}/", master.fingerprint())), "{s}");
                assert!(s.contains("h/1h/0h]tpub"), "{s}");
                let parsed: Descriptor = s.parse().unwrap();
                assert_eq!(parsed.to_string(), s);
                let out = parsed.derive_output(5, Network::Regtest).unwrap();
                let expected =
                    keys::derive_output(address_type, Network::Regtest, &account, chain, 5)
                        .unwrap();
                assert_eq!(out, expected);
                let a = out.address.to_string();
                let ok = match address_type {
                    AddressType::P2pkh => a.starts_with('m') || a.starts_with('n'),
                    AddressType::P2shP2wpkh => a.starts_with('2'),
                    AddressType::P2wpkh => a.starts_with("bcrt1q"),
                    AddressType::P2tr => a.starts_with("bcrt1p"),
                };
                assert!(ok, "{address_type}: {a}");
            }
        }
    }

    #[test]
    fn rejects_bad_key_expressions() {
        let xpub = "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL";
        let pk = "0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600";
        for bad in [
            format!("wpkh([deadbeef/0h/0h/0h/*]{pk})"),
            format!("wpkh([deadbeef/0h/0h/0h/]{pk})"),
            format!("wpkh([deadbef/0h/0h/0h]{pk})"),
            format!("wpkh([deadbeeef/0h/0h/0h]{pk})"),
            format!("wpkh([deadbeef/0f/0f/0f]{pk})"),
            format!("wpkh([deadbeef/0H/0H/0H]{pk})"),
            format!("wpkh([deadbeef/-0/-0/-0]{pk})"),
            format!("wpkh([aaaaaaaa][aaaaaaaa]{xpub}/0)"),
            format!("wpkh(aaaaaaaa]{xpub}/0)"),
            format!("wpkh([gaaaaaaa]{xpub}/0)"),
            "wpkh([deadbeef])".to_owned(),
            format!("wpkh({xpub}/2147483648)"),
            format!("wpkh({xpub}/1aa)"),
            format!("wpkh({xpub}/1h/*)"),
            format!("wpkh({xpub}/*/1)"),
            format!("wpkh({pk}/0)"),
            format!("wsh(pkh({pk}))"),
            format!("tr({pk},pk({pk}))"),
        ] {
            assert!(bad.parse::<Descriptor>().is_err(), "{bad} parsed");
        }
        // BIP-0380's valid key expressions that are watch-only.
        for good in [
            format!("wpkh({pk})"),
            format!("wpkh([deadbeef/0h/0h/0h]{pk})"),
            format!("wpkh([deadbeef/0'/0h/0']{pk})"),
            format!("wpkh({xpub})"),
            format!("wpkh([deadbeef/0h/1h/2h]{xpub}/3/4/5/*)"),
        ] {
            assert!(good.parse::<Descriptor>().is_ok(), "{good} refused");
        }
    }
}
