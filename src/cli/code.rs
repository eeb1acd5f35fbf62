//! The CLI's error codes: the stable snake_case names of `--json` errors (DESIGN.md §3),
//! each with the exit class it belongs to, in one table.

use super::error::ErrorKind;

/// Why a command failed, as a machine reads it. [`Code::as_str`] is the contract's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is its snake_case name
pub enum Code {
    AlreadyConfirmed,
    BackendError,
    BackendUnreachable,
    BadAddress,
    BadAmount,
    BadBackend,
    BadBroadcast,
    BadFeeRate,
    BadFriends,
    BadIdentity,
    BadIndex,
    BadInput,
    BadListen,
    BadMnemonic,
    BadP2p,
    BadProxy,
    BadPublicUrl,
    BadReceipt,
    BadTxid,
    BadUtxo,
    BadWalletName,
    BindFailed,
    BroadcastFailed,
    Cancelled,
    CannotBuild,
    ConfirmationRequired,
    DevnetOpen,
    DustAmount,
    FeeRateTooLow,
    HighFee,
    InsufficientFunds,
    InvalidTx,
    KeystoreCorrupted,
    KeystoreUnusable,
    MalformedPsbt,
    MalformedTx,
    NoBackend,
    NoChange,
    NoDataDir,
    NoFeeEstimates,
    NoNetwork,
    NoPeerReachable,
    NoWallet,
    NotOurs,
    NotPropagated,
    NotReplaceable,
    PassphraseRequired,
    PasswordRequired,
    PermissionDenied,
    PromptFailed,
    PublicUrlRequired,
    Rejected,
    RelayClient,
    RelayNotFound,
    RelayProtocol,
    RelayQueue,
    RelayRefused,
    RelayUnreachable,
    TxRejected,
    UnknownCoin,
    UnknownRelay,
    UnknownTx,
    WalletDatabase,
    WalletExists,
    WrongNetwork,
    WrongPassword,
    AmountConflict,
    BadDescriptor,
    CannotCombine,
    CannotExtract,
    CannotSign,
    CannotWrite,
    FileExists,
    HandoffNeedsNoBroadcast,
    InconsistentPsbt,
    InvalidSignatures,
    NotFinalized,
    NothingToSign,
    TooLarge,
    UnknownFee,
    UnknownUtxo,
    UnsafeSighash,
    UtxoMismatch,
    WatchOnly,
    UnsupportedUri,
    BadUri,
    UnsupportedDescriptor,
    NoOutputOfOurs,
    AlreadyPays,
    BadLabel,
    BadLabelFile,
    /// A bug or an environment problem (exit 4).
    Internal,
}

