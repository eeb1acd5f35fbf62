//! Signing a built payment with the wallet's keys: the keys of exactly the inputs spent are
//! derived from the unlocked mnemonic, the transaction is signed, then checked by Bitcoin
//! Core's script interpreter and against the weight its fee was computed for — a
//! transaction that fails either is never handed out for broadcast.

use super::builder::Built;
use super::keystore::KeystoreSecret;
use super::{Account, WalletError};
use crate::consensus::{ConsensusError, verify_transaction};
use crate::keys::{ChildNumber, KeyChain, Mnemonic, Xpriv};
use crate::sighash::{SIGHASH_ALL, SIGHASH_DEFAULT};
use crate::sign::{KeyStore, SignError, sign_transaction};
use crate::tx::{Transaction, TxOut};
use crate::units::Weight;

/// Why a payment could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpendError {
    /// Deriving the keys failed.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// The signer refused.
    #[error("signing failed: {0}")]
    Sign(SignError),
    /// The signed transaction does not verify (a bug; nothing was broadcast).
    #[error("the signed transaction does not verify, so it was not broadcast: {0}")]
    Invalid(ConsensusError),
    /// The signed transaction is heavier than the fee was computed for (a bug).
    #[error("signed weight {actual} exceeds the {estimated} the fee was computed for")]
    HeavierThanEstimated {
        /// The signed weight.
        actual: Weight,
        /// The estimate.
        estimated: Weight,
    },
}

/// Returns the sighash type ferry signs each input with: `SIGHASH_DEFAULT` for taproot
/// (a 64-byte signature), `SIGHASH_ALL` otherwise.
pub fn sighash_types(prevouts: &[TxOut]) -> Vec<u8> {
    prevouts
        .iter()
        .map(|p| {
            if p.script_pubkey.is_p2tr() {
                SIGHASH_DEFAULT
            } else {
                SIGHASH_ALL
            }
        })
        .collect()
}

/// Derives the secret keys at `account/chain/index` for each of `paths` from the unlocked
/// mnemonic.
///
/// # Errors
/// A bad stored mnemonic or a derivation failure.
pub fn derive_keys(
    secret: &KeystoreSecret,
    account: &Account,
    paths: impl IntoIterator<Item = (KeyChain, u32)>,
) -> Result<KeyStore, WalletError> {
    let mnemonic = Mnemonic::parse(&secret.mnemonic)?;
    let seed = mnemonic.to_seed(&secret.passphrase);
    let master = Xpriv::new_master(seed.as_ref(), account.network)?;
    let account_key = master.derive_priv(&account.account_path)?;
    let mut store = KeyStore::new();
    let mut seen = std::collections::BTreeSet::new();
    for (chain, index) in paths {
        if seen.insert((chain.child_number(), index)) {
            let key = account_key
                .derive_child(chain.child_number())?
                .derive_child(ChildNumber::normal(index)?)?;
            store.insert(key.secret_key().clone());
        }
    }
    Ok(store)
}

/// Signs `built` with `keys`, verifies every input with Core's interpreter and checks the
/// signed weight against the estimate the fee was computed for.
///
/// # Errors
/// [`SpendError`]; nothing signed is returned unless it verifies.
pub fn sign_built(built: &Built, keys: &KeyStore) -> Result<Transaction, SpendError> {
    let prevouts = built.prevouts();
    let mut tx = built.tx.clone();
    sign_transaction(&mut tx, &prevouts, &sighash_types(&prevouts), keys)?;
    verify_transaction(&tx, &prevouts)?;
    if tx.weight() > built.weight {
        return Err(SpendError::HeavierThanEstimated {
            actual: tx.weight(),
            estimated: built.weight,
        });
    }
    Ok(tx)
}

// By hand rather than `#[from]`, which would also make the cause a `source()`: the message
// already carries it, and it should print once.
impl From<SignError> for SpendError {
    fn from(e: SignError) -> Self {
        SpendError::Sign(e)
    }
}

impl From<ConsensusError> for SpendError {
    fn from(e: ConsensusError) -> Self {
        SpendError::Invalid(e)
    }
}
