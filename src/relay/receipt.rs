//! Signed receipts: the relay's statement "I accepted transaction T at time S with status
//! X", signed with its identity key so the sender can prove what was accepted.
//!
//! Canonical serialization (version 1), UTF-8, fields joined by `\n`, no trailing newline:
//!
//! ```text
//! ferry-relay-receipt/1
//! <txid, 64 lower-case hex, display order>
//! <status: queued|broadcast|confirmed|failed>
//! <time: Unix seconds, decimal>
//! <relay key: 64 lower-case hex, x-only>
//! ```
//!
//! `sig` is the BIP-0340 signature (64 bytes, hex) over SHA-256 of that text.

use k256::schnorr::SigningKey;
use serde::{Deserialize, Serialize};

use crate::hashes::sha256;
use crate::sign::{sign_schnorr, verify_schnorr};

/// The first line of the canonical serialization.
pub const RECEIPT_DOMAIN: &str = "ferry-relay-receipt/1";

/// A signed receipt as it appears in the 202 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The accepted transaction's id.
    pub txid: String,
    /// Its status when the receipt was made.
    pub status: String,
    /// Unix seconds.
    pub time: i64,
    /// The relay's x-only identity key, hex.
    pub relay_key: String,
    /// BIP-0340 signature over SHA-256 of [`Receipt::canonical`], hex.
    pub sig: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The receipt names another key than the one pinned for this relay.
    #[error("receipt is signed by {got}, not by the pinned relay key {pinned}")]
    WrongKey {
        /// The receipt's key.
        got: String,
        /// The pinned key.
        pinned: String,
    },
    /// The signature does not verify.
    #[error("receipt signature invalid")]
    BadSignature,
    /// Signing failed (no randomness).
    #[error("cannot sign the receipt: {0}")]
    Signing(String),
}

impl Receipt {
    /// Returns the canonical text the signature covers.
    pub fn canonical(&self) -> String {
        format!(
            "{RECEIPT_DOMAIN}\n{}\n{}\n{}\n{}",
            self.txid, self.status, self.time, self.relay_key
        )
    }

    /// Signs a receipt with the relay's identity key.
    ///
    /// # Errors
    /// [`ReceiptError::Signing`] if the operating system has no randomness.
    pub fn sign(
        key: &SigningKey,
        txid: &str,
        status: &str,
        time: i64,
    ) -> Result<Receipt, ReceiptError> {
        let mut r = Receipt {
            txid: txid.to_ascii_lowercase(),
            status: status.to_owned(),
            time,
            relay_key: hex::encode(key.verifying_key().to_bytes()),
            sig: String::new(),
        };
        let sig = sign_schnorr(key, &sha256(r.canonical().as_bytes()), 0)
            .map_err(|e| ReceiptError::Signing(e.to_string()))?;
        r.sig = hex::encode(sig.signature.to_bytes());
        Ok(r)
    }
}

/// Verifies `receipt` against the relay key the sender pinned (from its friends list).
///
/// # Errors
/// [`ReceiptError::WrongKey`] or [`ReceiptError::BadSignature`].
pub fn verify_receipt(receipt: &Receipt, pinned_key: &[u8; 32]) -> Result<(), ReceiptError> {
    let pinned = hex::encode(pinned_key);
    if !receipt.relay_key.eq_ignore_ascii_case(&pinned) {
        return Err(ReceiptError::WrongKey {
            got: receipt.relay_key.clone(),
            pinned,
        });
    }
    let sig: [u8; 64] = hex::decode(&receipt.sig)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(ReceiptError::BadSignature)?;
    if verify_schnorr(pinned_key, &sha256(receipt.canonical().as_bytes()), &sig) {
        Ok(())
    } else {
        Err(ReceiptError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_tamper() {
        let key = SigningKey::from_bytes(&[3u8; 32].into()).unwrap();
        let pk: [u8; 32] = key.verifying_key().to_bytes().into();
        let r = Receipt::sign(&key, &"ab".repeat(32), "queued", 1_700_000_000).unwrap();
        verify_receipt(&r, &pk).unwrap();
        let mut t = r.clone();
        t.status = "confirmed".into();
        assert_eq!(verify_receipt(&t, &pk), Err(ReceiptError::BadSignature));
        assert!(matches!(
            verify_receipt(&r, &[9u8; 32]),
            Err(ReceiptError::WrongKey { .. })
        ));
    }
}
