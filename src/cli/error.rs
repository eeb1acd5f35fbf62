use std::fmt;
use std::process::ExitCode;

use ferry::identity::IdentityError;

pub use super::code::Code;
use ferry::wallet::WalletError;
use ferry::wallet::keystore::KeystoreError;

/// The class of a failure, which decides the exit code (DESIGN.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input from the user: exit 1.
    User,
    /// The backend, a relay or the network failed: exit 2.
    Backend,
    /// The wallet is locked or the password is wrong: exit 3.
    Locked,
    /// A bug or an environment problem: exit 4.
    Internal,
}

impl ErrorKind {
    /// Returns the process exit code.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            ErrorKind::User => 1,
            ErrorKind::Backend => 2,
            ErrorKind::Locked => 3,
            ErrorKind::Internal => 4,
        })
    }
}

/// An error for the user: a stable machine code (which decides the exit class), a message
/// that says what was wrong and what to do.
#[derive(Debug)]
pub struct CliError {
    /// The code, e.g. [`Code::MalformedTx`]; its [`Code::kind`] is the exit class.
    pub code: Code,
    /// The message, which never contains secrets.
    pub message: String,
    /// What was done before the failure (a broadcast's per-peer report), merged into the
    /// `--json` error document.
    pub report: Option<serde_json::Value>,
}

impl CliError {
    /// Creates an error with `code`.
    pub fn new(code: Code, message: impl fmt::Display) -> Self {
        Self {
            code,
            message: message.to_string(),
            report: None,
        }
    }

    /// Creates an internal error (exit 4).
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(Code::Internal, message)
    }

    /// The exit class.
    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }
}

impl CliError {
    /// Attaches the report of what was done; `--json` prints its fields beside `error`.
    pub fn with_report(mut self, report: serde_json::Value) -> Self {
        self.report = Some(report);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<WalletError> for CliError {
    fn from(e: WalletError) -> Self {
        match e {
            WalletError::Keystore(KeystoreError::WrongPassword) => CliError::new(
                Code::WrongPassword,
                "wrong password: the keystore did not open with it; nothing was changed",
            ),
            WalletError::Keystore(KeystoreError::Corrupted(why)) => CliError::new(
                Code::KeystoreCorrupted,
                format!(
                    "the keystore is corrupted (damaged file: {why}); restore keystore.json from a \
                     backup, or the wallet from its mnemonic with `ferry restore --force`"
                ),
            ),
            WalletError::Keystore(other) => CliError::new(Code::KeystoreUnusable, other),
            WalletError::InvalidName(_) => CliError::new(Code::BadWalletName, e),
            WalletError::NotFound { .. } => CliError::new(Code::NoWallet, e),
            WalletError::AlreadyExists { .. } => CliError::new(Code::WalletExists, e),
            WalletError::Mnemonic(_) => CliError::new(Code::BadMnemonic, e),
            WalletError::Database { .. } => CliError::new(Code::WalletDatabase, e),
            WalletError::Io { ref error, .. }
                if error.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                CliError::new(
                    Code::PermissionDenied,
                    format!("{e} (check the file's owner and mode: chmod 600 for keystore.json)"),
                )
            }
            other => CliError::internal(other),
        }
    }
}

impl From<IdentityError> for CliError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Io { .. } | IdentityError::Random(_) => CliError::internal(e),
            _ => CliError::new(Code::BadIdentity, e),
        }
    }
}

impl From<ferry::chain::ChainError> for CliError {
    fn from(e: ferry::chain::ChainError) -> Self {
        use ferry::chain::ChainError;
        match e {
            ChainError::Unreachable { .. } => CliError::new(
                Code::BackendUnreachable,
                format!(
                    "{e}: check that the backend is running and reachable, or choose another with --backend URL (or FERRY_BACKEND)"
                ),
            ),
            ChainError::Rejected { .. } => CliError::new(Code::Rejected, e),
            ChainError::InvalidUrl(_) => CliError::new(Code::BadBackend, e),
            other => CliError::new(Code::BackendError, other),
        }
    }
}
