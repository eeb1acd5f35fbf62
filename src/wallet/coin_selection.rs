//! Coin selection as Bitcoin Core does it (`src/wallet/coinselection.cpp`): Branch and
//! Bound searches for a set of coins that pays the target with no change output; Single
//! Random Draw is the fallback that makes change; of the results, the one with the least
//! *waste* wins.
//!
//! Every coin is valued at its *effective value*: its value minus the fee its own input
//! costs at the current fee rate. The waste of a selection is what it costs beyond the
//! ideal: for each input, the fee paid now minus the fee it would cost at the long-term fee
//! rate, plus either the cost of the change output (creating it now, spending it later) or,
//! without change, the excess given up to the fee.
//!
//! Pure: no I/O, randomness injected through [`WalletRng`].

use super::rng::WalletRng;
use crate::tx::OutPoint;
use crate::units::{Amount, FeeRate, Weight};

/// Branch and Bound gives up after this many steps (Core's `TOTAL_TRIES`).
pub const BNB_TOTAL_TRIES: usize = 100_000;
/// Single Random Draw aims for at least this much change above the target (Core's
/// `CHANGE_LOWER`), so its change is not tiny.
pub const CHANGE_LOWER: Amount = Amount::from_sat(50_000);

/// A coin the wallet may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
    /// The worst-case weight its signed input adds to the transaction.
    pub input_weight: Weight,
}

/// What a selection must pay, and the prices it is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionParams {
    /// The recipients' amounts plus the fee of everything in the transaction but the
    /// inputs (header, outputs) at `fee_rate`.
    pub target: Amount,
    /// The fee rate of this transaction.
    pub fee_rate: FeeRate,
    /// The fee rate the wallet expects to pay in the long run (Core's `-consolidatefeerate`,
    /// 10 sat/vB): spending a coin now is cheap if `fee_rate` is below it.
    pub long_term_fee_rate: FeeRate,
    /// The fee of a change output at `fee_rate`.
    pub change_fee: Amount,
    /// The fee of the change output now plus the fee of spending it later at the discard
    /// rate: the most a changeless selection may give up to the fee.
    pub cost_of_change: Amount,
}

/// Which algorithm produced a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Branch and Bound: an exact match, no change.
    BranchAndBound,
    /// Single Random Draw: random coins until the target and some change are covered.
    SingleRandomDraw,
    /// Every candidate (coin control, or all coins as a last resort).
    All,
}

/// A chosen set of coins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The coins, in the order chosen.
    pub coins: Vec<Candidate>,
    /// The algorithm that chose them.
    pub algorithm: Algorithm,
    /// Their waste (sat; negative when spending now is cheaper than later).
    pub waste: i64,
    /// Sum of their values.
    pub value: Amount,
    /// Sum of their effective values.
    pub effective_value: Amount,
}

impl Selection {
    /// Returns the amount left over after the target and the inputs' fees.
    pub fn excess(&self, target: Amount) -> Amount {
        self.effective_value
            .checked_sub(target)
            .unwrap_or(Amount::ZERO)
    }
}

/// Why no selection was possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// The coins, after the fees of spending them, do not cover the target.
    #[error(
        "insufficient funds: need {needed} (amount and fees), have {available} spendable after the fee of each input; {} missing",
        Amount::from_sat(needed.to_sat().saturating_sub(available.to_sat()))
    )]
    InsufficientFunds {
        /// The target (amounts plus fees).
        needed: Amount,
        /// The sum of the coins' effective values.
        available: Amount,
    },
    /// An amount overflowed (more than 21 million BTC in play).
    #[error("amounts overflow")]
    Overflow,
}

/// A candidate with its prices at the selection's fee rates.
#[derive(Debug, Clone, Copy)]
struct Priced {
    coin: Candidate,
    /// `value - fee`, may be negative.
    effective: i64,
    fee: i64,
    long_term_fee: i64,
}

