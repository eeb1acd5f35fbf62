//! Errors of the wallet's files and state.

use std::path::PathBuf;

use super::keystore::KeystoreError;
use crate::descriptor::DescriptorError;
use crate::keys::{Bip32Error, MnemonicError, PathError};

/// Why a wallet could not be created, opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// A wallet name ferry refuses (it becomes a directory name).
    #[error(
        "invalid wallet name {0:?}: use 1 to 64 letters, digits, '-' or '_', not starting with '.'"
    )]
    InvalidName(String),
    /// No wallet of that name in the data directory.
    #[error("no wallet named {name:?} in {dir}: create one with `ferry create` or `ferry restore`")]
    NotFound {
        /// The wallet name.
        name: String,
        /// The wallets directory looked in.
        dir: PathBuf,
    },
    /// A wallet of that name already exists.
    #[error(
        "a wallet named {name:?} already exists in {dir}: choose another name with --wallet, or pass --force to replace it (its keystore is kept as a backup)"
    )]
    AlreadyExists {
        /// The wallet name.
        name: String,
        /// Its directory.
        dir: PathBuf,
    },
    /// The mnemonic is not valid.
    #[error(transparent)]
    Mnemonic(#[from] MnemonicError),
    /// Key derivation failed.
    #[error(transparent)]
    Bip32(#[from] Bip32Error),
    /// A derivation step or index is out of range.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A stored descriptor did not parse or derive.
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    /// The keystore would not open.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// A PSBT could not be made for the wallet's payment.
    #[error("cannot make the psbt: {0}")]
    Psbt(String),
    /// The wallet database is damaged or from another version.
    #[error("wallet database {path}: {reason}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {error}")]
    Io {
        /// What was being done ("read", "write", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
}

impl WalletError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, error: std::io::Error) -> Self {
        WalletError::Io {
            action,
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn db(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        WalletError::Database {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
