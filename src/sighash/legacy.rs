//! Bitcoin Core's `SignatureHash` for base (pre-segwit) scripts.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, SighashCache, Sink, put_compact_size,
};
use crate::hashes::HashWriter;
use crate::script::opcodes::{OP_CODESEPARATOR, OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4};

/// The hash Core returns for an input index out of range or `SIGHASH_SINGLE` without a
/// matching output: the little-endian uint256 one. A signature over it signs nothing.
pub const SIGHASH_ONE: [u8; 32] = {
    let mut one = [0u8; 32];
    one[0] = 1;
    one
};

impl SighashCache<'_> {
    /// Returns the legacy signature hash of input `input_index`, exactly as Bitcoin Core's
    /// `SignatureHash(…, SigVersion::BASE)`.
    ///
    /// `script_code` is the script being executed (the spent scriptPubKey, or the P2SH
    /// redeemScript), without a length prefix; its `OP_CODESEPARATOR`s are removed here.
    /// `sighash_type` is the full 32-bit value: its low five bits and the 0x80 flag select
    /// the behaviour, and all 32 bits are hashed.
    ///
    /// Mirrors Core's quirks: an input index out of range, or `SIGHASH_SINGLE` for an input
    /// without an output at its index, returns [`SIGHASH_ONE`] instead of an error.
    pub fn legacy_sighash(
        &self,
        input_index: usize,
        script_code: &[u8],
        sighash_type: u32,
    ) -> [u8; 32] {
        let tx = self.tx;
        let base = (sighash_type & 0x1f) as u8;
        let anyone_can_pay = sighash_type & u32::from(SIGHASH_ANYONECANPAY) != 0;
        let single = base == SIGHASH_SINGLE;
        let none = base == SIGHASH_NONE;
        if input_index >= tx.input.len() || (single && input_index >= tx.output.len()) {
            return SIGHASH_ONE;
        }

        let mut h = HashWriter::new();
        h.put(&tx.version.to_le_bytes());
        let inputs: Vec<usize> = if anyone_can_pay {
            vec![input_index]
        } else {
            (0..tx.input.len()).collect()
        };
        put_compact_size(&mut h, inputs.len() as u64);
        for i in inputs {
            let txin = &tx.input[i];
            h.put(txin.previous_output.txid.as_bytes());
            h.put(&txin.previous_output.vout.to_le_bytes());
            if i == input_index {
                put_script_code(&mut h, script_code);
            } else {
                put_compact_size(&mut h, 0);
            }
            // Other inputs' sequences are zeroed under NONE and SINGLE so they can be updated.
            let sequence = if i != input_index && (single || none) {
                0
            } else {
                txin.sequence
            };
            h.put(&sequence.to_le_bytes());
        }
        let outputs = if none {
            0
        } else if single {
            input_index + 1
        } else {
            tx.output.len()
        };
        put_compact_size(&mut h, outputs as u64);
        for (o, txout) in tx.output.iter().enumerate().take(outputs) {
            if single && o != input_index {
                // CTxOut(): value -1, empty script.
                h.put(&(-1i64).to_le_bytes());
                put_compact_size(&mut h, 0);
            } else {
                let mut buf = Vec::with_capacity(txout.encoded_len());
                txout.encode_into(&mut buf);
                h.put(&buf);
            }
        }
        h.put(&tx.lock_time.to_le_bytes());
        h.put(&sighash_type.to_le_bytes());
        h.finish_double()
    }
}

/// Steps over one instruction the way Core's `GetScriptOp` does, returning the opcode and
/// the position after it, or `None` with the position where parsing stopped (Core leaves
/// the iterator after the bytes it consumed before failing, and that matters below).
fn get_op(script: &[u8], pc: usize) -> (Option<u8>, usize) {
    let Some(&op) = script.get(pc) else {
        return (None, pc);
    };
    let mut pc = pc + 1;
    if op <= OP_PUSHDATA4 {
        let len_bytes = match op {
            OP_PUSHDATA1 => 1,
            OP_PUSHDATA2 => 2,
            OP_PUSHDATA4 => 4,
            _ => 0,
        };
        let size = if len_bytes == 0 {
            usize::from(op)
        } else {
            let Some(len) = script.get(pc..pc + len_bytes) else {
                return (None, pc);
            };
            let mut buf = [0u8; 4];
            buf[..len_bytes].copy_from_slice(len);
            pc += len_bytes;
            u32::from_le_bytes(buf) as usize
        };
        if script.len() - pc < size {
            return (None, pc);
        }
        pc += size;
    }
    (Some(op), pc)
}

/// Serializes the scriptCode without its `OP_CODESEPARATOR`s, as Core's
/// `CTransactionSignatureSerializer::SerializeScriptCode`: the length prefix counts every
/// byte but the separators, and the bytes written stop where a truncated push stops the
/// parser (so a malformed script hashes exactly as in Core).
fn put_script_code(sink: &mut impl Sink, script: &[u8]) {
    let mut separators = 0u64;
    let mut pc = 0;
    while let (Some(op), next) = get_op(script, pc) {
        if op == OP_CODESEPARATOR {
            separators += 1;
        }
        pc = next;
    }
    put_compact_size(sink, script.len() as u64 - separators);

    let mut begin = 0;
    let mut pc = 0;
    loop {
        let (op, next) = get_op(script, pc);
        pc = next;
        match op {
            Some(OP_CODESEPARATOR) => {
                sink.put(&script[begin..pc - 1]);
                begin = pc;
            }
            Some(_) => {}
            None => break,
        }
    }
    if begin != script.len() {
        sink.put(&script[begin..pc]);
    }
}
