//! Choosing a payment's fee rate from a backend's estimates: the estimate for the largest
//! target not above the one asked (else the nearest), never below the node's floor; on a
//! test network without estimates the relay minimum, on a main network never a guess.

use std::collections::BTreeMap;

use crate::network::Network;
use crate::units::FeeRate;

/// The confirmation target when none is asked (blocks).
pub const DEFAULT_TARGET: u16 = 6;

/// A fee rate chosen from estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeChoice {
    /// From the backend's estimate.
    Estimate(FeeRate),
    /// The relay minimum, for a test network with no fee history (Core's regtest answers
    /// "Insufficient data"): its coins are worthless, so this is safe; say so.
    TestNetworkFallback(FeeRate),
}

impl FeeChoice {
    /// The rate.
    pub fn rate(self) -> FeeRate {
        match self {
            FeeChoice::Estimate(r) | FeeChoice::TestNetworkFallback(r) => r,
        }
    }
}

/// Picks the rate for `target` blocks (default [`DEFAULT_TARGET`]) from `estimates`, never
/// below `floor`; `None` when there is nothing to go on (ask the user for a rate).
pub fn choose_fee_rate(
    estimates: &BTreeMap<u16, FeeRate>,
    target: Option<u16>,
    floor: FeeRate,
    network: Network,
) -> Option<FeeChoice> {
    if estimates.is_empty() && !network.is_mainnet() {
        // At least 1 sat/vB, which every node relays, whatever the floor.
        return Some(FeeChoice::TestNetworkFallback(
            floor.max(FeeRate::MIN_RELAY),
        ));
    }
    let target = target.unwrap_or(DEFAULT_TARGET).max(1);
    estimates
        .range(..=target)
        .next_back()
        .or_else(|| estimates.iter().next())
        .map(|(_, r)| FeeChoice::Estimate((*r).max(floor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(sat_vb: u64) -> FeeRate {
        FeeRate::from_sat_per_vb(sat_vb).unwrap()
    }

    #[test]
    fn the_largest_target_not_above_the_one_asked_never_below_the_floor() {
        let estimates =
            BTreeMap::from([(1, rate(20)), (3, rate(12)), (6, rate(5)), (144, rate(1))]);
        let pick = |target, floor| choose_fee_rate(&estimates, target, floor, Network::Bitcoin);
        assert_eq!(
            pick(None, FeeRate::ZERO),
            Some(FeeChoice::Estimate(rate(5)))
        );
        assert_eq!(
            pick(Some(4), FeeRate::ZERO),
            Some(FeeChoice::Estimate(rate(12)))
        );
        assert_eq!(
            pick(Some(0), FeeRate::ZERO),
            Some(FeeChoice::Estimate(rate(20)))
        );
        assert_eq!(
            pick(Some(1000), rate(2)),
            Some(FeeChoice::Estimate(rate(2)))
        );
        let high = BTreeMap::from([(10, rate(3))]);
        assert_eq!(
            choose_fee_rate(&high, Some(2), FeeRate::ZERO, Network::Bitcoin),
            Some(FeeChoice::Estimate(rate(3))),
            "the nearest when every target is above the one asked"
        );
    }

    #[test]
    fn no_estimates_fall_back_on_test_networks_only() {
        let none = BTreeMap::new();
        assert_eq!(
            choose_fee_rate(&none, None, FeeRate::ZERO, Network::Bitcoin),
            None
        );
        let floor = FeeRate::from_sat_per_kvb(100);
        assert_eq!(
            choose_fee_rate(&none, None, floor, Network::Regtest),
            Some(FeeChoice::TestNetworkFallback(FeeRate::MIN_RELAY))
        );
        assert_eq!(
            choose_fee_rate(&none, None, rate(3), Network::Signet).map(FeeChoice::rate),
            Some(rate(3))
        );
    }
}
