//! Signature hashes: what an input's signature commits to.
//!
//! [`SighashCache`] is built once per transaction. It computes the per-transaction
//! midstates of BIP-0143 (segwit v0) and BIP-0341 (taproot) lazily, on the first input that
//! needs them, so signing N inputs hashes the transaction O(N) times in total rather than
//! O(N²). Three algorithms are offered, each in its own file:
//!
//! - Bitcoin Core's `SignatureHash` for base scripts, quirks included (`OP_CODESEPARATOR`
//!   removal, the `SIGHASH_SINGLE` bug), in [`SighashCache::legacy_sighash`].
//! - BIP-0143, in [`SighashCache::segwit_v0_sighash`].
//! - BIP-0341 (key path and, with a leaf, BIP-0342), in [`SighashCache::taproot_sighash`].
//!
//! Legacy sighashes do not cache anything: each one serializes the whole transaction, as
//! Core does; that quadratic cost is inherent to the pre-segwit algorithm.
//!
//! [BIP-0143]: <https://github.com/bitcoin/bips/blob/master/bip-0143.mediawiki>
//! [BIP-0341]: <https://github.com/bitcoin/bips/blob/master/bip-0341.mediawiki>

mod legacy;
mod segwit_v0;
mod spend_path;
pub mod taproot;

use std::cell::OnceCell;

use crate::hashes::HashWriter;
use crate::tx::Transaction;

pub use segwit_v0::SegwitV0Midstates;
pub use spend_path::{EcdsaSpend, SpendPath, SpendPathError};
pub use taproot::{TAPSCRIPT_LEAF_VERSION, tapbranch_hash, tapleaf_hash};

/// `SIGHASH_ALL`: sign all inputs and all outputs.
pub const SIGHASH_ALL: u8 = 0x01;
/// `SIGHASH_NONE`: sign all inputs and no output.
pub const SIGHASH_NONE: u8 = 0x02;
/// `SIGHASH_SINGLE`: sign all inputs and the output at the same index.
pub const SIGHASH_SINGLE: u8 = 0x03;
/// `SIGHASH_ANYONECANPAY`: flag that signs only the own input.
pub const SIGHASH_ANYONECANPAY: u8 = 0x80;
/// `SIGHASH_DEFAULT` (BIP-0341, taproot only): like `SIGHASH_ALL`, with a 64-byte signature.
pub const SIGHASH_DEFAULT: u8 = 0x00;

/// Why a sighash could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SighashError {
    /// The input index is not an input of the transaction.
    #[error("input index {index} out of range for a transaction with {inputs} inputs")]
    InputIndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of inputs.
        inputs: usize,
    },
    /// Taproot needs exactly one spent output per input.
    #[error("{prevouts} spent outputs given for a transaction with {inputs} inputs")]
    PrevoutsCountMismatch {
        /// Spent outputs given.
        prevouts: usize,
        /// The number of inputs.
        inputs: usize,
    },
    /// Not one of 0x00, 0x01-0x03, 0x81-0x83 (BIP-0341).
    #[error("invalid taproot sighash type {0:#04x}")]
    InvalidTaprootSighashType(u8),
    /// BIP-0341 forbids `SIGHASH_SINGLE` when no output has the input's index.
    #[error("SIGHASH_SINGLE for input {index} but the transaction has {outputs} outputs")]
    SingleWithoutOutput {
        /// The input index.
        index: usize,
        /// The number of outputs.
        outputs: usize,
    },
    /// An annex must start with 0x50 (BIP-0341).
    #[error("annex does not start with 0x50")]
    InvalidAnnex,
}

/// Where sighash serializations go: a hash engine when signing, a buffer when a caller
/// wants the preimage itself. Writing cannot fail for either.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for HashWriter {
    fn put(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }
}

/// Writes a Bitcoin compact size.
fn put_compact_size(sink: &mut impl Sink, n: u64) {
    let mut buf = Vec::with_capacity(9);
    crate::tx::encode::write_compact_size(&mut buf, n);
    sink.put(&buf);
}

/// Writes length-prefixed bytes.
fn put_var_bytes(sink: &mut impl Sink, bytes: &[u8]) {
    put_compact_size(sink, bytes.len() as u64);
    sink.put(bytes);
}

/// Computes the signature hashes of one transaction's inputs, caching what the inputs share.
///
/// Build one per transaction and ask it for every input. The cache never looks at
/// scriptSigs or witnesses (no sighash commits to them), so a signer may compute all
/// sighashes first and fill the inputs in afterwards.
#[derive(Debug)]
pub struct SighashCache<'a> {
    tx: &'a Transaction,
    segwit_v0: OnceCell<SegwitV0Midstates>,
    taproot_tx: OnceCell<taproot::TxMidstates>,
    taproot_prevouts: OnceCell<taproot::PrevoutMidstates>,
}

impl<'a> SighashCache<'a> {
    /// Starts a cache for `tx`; nothing is hashed until a sighash is asked for.
    pub fn new(tx: &'a Transaction) -> Self {
        Self {
            tx,
            segwit_v0: OnceCell::new(),
            taproot_tx: OnceCell::new(),
            taproot_prevouts: OnceCell::new(),
        }
    }

    /// Returns the transaction.
    pub fn transaction(&self) -> &'a Transaction {
        self.tx
    }

    fn check_index(&self, index: usize) -> Result<(), SighashError> {
        if index < self.tx.input.len() {
            Ok(())
        } else {
            Err(SighashError::InputIndexOutOfRange {
                index,
                inputs: self.tx.input.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
