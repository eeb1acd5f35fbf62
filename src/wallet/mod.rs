//! The wallet's files and state: the encrypted keystore (the only secret on disk), the
//! SQLite database of public state, the account derived from a mnemonic, and atomic file
//! writes, and sync as requests and answers (`sync`). File I/O only — never the network.

mod account;
pub mod builder;
pub mod cache;
pub mod coin_selection;
pub mod cpfp;
mod error;
pub mod fee_bump;
pub mod fees;
pub mod files;
pub mod keystore;
mod label_store;
pub mod labels;
pub mod psbt;
pub mod rng;
pub mod signing;
mod spending;
pub mod store;
pub mod sync;
pub mod watch_only;
pub mod weights;

pub use account::Account;
pub use error::WalletError;
pub use files::{
    Created, NewWallet, Wallet, WalletAddress, WalletPaths, WalletSummary, create_wallet,
    list_wallets,
};
pub use spending::{Balance, Payment, SentAndReceived};
pub use store::WalletStore;
