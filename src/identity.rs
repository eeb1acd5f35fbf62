//! The install's identity key: a BIP-0340 (x-only Schnorr) key pair kept in
//! `DATA_DIR/identity.key` (0600, 64 hex digits), like an SSH host key. It signs this
//! install's relay requests (NIP-98) and relay receipts, and friends allow its public key on
//! their relays. It is random and never derived from a wallet seed, so sharing it says
//! nothing about anyone's funds, and it can be a Nostr key people already use
//! (`ferry identity import` takes a hex or NIP-19 `nsec` secret key).
//!
//! Public keys are shown as hex and as NIP-19 `npub` (classic bech32, not bech32m).

use std::fmt;
use std::fs;
use std::path::Path;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Hrp};
use k256::schnorr::SigningKey;
use zeroize::Zeroizing;

use crate::fs::{create_private_dir_all, write_atomic};

/// File name of the identity key inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Why the identity key could not be loaded, made or parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Not 64 hex digits or an `nsec1…` string, or not a valid secp256k1 secret key.
    #[error("not a secret key: {0} (expected 64 hex digits or a NIP-19 nsec1… string)")]
    BadSecretKey(String),
    /// Not 64 hex digits or an `npub1…` string, or not a point's x coordinate.
    #[error(
        "not a public key {input:?}: {reason} (expected 64 hex digits or a NIP-19 npub1… string)"
    )]
    BadPublicKey {
        /// The text given (public, so it may be shown).
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// The key file exists but is damaged.
    #[error("identity key file {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `import` without `force` over an existing key.
    #[error(
        "an identity key already exists at {0}: pass --force to replace it (friends who allowed the old key will have to allow the new one)"
    )]
    Exists(String),
    /// The OS random source failed.
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(String),
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {error}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// The identity key pair. `Debug` shows only the public key.
#[derive(Clone)]
pub struct IdentityKey(SigningKey);

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.public_hex())
    }
}

impl IdentityKey {
    /// Generates a key from the operating system's randomness.
    ///
    /// # Errors
    /// [`IdentityError::Random`].
    pub fn generate() -> Result<Self, IdentityError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        loop {
            getrandom::fill(bytes.as_mut()).map_err(|e| IdentityError::Random(e.to_string()))?;
            // Zero or >= n happens with probability below 2^-127; draw again.
            if let Ok(key) = Self::from_secret_bytes(&bytes) {
                return Ok(key);
            }
        }
    }

    /// Creates the key from its 32-byte secret.
    ///
    /// # Errors
    /// [`IdentityError::BadSecretKey`] for zero or a value not below the curve order.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        SigningKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| IdentityError::BadSecretKey("out of range for secp256k1".into()))
    }

    /// Parses a secret key given as 64 hex digits or a NIP-19 `nsec1…` string. Error
    /// messages never repeat the input.
    ///
    /// # Errors
    /// [`IdentityError::BadSecretKey`].
    pub fn parse_secret(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim();
        let bytes: Zeroizing<Vec<u8>> = if s.len() >= 5 && s[..5].eq_ignore_ascii_case("nsec1") {
            Zeroizing::new(decode_bech32(s, "nsec").map_err(IdentityError::BadSecretKey)?)
        } else {
            Zeroizing::new(
                hex::decode(s)
                    .map_err(|_| IdentityError::BadSecretKey("neither hex nor nsec1…".into()))?,
            )
        };
        let arr: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
                IdentityError::BadSecretKey(format!("{} bytes, not 32", bytes.len()))
            })?);
        Self::from_secret_bytes(&arr)
    }

    /// Returns the BIP-0340 x-only public key.
    pub fn x_only_public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes().into()
    }

    /// Returns the x-only public key as 64 hex digits.
    pub fn public_hex(&self) -> String {
        hex::encode(self.x_only_public_key())
    }

    /// Returns the public key as NIP-19 `npub1…`.
    pub fn npub(&self) -> String {
        encode_npub(&self.x_only_public_key())
    }

    /// Returns the signing key (for NIP-98 events and relay receipts).
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    fn to_file_text(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(<[u8; 32]>::from(self.0.to_bytes()));
        let mut text = Zeroizing::new(hex::encode(bytes.as_ref()));
        text.push('\n');
        text
    }
}

fn decode_bech32(s: &str, hrp: &str) -> Result<Vec<u8>, String> {
    let checked = CheckedHrpstring::new::<Bech32>(s).map_err(|e| format!("bad bech32: {e}"))?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(format!(
            "prefix {:?}, expected {hrp:?}",
            checked.hrp().as_str()
        ));
    }
    Ok(checked.byte_iter().collect())
}

/// Encodes a 32-byte x-only public key as NIP-19 `npub1…`.
pub fn encode_npub(x_only: &[u8; 32]) -> String {
    let hrp = Hrp::parse("npub").expect("npub is a valid bech32 prefix");
    bech32::encode::<Bech32>(hrp, x_only).expect("32 bytes fit in a bech32 string")
}

