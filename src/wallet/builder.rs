//! Building a payment: coins selected, outputs laid out, the fee computed from the
//! worst-case signed weight so the rate paid is never below the rate asked, change in the
//! wallet's own type (or none, when it would be dust), RBF signalled, an anti-fee-sniping
//! locktime, and the guard rails (minimum relay fee, absurd fees). Pure: no I/O; the
//! transaction comes out unsigned.

use super::coin_selection::{
    self, Algorithm, Candidate, SelectionError, SelectionParams, select_all, select_coins,
};
use super::rng::WalletRng;
use super::weights::{dust_threshold, input_weight, output_weight, signed_weight};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::encode::compact_size_len;
use crate::tx::{OutPoint, Transaction, TxIn, TxOut};
use crate::units::{Amount, FeeRate, Weight};

/// Fee rates above this are refused unless the caller allows high fees (1,000 sat/vB).
pub const MAX_FEE_RATE: FeeRate = FeeRate::from_sat_per_kvb(1_000_000);
/// Core's `-consolidatefeerate`: the rate the wallet expects to pay in the long run.
pub const LONG_TERM_FEE_RATE: FeeRate = FeeRate::from_sat_per_kvb(10_000);
/// Core's `-discardfee`: the rate at which change is worth less than spending it later.
pub const DISCARD_FEE_RATE: FeeRate = FeeRate::from_sat_per_kvb(10_000);

/// A coin the wallet owns, with where its key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletUtxo {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value and script.
    pub txout: TxOut,
    /// The key chain of its address.
    pub chain: KeyChain,
    /// The address index on that chain.
    pub index: u32,
    /// The height of its block, `None` while unconfirmed.
    pub height: Option<u32>,
}

/// One output of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Where it goes.
    pub script_pubkey: ScriptBuf,
    /// How much (ignored for the recipient of a send-max).
    pub amount: Amount,
}

/// What to pay, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The outputs (at least one).
    pub recipients: Vec<Recipient>,
    /// Send everything (the chosen coins, or all) to the single recipient, no change.
    pub send_max: bool,
    /// The fee rate asked.
    pub fee_rate: FeeRate,
    /// The backend's minimum relay fee rate.
    pub min_fee_rate: FeeRate,
    /// Where change goes: the wallet's next change address.
    pub change_script: ScriptBuf,
    /// Signal BIP-0125 replaceability.
    pub rbf: bool,
    /// The chain's tip height, for the anti-fee-sniping locktime.
    pub tip_height: u32,
    /// Allow fees above 1,000 sat/vB or above 10 % of the amount.
    pub allow_high_fee: bool,
    /// Spend exactly these coins (coin control); empty lets the wallet choose.
    pub coin_control: Vec<OutPoint>,
}

/// An unsigned payment, ready to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The unsigned transaction.
    pub tx: Transaction,
    /// The coins spent, in input order.
    pub inputs: Vec<WalletUtxo>,
    /// The fee.
    pub fee: Amount,
    /// The worst-case weight once signed (the fee was computed for it).
    pub weight: Weight,
    /// The change output's index and value, if there is one.
    pub change: Option<(usize, Amount)>,
    /// How the coins were chosen.
    pub algorithm: Algorithm,
}

impl Built {
    /// Returns the outputs the inputs spend, in input order.
    pub fn prevouts(&self) -> Vec<TxOut> {
        self.inputs.iter().map(|u| u.txout.clone()).collect()
    }

    /// Returns the amount paid to the recipients (every output but the change).
    pub fn amount(&self) -> Amount {
        let change_vout = self.change.map(|(i, _)| i);
        Amount::from_sat(
            self.tx
                .output
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != change_vout)
                .map(|(_, o)| o.value.to_sat())
                .sum(),
        )
    }
}

/// Why a payment could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No recipient.
    #[error("no recipient")]
    NoRecipients,
    /// An amount below the dust threshold of its output type.
    #[error(
        "{amount} is dust for this address type: the network does not relay outputs below {threshold}"
    )]
    Dust {
        /// The amount.
        amount: Amount,
        /// The dust threshold.
        threshold: Amount,
    },
    /// A fee rate below what the backend relays.
    #[error(
        "fee rate {} is below the backend's minimum relay fee rate {}: use --fee-rate {} or more",
        asked.display_sat_per_vb(), minimum.display_sat_per_vb(), minimum.display_sat_per_vb()
    )]
    FeeRateBelowMinimum {
        /// The rate asked.
        asked: FeeRate,
        /// The backend's minimum.
        minimum: FeeRate,
    },
    /// A fee above 1,000 sat/vB or above 10 % of the amount.
    #[error(
        "fee {fee} at {} for an amount of {amount} looks like a mistake (above 1000 sat/vB or 10 % of the amount): check --fee-rate, or pass --allow-high-fee",
        fee_rate.display_sat_per_vb()
    )]
    HighFee {
        /// The fee.
        fee: Amount,
        /// The fee rate.
        fee_rate: FeeRate,
        /// The amount paid to the recipients.
        amount: Amount,
    },
    /// A coin-control outpoint that is not a known unspent coin of the wallet.
    #[error("{0} is not an unspent coin of this wallet (run `ferry utxos` to list them)")]
    UnknownCoin(OutPoint),
    /// A coin whose script the wallet cannot sign.
    #[error("coin {0} pays to a script this wallet cannot sign")]
    Unsignable(OutPoint),
    /// The coins do not cover amount and fee.
    #[error(transparent)]
    Selection(#[from] SelectionError),
}

