//! The BIP-0125 replacement `ferry bump` signs (`Wallet::build_fee_bump`): the same inputs
//! and recipients, the change output lowered so the fee pays the new rate and at least the
//! original fee plus the incremental relay fee for the replacement's own size (rule 4).

use super::Wallet;
use super::builder::{Built, MAX_FEE_RATE, SelectionAlgorithm, WalletUtxo};
use super::weights::{dust_threshold, signed_weight};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{TxIn, Txid, Witness};
use crate::units::{Amount, FeeRate};

/// A replacement ready to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeBump {
    /// The replacement.
    pub built: Built,
    /// The original's fee.
    pub old_fee: Amount,
    /// The original's change.
    pub old_change: Amount,
}

/// Why a transaction cannot be bumped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BumpError {
    /// Not a transaction of this wallet.
    #[error("{0} is not a transaction of this wallet")]
    UnknownTx(Txid),
    /// Already in a block.
    #[error("{txid} is already confirmed in block {height}: there is nothing to replace")]
    AlreadyConfirmed {
        /// The transaction.
        txid: Txid,
        /// Its block.
        height: u32,
    },
    /// No input signals BIP-0125.
    #[error("{0} does not signal replaceability (BIP-0125): it was sent with --no-rbf")]
    NotReplaceable(Txid),
    /// An input spends a coin that is not the wallet's.
    #[error(
        "{txid} spends {outpoint}, which is not a coin of this wallet: only the wallet's own payments can be bumped"
    )]
    NotOurs {
        /// The transaction.
        txid: Txid,
        /// The foreign coin.
        outpoint: crate::tx::OutPoint,
    },
    /// No change output to take the extra fee from.
    #[error("{0} has no change output to take a higher fee from")]
    NoChange(Txid),
    /// The new rate is not higher than the original's.
    #[error("{txid} already pays {}: a replacement must pay a higher rate", .old_rate.display_sat_per_vb())]
    FeeRateTooLow {
        /// The transaction.
        txid: Txid,
        /// What it pays.
        old_rate: FeeRate,
    },
    /// The change cannot pay the extra fee and stay above dust.
    #[error(
        "the change ({old_change}) cannot pay the extra fee of {extra} and stay above dust: choose a lower --fee-rate"
    )]
    ChangeTooSmall {
        /// The original change.
        old_change: Amount,
        /// The fee to add.
        extra: Amount,
    },
    /// The fee looks like a mistake.
    #[error("fee {fee} for an amount of {} sat looks like a mistake: pass --allow-high-fee", .amount.to_sat())]
    HighFee {
        /// The new fee.
        fee: Amount,
        /// What the recipients get.
        amount: Amount,
    },
    /// An input of the wallet's has no known way to be signed (a bug).
    #[error("an input of ours cannot be signed")]
    Unsignable,
}

impl Wallet {
    /// Plans the replacement of the wallet's unconfirmed `txid` at `fee_rate`.
    ///
    /// # Errors
    /// [`BumpError`].
    pub fn build_fee_bump(
        &self,
        txid: Txid,
        fee_rate: FeeRate,
        allow_high_fee: bool,
    ) -> Result<FeeBump, BumpError> {
        let synced = self.synced();
        let original = synced
            .txs
            .iter()
            .find(|t| t.tx.txid() == txid)
            .ok_or(BumpError::UnknownTx(txid))?;
        if let Some(height) = original.height {
            return Err(BumpError::AlreadyConfirmed { txid, height });
        }
        let original = &original.tx;
        if original
            .input
            .iter()
            .all(|i| i.sequence > TxIn::SEQUENCE_RBF)
        {
            return Err(BumpError::NotReplaceable(txid));
        }
        // Every input must spend a coin of ours.
        let mut inputs = Vec::new();
        for txin in &original.input {
            let outpoint = txin.previous_output;
            let prev = synced
                .txs
                .iter()
                .find(|t| t.tx.txid() == outpoint.txid)
                .and_then(|t| Some((t.tx.output.get(outpoint.vout as usize)?.clone(), t.height)));
            let owner = prev.as_ref().and_then(|(o, _)| {
                synced
                    .used
                    .iter()
                    .find(|u| u.script_pubkey == o.script_pubkey)
            });
            let (Some((txout, height)), Some(owner)) = (prev, owner) else {
                return Err(BumpError::NotOurs { txid, outpoint });
            };
            inputs.push(WalletUtxo {
                outpoint,
                txout,
                chain: owner.chain,
                index: owner.index,
                height,
            });
        }
        let in_value =
            Amount::checked_sum(inputs.iter().map(|u| u.txout.value)).unwrap_or(Amount::MAX_MONEY);
        let out_value = Amount::checked_sum(original.output.iter().map(|o| o.value))
            .unwrap_or(Amount::MAX_MONEY);
        let old_fee = in_value.checked_sub(out_value).unwrap_or(Amount::ZERO);
        // The change: an output to our change chain.
        let change_vout = original
            .output
            .iter()
            .position(|o| {
                synced
                    .used
                    .iter()
                    .any(|u| u.chain == KeyChain::Change && u.script_pubkey == o.script_pubkey)
            })
            .ok_or(BumpError::NoChange(txid))?;
        let old_change = original.output[change_vout].value;
        let mut tx = original.clone();
        for i in &mut tx.input {
            i.script_sig = ScriptBuf::new();
            i.witness = Witness::new();
        }
        let prevouts: Vec<_> = inputs.iter().map(|u| u.txout.clone()).collect();
        let weight = signed_weight(&tx, &prevouts).ok_or(BumpError::Unsignable)?;
        let vb = weight.to_vbytes_ceil();
        let old_rate =
            FeeRate::from_fee_and_vbytes(old_fee, original.vsize()).unwrap_or(FeeRate::ZERO);
        if fee_rate <= old_rate {
            return Err(BumpError::FeeRateTooLow { txid, old_rate });
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
            return Err(BumpError::ChangeTooSmall { old_change, extra });
        }
        tx.output[change_vout].value = new_change;
        let amount = Amount::checked_sum(
            (0..tx.output.len())
                .filter(|i| *i != change_vout)
                .map(|i| tx.output[i].value),
        )
        .unwrap_or(Amount::MAX_MONEY);
        let too_high = fee_rate > MAX_FEE_RATE
            || u128::from(new_fee.to_sat()) * 10 > u128::from(amount.to_sat());
        if too_high && !allow_high_fee {
            return Err(BumpError::HighFee {
                fee: new_fee,
                amount,
            });
        }
        Ok(FeeBump {
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
}
