//! Bitcoin Core's standardness policy (Core 30+), the part the devnet applies: transaction
//! version and size, scriptSig shape, standard output types, the data-carrier budget and
//! dust.

use super::chain::TxRuleError;
use crate::script::opcodes::{OP_1, OP_16, OP_CHECKMULTISIG, OP_CHECKSIG, OP_RETURN};
use crate::script::{Instruction, ScriptBuf};
use crate::tx::{OutPoint, Transaction, TxOut, Txid};
use crate::units::{FeeRate, Weight};

/// Core's `DUST_RELAY_TX_FEE`: 3 sat/vB.
pub const DUST_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kvb(3000);
/// Core's `MAX_OP_RETURN_RELAY` (`-datacarriersize`) since Core 30: the scriptPubKey bytes
/// all `OP_RETURN` outputs of a transaction may hold together (a standard transaction's
/// whole weight / 4, so in practice no limit of its own).
pub const MAX_OP_RETURN_RELAY: usize = 100_000;
/// Core's `MAX_STANDARD_SCRIPTSIG_SIZE`.
pub const MAX_STANDARD_SCRIPTSIG_SIZE: usize = 1650;
/// Core's `MIN_STANDARD_TX_NONWITNESS_SIZE`.
pub const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// Core's `TX_MAX_STANDARD_VERSION`: versions 1 to 3 are relayed (3 under the TRUC rules,
/// see [`super::mempool::truc`]).
pub const MAX_STANDARD_VERSION: i32 = 3;
/// Core's `MAX_DUST_OUTPUTS_PER_TX`: one dust output is allowed (as ephemeral dust) when
/// the transaction pays no fee.
pub const MAX_DUST_OUTPUTS_PER_TX: usize = 1;
/// Core's `MAX_PUBKEYS_PER_MULTISIG`.
const MAX_PUBKEYS_PER_MULTISIG: usize = 20;
/// Core's `IsUnspendable`: scripts longer than this can never be spent.
const MAX_SCRIPT_SIZE: usize = 10_000;

/// The output types Core relays (its `Solver` types other than `NONSTANDARD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputType {
    /// Bare pay to public key, `<pubkey> OP_CHECKSIG`.
    P2pk,
    /// Pay to public key hash.
    P2pkh,
    /// Pay to script hash.
    P2sh,
    /// Bare `m`-of-`n` multisig, `n` at most 3.
    Multisig,
    /// Segwit v0 key hash.
    P2wpkh,
    /// Segwit v0 script hash.
    P2wsh,
    /// Segwit v1 taproot.
    P2tr,
    /// Pay to anchor, `OP_1 <4e73>`.
    Anchor,
    /// A segwit output of a version (1 to 16) not defined yet.
    WitnessUnknown,
    /// A data carrier: `OP_RETURN` followed by pushes.
    NullData,
}

/// Core's `CScript::IsPushOnly`: only pushes and `OP_1NEGATE`…`OP_16` — and, unlike
/// [`ScriptBuf::is_push_only`], `OP_RESERVED`, which Core counts as a push (executing it
/// fails anyway).
fn is_push_only(script: &[u8]) -> bool {
    ScriptBuf::from_bytes(script.to_vec())
        .instructions()
        .all(|i| match i {
            Ok(Instruction::Push(_)) => true,
            Ok(Instruction::Op(op)) => op <= OP_16,
            Err(_) => false,
        })
}

/// Core's `CPubKey::ValidSize`: the length the first byte announces.
fn valid_pubkey_size(key: &[u8]) -> bool {
    match key.first() {
        Some(2 | 3) => key.len() == 33,
        Some(4 | 6 | 7) => key.len() == 65,
        _ => false,
    }
}

/// `<pubkey> OP_CHECKSIG` with a 33- or 65-byte key (Core's `MatchPayToPubkey`).
fn is_p2pk(b: &[u8]) -> bool {
    matches!(b.len(), 35 | 67)
        && usize::from(b[0]) + 2 == b.len()
        && b[b.len() - 1] == OP_CHECKSIG
        && valid_pubkey_size(&b[1..b.len() - 1])
}

