//! The creator, updater, combiner and extractor roles, and the fee.

use super::error::{ExtractTxError, FeeError, PsbtError};
use super::{Input, KeySource, Output, Psbt, check_unsigned};
use crate::hashes::hash160;
use crate::script::{Instruction, ScriptBuf};
use crate::tx::{Transaction, TxOut, Witness};
use crate::units::{Amount, FeeRate};

/// The highest fee rate [`Psbt::extract_tx`] accepts: 25,000 sat/vB, as rust-bitcoin's
/// default. Anything above is almost certainly a mistake (e.g. a change output forgotten).
pub const MAX_FEE_RATE: FeeRate = FeeRate::from_sat_per_kvb(25_000_000);

/// What an updater knows and adds to a PSBT: previous transactions, scripts (redeem and
/// witness scripts, matched to inputs and outputs by their hashes) and key origins
/// (matched by the public key appearing in, or hashing to, a script involved).
#[derive(Debug, Clone, Default)]
pub struct UpdateData {
    /// Transactions whose outputs the PSBT may spend.
    pub previous_txs: Vec<Transaction>,
    /// Redeem and witness scripts.
    pub scripts: Vec<ScriptBuf>,
    /// Public keys (SEC1 bytes) with their origins.
    pub key_origins: Vec<(Vec<u8>, KeySource)>,
}

/// Returns true if `pubkey` is pushed by `script` or hashes to its P2PKH/P2WPKH program.
fn script_involves(script: &ScriptBuf, pubkey: &[u8]) -> bool {
    let b = script.as_bytes();
    if script.is_p2pkh() {
        return b[3..23] == hash160(pubkey);
    }
    if script.is_p2wpkh() {
        return b[2..22] == hash160(pubkey);
    }
    script
        .instructions()
        .any(|i| matches!(i, Ok(Instruction::Push(d)) if d == pubkey))
}

/// Finds the redeem script and witness script for an output script among `scripts`.
fn find_scripts(
    script_pubkey: &ScriptBuf,
    scripts: &[ScriptBuf],
) -> (Option<ScriptBuf>, Option<ScriptBuf>) {
    let redeem = script_pubkey
        .is_p2sh()
        .then(|| {
            scripts
                .iter()
                .find(|s| s.to_p2sh() == *script_pubkey)
                .cloned()
        })
        .flatten();
    let segwit_spk = redeem.as_ref().unwrap_or(script_pubkey);
    let witness = segwit_spk
        .is_p2wsh()
        .then(|| {
            scripts
                .iter()
                .find(|s| s.to_p2wsh() == *segwit_spk)
                .cloned()
        })
        .flatten();
    (redeem, witness)
}

/// Returns the scripts whose keys a derivation may belong to.
fn involved_scripts<'a>(
    spk: &'a ScriptBuf,
    redeem: Option<&'a ScriptBuf>,
    witness: Option<&'a ScriptBuf>,
) -> impl Iterator<Item = &'a ScriptBuf> {
    std::iter::once(spk).chain(redeem).chain(witness)
}

impl Psbt {
    /// Creates a PSBT for an unsigned transaction, with empty input and output maps
    /// (the BIP-0174 creator).
    ///
    /// # Errors
    /// [`PsbtError::CreatorTxNotUnsigned`] if an input has a scriptSig or witness.
    pub fn from_unsigned_tx(unsigned_tx: Transaction) -> Result<Self, PsbtError> {
        check_unsigned(&unsigned_tx).map_err(|e| match e {
            PsbtError::UnsignedTxNotEmpty { input } => PsbtError::CreatorTxNotUnsigned { input },
            other => other,
        })?;
        Ok(Psbt {
            inputs: vec![Input::default(); unsigned_tx.input.len()],
            outputs: vec![Output::default(); unsigned_tx.output.len()],
            unsigned_tx,
            xpubs: Default::default(),
            version: None,
            fallback_locktime: None,
            tx_modifiable: None,
            proprietary: Default::default(),
            unknown: Default::default(),
        })
    }