fn sat(a: Amount) -> i64 {
    i64::try_from(a.to_sat()).unwrap_or(i64::MAX)
}

fn price(coins: &[Candidate], params: &SelectionParams) -> Result<Vec<Priced>, SelectionError> {
    coins
        .iter()
        .map(|c| {
            let vb = c.input_weight.to_vbytes_ceil();
            let fee = params
                .fee_rate
                .fee_for_vbytes(vb)
                .ok_or(SelectionError::Overflow)?;
            let long_term_fee = params
                .long_term_fee_rate
                .fee_for_vbytes(vb)
                .ok_or(SelectionError::Overflow)?;
            Ok(Priced {
                coin: *c,
                effective: sat(c.value) - sat(fee),
                fee: sat(fee),
                long_term_fee: sat(long_term_fee),
            })
        })
        .collect()
}

/// Returns the waste of spending `selected` (Core's `GetSelectionWaste`): the inputs' fee
/// now minus at the long-term rate, plus `change_cost` if the selection makes change, else
/// the excess over `target`.
fn waste(selected: &[Priced], target: i64, change_cost: Option<i64>) -> i64 {
    let inputs: i64 = selected.iter().map(|p| p.fee - p.long_term_fee).sum();
    let effective: i64 = selected.iter().map(|p| p.effective).sum();
    inputs + change_cost.unwrap_or(effective - target)
}

fn finish(
    selected: Vec<Priced>,
    algorithm: Algorithm,
    params: &SelectionParams,
) -> Result<Selection, SelectionError> {
    let target = sat(params.target);
    let effective: i64 = selected.iter().map(|p| p.effective).sum();
    let makes_change = algorithm != Algorithm::BranchAndBound
        && effective - target - sat(params.change_fee) > 0
        && effective - target > sat(params.cost_of_change);
    let waste = waste(
        &selected,
        target,
        makes_change.then(|| sat(params.cost_of_change)),
    );
    let value = Amount::checked_sum(selected.iter().map(|p| p.coin.value))
        .ok_or(SelectionError::Overflow)?;
    Ok(Selection {
        coins: selected.into_iter().map(|p| p.coin).collect(),
        algorithm,
        waste,
        value,
        effective_value: Amount::from_sat(u64::try_from(effective.max(0)).unwrap_or(0)),
    })
}

/// Branch and Bound (Core's `SelectCoinsBnB`): a depth-first search over the coins sorted
/// by effective value, largest first, for a set whose effective value lies in
/// `[target, target + cost_of_change]`, keeping the one of least waste. Coins whose effective
/// value is not positive are never used. `None` if there is no such set (or none found in
/// [`BNB_TOTAL_TRIES`] steps).
pub fn branch_and_bound(coins: &[Candidate], params: &SelectionParams) -> Option<Selection> {
    let mut pool: Vec<Priced> = price(coins, params)
        .ok()?
        .into_iter()
        .filter(|p| p.effective > 0)
        .collect();
    pool.sort_by_key(|p| std::cmp::Reverse(p.effective));
    let target = sat(params.target);
    let upper = target + sat(params.cost_of_change);
    let mut available: i64 = pool.iter().map(|p| p.effective).sum();
    if available < target || pool.is_empty() {
        return None;
    }
    // When fees are above the long-term rate, each extra input adds waste, so a branch
    // whose waste already exceeds the best can be cut.
    let fee_rate_high = pool[0].fee > pool[0].long_term_fee;
    let mut value = 0i64;
    let mut current_waste = 0i64;
    let mut best_waste = i64::MAX;
    let mut selection: Vec<usize> = Vec::new();
    let mut best: Option<Vec<usize>> = None;
    let mut index = 0usize;
    for _ in 0..BNB_TOTAL_TRIES {
        let mut backtrack = false;
        if value + available < target
            || value > upper
            || (current_waste > best_waste && fee_rate_high)
        {
            backtrack = true;
        } else if value >= target {
            let w = current_waste + (value - target);
            if w <= best_waste {
                best_waste = w;
                best = Some(selection.clone());
            }
            backtrack = true;
        }
        if backtrack {
            let Some(&last) = selection.last() else {
                break; // the whole tree is explored
            };
            // Give back the coins skipped after the last included one, then exclude it.
            index -= 1;
            while index > last {
                available += pool[index].effective;
                index -= 1;
            }
            let p = &pool[index];
            value -= p.effective;
            current_waste -= p.fee - p.long_term_fee;
            selection.pop();
        } else {
            let p = &pool[index];
            available -= p.effective;
            // Skipping an equivalent coin to one just excluded would explore the same sums.
            let duplicate_of_excluded = selection.last().is_some_and(|&l| l + 1 != index)
                && pool[index - 1].effective == p.effective
                && pool[index - 1].fee == p.fee;
            if !duplicate_of_excluded {
                selection.push(index);
                value += p.effective;
                current_waste += p.fee - p.long_term_fee;
            }
        }
        index += 1;
    }
    let chosen = best?.into_iter().map(|i| pool[i]).collect();
    finish(chosen, Algorithm::BranchAndBound, params).ok()
}

