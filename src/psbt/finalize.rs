//! The finalizer role: turns partial signatures into final scriptSigs and witnesses for
//! P2PKH, P2WPKH, P2SH-P2WPKH, bare-script P2SH / P2WSH / P2SH-P2WSH (multisig or a single
//! `<key> OP_CHECKSIG`) and P2TR key-path spends.

use super::error::FinalizeError;
use super::{Input, Psbt};
use crate::hashes::hash160;
use crate::script::opcodes::{OP_0, OP_1, OP_16, OP_CHECKMULTISIG, OP_CHECKSIG};
use crate::script::{Instruction, ScriptBuf};
use crate::tx::Witness;

/// A multisig script's threshold and keys, in script order.
pub(crate) struct Multisig<'a> {
    pub threshold: usize,
    pub keys: Vec<&'a [u8]>,
}

/// Parses `<key> OP_CHECKSIG` (as 1-of-1) or `OP_m <key>… OP_n OP_CHECKMULTISIG`.
pub(crate) fn parse_multisig(script: &ScriptBuf) -> Option<Multisig<'_>> {
    let ins: Vec<Instruction<'_>> = script.instructions().collect::<Result<_, _>>().ok()?;
    let small_int = |i: &Instruction<'_>| match *i {
        Instruction::Op(op) if (OP_1..=OP_16).contains(&op) => Some(usize::from(op - OP_1 + 1)),
        _ => None,
    };
    let is_key = |d: &[u8]| matches!(d.len(), 33 | 65);
    match ins.as_slice() {
        [Instruction::Push(k), Instruction::Op(OP_CHECKSIG)] if is_key(k) => Some(Multisig {
            threshold: 1,
            keys: vec![*k],
        }),
        [first, middle @ .., n, Instruction::Op(OP_CHECKMULTISIG)] => {
            let m = small_int(first)?;
            let n = small_int(n)?;
            let keys = middle
                .iter()
                .map(|i| match i {
                    Instruction::Push(k) if is_key(k) => Some(*k),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            (keys.len() == n && m <= n).then_some(Multisig { threshold: m, keys })
        }
        _ => None,
    }
}

/// Returns the signatures satisfying `script`, in its key order.
fn satisfy_script(
    index: usize,
    input: &Input,
    script: &ScriptBuf,
) -> Result<Vec<Vec<u8>>, FinalizeError> {
    let ms = parse_multisig(script).ok_or_else(|| FinalizeError::UnsupportedScript {
        input: index,
        script_pubkey: script.to_hex(),
    })?;
    let sigs: Vec<Vec<u8>> = ms
        .keys
        .iter()
        .filter_map(|k| input.partial_sigs.get(*k).cloned())
        .take(ms.threshold)
        .collect();
    if sigs.len() < ms.threshold {
        return Err(FinalizeError::NotEnoughSignatures {
            input: index,
            have: sigs.len(),
            need: ms.threshold,
        });
    }
    Ok(sigs)
}

/// Returns `(signature, pubkey)` for a key hashing to `program`.
fn sig_for_hash(
    index: usize,
    input: &Input,
    program: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), FinalizeError> {
    input
        .partial_sigs
        .iter()
        .find(|(pk, _)| hash160(pk) == program)
        .map(|(pk, sig)| (sig.clone(), pk.clone()))
        .ok_or(FinalizeError::NotEnoughSignatures {
            input: index,
            have: 0,
            need: 1,
        })
}

/// Builds the `(scriptSig, witness)` for a bare multisig-style script in P2SH or P2WSH.
fn multisig_stack(sigs: Vec<Vec<u8>>, script: &ScriptBuf, multisig: bool) -> Vec<Vec<u8>> {
    // OP_CHECKMULTISIG pops one extra element: the historical dummy, which must be empty.
    let mut stack = Vec::with_capacity(sigs.len() + 2);
    if multisig {
        stack.push(Vec::new());
    }
    stack.extend(sigs);
    stack.push(script.as_bytes().to_vec());
    stack
}

fn push_all(items: &[Vec<u8>]) -> ScriptBuf {
    let mut s = ScriptBuf::new();
    for item in items {
        if item.is_empty() {
            s.push_opcode(OP_0);
        } else {
            s.push_slice(item);
        }
    }
    s
}

fn is_multisig(script: &ScriptBuf) -> bool {
    script.as_bytes().last() == Some(&OP_CHECKMULTISIG)
}

impl Psbt {
    /// Finalizes every input that is not yet final (the BIP-0174 input finalizer).
    ///
    /// # Errors
    /// The first [`FinalizeError`]; inputs before it stay finalized.
    pub fn finalize(&mut self) -> Result<(), FinalizeError> {
        for i in 0..self.inputs.len() {
            if !self.inputs[i].is_finalized() {
                self.finalize_input(i)?;
            }
        }
        Ok(())
    }

    /// Finalizes input `index` from its partial signatures (or taproot key signature),
    /// then clears everything but the UTXOs, the final fields, proprietary and unknown
    /// pairs, as BIP-0174 requires.
    ///
    /// # Errors
    /// [`FinalizeError`] if the input's UTXO is missing, signatures are missing, a script
    /// is missing or does not match, or the script type is not supported.
    ///
    /// # Panics
    /// If `index` is not an input of the transaction.
    pub fn finalize_input(&mut self, index: usize) -> Result<(), FinalizeError> {
        let vout = self.unsigned_tx.input[index].previous_output.vout;
        let input = &self.inputs[index];
        let spk = input
            .spent_output(vout)
            .ok_or(FinalizeError::MissingUtxo { input: index })?
            .script_pubkey
            .clone();
        let bad = |reason: &str| FinalizeError::BadScript {
            input: index,
            reason: reason.to_string(),
        };
        let (script_sig, witness): (ScriptBuf, Option<Vec<Vec<u8>>>) = if spk.is_p2tr() {
            let sig = input
                .tap_key_sig
                .clone()
                .ok_or(FinalizeError::NotEnoughSignatures {
                    input: index,
                    have: 0,
                    need: 1,
                })?;
            (ScriptBuf::new(), Some(vec![sig]))
        } else if spk.is_p2pkh() {
            let (sig, pk) = sig_for_hash(index, input, &spk.as_bytes()[3..23])?;
            (push_all(&[sig, pk]), None)
        } else {
            // Resolve P2SH to the script inside; a segwit program there is nested segwit.
            let (script_sig_prefix, inner) = if spk.is_p2sh() {
                let redeem = input
                    .redeem_script
                    .clone()
                    .ok_or_else(|| bad("missing redeem script"))?;
                if redeem.to_p2sh() != spk {
                    return Err(bad("redeem script does not match the p2sh script_pubkey"));
                }
                (Some(redeem.clone()), redeem)
            } else {
                (None, spk.clone())
            };
            if inner.is_p2wpkh() {
                let (sig, pk) = sig_for_hash(index, input, &inner.as_bytes()[2..22])?;
                let ss =
                    script_sig_prefix.map_or_else(ScriptBuf::new, |r| push_all(&[r.into_bytes()]));
                (ss, Some(vec![sig, pk]))
            } else if inner.is_p2wsh() {
                let ws = input
                    .witness_script
                    .clone()
                    .ok_or_else(|| bad("missing witness script"))?;
                if ws.to_p2wsh() != inner {
                    return Err(bad("witness script does not match the p2wsh program"));
                }
                let sigs = satisfy_script(index, input, &ws)?;
                let ss =
                    script_sig_prefix.map_or_else(ScriptBuf::new, |r| push_all(&[r.into_bytes()]));
                (ss, Some(multisig_stack(sigs, &ws, is_multisig(&ws))))
            } else if let Some(redeem) = script_sig_prefix {
                let sigs = satisfy_script(index, input, &redeem)?;
                (
                    push_all(&multisig_stack(sigs, &redeem, is_multisig(&redeem))),
                    None,
                )
            } else {
                return Err(FinalizeError::UnsupportedScript {
                    input: index,
                    script_pubkey: spk.to_hex(),
                });
            }
        };
        let input = &mut self.inputs[index];
        let kept = Input {
            non_witness_utxo: input.non_witness_utxo.take(),
            witness_utxo: input.witness_utxo.take(),
            final_script_sig: (!script_sig.is_empty()).then_some(script_sig),
            final_script_witness: witness.map(Witness::from_items),
            proprietary: std::mem::take(&mut input.proprietary),
            unknown: std::mem::take(&mut input.unknown),
            // Version 2's transaction fields stay: they are the transaction, not a signature.
            required_time_locktime: input.required_time_locktime,
            required_height_locktime: input.required_height_locktime,
            explicit_sequence: input.explicit_sequence,
            ..Input::default()
        };
        *input = kept;
        Ok(())
    }
}
