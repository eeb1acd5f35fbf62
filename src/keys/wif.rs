//! Wallet Import Format: a single private key as base58check of
//! `prefix || secret (32 bytes) || [0x01 if its public key is compressed]`.

use std::fmt;

use k256::{PublicKey, SecretKey};
use zeroize::{Zeroize, Zeroizing};

use super::bip32::compressed;
use crate::network::Network;
use crate::script::base58;

/// Why a string is not a WIF private key for the network asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WifError {
    /// Bad base58 characters or checksum.
    #[error("not a WIF private key: invalid base58check")]
    Base58,
    /// Payload of the wrong length or with a bad compression marker.
    #[error("not a WIF private key: {0}")]
    Format(&'static str),
    /// The secret is zero or not below the curve order.
    #[error("WIF private key out of range")]
    OutOfRange,
    /// The prefix belongs to other networks.
    #[error("WIF prefix {prefix} is for {found}, not {expected}")]
    WrongNetwork {
        /// The prefix byte found.
        prefix: u8,
        /// The networks using it, e.g. "testnet/testnet4/signet/regtest", or "no network".
        found: String,
        /// The network asked for.
        expected: Network,
    },
}

/// A single private key with its WIF flags. Erased on drop; `Debug` does not show the
/// secret and there is no `Display` (use [`PrivateKey::to_wif`] on purpose).
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    secret: SecretKey,
    compressed: bool,
    network: Network,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("compressed", &self.compressed)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Wraps a secret key.
    pub fn new(secret: SecretKey, compressed: bool, network: Network) -> Self {
        Self {
            secret,
            compressed,
            network,
        }
    }

    /// Decodes a WIF string for `network`. Networks sharing a prefix (testnet, testnet4,
    /// signet and regtest all use 239) accept each other's keys, as Bitcoin Core does.
    ///
    /// # Errors
    /// [`WifError`] for bad encoding, an out-of-range secret or another network's prefix.
    pub fn from_wif(s: &str, network: Network) -> Result<Self, WifError> {
        let data = Zeroizing::new(base58::decode_check(s).map_err(|_| WifError::Base58)?);
        let compressed = match data.len() {
            33 => false,
            34 if data[33] == 1 => true,
            34 => return Err(WifError::Format("compression marker is not 0x01")),
            _ => return Err(WifError::Format("payload is not 33 or 34 bytes")),
        };
        let prefix = data[0];
        if prefix != network.params().wif_prefix {
            let found: Vec<&str> = Network::ALL
                .into_iter()
                .filter(|n| n.params().wif_prefix == prefix)
                .map(Network::name)
                .collect();
            return Err(WifError::WrongNetwork {
                prefix,
                found: if found.is_empty() {
                    "no network".to_owned()
                } else {
                    found.join("/")
                },
                expected: network,
            });
        }
        let secret = SecretKey::from_slice(&data[1..33]).map_err(|_| WifError::OutOfRange)?;
        Ok(Self {
            secret,
            compressed,
            network,
        })
    }

    /// Returns the WIF encoding.
    pub fn to_wif(&self) -> Zeroizing<String> {
        let mut data = Zeroizing::new(Vec::with_capacity(34));
        data.push(self.network.params().wif_prefix);
        let mut k = self.secret.to_bytes();
        data.extend_from_slice(&k);
        k.as_mut_slice().zeroize();
        if self.compressed {
            data.push(1);
        }
        Zeroizing::new(base58::encode_check(&data))
    }

    /// Returns the secret key.
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// Returns the 32-byte secret.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut k = self.secret.to_bytes();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&k);
        k.as_mut_slice().zeroize();
        out
    }

    /// Returns true if the key's public key is used compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Returns the network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Returns the public key.
    pub fn public_key(&self) -> PublicKey {
        self.secret.public_key()
    }

    /// Returns the serialized public key: 33 bytes if compressed, else 65.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        let pk = self.public_key();
        if self.compressed {
            compressed(&pk).to_vec()
        } else {
            use k256::elliptic_curve::sec1::ToSec1Point;
            pk.to_sec1_point(false).as_bytes().to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides() {
        let s = "KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d";
        let k = PrivateKey::from_wif(s, Network::Bitcoin).unwrap();
        assert!(k.compressed());
        assert_eq!(k.to_wif().as_str(), s);
        assert!(!format!("{k:?}").contains(&hex::encode(*k.to_bytes())));
        let e = PrivateKey::from_wif(s, Network::Signet).unwrap_err();
        assert!(e.to_string().contains("bitcoin/qtum"), "{e}");
    }
}
