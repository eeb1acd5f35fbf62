//! Bitcoin Core's standardness policy, the part the devnet applies: transaction version
//! and size, scriptSig shape, standard output types, `OP_RETURN` size and dust.

use super::chain::TxRuleError;
use crate::script::ScriptBuf;
use crate::script::opcodes::OP_RETURN;
use crate::tx::{Transaction, TxOut};
use crate::units::{FeeRate, Weight};

/// Core's `DUST_RELAY_TX_FEE`: 3 sat/vB.
pub const DUST_RELAY_FEE: FeeRate = FeeRate::from_sat_per_kvb(3000);
/// Core's `MAX_OP_RETURN_RELAY` (`-datacarriersize`): the whole script, 83 bytes.
pub const MAX_OP_RETURN_RELAY: usize = 83;
/// Core's `MAX_STANDARD_SCRIPTSIG_SIZE`.
pub const MAX_STANDARD_SCRIPTSIG_SIZE: usize = 1650;
/// Core's `MIN_STANDARD_TX_NONWITNESS_SIZE`.
pub const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// The highest standard transaction version the devnet relays (1 and 2; it does not
/// implement version 3's TRUC rules).
pub const MAX_STANDARD_VERSION: i32 = 2;

/// The output types Core relays that the devnet accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// Pay to public key hash.
    P2pkh,
    /// Pay to script hash.
    P2sh,
    /// Segwit v0 key hash.
    P2wpkh,
    /// Segwit v0 script hash.
    P2wsh,
    /// Segwit v1 taproot.
    P2tr,
    /// A data carrier (`OP_RETURN` followed by pushes, at most 83 bytes).
    NullData,
}

/// Classifies a scriptPubKey; `None` if it is not a standard output.
pub fn output_type(script: &ScriptBuf) -> Option<OutputType> {
    if script.is_p2pkh() {
        Some(OutputType::P2pkh)
    } else if script.is_p2sh() {
        Some(OutputType::P2sh)
    } else if script.is_p2wpkh() {
        Some(OutputType::P2wpkh)
    } else if script.is_p2wsh() {
        Some(OutputType::P2wsh)
    } else if script.is_p2tr() {
        Some(OutputType::P2tr)
    } else if is_null_data(script) {
        Some(OutputType::NullData)
    } else {
        None
    }
}

fn is_null_data(script: &ScriptBuf) -> bool {
    let b = script.as_bytes();
    b.first() == Some(&OP_RETURN)
        && b.len() <= MAX_OP_RETURN_RELAY
        && ScriptBuf::from_bytes(b[1..].to_vec()).is_push_only()
}

/// Core's `GetDustThreshold` at [`DUST_RELAY_FEE`]: the value below which spending the
/// output would cost more than it is worth (546 sat for P2PKH, 294 for P2WPKH, …).
pub fn dust_threshold(output: &TxOut) -> u64 {
    if output.script_pubkey.as_bytes().first() == Some(&OP_RETURN) {
        return 0;
    }
    let mut size = output.encoded_len() as u64;
    size += if output.script_pubkey.witness_program().is_some() {
        // outpoint 36, script length 1, sequence 4, and a witness of ~107 bytes at 1/4.
        32 + 4 + 1 + 107 / 4 + 4
    } else {
        32 + 4 + 1 + 107 + 4
    };
    size * DUST_RELAY_FEE.to_sat_per_kvb() / 1000
}

/// Core's `IsStandardTx` (the rules above) plus `tx-size-small`.
///
/// # Errors
/// The first rule broken, with Core's reason (`version`, `tx-size`, `scriptsig-size`,
/// `scriptsig-not-pushonly`, `scriptpubkey`, `multi-op-return`, `dust`, `tx-size-small`).
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
        if !txin.script_sig.is_push_only() {
            return Err(TxRuleError::new("scriptsig-not-pushonly", ""));
        }
    }
    let mut data_outputs = 0;
    for output in &tx.output {
        match output_type(&output.script_pubkey) {
            None => return Err(TxRuleError::new("scriptpubkey", "")),
            Some(OutputType::NullData) => data_outputs += 1,
            Some(_) => {
                if output.value.to_sat() < dust_threshold(output) {
                    return Err(TxRuleError::new("dust", ""));
                }
            }
        }
    }
    if data_outputs > 1 {
        return Err(TxRuleError::new("multi-op-return", ""));
    }
    if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
        return Err(TxRuleError::new("tx-size-small", ""));
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
    }

    #[test]
    fn output_types() {
        assert_eq!(
            output_type(&ScriptBuf::new_op_return(&[7; 80])),
            Some(OutputType::NullData)
        );
        assert_eq!(output_type(&ScriptBuf::new_op_return(&[7; 81])), None);
        assert_eq!(output_type(&ScriptBuf::from_bytes(vec![0x51])), None);
    }
}