/// Parses a public key given as 64 hex digits or NIP-19 `npub1…`, checking that it is
/// the x coordinate of a curve point.
///
/// # Errors
/// [`IdentityError::BadPublicKey`].
pub fn parse_public_key(s: &str) -> Result<[u8; 32], IdentityError> {
    let s = s.trim();
    let bad = |reason: String| IdentityError::BadPublicKey {
        input: s.to_owned(),
        reason,
    };
    let bytes = if s.len() >= 5 && s[..5].eq_ignore_ascii_case("npub1") {
        decode_bech32(s, "npub").map_err(bad)?
    } else {
        hex::decode(s).map_err(|_| bad("neither hex nor npub1…".into()))?
    };
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| bad(format!("{} bytes, not 32", bytes.len())))?;
    k256::schnorr::VerifyingKey::from_slice(&key)
        .map_err(|_| bad("not the x coordinate of a secp256k1 point".into()))?;
    Ok(key)
}

fn io(action: &'static str, path: &Path, error: std::io::Error) -> IdentityError {
    IdentityError::Io {
        action,
        path: path.display().to_string(),
        error,
    }
}

/// Reads the key at `path`.
///
/// # Errors
/// An I/O error (including not found) or [`IdentityError::Damaged`].
pub fn load(path: &Path) -> Result<IdentityKey, IdentityError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| io("read", path, e))?);
    IdentityKey::parse_secret(&text).map_err(|e| IdentityError::Damaged {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads the key at `path`, or creates a new random one there (mode 0600). Returns the key
/// and whether it was just created.
///
/// # Errors
/// As [`load`], or a write failure.
pub fn load_or_create(path: &Path) -> Result<(IdentityKey, bool), IdentityError> {
    match load(path) {
        Ok(key) => Ok((key, false)),
        Err(IdentityError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = IdentityKey::generate()?;
            save(path, &key)?;
            Ok((key, true))
        }
        Err(e) => Err(e),
    }
}

/// Stores `key` at `path` (mode 0600), refusing to replace an existing key unless `force`.
///
/// # Errors
/// [`IdentityError::Exists`] or a write failure.
pub fn import(path: &Path, key: &IdentityKey, force: bool) -> Result<(), IdentityError> {
    if path.exists() && !force {
        return Err(IdentityError::Exists(path.display().to_string()));
    }
    save(path, key)
}

fn save(path: &Path, key: &IdentityKey) -> Result<(), IdentityError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir_all(dir).map_err(|e| io("create directory", dir, e))?;
    }
    write_atomic(path, key.to_file_text().as_bytes(), 0o600).map_err(|e| io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key pair of NIP-19 (nostr-protocol/nips 19.md).
    const NIP19_SECRET: &str = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa";
    const NIP19_NSEC: &str = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";
    const NIP19_PUBLIC: &str = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e";
    const NIP19_NPUB: &str = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg";

    #[test]
    fn nip19_example_round_trips() {
        let from_hex = IdentityKey::parse_secret(NIP19_SECRET).unwrap();
        let from_nsec = IdentityKey::parse_secret(NIP19_NSEC).unwrap();
        assert_eq!(from_hex.public_hex(), NIP19_PUBLIC);
        assert_eq!(from_nsec.public_hex(), NIP19_PUBLIC);
        assert_eq!(from_hex.npub(), NIP19_NPUB);
        assert_eq!(
            hex::encode(parse_public_key(NIP19_NPUB).unwrap()),
            NIP19_PUBLIC
        );
        assert_eq!(
            hex::encode(parse_public_key(NIP19_PUBLIC).unwrap()),
            NIP19_PUBLIC
        );
        // An npub is not a secret key, and an nsec is not a public key.
        assert!(IdentityKey::parse_secret(NIP19_NPUB).is_err());
        assert!(parse_public_key(NIP19_NSEC).is_err());
        let dbg = format!("{from_hex:?}");
        assert!(!dbg.contains(NIP19_SECRET) && dbg.contains(NIP19_PUBLIC));
    }

    #[test]
    fn errors_never_repeat_the_secret() {
        let typo = NIP19_NSEC.replacen('q', "p", 1);
        let err = IdentityKey::parse_secret(&typo).unwrap_err().to_string();
        assert!(!err.contains(&typo[5..20]), "{err}");
        let err = IdentityKey::parse_secret(&NIP19_SECRET[..62])
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&NIP19_SECRET[..20]), "{err}");
        assert!(IdentityKey::parse_secret(&"0".repeat(64)).is_err());
    }

    #[test]
    fn creates_once_then_loads_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE);
        let (a, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.public_hex(), b.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let other = IdentityKey::parse_secret(NIP19_SECRET).unwrap();
        assert!(matches!(
            import(&path, &other, false),
            Err(IdentityError::Exists(_))
        ));
        import(&path, &other, true).unwrap();
        assert_eq!(load(&path).unwrap().public_hex(), NIP19_PUBLIC);
        fs::write(&path, "zz").unwrap();
        assert!(matches!(load(&path), Err(IdentityError::Damaged { .. })));
    }
}
