use std::fmt;
use std::process::ExitCode;

use ferry::identity::IdentityError;
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

/// An error for the user: a stable machine code, a message that says what was wrong and
/// what to do, and the exit class.
#[derive(Debug)]
pub struct CliError {
    /// The exit class.
    pub kind: ErrorKind,
    /// A stable snake_case code for `--json` output, e.g. `malformed_tx`.
    pub code: &'static str,
    /// The message, which never contains secrets.
    pub message: String,
    /// What was done before the failure (a broadcast's per-peer report), merged into the
    /// `--json` error document.
    pub report: Option<serde_json::Value>,
}

impl CliError {
    /// Creates a user error (exit 1).
    pub fn user(code: &'static str, message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::User,
            code,
            message: message.to_string(),
            report: None,
        }
    }

    /// Creates a backend error (exit 2).
    pub fn backend(code: &'static str, message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Backend,
            code,
            message: message.to_string(),
            report: None,
        }
    }

    /// Creates a locked-wallet error (exit 3).
    pub fn locked(code: &'static str, message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Locked,
            code,
            message: message.to_string(),
            report: None,
        }
    }

    /// Creates an internal error (exit 4).
    pub fn internal(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Internal,
            code: "internal",
            message: message.to_string(),
            report: None,
        }
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
            WalletError::Keystore(KeystoreError::WrongPassword) => CliError::locked(
                "wrong_password",
                "wrong password: the keystore did not open with it; nothing was changed",
            ),
            WalletError::Keystore(KeystoreError::Corrupted(why)) => CliError::user(
                "keystore_corrupted",
                format!(
                    "the keystore is corrupted (damaged file: {why}); restore keystore.json from a \
                     backup, or the wallet from its mnemonic with `ferry restore --force`"
                ),
            ),
            WalletError::Keystore(other) => CliError::user("keystore_unusable", other),
            WalletError::InvalidName(_) => CliError::user("bad_wallet_name", e),
            WalletError::NotFound { .. } => CliError::user("no_wallet", e),
            WalletError::AlreadyExists { .. } => CliError::user("wallet_exists", e),
            WalletError::Mnemonic(_) => CliError::user("bad_mnemonic", e),
            WalletError::Database { .. } => CliError::user("wallet_database", e),
            WalletError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                CliError::user(
                    "permission_denied",
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
            _ => CliError::user("bad_identity", e),
        }
    }
}

impl From<ferry::chain::ChainError> for CliError {
    fn from(e: ferry::chain::ChainError) -> Self {
        use ferry::chain::ChainError;
        match e {
            ChainError::Unreachable { .. } => CliError::backend(
                "backend_unreachable",
                format!(
                    "{e}: check that the backend is running and reachable, or choose another with --backend URL (or FERRY_BACKEND)"
                ),
            ),
            ChainError::Rejected { .. } => CliError::backend("rejected", e),
            ChainError::InvalidUrl(_) => CliError::user("bad_backend", e),
            other => CliError::backend("backend_error", other),
        }
    }
}
