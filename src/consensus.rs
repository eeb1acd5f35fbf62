//! Script verification by Bitcoin Core's own interpreter.
//!
//! One function, [`verify_input`], checks one input of a serialized transaction against
//! the output it spends. The engine is chosen at build time, because the two candidates
//! bundle libsecp256k1 and Core's script code without prefixed symbols and cannot be
//! linked into one binary:
//!
//! - feature `libconsensus` (default): `bitcoinconsensus` (Core 26.0's libbitcoinconsensus);
//! - feature `kernel`: libbitcoinkernel's `verify` (Core 31.99's interpreter).
//!
//! Every call passes *all* spent outputs: BIP-0341 signatures commit to them, and without
//! them libbitcoinconsensus cannot check a taproot spend at all (with the taproot flag off
//! a v1 output is anyone-can-spend, so a bad signature would pass).

use std::ops::BitOr;

use crate::tx::{Transaction, TxOut};
use crate::units::Amount;

#[cfg(not(any(feature = "libconsensus", feature = "kernel")))]
compile_error!(
    "ferry needs a script engine: enable feature `libconsensus` (the default) or `kernel`"
);

/// Script verification flags, with Bitcoin Core's `SCRIPT_VERIFY_*` bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyFlags(u32);

impl VerifyFlags {
    /// No checks beyond the base rules.
    pub const NONE: VerifyFlags = VerifyFlags(0);
    /// BIP-0016 P2SH.
    pub const P2SH: VerifyFlags = VerifyFlags(1 << 0);
    /// BIP-0066 strict DER signatures.
    pub const DERSIG: VerifyFlags = VerifyFlags(1 << 2);
    /// BIP-0147 NULLDUMMY.
    pub const NULLDUMMY: VerifyFlags = VerifyFlags(1 << 4);
    /// BIP-0065 OP_CHECKLOCKTIMEVERIFY.
    pub const CHECKLOCKTIMEVERIFY: VerifyFlags = VerifyFlags(1 << 9);
    /// BIP-0112 OP_CHECKSEQUENCEVERIFY.
    pub const CHECKSEQUENCEVERIFY: VerifyFlags = VerifyFlags(1 << 10);
    /// BIP-0141 segregated witness.
    pub const WITNESS: VerifyFlags = VerifyFlags(1 << 11);
    /// BIP-0341/BIP-0342 taproot.
    pub const TAPROOT: VerifyFlags = VerifyFlags(1 << 17);
    /// Every consensus rule before taproot.
    pub const ALL_PRE_TAPROOT: VerifyFlags = VerifyFlags(
        Self::P2SH.0
            | Self::DERSIG.0
            | Self::NULLDUMMY.0
            | Self::CHECKLOCKTIMEVERIFY.0
            | Self::CHECKSEQUENCEVERIFY.0
            | Self::WITNESS.0,
    );
    /// Today's consensus rules: [`ALL_PRE_TAPROOT`](Self::ALL_PRE_TAPROOT) and
    /// [`TAPROOT`](Self::TAPROOT). The default.
    pub const ALL: VerifyFlags = VerifyFlags(Self::ALL_PRE_TAPROOT.0 | Self::TAPROOT.0);

