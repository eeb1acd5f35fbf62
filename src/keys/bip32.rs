//! BIP-0032 hierarchical deterministic keys on secp256k1 (k256): master key from a seed,
//! private and public child derivation, fingerprints and the 78-byte base58check
//! serialization (with SLIP-0132 versions accepted on import).

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::sec1::ToSec1Point;
use k256::{NonZeroScalar, ProjectivePoint, PublicKey, Scalar, SecretKey};
use sha2::Sha512;
use zeroize::{Zeroize, Zeroizing};

use super::path::{ChildNumber, DerivationPath};
use super::slip132;
use crate::hashes::hash160;
use crate::network::Network;
use crate::script::AddressType;
use crate::script::base58;

mod error;

pub use error::Bip32Error;

/// The first four bytes of HASH160 of a compressed public key, naming a parent key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 4]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Bip32Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 4];
        hex::decode_to_slice(s, &mut b)
            .map_err(|_| Bip32Error::InvalidFingerprint(s.to_owned()))?;
        Ok(Self(b))
    }
}

type HmacSha512 = Hmac<Sha512>;

fn hmac_sha512(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 64]> {
    let mut mac =
        <HmacSha512 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    let mut out = mac.finalize().into_bytes();
    let mut i = Zeroizing::new([0u8; 64]);
    i.copy_from_slice(&out);
    out.as_mut_slice().zeroize();
    i
}

/// Splits HMAC output into the tweak scalar (I_L) and chain code (I_R), refusing I_L >= n.
fn split(i: &[u8; 64], index: u32) -> Result<(Scalar, [u8; 32]), Bip32Error> {
    let mut il = [0u8; 32];
    il.copy_from_slice(&i[..32]);
    let t = Option::<Scalar>::from(Scalar::from_repr(il.into()));
    il.zeroize();
    let mut chain_code = [0u8; 32];
    chain_code.copy_from_slice(&i[32..]);
    Ok((t.ok_or(Bip32Error::InvalidChild(index))?, chain_code))
}

/// Returns the 33-byte compressed SEC1 encoding of a public key.
pub fn compressed(pk: &PublicKey) -> [u8; 33] {
    let point = pk.to_sec1_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

fn fingerprint_of(pk: &PublicKey) -> Fingerprint {
    let h = hash160(&compressed(pk));
    Fingerprint([h[0], h[1], h[2], h[3]])
}

/// The fields every extended key serializes, public or private.
#[derive(Clone, PartialEq, Eq)]
struct Header {
    network: Network,
    depth: u8,
    parent_fingerprint: Fingerprint,
    child_number: ChildNumber,
    chain_code: [u8; 32],
}

impl Drop for Header {
    fn drop(&mut self) {
        self.chain_code.zeroize();
    }
}

impl Header {
    fn serialize(&self, version: [u8; 4], key: &[u8; 33]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(78));
        out.extend_from_slice(&version);
        out.push(self.depth);
        out.extend_from_slice(&self.parent_fingerprint.0);
        out.extend_from_slice(&self.child_number.to_u32().to_be_bytes());
        out.extend_from_slice(&self.chain_code);
        out.extend_from_slice(key);
        out
    }

    fn child(&self, parent: &PublicKey, child_number: ChildNumber, chain_code: [u8; 32]) -> Self {
        Header {
            network: self.network,
            depth: self.depth.saturating_add(1),
            parent_fingerprint: fingerprint_of(parent),
            child_number,
            chain_code,
        }
    }
}

/// A decoded 78-byte extended key before its key data is interpreted.
struct Decoded {
    header: Header,
    version: &'static slip132::KeyVersion,
    key: Zeroizing<[u8; 33]>,
}

