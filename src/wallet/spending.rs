//! What the wallet's coins and history add up to, and payments built from them: the
//! `Wallet` methods behind `balance`, `history` and `send`, in the manner of BDK's
//! `bdk_wallet` (`balance`, `sent_and_received`, `build_payment`). Pure: they read the chain
//! view of the last sync applied.

use std::collections::{HashMap, HashSet};

use super::builder::{self, BuildError, Built, PaymentRequest, Recipient};
use super::rng::WalletRng;
use super::{Wallet, WalletAddress};
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, Txid};
use crate::units::{Amount, FeeRate};

/// The wallet's spendable coins by confirmation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    /// In blocks (mature coinbases only).
    pub confirmed: Amount,
    /// In the mempool.
    pub unconfirmed: Amount,
}

impl Balance {
    /// Confirmed plus unconfirmed.
    pub fn total(&self) -> Amount {
        self.confirmed
            .checked_add(self.unconfirmed)
            .unwrap_or(Amount::MAX_MONEY)
    }
}

/// What one transaction did to the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentAndReceived {
    /// Paid to the wallet's scripts.
    pub received: Amount,
    /// Spent of the wallet's coins; `None` when the backend cannot show what the
    /// transaction spent (a UTXO scan does not see spent coins): better no number than a
    /// wrong one.
    pub sent: Option<Amount>,
}

impl SentAndReceived {
    /// Received minus sent, in sats, when `sent` is known.
    pub fn net_sat(&self) -> Option<i64> {
        let signed = |a: Amount| i64::try_from(a.to_sat()).unwrap_or(i64::MAX);
        self.sent.map(|sent| signed(self.received) - signed(sent))
    }
}

/// Which scripts and outputs are the wallet's, as of the last sync.
struct Ownership<'a> {
    scripts: HashSet<&'a ScriptBuf>,
    outputs: HashMap<OutPoint, Amount>,
    known: HashSet<Txid>,
    complete: bool,
}

impl Ownership<'_> {
    fn sent_and_received(&self, tx: &Transaction) -> SentAndReceived {
        let received = Amount::checked_sum(
            tx.output
                .iter()
                .filter(|o| self.scripts.contains(&o.script_pubkey))
                .map(|o| o.value),
        )
        .unwrap_or(Amount::MAX_MONEY);
        let sent = Amount::checked_sum(
            tx.input
                .iter()
                .filter_map(|i| self.outputs.get(&i.previous_output).copied()),
        )
        .unwrap_or(Amount::MAX_MONEY);
        // With a partial history an input whose transaction is unknown may be ours.
        let visible = self.complete
            || tx.is_coinbase()
            || tx
                .input
                .iter()
                .all(|i| self.known.contains(&i.previous_output.txid));
        SentAndReceived {
            received,
            sent: visible.then_some(sent),
        }
    }
}

/// What a payment asks, before the wallet adds its coins, change address and tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The outputs (at least one).
    pub recipients: Vec<Recipient>,
    /// Send everything (the chosen coins, or all) to the single recipient, no change.
    pub send_max: bool,
    /// The fee rate asked.
    pub fee_rate: FeeRate,
    /// The backend's minimum relay fee rate.
    pub min_fee_rate: FeeRate,
    /// Signal BIP-0125 replaceability.
    pub rbf: bool,
    /// Allow fees above 1,000 sat/vB or above 10 % of the amount.
    pub allow_high_fee: bool,
    /// Spend exactly these coins (coin control); empty lets the wallet choose.
    pub coin_control: Vec<OutPoint>,
}

impl Wallet {
    fn ownership(&self) -> Ownership<'_> {
        let synced = self.synced();
        let scripts: HashSet<&ScriptBuf> = synced.used.iter().map(|u| &u.script_pubkey).collect();
        let mut outputs = HashMap::new();
        for t in &synced.txs {
            let txid = t.tx.txid();
            for (vout, o) in (0u32..).zip(&t.tx.output) {
                if scripts.contains(&o.script_pubkey) {
                    outputs.insert(OutPoint { txid, vout }, o.value);
                }
            }
        }
        Ownership {
            scripts,
            outputs,
            known: synced.txs.iter().map(|t| t.tx.txid()).collect(),
            complete: synced.history_complete,
        }
    }

    /// The spendable coins, confirmed and not.
    pub fn balance(&self) -> Balance {
        let sum = |confirmed: bool| {
            Amount::checked_sum(
                self.synced()
                    .utxos
                    .iter()
                    .filter(|u| u.height.is_some() == confirmed)
                    .map(|u| u.txout.value),
            )
            .unwrap_or(Amount::MAX_MONEY)
        };
        Balance {
            confirmed: sum(true),
            unconfirmed: sum(false),
        }
    }

    /// What `tx` paid to the wallet and spent of it.
    pub fn sent_and_received(&self, tx: &Transaction) -> SentAndReceived {
        self.ownership().sent_and_received(tx)
    }

    /// Every transaction of the wallet with what it did, oldest first (unconfirmed last).
    pub fn history(&self) -> Vec<(&super::cache::CachedTx, SentAndReceived)> {
        let ownership = self.ownership();
        self.synced()
            .txs
            .iter()
            .map(|t| (t, ownership.sent_and_received(&t.tx)))
            .collect()
    }

    /// Builds an unsigned payment from the wallet's coins (not those marked unspendable,
    /// unless named in `coin_control`), with `change` (from
    /// [`Wallet::next_change_address`]) for any change.
    ///
    /// # Errors
    /// [`BuildError`]: see [`builder::build_payment`].
    pub fn build_payment(
        &self,
        payment: Payment,
        change: &WalletAddress,
        rng: &mut WalletRng,
    ) -> Result<Built, BuildError> {
        let request = PaymentRequest {
            recipients: payment.recipients,
            send_max: payment.send_max,
            fee_rate: payment.fee_rate,
            min_fee_rate: payment.min_fee_rate,
            change_script: change.script_pubkey.clone(),
            rbf: payment.rbf,
            tip_height: self.synced().tip_height,
            allow_high_fee: payment.allow_high_fee,
            coin_control: payment.coin_control,
        };
        // Coins marked `spendable: false` (BIP-0329) are chosen only by name (--utxo).
        let coins: Vec<_> = self
            .synced()
            .utxos
            .iter()
            .filter(|u| {
                !self.frozen.contains(&u.outpoint) || request.coin_control.contains(&u.outpoint)
            })
            .cloned()
            .collect();
        builder::build_payment(&request, &coins, rng)
    }

    /// The wallet's coins marked `spendable: false`, which payments leave alone unless
    /// named with coin control.
    pub fn unspendable_coins(&self) -> Vec<&super::builder::WalletUtxo> {
        self.synced()
            .utxos
            .iter()
            .filter(|u| self.frozen.contains(&u.outpoint))
            .collect()
    }
}

#[cfg(test)]
#[path = "spending_tests.rs"]
mod tests;
