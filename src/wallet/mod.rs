//! The wallet's files and state: the encrypted keystore (the only secret on disk), the
//! SQLite database of public state, the account derived from a mnemonic, and atomic file
//! writes. File I/O only — never the network.

mod account;
pub mod builder;
pub mod cache;
pub mod coin_selection;
mod error;
pub mod files;
pub mod keystore;
pub mod psbt;
pub mod rng;
pub mod signing;
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
pub use store::WalletStore;