impl Code {
    /// Every code (docs/cli-errors.md lists them).
    #[cfg(test)]
    pub const ALL: &[Code] = &[
        Code::AlreadyConfirmed,
        Code::BackendError,
        Code::BackendUnreachable,
        Code::BadAddress,
        Code::BadAmount,
        Code::BadBackend,
        Code::BadBroadcast,
        Code::BadFeeRate,
        Code::BadFriends,
        Code::BadIdentity,
        Code::BadIndex,
        Code::BadInput,
        Code::BadListen,
        Code::BadMnemonic,
        Code::BadP2p,
        Code::BadProxy,
        Code::BadPublicUrl,
        Code::BadReceipt,
        Code::BadTxid,
        Code::BadUtxo,
        Code::BadWalletName,
        Code::BindFailed,
        Code::BroadcastFailed,
        Code::Cancelled,
        Code::CannotBuild,
        Code::ConfirmationRequired,
        Code::DevnetOpen,
        Code::DustAmount,
        Code::FeeRateTooLow,
        Code::HighFee,
        Code::InsufficientFunds,
        Code::InvalidTx,
        Code::KeystoreCorrupted,
        Code::KeystoreUnusable,
        Code::MalformedPsbt,
        Code::MalformedTx,
        Code::NoBackend,
        Code::NoChange,
        Code::NoDataDir,
        Code::NoFeeEstimates,
        Code::NoNetwork,
        Code::NoPeerReachable,
        Code::NoWallet,
        Code::NotOurs,
        Code::NotPropagated,
        Code::NotReplaceable,
        Code::PassphraseRequired,
        Code::PasswordRequired,
        Code::PermissionDenied,
        Code::PromptFailed,
        Code::PublicUrlRequired,
        Code::Rejected,
        Code::RelayClient,
        Code::RelayNotFound,
        Code::RelayProtocol,
        Code::RelayQueue,
        Code::RelayRefused,
        Code::RelayUnreachable,
        Code::TxRejected,
        Code::UnknownCoin,
        Code::UnknownRelay,
        Code::UnknownTx,
        Code::WalletDatabase,
        Code::WalletExists,
        Code::WrongNetwork,
        Code::WrongPassword,
        Code::AmountConflict,
        Code::BadDescriptor,
        Code::CannotCombine,
        Code::CannotExtract,
        Code::CannotSign,
        Code::CannotWrite,
        Code::FileExists,
        Code::HandoffNeedsNoBroadcast,
        Code::InconsistentPsbt,
        Code::InvalidSignatures,
        Code::NotFinalized,
        Code::NothingToSign,
        Code::TooLarge,
        Code::UnknownFee,
        Code::UnknownUtxo,
        Code::UnsafeSighash,
        Code::UtxoMismatch,
        Code::WatchOnly,
        Code::UnsupportedUri,
        Code::BadUri,
        Code::UnsupportedDescriptor,
        Code::NoOutputOfOurs,
        Code::AlreadyPays,
        Code::BadLabel,
        Code::BadLabelFile,
        Code::Internal,
    ];

