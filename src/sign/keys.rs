//! Where the transaction signer finds secret keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use k256::SecretKey;
use k256::{ecdsa, schnorr};

use crate::hashes::hash160;
use crate::script::ScriptBuf;
use crate::script::taproot::tweak_secret_key;

/// What the signer knows about the key it needs: what the spent output (or a PSBT field)
/// reveals of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRequest {
    /// The key with this compressed (33-byte SEC1) public key.
    Pubkey([u8; 33]),
    /// The key whose compressed public key has this HASH160 (P2PKH, P2WPKH).
    PubkeyHash([u8; 20]),
    /// The key whose P2SH-P2WPKH redeemScript `OP_0 <HASH160(pubkey)>` has this HASH160.
    NestedWpkhScriptHash([u8; 20]),
    /// The key with this BIP-0340 x-only public key.
    XOnly([u8; 32]),
    /// The *internal* key of a BIP-0086 output with this output key (the internal key
    /// tweaked with no script tree); the signer applies the tweak itself.
    Bip86OutputKey([u8; 32]),
}

/// A source of secret keys (cf. rust-bitcoin's `GetKey`): a wallet, a keystore, a
/// hardware-backed lookup.
///
/// Answers `None` for keys it does not hold; the signer checks every answer against the
/// spent output, so a wrong key fails cleanly instead of producing a bad signature.
pub trait GetKey {
    /// Returns the secret key that `request` describes, if held.
    fn get_key(&self, request: &KeyRequest) -> Option<SecretKey>;

    /// Returns the key with its public parts already computed.
    ///
    /// The default derives them on every call (two or three curve multiplications); a
    /// source that signs often, like [`KeyStore`], keeps them so that signing costs about
    /// one signature per input.
    fn get_prepared_key(&self, request: &KeyRequest) -> Option<Cow<'_, PreparedKey>> {
        self.get_key(request)
            .map(|k| Cow::Owned(PreparedKey::new(&k)))
    }
}

/// A secret key with what signing needs of it computed once: the ECDSA signing key (which
/// carries its public key), the compressed public key and its HASH160, and the BIP-0086
/// output signing key (the key tweaked with no script tree).
///
/// `Debug` shows only the public key hash.
#[derive(Clone)]
pub struct PreparedKey {
    ecdsa: ecdsa::SigningKey,
    compressed: [u8; 33],
    pubkey_hash: [u8; 20],
    /// `None` only if the tweak is out of range (probability ~2^-128).
    bip86: Option<schnorr::SigningKey>,
}

impl PreparedKey {
    /// Computes the public parts of `secret`.
    pub fn new(secret: &SecretKey) -> Self {
        let ecdsa = ecdsa::SigningKey::from(secret);
        let compressed: [u8; 33] = ecdsa
            .verifying_key()
            .to_sec1_bytes()
            .as_ref()
            .try_into()
            .expect("a compressed SEC1 key is 33 bytes");
        let bip86 = tweak_secret_key(&secret.to_nonzero_scalar(), None).ok();
        Self {
            pubkey_hash: hash160(&compressed),
            ecdsa,
            compressed,
            bip86,
        }
    }

    /// Returns the ECDSA signing key.
    pub fn ecdsa(&self) -> &ecdsa::SigningKey {
        &self.ecdsa
    }

    /// Returns the compressed (33-byte SEC1) public key.
    pub fn compressed_pubkey(&self) -> &[u8; 33] {
        &self.compressed
    }

    /// Returns HASH160 of the compressed public key.
    pub fn pubkey_hash(&self) -> &[u8; 20] {
        &self.pubkey_hash
    }

    /// Returns the x-only public key (BIP-0340) of the untweaked key.
    pub fn x_only(&self) -> [u8; 32] {
        self.compressed[1..].try_into().expect("33 - 1 = 32 bytes")
    }

    /// Returns the key that signs for this key's BIP-0086 output.
    pub fn bip86_signing_key(&self) -> Option<&schnorr::SigningKey> {
        self.bip86.as_ref()
    }

    /// Returns the BIP-0086 output key (x-only).
    pub fn bip86_output_key(&self) -> Option<[u8; 32]> {
        self.bip86
            .as_ref()
            .map(|k| k.verifying_key().to_bytes().into())
    }
}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PreparedKey(pkh {})", hex::encode(self.pubkey_hash))
    }
}

/// A set of secret keys, indexed under every [`KeyRequest`] that can name them.
///
/// `Debug` shows only how many keys it holds.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: Vec<(SecretKey, PreparedKey)>,
    index: HashMap<KeyRequest, usize>,
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key under all the requests that name it, computing its public parts once.
    pub fn insert(&mut self, key: SecretKey) {
        let n = self.keys.len();
        let prepared = PreparedKey::new(&key);
        let pkh = *prepared.pubkey_hash();
        self.index
            .insert(KeyRequest::Pubkey(*prepared.compressed_pubkey()), n);
        self.index.insert(KeyRequest::PubkeyHash(pkh), n);
        let nested = hash160(ScriptBuf::new_p2wpkh(&pkh).as_bytes());
        self.index
            .insert(KeyRequest::NestedWpkhScriptHash(nested), n);
        self.index.insert(KeyRequest::XOnly(prepared.x_only()), n);
        if let Some(output_key) = prepared.bip86_output_key() {
            self.index.insert(KeyRequest::Bip86OutputKey(output_key), n);
        }
        self.keys.push((key, prepared));
    }

    /// Returns the number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Returns true if the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl FromIterator<SecretKey> for KeyStore {
    fn from_iter<I: IntoIterator<Item = SecretKey>>(iter: I) -> Self {
        let mut store = Self::new();
        iter.into_iter().for_each(|k| store.insert(k));
        store
    }
}

impl GetKey for KeyStore {
    fn get_key(&self, request: &KeyRequest) -> Option<SecretKey> {
        self.index.get(request).map(|&i| self.keys[i].0.clone())
    }

    fn get_prepared_key(&self, request: &KeyRequest) -> Option<Cow<'_, PreparedKey>> {
        self.index
            .get(request)
            .map(|&i| Cow::Borrowed(&self.keys[i].1))
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyStore({} keys)", self.keys.len())
    }
}