    /// Adds what `data` provides to every input and output it applies to (the BIP-0174
    /// updater): for each input whose previous transaction is given, its redeem and
    /// witness scripts found by hash, then the UTXO — the spent output alone
    /// (`witness_utxo`) for a segwit spend, the whole transaction (`non_witness_utxo`)
    /// otherwise, as BIP-0174 prescribes — and the key origins of the keys its scripts
    /// involve. Outputs get their scripts and key origins the same way.
    ///
    /// # Errors
    /// [`PsbtError::PrevoutIndexOutOfRange`] if a given transaction lacks the spent output.
    pub fn update(&mut self, data: &UpdateData) -> Result<(), PsbtError> {
        for (i, txin) in self.unsigned_tx.input.iter().enumerate() {
            let prevout = txin.previous_output;
            let input = &mut self.inputs[i];
            if let Some(prev) = data.previous_txs.iter().find(|t| t.txid() == prevout.txid) {
                let txout = prev.output.get(prevout.vout as usize).ok_or(
                    PsbtError::PrevoutIndexOutOfRange {
                        input: i,
                        vout: prevout.vout,
                    },
                )?;
                let (redeem, witness) = find_scripts(&txout.script_pubkey, &data.scripts);
                input.redeem_script = input.redeem_script.take().or(redeem);
                input.witness_script = input.witness_script.take().or(witness);
                let segwit_spk = input.redeem_script.as_ref().unwrap_or(&txout.script_pubkey);
                if segwit_spk.witness_program().is_some() {
                    input.witness_utxo = Some(txout.clone());
                } else {
                    input.non_witness_utxo = Some(prev.clone());
                }
            }
            let Some(spk) = input
                .spent_output(prevout.vout)
                .map(|o| o.script_pubkey.clone())
            else {
                continue;
            };
            for (pubkey, source) in &data.key_origins {
                let involved = involved_scripts(
                    &spk,
                    input.redeem_script.as_ref(),
                    input.witness_script.as_ref(),
                )
                .any(|s| script_involves(s, pubkey));
                if involved {
                    input
                        .bip32_derivation
                        .insert(pubkey.clone(), source.clone());
                }
            }
        }
        for (txout, output) in self.unsigned_tx.output.iter().zip(&mut self.outputs) {
            let (redeem, witness) = find_scripts(&txout.script_pubkey, &data.scripts);
            output.redeem_script = output.redeem_script.take().or(redeem);
            output.witness_script = output.witness_script.take().or(witness);
            for (pubkey, source) in &data.key_origins {
                let involved = involved_scripts(
                    &txout.script_pubkey,
                    output.redeem_script.as_ref(),
                    output.witness_script.as_ref(),
                )
                .any(|s| script_involves(s, pubkey));
                if involved {
                    output
                        .bip32_derivation
                        .insert(pubkey.clone(), source.clone());
                }
            }
        }
        Ok(())
    }

    /// Sets the whole previous transaction of input `index`.
    ///
    /// # Errors
    /// [`PsbtError::IndexOutOfRange`], or [`PsbtError::NonWitnessUtxoMismatch`] /
    /// [`PsbtError::PrevoutIndexOutOfRange`] if `prev` is not the transaction spent.
    pub fn set_non_witness_utxo(
        &mut self,
        index: usize,
        prev: Transaction,
    ) -> Result<(), PsbtError> {
        let prevout = self.txin(index)?.previous_output;
        super::check_non_witness_utxo(index, prevout, &prev)?;
        self.inputs[index].non_witness_utxo = Some(prev);
        Ok(())
    }

    /// Sets the spent output of input `index` (enough for segwit and taproot signing).
    ///
    /// # Errors
    /// [`PsbtError::IndexOutOfRange`].
    pub fn set_witness_utxo(&mut self, index: usize, utxo: TxOut) -> Result<(), PsbtError> {
        self.txin(index)?;
        self.inputs[index].witness_utxo = Some(utxo);
        Ok(())
    }

    /// Sets the sighash type signers must use for input `index`.
    ///
    /// # Errors
    /// [`PsbtError::IndexOutOfRange`].
    pub fn set_sighash_type(&mut self, index: usize, sighash: u32) -> Result<(), PsbtError> {
        self.txin(index)?;
        self.inputs[index].sighash_type = Some(sighash);
        Ok(())
    }

    fn txin(&self, index: usize) -> Result<&crate::tx::TxIn, PsbtError> {
        self.unsigned_tx
            .input
            .get(index)
            .ok_or(PsbtError::IndexOutOfRange {
                what: "input",
                index,
                len: self.unsigned_tx.input.len(),
            })
    }