    /// The name in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AlreadyConfirmed => "already_confirmed",
            Code::BackendError => "backend_error",
            Code::BackendUnreachable => "backend_unreachable",
            Code::BadAddress => "bad_address",
            Code::BadAmount => "bad_amount",
            Code::BadBackend => "bad_backend",
            Code::BadBroadcast => "bad_broadcast",
            Code::BadFeeRate => "bad_fee_rate",
            Code::BadFriends => "bad_friends",
            Code::BadIdentity => "bad_identity",
            Code::BadIndex => "bad_index",
            Code::BadInput => "bad_input",
            Code::BadListen => "bad_listen",
            Code::BadMnemonic => "bad_mnemonic",
            Code::BadP2p => "bad_p2p",
            Code::BadProxy => "bad_proxy",
            Code::BadPublicUrl => "bad_public_url",
            Code::BadReceipt => "bad_receipt",
            Code::BadTxid => "bad_txid",
            Code::BadUtxo => "bad_utxo",
            Code::BadWalletName => "bad_wallet_name",
            Code::BindFailed => "bind_failed",
            Code::BroadcastFailed => "broadcast_failed",
            Code::Cancelled => "cancelled",
            Code::CannotBuild => "cannot_build",
            Code::ConfirmationRequired => "confirmation_required",
            Code::DevnetOpen => "devnet_open",
            Code::DustAmount => "dust_amount",
            Code::FeeRateTooLow => "fee_rate_too_low",
            Code::HighFee => "high_fee",
            Code::InsufficientFunds => "insufficient_funds",
            Code::InvalidTx => "invalid_tx",
            Code::KeystoreCorrupted => "keystore_corrupted",
            Code::KeystoreUnusable => "keystore_unusable",
            Code::MalformedPsbt => "malformed_psbt",
            Code::MalformedTx => "malformed_tx",
            Code::NoBackend => "no_backend",
            Code::NoChange => "no_change",
            Code::NoDataDir => "no_data_dir",
            Code::NoFeeEstimates => "no_fee_estimates",
            Code::NoNetwork => "no_network",
            Code::NoPeerReachable => "no_peer_reachable",
            Code::NoWallet => "no_wallet",
            Code::NotOurs => "not_ours",
            Code::NotPropagated => "not_propagated",
            Code::NotReplaceable => "not_replaceable",
            Code::PassphraseRequired => "passphrase_required",
            Code::PasswordRequired => "password_required",
            Code::PermissionDenied => "permission_denied",
            Code::PromptFailed => "prompt_failed",
            Code::PublicUrlRequired => "public_url_required",
            Code::Rejected => "rejected",
            Code::RelayClient => "relay_client",
            Code::RelayNotFound => "relay_not_found",
            Code::RelayProtocol => "relay_protocol",
            Code::RelayQueue => "relay_queue",
            Code::RelayRefused => "relay_refused",
            Code::RelayUnreachable => "relay_unreachable",
            Code::TxRejected => "tx_rejected",
            Code::UnknownCoin => "unknown_coin",
            Code::UnknownRelay => "unknown_relay",
            Code::UnknownTx => "unknown_tx",
            Code::WalletDatabase => "wallet_database",
            Code::WalletExists => "wallet_exists",
            Code::WrongNetwork => "wrong_network",
            Code::WrongPassword => "wrong_password",
            Code::AmountConflict => "amount_conflict",
            Code::BadDescriptor => "bad_descriptor",
            Code::CannotCombine => "cannot_combine",
            Code::CannotExtract => "cannot_extract",
            Code::CannotSign => "cannot_sign",
            Code::CannotWrite => "cannot_write",
            Code::FileExists => "file_exists",
            Code::HandoffNeedsNoBroadcast => "handoff_needs_no_broadcast",
            Code::InconsistentPsbt => "inconsistent_psbt",
            Code::InvalidSignatures => "invalid_signatures",
            Code::NotFinalized => "not_finalized",
            Code::NothingToSign => "nothing_to_sign",
            Code::TooLarge => "too_large",
            Code::UnknownFee => "unknown_fee",
            Code::UnknownUtxo => "unknown_utxo",
            Code::UnsafeSighash => "unsafe_sighash",
            Code::UtxoMismatch => "utxo_mismatch",
            Code::WatchOnly => "watch_only",
            Code::UnsupportedUri => "unsupported_uri",
            Code::BadUri => "bad_uri",
            Code::UnsupportedDescriptor => "unsupported_descriptor",
            Code::NoOutputOfOurs => "no_output_of_ours",
            Code::AlreadyPays => "already_pays",
            Code::BadLabel => "bad_label",
            Code::BadLabelFile => "bad_label_file",
            Code::Internal => "internal",
        }
    }

    /// The exit class: bad input (1), the other side failed (2), locked (3), a bug (4).
    pub fn kind(self) -> ErrorKind {
        match self {
            Code::BackendError
            | Code::BackendUnreachable
            | Code::BadReceipt
            | Code::BroadcastFailed
            | Code::NoFeeEstimates
            | Code::NoPeerReachable
            | Code::NotPropagated
            | Code::Rejected
            | Code::RelayNotFound
            | Code::RelayProtocol
            | Code::RelayRefused
            | Code::RelayUnreachable => ErrorKind::Backend,
            Code::WrongPassword => ErrorKind::Locked,
            Code::Internal => ErrorKind::Internal,
            _ => ErrorKind::User,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_classed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
        assert_eq!(Code::WrongPassword.kind(), ErrorKind::Locked);
        assert_eq!(Code::BackendUnreachable.kind(), ErrorKind::Backend);
        assert_eq!(Code::RelayUnreachable.kind(), ErrorKind::Backend);
        assert_eq!(Code::BadAddress.kind(), ErrorKind::User);
        assert_eq!(Code::Internal.kind(), ErrorKind::Internal);
    }

    #[test]
    fn the_docs_list_every_code_with_its_exit() {
        let doc = include_str!("../../docs/cli-errors.md");
        for code in Code::ALL {
            let exit = match code.kind() {
                ErrorKind::User => 1,
                ErrorKind::Backend => 2,
                ErrorKind::Locked => 3,
                ErrorKind::Internal => 4,
            };
            let row = format!("| `{}` | {exit} |", code.as_str());
            assert!(doc.contains(&row), "docs/cli-errors.md lacks {row}");
        }
    }
}