    /// Returns the raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Returns true if every flag of `other` is set in `self`.
    pub const fn contains(self, other: VerifyFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns `self` without the flags of `other`.
    pub const fn without(self, other: VerifyFlags) -> VerifyFlags {
        VerifyFlags(self.0 & !other.0)
    }
}

impl Default for VerifyFlags {
    fn default() -> Self {
        Self::ALL
    }
}

impl BitOr for VerifyFlags {
    type Output = VerifyFlags;
    fn bitor(self, rhs: VerifyFlags) -> VerifyFlags {
        VerifyFlags(self.0 | rhs.0)
    }
}

/// Why an input did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// The interpreter ran the scripts and they failed.
    #[error("input {input_index}: script verification failed")]
    ScriptFailed {
        /// The input index.
        input_index: usize,
    },
    /// The engine refused the call (bad index, undecodable transaction, …).
    #[error("input {input_index}: the script engine refused the call: {reason}")]
    Engine {
        /// The input index.
        input_index: usize,
        /// The engine's message.
        reason: String,
    },
    /// Every input needs its spent output, and the one at `input_index` must be the output
    /// whose script and amount are verified.
    #[error(
        "{spent_outputs} spent outputs for {inputs} inputs, or output {input_index} is not the one verified"
    )]
    SpentOutputsMismatch {
        /// The input index.
        input_index: usize,
        /// Spent outputs given.
        spent_outputs: usize,
        /// Inputs in the transaction (0 when only bytes were given).
        inputs: usize,
    },
    /// An amount above `i64::MAX` satoshis cannot be passed to Core.
    #[error("input {input_index}: amount {sats} sat out of range")]
    AmountOutOfRange {
        /// The input index.
        input_index: usize,
        /// The amount.
        sats: u64,
    },
}

/// Verifies input `input_index` of the serialized transaction `tx_bytes` with Bitcoin
/// Core's interpreter.
///
/// `spent_output_script` and `amount` describe the output this input spends, and
/// `spent_outputs` holds the outputs spent by *all* inputs, in input order (the one at
/// `input_index` must be the same output). Use [`VerifyFlags::ALL`] unless testing an
/// older rule set.
///
/// # Errors
/// [`ConsensusError::ScriptFailed`] when the scripts do not verify; other variants when
/// the call itself is malformed.
pub fn verify_input(
    spent_output_script: &[u8],
    amount: Amount,
    tx_bytes: &[u8],
    spent_outputs: &[TxOut],
    input_index: usize,
    flags: VerifyFlags,
) -> Result<(), ConsensusError> {
    let consistent = spent_outputs
        .get(input_index)
        .is_some_and(|o| o.value == amount && o.script_pubkey.as_bytes() == spent_output_script);
    if !consistent {
        return Err(ConsensusError::SpentOutputsMismatch {
            input_index,
            spent_outputs: spent_outputs.len(),
            inputs: 0,
        });
    }
    engine::verify(
        spent_output_script,
        amount,
        tx_bytes,
        spent_outputs,
        input_index,
        flags,
    )
}

/// Verifies every input of `tx` under [`VerifyFlags::ALL`].
///
/// # Errors
/// The first input's [`ConsensusError`].
pub fn verify_transaction(tx: &Transaction, spent_outputs: &[TxOut]) -> Result<(), ConsensusError> {
    if spent_outputs.len() != tx.input.len() {
        return Err(ConsensusError::SpentOutputsMismatch {
            input_index: 0,
            spent_outputs: spent_outputs.len(),
            inputs: tx.input.len(),
        });
    }
    let bytes = tx.serialize();
    for (i, prevout) in spent_outputs.iter().enumerate() {
        verify_input(
            prevout.script_pubkey.as_bytes(),
            prevout.value,
            &bytes,
            spent_outputs,
            i,
            VerifyFlags::ALL,
        )?;
    }
    Ok(())
}

fn sats_i64(amount: Amount, input_index: usize) -> Result<i64, ConsensusError> {
    i64::try_from(amount.to_sat()).map_err(|_| ConsensusError::AmountOutOfRange {
        input_index,
        sats: amount.to_sat(),
    })
}

#[cfg(feature = "libconsensus")]
mod engine {
    use super::{Amount, ConsensusError, TxOut, VerifyFlags, sats_i64};

