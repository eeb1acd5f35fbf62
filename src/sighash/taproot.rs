//! BIP-0341 signature hash (key path, and script path per BIP-0342) and the tap tree
//! hashes: TapLeaf and TapBranch.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_DEFAULT, SIGHASH_NONE, SIGHASH_SINGLE, SighashCache,
    SighashError, Sink, put_compact_size, put_var_bytes,
};
use crate::hashes::{HashWriter, sha256, tagged_hash};
use crate::tx::TxOut;

/// The leaf version of BIP-0342 tapscript.
pub const TAPSCRIPT_LEAF_VERSION: u8 = 0xc0;

/// Returns the TapLeaf hash of `script` under `leaf_version`
/// (`TaggedHash("TapLeaf", leaf_version || compact_size(len) || script)`);
/// tapscript leaves use [`TAPSCRIPT_LEAF_VERSION`].
pub fn tapleaf_hash(leaf_version: u8, script: &[u8]) -> [u8; 32] {
    let mut h = HashWriter::tagged("TapLeaf");
    h.put(&[leaf_version]);
    put_var_bytes(&mut h, script);
    h.finish()
}

/// Returns the TapBranch hash of two child hashes, which BIP-0341 sorts lexicographically
/// first so a branch does not depend on the order of its children.
pub fn tapbranch_hash(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    tagged_hash("TapBranch", &[lo, hi])
}

/// The BIP-0341 midstates: single SHA256 hashes shared by every input's sighash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaprootMidstates {
    /// `sha_prevouts`: SHA256 of all outpoints.
    pub sha_prevouts: [u8; 32],
    /// `sha_amounts`: SHA256 of all spent amounts.
    pub sha_amounts: [u8; 32],
    /// `sha_scriptpubkeys`: SHA256 of all spent scriptPubKeys (length-prefixed).
    pub sha_scriptpubkeys: [u8; 32],
    /// `sha_sequences`: SHA256 of all nSequence values.
    pub sha_sequences: [u8; 32],
    /// `sha_outputs`: SHA256 of all outputs.
    pub sha_outputs: [u8; 32],
}

/// The midstates that depend on the transaction alone.
#[derive(Debug, Clone)]
pub(super) struct TxMidstates {
    sha_prevouts: [u8; 32],
    sha_sequences: [u8; 32],
    sha_outputs: [u8; 32],
}

/// The midstates that depend on the spent outputs.
#[derive(Debug, Clone)]
pub(super) struct PrevoutMidstates {
    sha_amounts: [u8; 32],
    sha_scriptpubkeys: [u8; 32],
}

/// Returns true for the hash types BIP-0341 allows.
pub fn is_valid_taproot_sighash_type(sighash_type: u8) -> bool {
    matches!(sighash_type, 0x00..=0x03 | 0x81..=0x83)
}

