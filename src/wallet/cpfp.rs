//! Child pays for parent (`Wallet::build_cpfp`): a transaction spending the wallet's output
//! of an unconfirmed transaction — its own payment, or a payment to it — back to itself,
//! paying enough that parent and child together reach the fee rate asked, by Core's
//! package fee rate (the two fees over the two sizes).

use super::builder::{Built, MAX_FEE_RATE, SelectionAlgorithm, WalletUtxo};
use super::weights::{dust_threshold, signed_weight};
use super::{Wallet, WalletAddress};
use crate::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use crate::units::{Amount, FeeRate};

/// A child ready to sign, with what the pair will pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpfp {
    /// The child.
    pub built: Built,
    /// The parent, to submit with the child as a package.
    pub parent: Transaction,
    /// The parent's fee.
    pub parent_fee: Amount,
    /// Both fees over both sizes.
    pub package_fee_rate: FeeRate,
}

/// Why no child can pay for a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CpfpError {
    /// Not a transaction of this wallet.
    #[error("{0} is not a transaction of this wallet")]
    UnknownTx(Txid),
    /// Already in a block.
    #[error("{txid} is already confirmed in block {height}: there is nothing to speed up")]
    AlreadyConfirmed {
        /// The transaction.
        txid: Txid,
        /// Its block.
        height: u32,
    },
    /// None of its outputs is an unspent coin of the wallet.
    #[error("{0} has no unspent output of this wallet for a child to spend")]
    NoOutputOfOurs(Txid),
    /// Its only outputs of ours are labelled unspendable (BIP-0329 `spendable: false`).
    #[error(
        "{0}'s outputs of this wallet are labelled unspendable: `ferry label output TXID:VOUT --spendable true` first"
    )]
    OnlyUnspendable(Txid),
    /// Its fee is not known (a backend that does not report fees, inputs not the wallet's).
    #[error("the fee of {0} is not known to this backend, so the child's fee cannot be worked out")]
    UnknownParentFee(Txid),
    /// It already pays the rate.
    #[error("{txid} already pays {}: a child is not needed for {}", .rate.display_sat_per_vb(), .asked.display_sat_per_vb())]
    AlreadyPays {
        /// The transaction.
        txid: Txid,
        /// What it pays.
        rate: FeeRate,
        /// What was asked.
        asked: FeeRate,
    },
    /// Our output cannot pay the child's fee and stay above dust.
    #[error(
        "our output of {value} cannot pay the child's fee of {fee} and keep more than dust: choose a lower --fee-rate"
    )]
    CannotReach {
        /// The output spent.
        value: Amount,
        /// The fee needed.
        fee: Amount,
    },
    /// The rate looks like a mistake.
    #[error("{} looks like a mistake: pass --allow-high-fee", .0.display_sat_per_vb())]
    HighFee(FeeRate),
    /// A coin of ours that cannot be signed (a bug).
    #[error("an output of ours cannot be signed")]
    Unsignable,
}