    /// Merges `other` into this PSBT (the BIP-0174 combiner): every key-value pair of
    /// either appears in the result; where both have a value for one key, this one's is
    /// kept, as Bitcoin Core does.
    ///
    /// # Errors
    /// [`PsbtError::DifferentTransactions`] unless both are for the same unsigned
    /// transaction.
    pub fn combine(&mut self, other: Psbt) -> Result<(), PsbtError> {
        let (ours, theirs) = (self.psbt_version(), other.psbt_version());
        if ours != theirs {
            return Err(PsbtError::DifferentVersions { ours, theirs });
        }
        // Version 2 signers may change sequences: Core compares without them.
        let same = if ours == 2 {
            super::v2::unique_tx(&self.unsigned_tx) == super::v2::unique_tx(&other.unsigned_tx)
        } else {
            self.unsigned_tx == other.unsigned_tx
        };
        if !same {
            return Err(PsbtError::DifferentTransactions {
                ours: self.unsigned_tx.txid(),
                theirs: other.unsigned_tx.txid(),
            });
        }
        if self.fallback_locktime.is_none() {
            self.fallback_locktime = other.fallback_locktime;
        }
        if self.tx_modifiable.is_some() || other.tx_modifiable.is_some() {
            // As Core: inputs/outputs stay modifiable only if both say so; "has
            // SIGHASH_SINGLE" (bit 2) holds if either says so.
            let (a, b) = (
                self.tx_modifiable.unwrap_or(0),
                other.tx_modifiable.unwrap_or(0),
            );
            self.tx_modifiable = Some((a & b) | ((a | b) & 0x04));
        }
        for (k, v) in other.xpubs {
            self.xpubs.entry(k).or_insert(v);
        }
        if self.version.is_none() {
            self.version = other.version;
        }
        for (k, v) in other.proprietary {
            self.proprietary.entry(k).or_insert(v);
        }
        for (k, v) in other.unknown {
            self.unknown.entry(k).or_insert(v);
        }
        for (ours, theirs) in self.inputs.iter_mut().zip(other.inputs) {
            ours.combine(theirs);
        }
        for (ours, theirs) in self.outputs.iter_mut().zip(other.outputs) {
            ours.combine(theirs);
        }
        Ok(())
    }

    /// Returns the spent output of every input, in order.
    ///
    /// # Errors
    /// [`FeeError::MissingUtxo`] naming the first input without a UTXO.
    pub fn spent_outputs(&self) -> Result<Vec<TxOut>, FeeError> {
        self.unsigned_tx
            .input
            .iter()
            .zip(&self.inputs)
            .enumerate()
            .map(|(i, (txin, input))| {
                input
                    .spent_output(txin.previous_output.vout)
                    .cloned()
                    .ok_or(FeeError::MissingUtxo { input: i })
            })
            .collect()
    }

    /// Returns the fee: the value of all spent outputs minus the value of all outputs.
    ///
    /// # Errors
    /// [`FeeError`] if an input's UTXO is unknown, the outputs exceed the inputs, or a sum
    /// overflows.
    pub fn fee(&self) -> Result<Amount, FeeError> {
        let spent = self.spent_outputs()?;
        let inputs =
            Amount::checked_sum(spent.iter().map(|o| o.value)).ok_or(FeeError::Overflow)?;
        let outputs = Amount::checked_sum(self.unsigned_tx.output.iter().map(|o| o.value))
            .ok_or(FeeError::Overflow)?;
        inputs
            .checked_sub(outputs)
            .ok_or(FeeError::NegativeFee { inputs, outputs })
    }

    /// Returns the signed transaction (the BIP-0174 extractor), refusing a fee rate above
    /// [`MAX_FEE_RATE`].
    ///
    /// # Errors
    /// [`ExtractTxError::NotFinalized`], [`ExtractTxError::Fee`] if the fee is unknown or
    /// negative, [`ExtractTxError::AbsurdFeeRate`] above the limit.
    pub fn extract_tx(&self) -> Result<Transaction, ExtractTxError> {
        self.extract_tx_with_fee_rate_limit(MAX_FEE_RATE)
    }

    /// Returns the signed transaction, refusing a fee rate above `max`.
    ///
    /// # Errors
    /// As [`Psbt::extract_tx`].
    pub fn extract_tx_with_fee_rate_limit(
        &self,
        max: FeeRate,
    ) -> Result<Transaction, ExtractTxError> {
        let tx = self.extract_tx_unchecked_fee_rate()?;
        let fee = self.fee()?;
        // A vsize of zero cannot occur for a real transaction; treat it as no rate at all.
        let fee_rate = FeeRate::from_fee_and_vbytes(fee, tx.vsize()).unwrap_or(FeeRate::ZERO);
        if fee_rate > max {
            return Err(ExtractTxError::AbsurdFeeRate { fee, fee_rate, max });
        }
        Ok(tx)
    }

    /// Returns the signed transaction without looking at the fee at all: the explicit
    /// escape hatch for a deliberately high fee, or UTXOs the PSBT does not carry.
    ///
    /// # Errors
    /// [`ExtractTxError::NotFinalized`] if an input lacks its final scriptSig and witness.
    pub fn extract_tx_unchecked_fee_rate(&self) -> Result<Transaction, ExtractTxError> {
        let mut tx = self.unsigned_tx.clone();
        for (i, (txin, input)) in tx.input.iter_mut().zip(&self.inputs).enumerate() {
            if !input.is_finalized() {
                return Err(ExtractTxError::NotFinalized { input: i });
            }
            txin.script_sig = input.final_script_sig.clone().unwrap_or_default();
            txin.witness = input
                .final_script_witness
                .clone()
                .unwrap_or_else(Witness::new);
        }
        Ok(tx)
    }
}