fn decode(s: &str, want_private: bool) -> Result<Decoded, Bip32Error> {
    let data =
        Zeroizing::new(base58::decode_check(s).map_err(|e| Bip32Error::Base58(e.to_string()))?);
    if data.len() != 78 {
        return Err(Bip32Error::Length(data.len()));
    }
    let version_bytes: [u8; 4] = data[0..4].try_into().expect("slice of 4");
    let version = slip132::lookup(version_bytes)
        .ok_or_else(|| Bip32Error::UnknownVersion(hex::encode(version_bytes)))?;
    if version.private != want_private {
        let kind = |p: bool| if p { "private" } else { "public" };
        return Err(Bip32Error::WrongKind {
            expected: kind(want_private),
            found: kind(version.private),
            prefix: version.prefix,
        });
    }
    let depth = data[4];
    let parent_fingerprint = Fingerprint(data[5..9].try_into().expect("slice of 4"));
    let child = u32::from_be_bytes(data[9..13].try_into().expect("slice of 4"));
    if depth == 0 && parent_fingerprint != Fingerprint::default() {
        return Err(Bip32Error::ZeroDepthParent(parent_fingerprint));
    }
    if depth == 0 && child != 0 {
        return Err(Bip32Error::ZeroDepthChild(child));
    }
    let mut chain_code = [0u8; 32];
    chain_code.copy_from_slice(&data[13..45]);
    let mut key = Zeroizing::new([0u8; 33]);
    key.copy_from_slice(&data[45..78]);
    Ok(Decoded {
        header: Header {
            network: if version.mainnet {
                Network::Bitcoin
            } else {
                Network::Testnet
            },
            depth,
            parent_fingerprint,
            child_number: ChildNumber::from_u32(child),
            chain_code,
        },
        version,
        key,
    })
}

/// Checks that `network` uses the same extended key versions as the key's own network.
fn check_network(header: &mut Header, network: Network, prefix: String) -> Result<(), Bip32Error> {
    if network.params().xpub_version != header.network.params().xpub_version {
        return Err(Bip32Error::WrongNetwork {
            prefix,
            found: if header.network.is_mainnet() {
                "mainnet"
            } else {
                "testnet"
            },
            expected: network,
        });
    }
    header.network = network;
    Ok(())
}

/// An extended private key. Its secret and chain code are erased on drop; `Debug` shows
/// neither, and it has no `Display` (use [`Xpriv::to_base58`] on purpose).
#[derive(Clone, PartialEq, Eq)]
pub struct Xpriv {
    header: Header,
    secret: SecretKey,
}