/// `OP_m <pubkey>… OP_n OP_CHECKMULTISIG` (Core's `MatchMultisig`): `(m, n)`.
fn multisig(script: &ScriptBuf) -> Option<(usize, usize)> {
    if script.as_bytes().last() != Some(&OP_CHECKMULTISIG) {
        return None;
    }
    let ops: Vec<Instruction<'_>> = script.instructions().collect::<Result<_, _>>().ok()?;
    let small = |i: &Instruction<'_>| match i {
        Instruction::Op(op) if (OP_1..=OP_16).contains(op) => Some(usize::from(op - OP_1 + 1)),
        _ => None,
    };
    let (first, rest) = ops.split_first()?;
    let m = small(first)?;
    let (last, middle) = rest.split_last()?;
    if !matches!(last, Instruction::Op(OP_CHECKMULTISIG)) {
        return None;
    }
    let (count, keys) = middle.split_last()?;
    let n = small(count)?;
    let all_keys = keys
        .iter()
        .all(|k| matches!(k, Instruction::Push(d) if valid_pubkey_size(d)));
    (all_keys && keys.len() == n && m <= n && n <= MAX_PUBKEYS_PER_MULTISIG).then_some((m, n))
}

/// Classifies a scriptPubKey as Core's `Solver` does; `None` if it is not a standard
/// output (including bare multisig with more than 3 keys, which `IsStandard` refuses).
pub fn output_type(script: &ScriptBuf) -> Option<OutputType> {
    let b = script.as_bytes();
    if script.is_p2sh() {
        return Some(OutputType::P2sh);
    }
    if let Some((version, program)) = script.witness_program() {
        return match (version, program.len()) {
            (0, 20) => Some(OutputType::P2wpkh),
            (0, 32) => Some(OutputType::P2wsh),
            (1, 32) => Some(OutputType::P2tr),
            (1, 2) if program == [0x4e, 0x73] => Some(OutputType::Anchor),
            (0, _) => None,
            _ => Some(OutputType::WitnessUnknown),
        };
    }
    if b.first() == Some(&OP_RETURN) && is_push_only(&b[1..]) {
        return Some(OutputType::NullData);
    }
    if is_p2pk(b) {
        return Some(OutputType::P2pk);
    }
    if script.is_p2pkh() {
        return Some(OutputType::P2pkh);
    }
    match multisig(script) {
        Some((m, n)) if (1..=3).contains(&n) && m >= 1 => Some(OutputType::Multisig),
        _ => None,
    }
}

/// Core's `CScript::HasValidOps`: every opcode parses, none is above `OP_NOP10` and no
/// push is over 520 bytes.
pub fn has_valid_ops(script: &ScriptBuf) -> bool {
    script.instructions().all(|i| match i {
        Ok(crate::script::Instruction::Op(op)) => op <= 0xb9,
        Ok(crate::script::Instruction::Push(d)) => d.len() <= 520,
        Err(_) => false,
    })
}

/// Core's `CScript::IsUnspendable`: `OP_RETURN` first, or too long to ever be spent.
pub fn is_unspendable(script: &ScriptBuf) -> bool {
    script.as_bytes().first() == Some(&OP_RETURN) || script.len() > MAX_SCRIPT_SIZE
}

/// Core's `GetDustThreshold` at [`DUST_RELAY_FEE`]: the value below which spending the
/// output would cost more than it is worth (546 sat for P2PKH, 294 for P2WPKH, …).
pub fn dust_threshold(output: &TxOut) -> u64 {
    if is_unspendable(&output.script_pubkey) {
        return 0;
    }
    let mut size = output.encoded_len() as u64;
    size += if output.script_pubkey.witness_program().is_some() {
        // outpoint 36, script length 1, sequence 4, and a witness of ~107 bytes at 1/4.
        32 + 4 + 1 + 107 / 4 + 4
    } else {
        32 + 4 + 1 + 107 + 4
    };
    (size * DUST_RELAY_FEE.to_sat_per_kvb()).div_ceil(1000)
}

/// The outputs of `tx` below their dust threshold (Core's `GetDust`).
pub fn dust_outputs(tx: &Transaction) -> usize {
    tx.output
        .iter()
        .filter(|o| o.value.to_sat() < dust_threshold(o))
        .count()
}