/// Returns the locktime Core's wallet uses against fee sniping (`DiscourageFeeSniping`):
/// the tip height, so the transaction cannot be mined in a re-mined tip block; one time in
/// ten a random 0..100 blocks earlier, so that transactions delayed by privacy tools do not
/// stand out.
pub fn anti_fee_sniping_locktime(tip_height: u32, rng: &mut WalletRng) -> u32 {
    let mut locktime = tip_height;
    if rng.below(10) == 0 {
        locktime = locktime.saturating_sub(rng.below(100) as u32);
    }
    locktime
}

fn overflow() -> BuildError {
    BuildError::Selection(SelectionError::Overflow)
}

/// The weight of everything but the inputs: header, outputs (and room for a change
/// output's count byte), the input count for up to `max_inputs`, the segwit marker.
fn non_input_weight(outputs: &[TxOut], max_inputs: usize, segwit: bool) -> Weight {
    let outputs_len: usize = outputs.iter().map(TxOut::encoded_len).sum();
    let bytes = 4
        + 4
        + compact_size_len(max_inputs as u64)
        + compact_size_len(outputs.len() as u64 + 1)
        + outputs_len;
    Weight::from_wu(bytes as u64 * 4 + if segwit { 2 } else { 0 })
}

/// Builds an unsigned payment from the wallet's coins `utxos`: the request is checked, the
/// coins chosen ([`select`]), the transaction laid out with its inputs shuffled, then paid
/// either as a send-max ([`finish_send_max`]) or with change when it is worth having
/// ([`finish_with_change`]), and the fee checked against the guard rails.
///
/// # Errors
/// [`BuildError`]: a fee rate below the minimum, a dust amount, unknown coin-control coins,
/// insufficient funds (with the figures), or a fee that looks like a mistake.
pub fn build_payment(
    req: &PaymentRequest,
    utxos: &[WalletUtxo],
    rng: &mut WalletRng,
) -> Result<Built, BuildError> {
    check_request(req)?;
    let pool = coin_pool(req, utxos)?;
    let candidates = candidates(req, &pool)?;
    let segwit = pool
        .iter()
        .any(|u| super::weights::spends_with_witness(&u.txout.script_pubkey));
    let outputs: Vec<TxOut> = req
        .recipients
        .iter()
        .map(|r| TxOut {
            value: r.amount,
            script_pubkey: r.script_pubkey.clone(),
        })
        .collect();
    let costs = Costs::of(req, &outputs, candidates.len(), segwit)?;
    let selection = select(req, &candidates, &costs.params, rng)?;
    let (mut tx, inputs) = lay_out(req, &pool, &selection, rng);
    tx.output = outputs;
    let prevouts: Vec<TxOut> = inputs.iter().map(|u| u.txout.clone()).collect();
    let weigh = |tx: &Transaction| signed_weight(tx, &prevouts).ok_or_else(overflow);
    let paid = if req.send_max {
        finish_send_max(req, tx, selection.value, weigh)?
    } else {
        finish_with_change(req, tx, &selection, &costs, weigh, rng)?
    };
    check_fee(
        req,
        Built {
            tx: paid.tx,
            inputs,
            fee: paid.fee,
            weight: paid.weight,
            change: paid.change,
            algorithm: selection.algorithm,
        },
    )
}

/// The checks that need no coins: recipients, the fee rate's floor and ceiling, dust.
fn check_request(req: &PaymentRequest) -> Result<(), BuildError> {
    if req.recipients.is_empty() || (req.send_max && req.recipients.len() != 1) {
        return Err(BuildError::NoRecipients);
    }
    if req.fee_rate < req.min_fee_rate {
        return Err(BuildError::FeeRateBelowMinimum {
            asked: req.fee_rate,
            minimum: req.min_fee_rate,
        });
    }
    if req.fee_rate > MAX_FEE_RATE && !req.allow_high_fee {
        return Err(BuildError::HighFee {
            fee: Amount::ZERO,
            fee_rate: req.fee_rate,
            amount: Amount::checked_sum(req.recipients.iter().map(|r| r.amount))
                .unwrap_or(Amount::MAX_MONEY),
        });
    }
    if !req.send_max {
        for r in &req.recipients {
            let threshold = dust_threshold(&r.script_pubkey);
            if r.amount < threshold {
                return Err(BuildError::Dust {
                    amount: r.amount,
                    threshold,
                });
            }
        }
    }
    Ok(())
}