impl fmt::Debug for Xpriv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xpriv")
            .field("network", &self.header.network)
            .field("depth", &self.header.depth)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Xpriv {
    /// Returns the master key of a BIP-0039 (or any 16–64 byte) seed.
    ///
    /// # Errors
    /// [`Bip32Error::SeedLength`], or [`Bip32Error::InvalidChild`] for a seed whose HMAC is
    /// not a valid key (probability below 2^-127).
    pub fn new_master(seed: &[u8], network: Network) -> Result<Self, Bip32Error> {
        if !(16..=64).contains(&seed.len()) {
            return Err(Bip32Error::SeedLength(seed.len()));
        }
        let i = hmac_sha512(b"Bitcoin seed", seed);
        let secret = SecretKey::from_slice(&i[..32]).map_err(|_| Bip32Error::InvalidChild(0))?;
        let mut chain_code = [0u8; 32];
        chain_code.copy_from_slice(&i[32..]);
        Ok(Self {
            header: Header {
                network,
                depth: 0,
                parent_fingerprint: Fingerprint::default(),
                child_number: ChildNumber::Normal(0),
                chain_code,
            },
            secret,
        })
    }

    /// Returns the child key `child` (CKDpriv).
    ///
    /// # Errors
    /// [`Bip32Error::InvalidChild`] with probability below 2^-127.
    pub fn derive_child(&self, child: ChildNumber) -> Result<Self, Bip32Error> {
        let parent_pk = self.secret.public_key();
        let mut data = Zeroizing::new([0u8; 37]);
        if child.is_hardened() {
            let mut k = self.secret.to_bytes();
            data[1..33].copy_from_slice(&k);
            k.as_mut_slice().zeroize();
        } else {
            data[..33].copy_from_slice(&compressed(&parent_pk));
        }
        data[33..].copy_from_slice(&child.to_u32().to_be_bytes());
        let i = hmac_sha512(&self.header.chain_code, &data[..]);
        let (t, chain_code) = split(&i, child.to_u32())?;
        let k = self.secret.to_nonzero_scalar();
        let sum = Option::<NonZeroScalar>::from(NonZeroScalar::new(*k.as_ref() + t))
            .ok_or(Bip32Error::InvalidChild(child.to_u32()))?;
        Ok(Self {
            header: self.header.child(&parent_pk, child, chain_code),
            secret: SecretKey::from(sum),
        })
    }

    /// Returns the key at `path` below this one.
    ///
    /// # Errors
    /// [`Bip32Error::InvalidChild`] with probability below 2^-127 per step.
    pub fn derive_priv(&self, path: &DerivationPath) -> Result<Self, Bip32Error> {
        let mut key = self.clone();
        for child in path {
            key = key.derive_child(*child)?;
        }
        Ok(key)
    }

    /// Returns the network whose version bytes the key serializes with.
    pub fn network(&self) -> Network {
        self.header.network
    }

    /// Returns the key for another network that shares its version bytes (e.g. testnet →
    /// signet).
    ///
    /// # Errors
    /// [`Bip32Error::WrongNetwork`] if mainnet and testnet are mixed.
    pub fn with_network(mut self, network: Network) -> Result<Self, Bip32Error> {
        let prefix = self.prefix().to_owned();
        check_network(&mut self.header, network, prefix)?;
        Ok(self)
    }

    fn prefix(&self) -> &'static str {
        if self.header.network.params().xprv_version == [0x04, 0x88, 0xad, 0xe4] {
            "xprv"
        } else {
            "tprv"
        }
    }

    /// Returns the depth (0 for a master key).
    pub fn depth(&self) -> u8 {
        self.header.depth
    }

    /// Returns the parent's fingerprint (zero for a master key).
    pub fn parent_fingerprint(&self) -> Fingerprint {
        self.header.parent_fingerprint
    }

    /// Returns the child number this key was derived at.
    pub fn child_number(&self) -> ChildNumber {
        self.header.child_number
    }

    /// Returns the secret key.
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// Returns the public key.
    pub fn public_key(&self) -> PublicKey {
        self.secret.public_key()
    }

    /// Returns this key's fingerprint (of its public key).
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(&self.public_key())
    }

    /// Returns the base58check serialization with the network's `xprv`/`tprv` version.
    pub fn to_base58(&self) -> Zeroizing<String> {
        let mut key = Zeroizing::new([0u8; 33]);
        let mut k = self.secret.to_bytes();
        key[1..].copy_from_slice(&k);
        k.as_mut_slice().zeroize();
        let data = self
            .header
            .serialize(self.header.network.params().xprv_version, &key);
        Zeroizing::new(base58::encode_check(&data))
    }

    /// Parses any known private version (xprv, yprv, zprv, tprv, uprv, vprv) and returns the
    /// address type a SLIP-0132 version implies. The network is Bitcoin or Testnet; see
    /// [`Xpriv::with_network`].
    ///
    /// # Errors
    /// [`Bip32Error`] naming what is wrong (every BIP-0032 "test vector 5" case).
    pub fn parse_slip132(s: &str) -> Result<(Self, Option<AddressType>), Bip32Error> {
        let d = decode(s, true)?;
        if d.key[0] != 0 {
            return Err(Bip32Error::InvalidPrivateKey(
                "key data does not start with 0x00",
            ));
        }
        let secret = SecretKey::from_slice(&d.key[1..])
            .map_err(|_| Bip32Error::InvalidPrivateKey("not in 1..n-1"))?;
        Ok((
            Self {
                header: d.header,
                secret,
            },
            d.version.address_type,
        ))
    }
}

/// Parses any known private version; see [`Xpriv::parse_slip132`].
impl FromStr for Xpriv {
    type Err = Bip32Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_slip132(s).map(|(k, _)| k)
    }
}

/// An extended public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Xpub {
    header: Header,
    public_key: PublicKey,
}

impl fmt::Debug for Xpub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Xpub({self})")
    }
}

impl Xpub {
    /// Returns the public half of an extended private key (`N(xprv)`).
    pub fn from_priv(xpriv: &Xpriv) -> Self {
        Self {
            header: xpriv.header.clone(),
            public_key: xpriv.public_key(),
        }
    }

    /// Returns the normal child `child` (CKDpub).
    ///
    /// # Errors
    /// [`Bip32Error::HardenedFromPublic`] for a hardened child, [`Bip32Error::InvalidChild`]
    /// with probability below 2^-127.
    pub fn derive_child(&self, child: ChildNumber) -> Result<Self, Bip32Error> {
        if child.is_hardened() {
            return Err(Bip32Error::HardenedFromPublic(child));
        }
        let mut data = [0u8; 37];
        data[..33].copy_from_slice(&compressed(&self.public_key));
        data[33..].copy_from_slice(&child.to_u32().to_be_bytes());
        let i = hmac_sha512(&self.header.chain_code, &data);
        let (t, chain_code) = split(&i, child.to_u32())?;
        let point = ProjectivePoint::GENERATOR * t + self.public_key.to_projective();
        let public_key = PublicKey::from_affine(point.to_affine())
            .map_err(|_| Bip32Error::InvalidChild(child.to_u32()))?;
        Ok(Self {
            header: self.header.child(&self.public_key, child, chain_code),
            public_key,
        })
    }

