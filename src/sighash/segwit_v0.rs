//! BIP-0143: the segwit v0 signature hash.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, SighashCache, SighashError, Sink,
    put_var_bytes,
};
use crate::hashes::{HashWriter, sha256d};
use crate::units::Amount;

/// The BIP-0143 midstates as the BIP names them, for callers that check them against
/// vectors or build preimages of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegwitV0Midstates {
    /// `hashPrevouts`: double SHA256 of all outpoints.
    pub hash_prevouts: [u8; 32],
    /// `hashSequence`: double SHA256 of all nSequence values.
    pub hash_sequence: [u8; 32],
    /// `hashOutputs`: double SHA256 of all outputs.
    pub hash_outputs: [u8; 32],
}

impl SighashCache<'_> {
    /// Returns the transaction-wide BIP-0143 midstates (those of `SIGHASH_ALL`), computed
    /// on first use and cached.
    pub fn segwit_v0_midstates(&self) -> &SegwitV0Midstates {
        self.segwit_v0.get_or_init(|| {
            let tx = self.tx;
            let mut prevouts = HashWriter::new();
            let mut sequences = HashWriter::new();
            for txin in &tx.input {
                prevouts.put(txin.previous_output.txid.as_bytes());
                prevouts.put(&txin.previous_output.vout.to_le_bytes());
                sequences.put(&txin.sequence.to_le_bytes());
            }
            let mut outputs = HashWriter::new();
            let mut buf = Vec::new();
            for txout in &tx.output {
                buf.clear();
                txout.encode_into(&mut buf);
                outputs.put(&buf);
            }
            SegwitV0Midstates {
                hash_prevouts: prevouts.finish_double(),
                hash_sequence: sequences.finish_double(),
                hash_outputs: outputs.finish_double(),
            }
        })
    }

    /// Returns the BIP-0143 signature hash of input `input_index`.
    ///
    /// `script_code` is the BIP-0143 scriptCode without its length prefix (for P2WPKH the
    /// P2PKH script of the key hash); `value` is the amount of the spent output. The full
    /// 32-bit `sighash_type` is hashed; its low five bits and 0x80 select the behaviour.
    ///
    /// # Errors
    /// [`SighashError::InputIndexOutOfRange`].
    pub fn segwit_v0_sighash(
        &self,
        input_index: usize,
        script_code: &[u8],
        value: Amount,
        sighash_type: u32,
    ) -> Result<[u8; 32], SighashError> {
        let mut h = HashWriter::new();
        self.write_segwit_v0(&mut h, input_index, script_code, value, sighash_type)?;
        Ok(h.finish_double())
    }

    /// Returns the BIP-0143 preimage whose double SHA256 is
    /// [`segwit_v0_sighash`](Self::segwit_v0_sighash).
    ///
    /// # Errors
    /// [`SighashError::InputIndexOutOfRange`].
    pub fn segwit_v0_preimage(
        &self,
        input_index: usize,
        script_code: &[u8],
        value: Amount,
        sighash_type: u32,
    ) -> Result<Vec<u8>, SighashError> {
        let mut out = Vec::with_capacity(160 + script_code.len());
        self.write_segwit_v0(&mut out, input_index, script_code, value, sighash_type)?;
        Ok(out)
    }

    fn write_segwit_v0(
        &self,
        sink: &mut impl Sink,
        input_index: usize,
        script_code: &[u8],
        value: Amount,
        sighash_type: u32,
    ) -> Result<(), SighashError> {
        self.check_index(input_index)?;
        let tx = self.tx;
        let base = (sighash_type & 0x1f) as u8;
        let anyone_can_pay = sighash_type & u32::from(SIGHASH_ANYONECANPAY) != 0;
        let single_or_none = base == SIGHASH_SINGLE || base == SIGHASH_NONE;
        let zero = [0u8; 32];

        let hash_prevouts = if anyone_can_pay {
            zero
        } else {
            self.segwit_v0_midstates().hash_prevouts
        };
        let hash_sequence = if anyone_can_pay || single_or_none {
            zero
        } else {
            self.segwit_v0_midstates().hash_sequence
        };
        let hash_outputs = if !single_or_none {
            self.segwit_v0_midstates().hash_outputs
        } else if base == SIGHASH_SINGLE && input_index < tx.output.len() {
            let mut buf = Vec::new();
            tx.output[input_index].encode_into(&mut buf);
            sha256d(&buf)
        } else {
            zero
        };

        let txin = &tx.input[input_index];
        sink.put(&tx.version.to_le_bytes());
        sink.put(&hash_prevouts);
        sink.put(&hash_sequence);
        sink.put(txin.previous_output.txid.as_bytes());
        sink.put(&txin.previous_output.vout.to_le_bytes());
        put_var_bytes(sink, script_code);
        sink.put(&value.to_sat().to_le_bytes());
        sink.put(&txin.sequence.to_le_bytes());
        sink.put(&hash_outputs);
        sink.put(&tx.lock_time.to_le_bytes());
        sink.put(&sighash_type.to_le_bytes());
        Ok(())
    }
}