    pub(super) fn verify(
        spent_output_script: &[u8],
        amount: Amount,
        tx_bytes: &[u8],
        spent_outputs: &[TxOut],
        input_index: usize,
        flags: VerifyFlags,
    ) -> Result<(), ConsensusError> {
        // `Utxo` holds raw pointers into `spent_outputs`, which outlives this call.
        let utxos = spent_outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Ok(bitcoinconsensus::Utxo {
                    script_pubkey: o.script_pubkey.as_bytes().as_ptr(),
                    script_pubkey_len: u32::try_from(o.script_pubkey.len()).map_err(|_| {
                        ConsensusError::Engine {
                            input_index: i,
                            reason: "scriptPubKey longer than 4 GiB".into(),
                        }
                    })?,
                    value: sats_i64(o.value, i)?,
                })
            })
            .collect::<Result<Vec<_>, ConsensusError>>()?;
        sats_i64(amount, input_index)?;
        match bitcoinconsensus::verify_with_flags(
            spent_output_script,
            amount.to_sat(),
            tx_bytes,
            Some(&utxos),
            input_index,
            flags.bits(),
        ) {
            Ok(()) => Ok(()),
            // Core reports a failed script as "no error" (ERR_OK, named ERR_SCRIPT here).
            Err(bitcoinconsensus::Error::ERR_SCRIPT) => {
                Err(ConsensusError::ScriptFailed { input_index })
            }
            Err(e) => Err(ConsensusError::Engine {
                input_index,
                reason: e.to_string(),
            }),
        }
    }
}

// The `kernel` engine: libbitcoinkernel's `verify` (Core 31.99's interpreter), with
// precomputed transaction data over all spent outputs.
#[cfg(all(feature = "kernel", not(feature = "libconsensus")))]
mod engine {
    use bitcoinkernel::{
        KernelError, PrecomputedTransactionData, ScriptPubkey, ScriptVerifyError, Transaction,
        TxOut as KernelTxOut,
    };

    use super::{Amount, ConsensusError, TxOut, VerifyFlags, sats_i64};

    pub(super) fn verify(
        spent_output_script: &[u8],
        amount: Amount,
        tx_bytes: &[u8],
        spent_outputs: &[TxOut],
        input_index: usize,
        flags: VerifyFlags,
    ) -> Result<(), ConsensusError> {
        let engine = |e: KernelError| ConsensusError::Engine {
            input_index,
            reason: e.to_string(),
        };
        let tx = Transaction::new(tx_bytes).map_err(engine)?;
        let outputs = spent_outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let spk = ScriptPubkey::new(o.script_pubkey.as_bytes()).map_err(engine)?;
                Ok(KernelTxOut::new(&spk, sats_i64(o.value, i)?))
            })
            .collect::<Result<Vec<_>, ConsensusError>>()?;
        let precomputed = PrecomputedTransactionData::new(&tx, &outputs).map_err(engine)?;
        let spk = ScriptPubkey::new(spent_output_script).map_err(engine)?;
        match bitcoinkernel::verify(
            &spk,
            Some(sats_i64(amount, input_index)?),
            &tx,
            input_index,
            Some(flags.bits()),
            &precomputed,
        ) {
            Ok(()) => Ok(()),
            Err(KernelError::ScriptVerify(ScriptVerifyError::Invalid)) => {
                Err(ConsensusError::ScriptFailed { input_index })
            }
            Err(e) => Err(engine(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_bits_match_core() {
        #[cfg(feature = "libconsensus")]
        {
            assert_eq!(
                VerifyFlags::ALL_PRE_TAPROOT.bits(),
                bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT
            );
            assert_eq!(
                VerifyFlags::TAPROOT.bits(),
                bitcoinconsensus::VERIFY_TAPROOT
            );
        }
        #[cfg(feature = "kernel")]
        {
            assert_eq!(
                VerifyFlags::ALL_PRE_TAPROOT.bits(),
                bitcoinkernel::VERIFY_ALL_PRE_TAPROOT
            );
            assert_eq!(VerifyFlags::TAPROOT.bits(), bitcoinkernel::VERIFY_TAPROOT);
        }
        assert!(VerifyFlags::default().contains(VerifyFlags::TAPROOT));
    }
}