/// Core's `IsStandardTx` (the rules above) plus `tx-size-small`.
///
/// # Errors
/// The first rule broken, with Core's reason (`version`, `tx-size`, `scriptsig-size`,
/// `scriptsig-not-pushonly`, `scriptpubkey`, `datacarrier`, `dust` for more than one dust
/// output, `tx-size-small`). A single dust output is judged later, by the fee
/// ([`super::mempool`]: Core's ephemeral dust rule).
pub fn check_standard(tx: &Transaction) -> Result<(), TxRuleError> {
    if !(1..=MAX_STANDARD_VERSION).contains(&tx.version) {
        return Err(TxRuleError::new("version", ""));
    }
    if tx.weight() > Weight::MAX_STANDARD_TX {
        return Err(TxRuleError::new("tx-size", ""));
    }
    for txin in &tx.input {
        if txin.script_sig.len() > MAX_STANDARD_SCRIPTSIG_SIZE {
            return Err(TxRuleError::new("scriptsig-size", ""));
        }
        if !is_push_only(txin.script_sig.as_bytes()) {
            return Err(TxRuleError::new("scriptsig-not-pushonly", ""));
        }
    }
    let mut datacarrier_left = MAX_OP_RETURN_RELAY;
    for output in &tx.output {
        match output_type(&output.script_pubkey) {
            None => return Err(TxRuleError::new("scriptpubkey", "")),
            Some(OutputType::NullData) => {
                datacarrier_left = datacarrier_left
                    .checked_sub(output.script_pubkey.len())
                    .ok_or_else(|| TxRuleError::new("datacarrier", ""))?;
            }
            Some(_) => {}
        }
    }
    if dust_outputs(tx) > MAX_DUST_OUTPUTS_PER_TX {
        return Err(TxRuleError::new("dust", ""));
    }
    if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
        return Err(TxRuleError::new("tx-size-small", ""));
    }
    Ok(())
}

/// Half the secp256k1 group order, big-endian: the largest `S` Core's `LOW_S` allows.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// The `S` of a DER signature (`30 len 02 rlen r 02 slen s`, a sighash byte after it);
/// `None` if it is not shaped so (DER itself is a consensus rule, checked elsewhere).
fn der_s(sig: &[u8]) -> Option<&[u8]> {
    let body = sig.get(..sig.len().checked_sub(1)?)?;
    if body.first() != Some(&0x30) || body.get(2) != Some(&0x02) {
        return None;
    }
    let rlen = usize::from(*body.get(3)?);
    let at = 4 + rlen;
    if body.get(at) != Some(&0x02) {
        return None;
    }
    let slen = usize::from(*body.get(at + 1)?);
    body.get(at + 2..at + 2 + slen)
}

/// Core's `LOW_S` on one signature: `S` at most half the group order.
fn is_low_s(sig: &[u8]) -> bool {
    let Some(s) = der_s(sig) else {
        return true;
    };
    let s: Vec<u8> = s.iter().copied().skip_while(|b| *b == 0).collect();
    s.len() < 32 || (s.len() == 32 && s.as_slice() <= HALF_ORDER.as_slice())
}

/// The ECDSA signature an input spending `prevout` carries, for the key-hash templates
/// (P2PKH, P2WPKH, P2SH-P2WPKH): the only ones the devnet checks `LOW_S` on.
fn key_hash_signature<'a>(txin: &'a crate::tx::TxIn, prevout: &TxOut) -> Option<&'a [u8]> {
    let spk = &prevout.script_pubkey;
    if spk.is_p2pkh() {
        return match txin.script_sig.instructions().next()? {
            Ok(Instruction::Push(sig)) => Some(sig),
            _ => None,
        };
    }
    let nested_p2wpkh = spk.is_p2sh()
        && txin.script_sig.len() == 23
        && ScriptBuf::from_bytes(txin.script_sig.as_bytes()[1..].to_vec()).is_p2wpkh();
    if spk.is_p2wpkh() || nested_p2wpkh {
        let items = txin.witness.items();
        return (items.len() == 2).then(|| items[0].as_slice());
    }
    None
}

