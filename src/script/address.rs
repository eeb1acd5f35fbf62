//! Addresses: base58check P2PKH/P2SH and bech32/bech32m segwit (BIP-0173, BIP-0350),
//! parsed against one network so a wrong-network address is refused by name.

use std::fmt;
use std::str::FromStr;

use bech32::{Fe32, Hrp};

use super::{ScriptBuf, base58};
use crate::network::Network;

/// What an address pays to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payload {
    /// P2PKH: HASH160 of a public key.
    PubkeyHash([u8; 20]),
    /// P2SH: HASH160 of a redeem script.
    ScriptHash([u8; 20]),
    /// A segwit output: version 0–16 and its program.
    WitnessProgram {
        /// Witness version.
        version: u8,
        /// Witness program (2–40 bytes).
        program: Vec<u8>,
    },
}

impl Payload {
    /// Returns the scriptPubKey this payload locks to.
    pub fn script_pubkey(&self) -> ScriptBuf {
        match self {
            Payload::PubkeyHash(h) => ScriptBuf::new_p2pkh(h),
            Payload::ScriptHash(h) => ScriptBuf::new_p2sh(h),
            Payload::WitnessProgram { version, program } => {
                ScriptBuf::new_witness_program(*version, program)
            }
        }
    }

    /// Returns the payload of a scriptPubKey that has an address form.
    pub fn from_script(script: &ScriptBuf) -> Option<Payload> {
        let b = script.as_bytes();
        if script.is_p2pkh() {
            Some(Payload::PubkeyHash(b[3..23].try_into().ok()?))
        } else if script.is_p2sh() {
            Some(Payload::ScriptHash(b[2..22].try_into().ok()?))
        } else {
            let (version, program) = script.witness_program()?;
            let valid_len = match version {
                0 => program.len() == 20 || program.len() == 32,
                _ => (2..=40).contains(&program.len()),
            };
            valid_len.then(|| Payload::WitnessProgram {
                version,
                program: program.to_vec(),
            })
        }
    }
}

/// An address for one network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    payload: Payload,
    network: Network,
}

/// Why a string is not an address for the network asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The address is valid, but for other networks.
    #[error("{address} is a {found} address, but this wallet is on {expected}")]
    WrongNetwork {
        /// The address as given.
        address: String,
        /// The network asked for.
        expected: Network,
        /// The networks it belongs to, e.g. "testnet/signet".
        found: String,
    },
    /// Neither base58check nor bech32/bech32m decode it.
    #[error("{address:?} is not a valid address: {reason}")]
    Invalid {
        /// The address as given.
        address: String,
        /// What is wrong.
        reason: String,
    },
}

impl Address {
    /// Creates the address of `payload` on `network`.
    pub fn new(payload: Payload, network: Network) -> Self {
        Self { payload, network }
    }

    /// Returns the address of a scriptPubKey, if it has one.
    pub fn from_script(script: &ScriptBuf, network: Network) -> Option<Self> {
        Payload::from_script(script).map(|payload| Self { payload, network })
    }

    /// Parses `s` as an address of `network`.
    ///
    /// # Errors
    /// [`AddressError::WrongNetwork`] naming the network the address belongs to, or
    /// [`AddressError::Invalid`] with the decoding problem.
    pub fn parse(s: &str, network: Network) -> Result<Self, AddressError> {
        let payload = match decode_any(s)? {
            Decoded::Segwit { hrp, payload } => {
                if !hrp.eq_ignore_ascii_case(network.params().bech32_hrp) {
                    return Err(wrong_network(s, network, |n| {
                        n.params().bech32_hrp.eq_ignore_ascii_case(&hrp)
                    }));
                }
                payload
            }
            Decoded::Base58 { version, hash } => {
                let p = network.params();
                if version == p.p2pkh_prefix {
                    Payload::PubkeyHash(hash)
                } else if version == p.p2sh_prefix {
                    Payload::ScriptHash(hash)
                } else {
                    return Err(wrong_network(s, network, |n| {
                        n.params().p2pkh_prefix == version || n.params().p2sh_prefix == version
                    }));
                }
            }
        };
        Ok(Self { payload, network })
    }

    /// Returns what the address pays to.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Returns the network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Returns the scriptPubKey.
    pub fn script_pubkey(&self) -> ScriptBuf {
        self.payload.script_pubkey()
    }
}

enum Decoded {
    Segwit { hrp: String, payload: Payload },
    Base58 { version: u8, hash: [u8; 20] },
}

fn invalid(s: &str, reason: impl fmt::Display) -> AddressError {
    AddressError::Invalid {
        address: s.to_owned(),
        reason: reason.to_string(),
    }
}