impl SighashCache<'_> {
    fn taproot_tx_midstates(&self) -> &TxMidstates {
        self.taproot_tx.get_or_init(|| {
            let mut prevouts = HashWriter::new();
            let mut sequences = HashWriter::new();
            for txin in &self.tx.input {
                prevouts.put(txin.previous_output.txid.as_bytes());
                prevouts.put(&txin.previous_output.vout.to_le_bytes());
                sequences.put(&txin.sequence.to_le_bytes());
            }
            let mut outputs = HashWriter::new();
            let mut buf = Vec::new();
            for txout in &self.tx.output {
                buf.clear();
                txout.encode_into(&mut buf);
                outputs.put(&buf);
            }
            TxMidstates {
                sha_prevouts: prevouts.finish(),
                sha_sequences: sequences.finish(),
                sha_outputs: outputs.finish(),
            }
        })
    }

    fn taproot_prevout_midstates(&self, prevouts: &[TxOut]) -> &PrevoutMidstates {
        self.taproot_prevouts.get_or_init(|| {
            let mut amounts = HashWriter::new();
            let mut scripts = HashWriter::new();
            for prevout in prevouts {
                amounts.put(&prevout.value.to_sat().to_le_bytes());
                put_var_bytes(&mut scripts, prevout.script_pubkey.as_bytes());
            }
            PrevoutMidstates {
                sha_amounts: amounts.finish(),
                sha_scriptpubkeys: scripts.finish(),
            }
        })
    }

    fn check_prevouts(&self, prevouts: &[TxOut]) -> Result<(), SighashError> {
        if prevouts.len() == self.tx.input.len() {
            Ok(())
        } else {
            Err(SighashError::PrevoutsCountMismatch {
                prevouts: prevouts.len(),
                inputs: self.tx.input.len(),
            })
        }
    }

    /// Returns the five BIP-0341 midstates (computed on first use and cached).
    ///
    /// `prevouts` must be the outputs spent by every input, in input order, and the same
    /// on every call to this cache: the spent-output hashes are cached on first use.
    ///
    /// # Errors
    /// [`SighashError::PrevoutsCountMismatch`].
    pub fn taproot_midstates(&self, prevouts: &[TxOut]) -> Result<TaprootMidstates, SighashError> {
        self.check_prevouts(prevouts)?;
        let t = self.taproot_tx_midstates();
        let p = self.taproot_prevout_midstates(prevouts);
        Ok(TaprootMidstates {
            sha_prevouts: t.sha_prevouts,
            sha_amounts: p.sha_amounts,
            sha_scriptpubkeys: p.sha_scriptpubkeys,
            sha_sequences: t.sha_sequences,
            sha_outputs: t.sha_outputs,
        })
    }

    /// Returns the BIP-0341 signature hash of input `input_index`:
    /// `TaggedHash("TapSighash", 0x00 || SigMsg)`.
    ///
    /// - `prevouts`: the outputs spent by *all* inputs, in input order (and the same on
    ///   every call to this cache, whose spent-output hashes are computed once).
    /// - `sighash_type`: 0x00 (`SIGHASH_DEFAULT`), 0x01-0x03 or 0x81-0x83.
    /// - `annex`: the annex, including its leading 0x50, if the witness has one.
    /// - `leaf`: for a script-path spend (BIP-0342), the TapLeaf hash of the executed
    ///   script and the opcode position of the last executed `OP_CODESEPARATOR`
    ///   (`0xffff_ffff` for none); `None` for a key-path spend.
    ///
    /// # Errors
    /// [`SighashError`] for an index out of range, a wrong number of prevouts, an invalid
    /// hash type, `SIGHASH_SINGLE` without an output at the input's index, or an annex
    /// that does not start with 0x50.
    pub fn taproot_sighash(
        &self,
        input_index: usize,
        prevouts: &[TxOut],
        sighash_type: u8,
        annex: Option<&[u8]>,
        leaf: Option<([u8; 32], u32)>,
    ) -> Result<[u8; 32], SighashError> {
        let mut h = HashWriter::tagged("TapSighash");
        self.write_taproot(&mut h, input_index, prevouts, sighash_type, annex, leaf)?;
        Ok(h.finish())
    }

    /// Returns `0x00 || SigMsg`, the message whose TapSighash tagged hash is
    /// [`taproot_sighash`](Self::taproot_sighash) (the form BIP-0341's vectors print).
    ///
    /// # Errors
    /// As [`taproot_sighash`](Self::taproot_sighash).
    pub fn taproot_signature_message(
        &self,
        input_index: usize,
        prevouts: &[TxOut],
        sighash_type: u8,
        annex: Option<&[u8]>,
        leaf: Option<([u8; 32], u32)>,
    ) -> Result<Vec<u8>, SighashError> {
        let mut out = Vec::with_capacity(256);
        self.write_taproot(&mut out, input_index, prevouts, sighash_type, annex, leaf)?;
        Ok(out)
    }

    fn write_taproot(
        &self,
        sink: &mut impl Sink,
        input_index: usize,
        prevouts: &[TxOut],
        sighash_type: u8,
        annex: Option<&[u8]>,
        leaf: Option<([u8; 32], u32)>,
    ) -> Result<(), SighashError> {
        self.check_index(input_index)?;
        self.check_prevouts(prevouts)?;
        if !is_valid_taproot_sighash_type(sighash_type) {
            return Err(SighashError::InvalidTaprootSighashType(sighash_type));
        }
        if annex.is_some_and(|a| a.first() != Some(&0x50)) {
            return Err(SighashError::InvalidAnnex);
        }
        let tx = self.tx;
        let base = if sighash_type == SIGHASH_DEFAULT {
            0x01
        } else {
            sighash_type & 0x03
        };
        let anyone_can_pay = sighash_type & SIGHASH_ANYONECANPAY != 0;
        if base == SIGHASH_SINGLE && input_index >= tx.output.len() {
            return Err(SighashError::SingleWithoutOutput {
                index: input_index,
                outputs: tx.output.len(),
            });
        }

        // Epoch 0, then SigMsg.
        sink.put(&[0x00, sighash_type]);
        sink.put(&tx.version.to_le_bytes());
        sink.put(&tx.lock_time.to_le_bytes());
        if !anyone_can_pay {
            let t = self.taproot_tx_midstates();
            let p = self.taproot_prevout_midstates(prevouts);
            sink.put(&t.sha_prevouts);
            sink.put(&p.sha_amounts);
            sink.put(&p.sha_scriptpubkeys);
            sink.put(&t.sha_sequences);
        }
        if base != SIGHASH_NONE && base != SIGHASH_SINGLE {
            sink.put(&self.taproot_tx_midstates().sha_outputs);
        }
        let ext_flag = u8::from(leaf.is_some());
        sink.put(&[ext_flag * 2 + u8::from(annex.is_some())]);
        if anyone_can_pay {
            let txin = &tx.input[input_index];
            let prevout = &prevouts[input_index];
            sink.put(txin.previous_output.txid.as_bytes());
            sink.put(&txin.previous_output.vout.to_le_bytes());
            sink.put(&prevout.value.to_sat().to_le_bytes());
            put_var_bytes(sink, prevout.script_pubkey.as_bytes());
            sink.put(&txin.sequence.to_le_bytes());
        } else {
            let index = u32::try_from(input_index)
                .expect("an input index fits a u32 in any decodable transaction");
            sink.put(&index.to_le_bytes());
        }
        if let Some(annex) = annex {
            let mut h = HashWriter::new();
            put_compact_size(&mut h, annex.len() as u64);
            h.put(annex);
            sink.put(&h.finish());
        }
        if base == SIGHASH_SINGLE {
            let mut buf = Vec::new();
            tx.output[input_index].encode_into(&mut buf);
            sink.put(&sha256(&buf));
        }
        if let Some((leaf_hash, codesep_pos)) = leaf {
            sink.put(&leaf_hash);
            // key_version 0: BIP-0342's only public key version.
            sink.put(&[0x00]);
            sink.put(&codesep_pos.to_le_bytes());
        }
        Ok(())
    }
}