/// Core's `CheckEphemeralSpends` for one transaction: every dust output of each of its
/// unconfirmed parents (`parent` looks them up in the mempool, or in the package being
/// evaluated) must be spent by it — the ephemeral dust a 0-fee parent may carry.
///
/// # Errors
/// `missing-ephemeral-spends`, with Core's detail.
pub fn check_ephemeral_spends<'a>(
    tx: &Transaction,
    parent: impl Fn(&Txid) -> Option<&'a Transaction>,
) -> Result<(), TxRuleError> {
    let mut unspent_dust = Vec::new();
    let mut seen: Vec<Txid> = Vec::new();
    for txin in &tx.input {
        let txid = txin.previous_output.txid;
        if seen.contains(&txid) {
            continue;
        }
        seen.push(txid);
        if let Some(p) = parent(&txid) {
            for (vout, o) in p.output.iter().enumerate() {
                if o.value.to_sat() < dust_threshold(o) {
                    unspent_dust.push(OutPoint {
                        txid,
                        vout: vout as u32,
                    });
                }
            }
        }
    }
    unspent_dust.retain(|op| !tx.input.iter().any(|i| i.previous_output == *op));
    if unspent_dust.is_empty() {
        return Ok(());
    }
    Err(TxRuleError::new(
        "missing-ephemeral-spends",
        format!(
            "tx {} (wtxid={}) did not spend parent's ephemeral dust",
            tx.txid(),
            tx.wtxid()
        ),
    ))
}