fn wrong_network(s: &str, expected: Network, belongs: impl Fn(Network) -> bool) -> AddressError {
    let found: Vec<&str> = Network::ALL
        .into_iter()
        .filter(|n| belongs(*n))
        .map(Network::name)
        .collect();
    if found.is_empty() {
        return invalid(s, "its prefix belongs to no network ferry knows");
    }
    AddressError::WrongNetwork {
        address: s.to_owned(),
        expected,
        found: found.join("/"),
    }
}

fn decode_any(s: &str) -> Result<Decoded, AddressError> {
    let known_hrp = s.rfind('1').is_some_and(|sep| {
        let hrp = &s[..sep];
        Network::ALL
            .iter()
            .any(|n| n.params().bech32_hrp.eq_ignore_ascii_case(hrp))
    });
    if known_hrp {
        let (hrp, version, program) = bech32::segwit::decode(s).map_err(|e| invalid(s, e))?;
        return Ok(Decoded::Segwit {
            hrp: hrp.to_lowercase(),
            payload: Payload::WitnessProgram {
                version: version.to_u8(),
                program,
            },
        });
    }
    let data = base58::decode_check(s).map_err(|e| invalid(s, e))?;
    if data.len() != 21 {
        return Err(invalid(
            s,
            format!("base58 payload is {} bytes, not 21", data.len()),
        ));
    }
    let mut hash = [0u8; 20];
    hash.copy_from_slice(&data[1..]);
    Ok(Decoded::Base58 {
        version: data[0],
        hash,
    })
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.network.params();
        match &self.payload {
            Payload::PubkeyHash(h) | Payload::ScriptHash(h) => {
                let version = if matches!(self.payload, Payload::PubkeyHash(_)) {
                    p.p2pkh_prefix
                } else {
                    p.p2sh_prefix
                };
                let mut data = Vec::with_capacity(21);
                data.push(version);
                data.extend_from_slice(h);
                f.write_str(&base58::encode_check(&data))
            }
            Payload::WitnessProgram { version, program } => {
                let hrp = Hrp::parse(p.bech32_hrp).map_err(|_| fmt::Error)?;
                let version = Fe32::try_from(*version).map_err(|_| fmt::Error)?;
                let s = bech32::segwit::encode(hrp, version, program).map_err(|_| fmt::Error)?;
                f.write_str(&s)
            }
        }
    }
}

/// The kinds of single-key outputs a ferry wallet receives to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressType {
    /// Legacy pay-to-pubkey-hash (BIP-0044).
    P2pkh,
    /// Nested segwit, P2WPKH inside P2SH (BIP-0049).
    P2shP2wpkh,
    /// Native segwit v0 (BIP-0084).
    P2wpkh,
    /// Taproot key path (BIP-0086).
    P2tr,
}

impl AddressType {
    /// Every type, in a stable order.
    pub const ALL: [AddressType; 4] = [
        AddressType::P2pkh,
        AddressType::P2shP2wpkh,
        AddressType::P2wpkh,
        AddressType::P2tr,
    ];

    /// Returns the name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            AddressType::P2pkh => "p2pkh",
            AddressType::P2shP2wpkh => "p2sh-p2wpkh",
            AddressType::P2wpkh => "p2wpkh",
            AddressType::P2tr => "p2tr",
        }
    }

    /// Returns the BIP-0044-style purpose of its derivation path (44, 49, 84, 86).
    pub const fn purpose(self) -> u32 {
        match self {
            AddressType::P2pkh => 44,
            AddressType::P2shP2wpkh => 49,
            AddressType::P2wpkh => 84,
            AddressType::P2tr => 86,
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An address type name ferry does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown address type {0:?}: use p2wpkh, p2tr, p2sh-p2wpkh or p2pkh")]
pub struct ParseAddressTypeError(pub String);

impl FromStr for AddressType {
    type Err = ParseAddressTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AddressType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseAddressTypeError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_wrong_network_by_name() {
        let a = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
        assert!(Address::parse(a, Network::Bitcoin).is_ok());
        let e = Address::parse(a, Network::Testnet).unwrap_err();
        assert!(e.to_string().contains("bitcoin"), "{e}");
        let legacy = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2";
        let e = Address::parse(legacy, Network::Regtest).unwrap_err();
        assert!(matches!(e, AddressError::WrongNetwork { .. }), "{e}");
    }

    #[test]
    fn round_trips_uppercase_bech32() {
        let a = Address::parse(
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            Network::Bitcoin,
        )
        .unwrap();
        assert_eq!(a.to_string(), "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    }
}