/// The coins to choose from: all of them, or exactly the coin-control ones.
fn coin_pool<'a>(
    req: &PaymentRequest,
    utxos: &'a [WalletUtxo],
) -> Result<Vec<&'a WalletUtxo>, BuildError> {
    if req.coin_control.is_empty() {
        return Ok(utxos.iter().collect());
    }
    req.coin_control
        .iter()
        .map(|op| {
            utxos
                .iter()
                .find(|u| u.outpoint == *op)
                .ok_or(BuildError::UnknownCoin(*op))
        })
        .collect()
}

/// The pool's coins with their worst-case input weights. A coin ferry cannot sign is left
/// out, unless the user chose it (then it is an error).
fn candidates(req: &PaymentRequest, pool: &[&WalletUtxo]) -> Result<Vec<Candidate>, BuildError> {
    let mut candidates = Vec::with_capacity(pool.len());
    for u in pool {
        // Counted as in a segwit transaction (a legacy input then carries an empty witness
        // byte): never an underestimate.
        match input_weight(&u.txout.script_pubkey, true) {
            Some(w) => candidates.push(Candidate {
                outpoint: u.outpoint,
                value: u.txout.value,
                input_weight: w,
            }),
            None if req.coin_control.is_empty() => {}
            None => return Err(BuildError::Unsignable(u.outpoint)),
        }
    }
    Ok(candidates)
}

/// What the payment costs apart from its inputs, and what change is worth.
struct Costs {
    params: SelectionParams,
    recipients_sum: Amount,
    /// Change below this is not worth an output (dust, or dearer to spend than it holds).
    min_viable_change: Amount,
}

impl Costs {
    fn of(
        req: &PaymentRequest,
        outputs: &[TxOut],
        max_inputs: usize,
        segwit: bool,
    ) -> Result<Self, BuildError> {
        let rate = req.fee_rate;
        let fee_for = |w: Weight| rate.fee_for_weight(w).ok_or_else(overflow);
        let change_fee = fee_for(output_weight(&req.change_script))?;
        let change_spend_fee = input_weight(&req.change_script, true)
            .and_then(|w| DISCARD_FEE_RATE.fee_for_weight(w))
            .ok_or_else(overflow)?;
        let min_viable_change = dust_threshold(&req.change_script).max(
            change_spend_fee
                .checked_add(Amount::from_sat(1))
                .ok_or_else(overflow)?,
        );
        let non_input_fee = fee_for(non_input_weight(outputs, max_inputs, segwit))?;
        let recipients_sum =
            Amount::checked_sum(outputs.iter().map(|o| o.value)).ok_or_else(overflow)?;
        let target = if req.send_max {
            non_input_fee
        } else {
            recipients_sum
                .checked_add(non_input_fee)
                .ok_or_else(overflow)?
        };
        Ok(Self {
            params: SelectionParams {
                target,
                fee_rate: rate,
                long_term_fee_rate: LONG_TERM_FEE_RATE,
                change_fee,
                cost_of_change: change_fee
                    .checked_add(change_spend_fee)
                    .ok_or_else(overflow)?,
            },
            recipients_sum,
            min_viable_change,
        })
    }
}

/// Chooses the coins: everything worth spending for a send-max, exactly the chosen coins
/// under coin control, else Branch and Bound or Single Random Draw by waste.
fn select(
    req: &PaymentRequest,
    candidates: &[Candidate],
    params: &SelectionParams,
    rng: &mut WalletRng,
) -> Result<coin_selection::Selection, BuildError> {
    Ok(if req.send_max {
        let worth: Vec<Candidate> = if req.coin_control.is_empty() {
            candidates
                .iter()
                .filter(|c| {
                    req.fee_rate
                        .fee_for_weight(c.input_weight)
                        .is_some_and(|fee| c.value > fee)
                })
                .copied()
                .collect()
        } else {
            candidates.to_vec()
        };
        select_all(&worth, params)?
    } else if req.coin_control.is_empty() {
        select_coins(candidates, params, rng)?
    } else {
        select_all(candidates, params)?
    })
}