/// Single Random Draw (Core's `SelectCoinsSRD`): coins with positive effective value in
/// random order until they cover the target, the change output's fee and `min_change`
/// above that. `None` if all of them do not.
pub fn single_random_draw(
    coins: &[Candidate],
    params: &SelectionParams,
    min_change: Amount,
    rng: &mut WalletRng,
) -> Option<Selection> {
    let mut pool: Vec<Priced> = price(coins, params)
        .ok()?
        .into_iter()
        .filter(|p| p.effective > 0)
        .collect();
    rng.shuffle(&mut pool);
    let goal = sat(params.target) + sat(params.change_fee) + sat(min_change);
    let mut value = 0i64;
    let mut chosen = Vec::new();
    for p in pool {
        value += p.effective;
        chosen.push(p);
        if value >= goal {
            return finish(chosen, Algorithm::SingleRandomDraw, params).ok();
        }
    }
    None
}

/// Selects every candidate (coin control): an error if they do not cover the target.
///
/// # Errors
/// [`SelectionError::InsufficientFunds`] naming what they are short of.
pub fn select_all(
    coins: &[Candidate],
    params: &SelectionParams,
) -> Result<Selection, SelectionError> {
    let priced = price(coins, params)?;
    let effective: i64 = priced.iter().map(|p| p.effective).sum();
    if effective < sat(params.target) {
        return Err(SelectionError::InsufficientFunds {
            needed: params.target,
            available: Amount::from_sat(u64::try_from(effective.max(0)).unwrap_or(0)),
        });
    }
    finish(priced, Algorithm::All, params)
}

