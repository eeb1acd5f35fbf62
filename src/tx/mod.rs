//! Transactions: the consensus data structure, its strict encoding and decoding
//! (BIP-0144 segwit serialization included), txid/wtxid, size, weight and vsize.

pub mod encode;
mod transaction;

pub use encode::DecodeError;
pub use transaction::{OutPoint, Transaction, TxIn, TxOut, Txid, Witness, Wtxid};