impl Wallet {
    /// Plans a child of the wallet's unconfirmed `parent` that lifts the pair to
    /// `fee_rate`, paying to `change` (from [`Wallet::next_change_address`]). The parent's
    /// fee is the backend's, else worked out from the outputs it spends: those in the last
    /// sync, then `spent` (the outputs the caller looked up, in input order).
    ///
    /// # Errors
    /// [`CpfpError`].
    pub fn build_cpfp(
        &self,
        parent: Txid,
        fee_rate: FeeRate,
        change: &WalletAddress,
        allow_high_fee: bool,
        spent: Option<&[TxOut]>,
    ) -> Result<Cpfp, CpfpError> {
        let synced = self.synced();
        let cached = synced
            .txs
            .iter()
            .find(|t| t.tx.txid() == parent)
            .ok_or(CpfpError::UnknownTx(parent))?;
        if let Some(height) = cached.height {
            return Err(CpfpError::AlreadyConfirmed {
                txid: parent,
                height,
            });
        }
        if fee_rate > MAX_FEE_RATE && !allow_high_fee {
            return Err(CpfpError::HighFee(fee_rate));
        }
        // Our largest unspent output of it, leaving alone coins labelled unspendable.
        let ours: Vec<&WalletUtxo> = synced
            .utxos
            .iter()
            .filter(|u| u.outpoint.txid == parent)
            .collect();
        let frozen: Vec<OutPoint> = self
            .unspendable_coins()
            .iter()
            .map(|u| u.outpoint)
            .collect();
        let coin: &WalletUtxo = ours
            .iter()
            .filter(|u| !frozen.contains(&u.outpoint))
            .max_by_key(|u| u.txout.value)
            .copied()
            .ok_or(if ours.is_empty() {
                CpfpError::NoOutputOfOurs(parent)
            } else {
                CpfpError::OnlyUnspendable(parent)
            })?;
        let parent_fee = match cached.fee {
            Some(fee) => fee,
            None => self
                .fee_from_known_inputs(&cached.tx)
                .or_else(|| spent.and_then(|s| fee_of(&cached.tx, s)))
                .ok_or(CpfpError::UnknownParentFee(parent))?,
        };
        let parent_vsize = cached.tx.vsize();
        let parent_rate =
            FeeRate::from_fee_and_vbytes(parent_fee, parent_vsize).unwrap_or(FeeRate::ZERO);
        if parent_rate >= fee_rate {
            return Err(CpfpError::AlreadyPays {
                txid: parent,
                rate: parent_rate,
                asked: fee_rate,
            });
        }
        let mut tx = Transaction {
            version: 2,
            lock_time: synced.tip_height,
            input: vec![TxIn::new(coin.outpoint, TxIn::SEQUENCE_RBF)],
            output: vec![TxOut {
                value: Amount::ZERO,
                script_pubkey: change.script_pubkey.clone(),
            }],
        };
        let weight =
            signed_weight(&tx, std::slice::from_ref(&coin.txout)).ok_or(CpfpError::Unsignable)?;
        let child_vsize = weight.to_vbytes_ceil();
        let package_fee = fee_rate
            .fee_for_vbytes(parent_vsize + child_vsize)
            .unwrap_or(Amount::MAX_MONEY);
        // The child pays what the pair lacks, and at least the relay minimum for itself.
        let child_fee = package_fee
            .checked_sub(parent_fee)
            .unwrap_or(Amount::ZERO)
            .max(
                FeeRate::MIN_RELAY
                    .fee_for_vbytes(child_vsize)
                    .unwrap_or(Amount::MAX_MONEY),
            );
        let value = coin.txout.value;
        let kept = value.checked_sub(child_fee).unwrap_or(Amount::ZERO);
        if kept < dust_threshold(&change.script_pubkey) {
            return Err(CpfpError::CannotReach {
                value,
                fee: child_fee,
            });
        }
        tx.output[0].value = kept;
        let package_fee_rate = FeeRate::from_fee_and_vbytes(
            parent_fee
                .checked_add(child_fee)
                .unwrap_or(Amount::MAX_MONEY),
            parent_vsize + child_vsize,
        )
        .unwrap_or(FeeRate::ZERO);
        Ok(Cpfp {
            built: Built {
                tx,
                inputs: vec![coin.clone()],
                fee: child_fee,
                weight,
                change: Some((0, kept)),
                algorithm: SelectionAlgorithm::All,
            },
            parent: cached.tx.clone(),
            parent_fee,
            package_fee_rate,
        })
    }

    /// The unconfirmed transaction `txid` of the wallet whose fee the last sync does not
    /// know: the caller may look up what it spends and pass it to [`Wallet::build_cpfp`].
    pub fn parent_needing_prevouts(&self, txid: Txid) -> Option<&Transaction> {
        self.synced()
            .txs
            .iter()
            .find(|t| t.tx.txid() == txid && t.height.is_none() && t.fee.is_none())
            .map(|t| &t.tx)
            .filter(|tx| self.fee_from_known_inputs(tx).is_none())
    }

    /// The fee of `tx` when every output it spends is in the last sync.
    fn fee_from_known_inputs(&self, tx: &Transaction) -> Option<Amount> {
        let txs = &self.synced().txs;
        let spent = tx
            .input
            .iter()
            .map(|i| {
                let OutPoint { txid, vout } = i.previous_output;
                txs.iter()
                    .find(|t| t.tx.txid() == txid)
                    .and_then(|t| t.tx.output.get(vout as usize).cloned())
            })
            .collect::<Option<Vec<TxOut>>>()?;
        fee_of(tx, &spent)
    }
}

/// The fee of `tx` given the outputs it spends, in input order.
fn fee_of(tx: &Transaction, spent: &[TxOut]) -> Option<Amount> {
    if spent.len() != tx.input.len() {
        return None;
    }
    let inputs = Amount::checked_sum(spent.iter().map(|o| o.value))?;
    let outputs = Amount::checked_sum(tx.output.iter().map(|o| o.value))?;
    inputs.checked_sub(outputs)
}