/// Selects coins for `params`: Branch and Bound, and Single Random Draw (aiming for
/// [`CHANGE_LOWER`] of change, then for any change), keeping the result of least waste (on
/// a tie, the one with more inputs, as Core does, to consolidate). As a last resort every
/// coin of positive effective value is used.
///
/// # Errors
/// [`SelectionError::InsufficientFunds`] if the coins' effective values do not cover the
/// target.
pub fn select_coins(
    coins: &[Candidate],
    params: &SelectionParams,
    rng: &mut WalletRng,
) -> Result<Selection, SelectionError> {
    let priced = price(coins, params)?;
    let available: i64 = priced.iter().map(|p| p.effective.max(0)).sum();
    if available < sat(params.target) {
        return Err(SelectionError::InsufficientFunds {
            needed: params.target,
            available: Amount::from_sat(u64::try_from(available).unwrap_or(0)),
        });
    }
    let mut results = Vec::new();
    results.extend(branch_and_bound(coins, params));
    match single_random_draw(coins, params, CHANGE_LOWER, rng) {
        Some(s) => results.push(s),
        None => results.extend(single_random_draw(coins, params, Amount::ZERO, rng)),
    }
    if results.is_empty() {
        let positive: Vec<Candidate> = priced
            .iter()
            .filter(|p| p.effective > 0)
            .map(|p| p.coin)
            .collect();
        results.push(select_all(&positive, params)?);
    }
    results.sort_by(|a, b| {
        a.waste
            .cmp(&b.waste)
            .then(b.coins.len().cmp(&a.coins.len()))
    });
    Ok(results.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::Txid;

    /// A P2WPKH-sized input: 68 vB.
    const WU: u64 = 272;

    fn coin(n: u32, sat: u64) -> Candidate {
        Candidate {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([n as u8; 32]),
                vout: n,
            },
            value: Amount::from_sat(sat),
            input_weight: Weight::from_wu(WU),
        }
    }

    fn params(target: u64, rate_sat_vb: u64) -> SelectionParams {
        let fee_rate = FeeRate::from_sat_per_vb(rate_sat_vb).unwrap();
        let change_fee = fee_rate.fee_for_vbytes(31).unwrap();
        let spend_later = FeeRate::from_sat_per_vb(10)
            .unwrap()
            .fee_for_vbytes(68)
            .unwrap();
        SelectionParams {
            target: Amount::from_sat(target),
            fee_rate,
            long_term_fee_rate: FeeRate::from_sat_per_vb(10).unwrap(),
            change_fee,
            cost_of_change: change_fee.checked_add(spend_later).unwrap(),
        }
    }

    fn values(s: &Selection) -> Vec<u64> {
        let mut v: Vec<u64> = s.coins.iter().map(|c| c.value.to_sat()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn bnb_finds_the_exact_match() {
        // At 1 sat/vB each input costs 68 sat: effective values 932, 1932, 2932, 3932, 4932.
        let coins: Vec<_> = (1..=5).map(|i| coin(i, u64::from(i) * 1000)).collect();
        // 1932 + 3932 = 5864: exactly two coins, nothing left to the fee.
        let s = branch_and_bound(&coins, &params(5864, 1)).unwrap();
        assert_eq!(values(&s), vec![2000, 4000]);
        assert_eq!(s.algorithm, Algorithm::BranchAndBound);
        assert_eq!(s.excess(Amount::from_sat(5864)), Amount::ZERO);
        // waste = 2 * (68 - 680) + 0 excess
        assert_eq!(s.waste, 2 * (68 - 680));
    }

    #[test]
    fn bnb_stays_within_cost_of_change_or_fails() {
        let coins: Vec<_> = (1..=5).map(|i| coin(i, u64::from(i) * 1000)).collect();
        let p = params(5500, 1);
        let s = branch_and_bound(&coins, &p).unwrap();
        let excess = s.excess(p.target);
        assert!(excess <= p.cost_of_change, "{excess}");
        // A target no subset reaches within the window: no changeless solution.
        let coins = vec![coin(1, 100_000), coin(2, 300_000)];
        assert!(branch_and_bound(&coins, &params(150_000, 1)).is_none());
    }

    #[test]
    fn bnb_prefers_fewer_inputs_when_fees_are_high() {
        // At 20 sat/vB (above the 10 sat/vB long-term rate) each input is waste: one coin
        // matching the target beats two coins summing to it.
        let rate = 20;
        let fee = 68 * rate;
        let coins = vec![
            coin(1, 3000 + fee),
            coin(2, 7000 + fee),
            coin(3, 10_000 + fee),
        ];
        let s = branch_and_bound(&coins, &params(10_000, rate)).unwrap();
        assert_eq!(values(&s), vec![10_000 + fee]);
    }

    #[test]
    fn waste_decides_between_bnb_and_srd() {
        let coins: Vec<_> = (1..=20).map(|i| coin(i, u64::from(i) * 10_000)).collect();
        for (rate, seed) in [(1, 1), (1, 2), (25, 1), (25, 2)] {
            let fee = 68 * rate;
            let target = 70_000 - fee; // coin 7's effective value: BnB matches it exactly
            let p = params(target, rate);
            let chosen = select_coins(&coins, &p, &mut WalletRng::seeded(seed)).unwrap();
            let bnb = branch_and_bound(&coins, &p).unwrap();
            let srd =
                single_random_draw(&coins, &p, CHANGE_LOWER, &mut WalletRng::seeded(seed)).unwrap();
            let best = if srd.waste < bnb.waste { &srd } else { &bnb };
            assert_eq!(&chosen, best, "rate {rate} seed {seed}");
            if rate > 10 {
                // Above the long-term rate every extra input is waste: the exact match wins.
                assert_eq!(chosen.algorithm, Algorithm::BranchAndBound);
                assert_eq!(values(&chosen), vec![70_000]);
            }
        }
    }

    #[test]
    fn deterministic_under_a_seed() {
        let coins: Vec<_> = (1..=30)
            .map(|i| coin(i, 10_000 + u64::from(i) * 777))
            .collect();
        let p = params(123_456, 3);
        let a = select_coins(&coins, &p, &mut WalletRng::seeded(42)).unwrap();
        let b = select_coins(&coins, &p, &mut WalletRng::seeded(42)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn srd_covers_target_and_change() {
        let coins: Vec<_> = (1..=30).map(|i| coin(i, 20_000)).collect();
        let p = params(100_000, 2);
        let mut rng = WalletRng::seeded(9);
        let s = single_random_draw(&coins, &p, CHANGE_LOWER, &mut rng).unwrap();
        let goal = p.target.to_sat() + p.change_fee.to_sat() + CHANGE_LOWER.to_sat();
        assert!(s.effective_value.to_sat() >= goal);
        // One coin fewer would not have been enough (it stops as soon as it covers).
        assert!(s.effective_value.to_sat() - (20_000 - 136) < goal);
    }

    #[test]
    fn insufficient_funds_carries_the_figures() {
        let coins = vec![coin(1, 1000), coin(2, 2000)];
        let err = select_coins(&coins, &params(5000, 1), &mut WalletRng::seeded(0)).unwrap_err();
        assert_eq!(
            err,
            SelectionError::InsufficientFunds {
                needed: Amount::from_sat(5000),
                available: Amount::from_sat(1000 - 68 + 2000 - 68),
            }
        );
        assert!(err.to_string().contains("2136 sat missing"), "{err}");
    }

    #[test]
    fn uneconomic_coins_are_left_out() {
        // At 50 sat/vB an input costs 3400 sat: the 3000-sat coin is worth less than nothing.
        let coins = vec![coin(1, 3000), coin(2, 100_000)];
        let s = select_coins(&coins, &params(20_000, 50), &mut WalletRng::seeded(3)).unwrap();
        assert_eq!(values(&s), vec![100_000]);
    }

    #[test]
    fn select_all_uses_every_coin_or_says_what_is_missing() {
        let coins = vec![coin(1, 1000), coin(2, 2000)];
        let s = select_all(&coins, &params(2000, 1)).unwrap();
        assert_eq!(s.coins.len(), 2);
        assert_eq!(s.algorithm, Algorithm::All);
        assert!(matches!(
            select_all(&coins, &params(9000, 1)),
            Err(SelectionError::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn bnb_finds_a_changeless_subset_among_fifty() {
        let mut rng = WalletRng::seeded(5);
        let coins: Vec<_> = (0..50)
            .map(|i| coin(i, 5_000 + rng.below(200_000)))
            .collect();
        // The sum of three coins' effective values: a changeless solution exists.
        let target: u64 = [3usize, 17, 41]
            .iter()
            .map(|&i| coins[i].value.to_sat() - 68)
            .sum();
        let p = params(target, 1);
        let s = select_coins(&coins, &p, &mut rng).unwrap();
        assert_eq!(s.algorithm, Algorithm::BranchAndBound);
        assert!(s.excess(p.target) <= p.cost_of_change);
    }
}