/// Core's standard script checks (`STANDARD_SCRIPT_VERIFY_FLAGS`) as far as the devnet
/// goes: per input, `LOW_S` on key-hash spends (the policy flag a wallet most often trips:
/// a high-S signature is valid by consensus but not relayed), then Bitcoin Core's
/// interpreter with the consensus flags (libbitcoinconsensus takes no policy flags).
///
/// # Errors
/// Core's script error text for `LOW_S`, or the interpreter's refusal.
pub fn verify_scripts(tx: &Transaction, prevouts: &[TxOut]) -> Result<(), String> {
    let bytes = tx.serialize();
    for (i, (txin, prevout)) in tx.input.iter().zip(prevouts).enumerate() {
        if key_hash_signature(txin, prevout).is_some_and(|sig| !sig.is_empty() && !is_low_s(sig)) {
            return Err("Non-canonical signature: S value is unnecessarily high".into());
        }
        crate::consensus::verify_input(
            prevout.script_pubkey.as_bytes(),
            prevout.value,
            &bytes,
            prevouts,
            i,
            crate::consensus::VerifyFlags::ALL,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Amount;

    fn out(script: ScriptBuf) -> TxOut {
        TxOut {
            value: Amount::from_sat(1000),
            script_pubkey: script,
        }
    }

    #[test]
    fn dust_thresholds_match_core() {
        assert_eq!(dust_threshold(&out(ScriptBuf::new_p2pkh(&[0; 20]))), 546);
        assert_eq!(dust_threshold(&out(ScriptBuf::new_p2sh(&[0; 20]))), 540);
        assert_eq!(dust_threshold(&out(ScriptBuf::new_p2wpkh(&[0; 20]))), 294);
        assert_eq!(dust_threshold(&out(ScriptBuf::new_p2wsh(&[0; 32]))), 330);
        assert_eq!(dust_threshold(&out(ScriptBuf::new_p2tr(&[0; 32]))), 330);
        assert_eq!(dust_threshold(&out(ScriptBuf::new_op_return(b"hi"))), 0);
        // Pay-to-anchor, a bare P2PK and a bare 1-of-2 multisig.
        assert_eq!(
            dust_threshold(&out(ScriptBuf::from_hex("51024e73").unwrap())),
            240
        );
        let mut p2pk = ScriptBuf::new();
        p2pk.push_slice(&[2; 33]).push_opcode(OP_CHECKSIG);
        assert_eq!(dust_threshold(&out(p2pk)), 576);
    }

    fn multisig_script(m: u8, keys: &[&[u8]]) -> ScriptBuf {
        let mut s = ScriptBuf::new();
        s.push_opcode(OP_1 + m - 1);
        for k in keys {
            s.push_slice(k);
        }
        s.push_opcode(OP_1 + keys.len() as u8 - 1)
            .push_opcode(OP_CHECKMULTISIG);
        s
    }

    #[test]
    fn output_types_as_core_solver() {
        let op_return = |d: &[u8]| output_type(&ScriptBuf::new_op_return(d));
        assert_eq!(op_return(&[7; 80]), Some(OutputType::NullData));
        // Core 30: no size of its own (the data-carrier budget is checked per transaction).
        assert_eq!(op_return(&[7; 1000]), Some(OutputType::NullData));
        // OP_RESERVED counts as a push for Core; other opcodes do not.
        let script = |h: &str| output_type(&ScriptBuf::from_hex(h).unwrap());
        assert_eq!(script("6a50"), Some(OutputType::NullData));
        assert_eq!(script("6aac"), None);
        assert_eq!(script("51"), None);
        assert_eq!(script("51024e73"), Some(OutputType::Anchor));
        assert_eq!(script("5102aaaa"), Some(OutputType::WitnessUnknown));
        assert_eq!(
            output_type(&ScriptBuf::new_witness_program(2, &[1; 32])),
            Some(OutputType::WitnessUnknown)
        );
        assert_eq!(
            output_type(&ScriptBuf::new_witness_program(0, &[1; 25])),
            None
        );
        let mut p2pk = ScriptBuf::new();
        p2pk.push_slice(&[3; 33]).push_opcode(OP_CHECKSIG);
        assert_eq!(output_type(&p2pk), Some(OutputType::P2pk));
        let mut bad_key = ScriptBuf::new();
        bad_key.push_slice(&[4; 33]).push_opcode(OP_CHECKSIG);
        assert_eq!(output_type(&bad_key), None);
        let k: &[u8] = &[2; 33];
        let long: &[u8] = &[4; 65];
        assert_eq!(
            output_type(&multisig_script(1, &[k, long])),
            Some(OutputType::Multisig)
        );
        assert_eq!(
            output_type(&multisig_script(3, &[k, k, k])),
            Some(OutputType::Multisig)
        );
        assert_eq!(output_type(&multisig_script(1, &[k, k, k, k])), None);
        assert_eq!(output_type(&multisig_script(3, &[k, k])), None);
        assert_eq!(output_type(&multisig_script(1, &[&[2; 32]])), None);
    }

    #[test]
    fn low_s_as_core() {
        // 30 len 02 01 r 02 slen s, then the sighash byte.
        let sig = |s: &[u8]| {
            let mut v = vec![0x30, (4 + 1 + s.len()) as u8, 0x02, 0x01, 0x01, 0x02];
            v.push(s.len() as u8);
            v.extend_from_slice(s);
            v.push(0x01);
            v
        };
        assert!(is_low_s(&sig(&HALF_ORDER)));
        let mut above = HALF_ORDER;
        above[31] += 1;
        assert!(!is_low_s(&sig(&above)));
        // A leading zero (DER's sign byte) does not make it high.
        let mut padded = vec![0];
        padded.extend_from_slice(&above);
        assert!(!is_low_s(&sig(&padded)));
        assert!(is_low_s(&sig(&[0x01; 31])));
    }

    fn tx_paying(outputs: Vec<TxOut>) -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: vec![crate::tx::TxIn::new(
                crate::tx::OutPoint {
                    txid: crate::tx::Txid::from_byte_array([1; 32]),
                    vout: 0,
                },
                0xffff_fffd,
            )],
            output: outputs,
        }
    }

    #[test]
    fn data_carrier_budget_and_dust_count() {
        let data = |n: usize| TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::new_op_return(&vec![1; n]),
        };
        // Several OP_RETURN outputs are standard since Core 30.
        assert_eq!(check_standard(&tx_paying(vec![data(80), data(80)])), Ok(()));
        // The 100,000-byte budget is the weight limit's: the weight refuses first.
        assert_eq!(
            check_standard(&tx_paying(vec![data(50_000), data(49_000)])),
            Ok(())
        );
        let over = check_standard(&tx_paying(vec![data(60_000), data(40_000)]));
        assert_eq!(over.unwrap_err().reason, "tx-size");
        let dust = |v: u64| TxOut {
            value: Amount::from_sat(v),
            script_pubkey: ScriptBuf::new_p2wpkh(&[0; 20]),
        };
        // One dust output passes here (the fee decides); two do not.
        assert_eq!(
            check_standard(&tx_paying(vec![dust(100), dust(1000)])),
            Ok(())
        );
        let two = check_standard(&tx_paying(vec![dust(100), dust(293)]));
        assert_eq!(two.unwrap_err().reason, "dust");
        let mut v3 = tx_paying(vec![dust(1000)]);
        v3.version = 3;
        assert_eq!(check_standard(&v3), Ok(()));
        v3.version = 4;
        assert_eq!(check_standard(&v3).unwrap_err().reason, "version");
    }
}
