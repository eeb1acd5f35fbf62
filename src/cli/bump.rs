//! The replacement `ferry bump` signs: the same inputs and recipients, the change output
//! lowered so the fee pays the new rate and, per BIP-0125, at least the original fee plus
//! the incremental relay fee for the replacement's own size.

use ferry::keys::KeyChain;
use ferry::tx::{Transaction, TxIn};
use ferry::units::{Amount, FeeRate};
use ferry::wallet::Wallet;
use ferry::wallet::builder::{Built, SelectionAlgorithm, WalletUtxo};
use ferry::wallet::sync::SyncResult;
use ferry::wallet::weights::{dust_threshold, signed_weight};

use super::CliError;

/// A replacement ready to sign.
pub struct Plan {
    /// The replacement.
    pub built: Built,
    /// The original's fee.
    pub old_fee: Amount,
    /// The original's change.
    pub old_change: Amount,
}

/// Plans the replacement of `original` at `fee_rate`.
pub fn plan(
    wallet: &Wallet,
    synced: &SyncResult,
    original: &Transaction,
    fee_rate: FeeRate,
    allow_high_fee: bool,
) -> Result<Plan, CliError> {
    let _ = wallet;
    let txid = original.txid();
    if original
        .input
        .iter()
        .all(|i| i.sequence > TxIn::SEQUENCE_RBF)
    {
        return Err(CliError::user(
            "not_replaceable",
            format!("{txid} does not signal replaceability (BIP-0125): it was sent with --no-rbf"),
        ));
    }
    // Every input must spend a coin of ours.
    let mut inputs = Vec::new();
    for txin in &original.input {
        let op = txin.previous_output;
        let prev = synced
            .txs
            .iter()
            .find(|t| t.tx.txid() == op.txid)
            .and_then(|t| {
                t.tx.output
                    .get(op.vout as usize)
                    .cloned()
                    .map(|o| (o, t.height))
            });
        let owner = prev.as_ref().and_then(|(o, _)| {
            synced
                .used
                .iter()
                .find(|u| u.script_pubkey == o.script_pubkey)
        });
        match (prev, owner) {
            (Some((txout, height)), Some(u)) => inputs.push(WalletUtxo {
                outpoint: op,
                txout,
                chain: u.chain,
                index: u.index,
                height,
            }),
            _ => {
                return Err(CliError::user(
                    "not_ours",
                    format!(
                        "{txid} spends {op}, which is not a coin of this wallet: only the wallet's own payments can be bumped"
                    ),
                ));
            }
        }
    }
    let in_value: u64 = inputs.iter().map(|u| u.txout.value.to_sat()).sum();
    let out_value: u64 = original.output.iter().map(|o| o.value.to_sat()).sum();
    let old_fee = Amount::from_sat(in_value.saturating_sub(out_value));
    // The change: an output to our change chain (else to any of our addresses).
    let change_vout = original
        .output
        .iter()
        .position(|o| {
            synced
                .used
                .iter()
                .any(|u| u.chain == KeyChain::Change && u.script_pubkey == o.script_pubkey)
        })
        .ok_or_else(|| {
            CliError::user(
                "no_change",
                format!("{txid} has no change output to take a higher fee from"),
            )
        })?;
    let old_change = original.output[change_vout].value;
    let mut tx = original.clone();
    for i in &mut tx.input {
        i.script_sig = ferry::script::ScriptBuf::new();
        i.witness = ferry::tx::Witness::new();
    }
    let prevouts: Vec<_> = inputs.iter().map(|u| u.txout.clone()).collect();
    let weight = signed_weight(&tx, &prevouts)
        .ok_or_else(|| CliError::internal("an input of ours cannot be signed"))?;
    let vb = weight.to_vbytes_ceil();
    let old_rate = FeeRate::from_fee_and_vbytes(old_fee, original.vsize()).unwrap_or(FeeRate::ZERO);
    if fee_rate <= old_rate {
        return Err(CliError::user(
            "fee_rate_too_low",
            format!(
                "{txid} already pays {}: a replacement must pay a higher rate",
                old_rate.display_sat_per_vb()
            ),
        ));
    }
    let by_rate = fee_rate.fee_for_vbytes(vb).unwrap_or(Amount::MAX_MONEY);
    let by_rule4 = FeeRate::MIN_RELAY
        .fee_for_vbytes(vb)
        .and_then(|f| f.checked_add(old_fee))
        .unwrap_or(Amount::MAX_MONEY);
    let new_fee = by_rate.max(by_rule4);
    let extra = new_fee.checked_sub(old_fee).unwrap_or(Amount::ZERO);
    let new_change = old_change.checked_sub(extra).unwrap_or(Amount::ZERO);
    if new_change < dust_threshold(&tx.output[change_vout].script_pubkey) {
        return Err(CliError::user(
            "insufficient_funds",
            format!(
                "the change ({old_change}) cannot pay the extra fee of {extra} and stay above dust: choose a lower --fee-rate"
            ),
        ));
    }
    tx.output[change_vout].value = new_change;
    let amount: u64 = tx
        .output
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != change_vout)
        .map(|(_, o)| o.value.to_sat())
        .sum();
    let too_high = fee_rate > ferry::wallet::builder::MAX_FEE_RATE
        || u128::from(new_fee.to_sat()) * 10 > u128::from(amount);
    if too_high && !allow_high_fee {
        return Err(CliError::user(
            "high_fee",
            format!(
                "fee {new_fee} for an amount of {} sat looks like a mistake: pass --allow-high-fee",
                amount
            ),
        ));
    }
    Ok(Plan {
        built: Built {
            tx,
            inputs,
            fee: new_fee,
            weight,
            change: Some((change_vout, new_change)),
            algorithm: SelectionAlgorithm::All,
        },
        old_fee,
        old_change,
    })
}
