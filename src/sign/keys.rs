//! Where the transaction signer finds secret keys.

use std::collections::HashMap;
use std::fmt;

use k256::SecretKey;

use crate::hashes::hash160;
use crate::script::ScriptBuf;
use crate::script::taproot::tweak_public_key;

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
}

/// A set of secret keys, indexed under every [`KeyRequest`] that can name them.
///
/// `Debug` shows only how many keys it holds.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: Vec<SecretKey>,
    index: HashMap<KeyRequest, usize>,
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key under all the requests that name it.
    pub fn insert(&mut self, key: SecretKey) {
        let n = self.keys.len();
        let compressed: [u8; 33] = key
            .public_key()
            .to_sec1_bytes()
            .as_ref()
            .try_into()
            .expect("a compressed SEC1 key is 33 bytes");
        let pkh = hash160(&compressed);
        let xonly: [u8; 32] = compressed[1..].try_into().expect("33 - 1 = 32 bytes");
        self.index.insert(KeyRequest::Pubkey(compressed), n);
        self.index.insert(KeyRequest::PubkeyHash(pkh), n);
        let nested = hash160(ScriptBuf::new_p2wpkh(&pkh).as_bytes());
        self.index
            .insert(KeyRequest::NestedWpkhScriptHash(nested), n);
        self.index.insert(KeyRequest::XOnly(xonly), n);
        // Tweaking fails with probability ~2^-128; such a key just cannot be found as BIP-0086.
        if let Ok((output_key, _)) = tweak_public_key(&xonly, None) {
            self.index.insert(KeyRequest::Bip86OutputKey(output_key), n);
        }
        self.keys.push(key);
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
        self.index.get(request).map(|&i| self.keys[i].clone())
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyStore({} keys)", self.keys.len())
    }
}
