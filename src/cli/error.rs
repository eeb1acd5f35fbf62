use std::fmt;
use std::process::ExitCode;

/// The class of a failure, which decides the exit code (DESIGN.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input from the user: exit 1.
    User,
    /// A bug or an environment problem: exit 4.
    Internal,
}

impl ErrorKind {
    /// Returns the process exit code.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            ErrorKind::User => 1,
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
}

impl CliError {
    /// Creates a user error (exit 1).
    pub fn user(code: &'static str, message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::User,
            code,
            message: message.to_string(),
        }
    }

    /// Creates an internal error (exit 4).
    pub fn internal(message: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Internal,
            code: "internal",
            message: message.to_string(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
