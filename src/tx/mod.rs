//! Transactions: the consensus data structure, its strict encoding and decoding
//! (BIP-0144 segwit serialization included), txid/wtxid, size, weight and vsize, and the
//! context-free checks every node applies.

pub mod check;
pub mod encode;
pub mod package;
mod transaction;

pub use check::{CheckTxError, check_transaction};
pub use encode::DecodeError;
pub use transaction::{OutPoint, Transaction, TxIn, TxOut, Txid, Witness, Wtxid};