    /// Returns the key at `path` below this one (normal steps only).
    ///
    /// # Errors
    /// [`Bip32Error::HardenedFromPublic`] if the path has a hardened step.
    pub fn derive_pub(&self, path: &DerivationPath) -> Result<Self, Bip32Error> {
        if let Some(h) = path.as_slice().iter().find(|c| c.is_hardened()) {
            return Err(Bip32Error::HardenedFromPublic(*h));
        }
        let mut key = self.clone();
        for child in path {
            key = key.derive_child(*child)?;
        }
        Ok(key)
    }

    /// Returns the network whose version bytes the key serializes with.
    pub fn network(&self) -> Network {
        self.header.network
    }

    /// Returns the key for another network that shares its version bytes.
    ///
    /// # Errors
    /// [`Bip32Error::WrongNetwork`] if mainnet and testnet are mixed.
    pub fn with_network(mut self, network: Network) -> Result<Self, Bip32Error> {
        let prefix = self.to_string()[..4].to_owned();
        check_network(&mut self.header, network, prefix)?;
        Ok(self)
    }

    /// Returns the depth (0 for a master key).
    pub fn depth(&self) -> u8 {
        self.header.depth
    }

    /// Returns the parent's fingerprint (zero for a master key).
    pub fn parent_fingerprint(&self) -> Fingerprint {
        self.header.parent_fingerprint
    }

    /// Returns the child number this key was derived at.
    pub fn child_number(&self) -> ChildNumber {
        self.header.child_number
    }

    /// Returns the chain code.
    pub fn chain_code(&self) -> &[u8; 32] {
        &self.header.chain_code
    }

    /// Returns the public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Returns the 33-byte compressed public key.
    pub fn to_compressed(&self) -> [u8; 33] {
        compressed(&self.public_key)
    }

    /// Returns the 32-byte x-only public key (BIP-0340).
    pub fn to_x_only(&self) -> [u8; 32] {
        let c = self.to_compressed();
        c[1..].try_into().expect("33 - 1 = 32")
    }

    /// Returns this key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(&self.public_key)
    }

    /// Parses any known public version (xpub, ypub, zpub, tpub, upub, vpub) and returns the
    /// address type a SLIP-0132 version implies. The network is Bitcoin or Testnet; see
    /// [`Xpub::with_network`].
    ///
    /// # Errors
    /// [`Bip32Error`] naming what is wrong (every BIP-0032 "test vector 5" case).
    pub fn parse_slip132(s: &str) -> Result<(Self, Option<AddressType>), Bip32Error> {
        let d = decode(s, false)?;
        if d.key[0] != 2 && d.key[0] != 3 {
            return Err(Bip32Error::InvalidPublicKey(hex::encode(*d.key)));
        }
        let public_key = PublicKey::from_sec1_bytes(&d.key[..])
            .map_err(|_| Bip32Error::InvalidPublicKey(hex::encode(*d.key)))?;
        Ok((
            Self {
                header: d.header,
                public_key,
            },
            d.version.address_type,
        ))
    }
}

/// Shows the base58check form with the network's `xpub`/`tpub` version.
impl fmt::Display for Xpub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.header.serialize(
            self.header.network.params().xpub_version,
            &self.to_compressed(),
        );
        f.write_str(&base58::encode_check(&data))
    }
}

/// Parses any known public version; see [`Xpub::parse_slip132`].
impl FromStr for Xpub {
    type Err = Bip32Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_slip132(s).map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let k = Xpriv::new_master(&[7u8; 32], Network::Bitcoin).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&k.to_base58()[4..20]), "{dbg}");
        assert!(!dbg.contains(&hex::encode(k.secret_key().to_bytes())));
    }

    #[test]
    fn networks_share_versions() {
        let k = Xpriv::new_master(&[7u8; 32], Network::Testnet).unwrap();
        let x = Xpub::from_priv(&k);
        assert!(x.to_string().starts_with("tpub"));
        let s = x.clone().with_network(Network::Regtest).unwrap();
        assert_eq!(s.to_string(), x.to_string());
        assert!(x.with_network(Network::Bitcoin).is_err());
    }
}