/// The transaction without outputs: the selected coins as inputs in a random order (Core
/// shuffles them so the order says nothing about the selection), RBF or final sequences,
/// and an anti-fee-sniping locktime.
fn lay_out(
    req: &PaymentRequest,
    pool: &[&WalletUtxo],
    selection: &coin_selection::Selection,
    rng: &mut WalletRng,
) -> (Transaction, Vec<WalletUtxo>) {
    let mut inputs: Vec<WalletUtxo> = selection
        .coins
        .iter()
        .map(|c| {
            pool.iter()
                .find(|u| u.outpoint == c.outpoint)
                .map(|u| (*u).clone())
                .expect("selected coins come from the pool")
        })
        .collect();
    rng.shuffle(&mut inputs);
    let sequence = if req.rbf {
        TxIn::SEQUENCE_RBF
    } else {
        TxIn::SEQUENCE_FINAL_LOCKTIME
    };
    let tx = Transaction {
        version: 2,
        lock_time: anti_fee_sniping_locktime(req.tip_height, rng),
        input: inputs
            .iter()
            .map(|u| TxIn::new(u.outpoint, sequence))
            .collect(),
        output: Vec::new(),
    };
    (tx, inputs)
}

/// A transaction with its outputs paid, before the guard rails.
struct Paid {
    tx: Transaction,
    fee: Amount,
    weight: Weight,
    change: Option<(usize, Amount)>,
}

/// Send-max: the one recipient gets the inputs' value less the fee for the signed weight.
fn finish_send_max(
    req: &PaymentRequest,
    mut tx: Transaction,
    in_value: Amount,
    weigh: impl Fn(&Transaction) -> Result<Weight, BuildError>,
) -> Result<Paid, BuildError> {
    tx.output[0].value = Amount::ZERO;
    let weight = weigh(&tx)?;
    let fee = req.fee_rate.fee_for_weight(weight).ok_or_else(overflow)?;
    let amount = in_value.checked_sub(fee).unwrap_or(Amount::ZERO);
    let threshold = dust_threshold(&tx.output[0].script_pubkey);
    if amount < threshold {
        return Err(BuildError::Dust { amount, threshold });
    }
    tx.output[0].value = amount;
    Ok(Paid {
        tx,
        fee,
        weight,
        change: None,
    })
}

/// Adds change at a random position when it is worth having (never after a Branch and Bound
/// match, which has none); otherwise what is left over goes to the fee, which must still
/// cover the rate.
fn finish_with_change(
    req: &PaymentRequest,
    mut tx: Transaction,
    selection: &coin_selection::Selection,
    costs: &Costs,
    weigh: impl Fn(&Transaction) -> Result<Weight, BuildError>,
    rng: &mut WalletRng,
) -> Result<Paid, BuildError> {
    let fee_for = |w: Weight| req.fee_rate.fee_for_weight(w).ok_or_else(overflow);
    let in_value = selection.value;
    let weight_no_change = weigh(&tx)?;
    let fee_no_change = fee_for(weight_no_change)?;
    if selection.algorithm != Algorithm::BranchAndBound {
        let position = rng.below(tx.output.len() as u64 + 1) as usize;
        tx.output.insert(
            position,
            TxOut {
                value: Amount::ZERO,
                script_pubkey: req.change_script.clone(),
            },
        );
        let weight = weigh(&tx)?;
        let fee = fee_for(weight)?;
        let value = in_value
            .checked_sub(costs.recipients_sum)
            .and_then(|v| v.checked_sub(fee));
        match value {
            Some(v) if v >= costs.min_viable_change => {
                tx.output[position].value = v;
                return Ok(Paid {
                    tx,
                    fee,
                    weight,
                    change: Some((position, v)),
                });
            }
            _ => {
                tx.output.remove(position);
            }
        }
    }
    let fee = in_value
        .checked_sub(costs.recipients_sum)
        .unwrap_or(Amount::ZERO);
    if fee < fee_no_change {
        return Err(BuildError::Selection(SelectionError::InsufficientFunds {
            needed: costs
                .recipients_sum
                .checked_add(fee_no_change)
                .ok_or_else(overflow)?,
            available: in_value,
        }));
    }
    Ok(Paid {
        tx,
        fee,
        weight: weight_no_change,
        change: None,
    })
}

fn check_fee(req: &PaymentRequest, built: Built) -> Result<Built, BuildError> {
    let amount = built.amount();
    let too_high = req.fee_rate > MAX_FEE_RATE
        || u128::from(built.fee.to_sat()) * 10 > u128::from(amount.to_sat());
    if too_high && !req.allow_high_fee {
        return Err(BuildError::HighFee {
            fee: built.fee,
            fee_rate: req.fee_rate,
            amount,
        });
    }
    Ok(built)
}

/// Re-exported for callers that print which algorithm chose the coins.
pub use coin_selection::Algorithm as SelectionAlgorithm;

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
