//! Money and size units: [`Amount`] in satoshis, [`FeeRate`] in sat/kvB, [`Weight`] in
//! weight units. No floating point touches money.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Satoshis in one bitcoin.
pub const SAT_PER_BTC: u64 = 100_000_000;

pub use encapsulate::{Amount, FeeRate, Weight};

mod encapsulate {
    /// An amount of money in satoshis.
    ///
    /// Any `u64` is representable because transaction outputs on the wire can carry any
    /// value; [`Amount::MAX_MONEY`] is the consensus ceiling that user input is held to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct Amount(u64);

    impl Amount {
        /// Zero satoshis.
        pub const ZERO: Amount = Amount(0);
        /// 21 million BTC, the most that can ever exist.
        pub const MAX_MONEY: Amount = Amount(21_000_000 * super::SAT_PER_BTC);

        /// Creates an amount of `sat` satoshis.
        pub const fn from_sat(sat: u64) -> Amount {
            Amount(sat)
        }

        /// Returns the amount in satoshis.
        pub const fn to_sat(self) -> u64 {
            self.0
        }
    }

    /// A fee rate, kept in satoshis per 1000 virtual bytes (Bitcoin Core's unit) so that
    /// fractional sat/vB rates such as 1.5 sat/vB are exact.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct FeeRate(u64);

    impl FeeRate {
        /// Zero.
        pub const ZERO: FeeRate = FeeRate(0);
        /// Bitcoin Core's default minimum relay fee, 1 sat/vB.
        pub const MIN_RELAY: FeeRate = FeeRate(1000);

        /// Creates a fee rate from satoshis per 1000 virtual bytes.
        pub const fn from_sat_per_kvb(sat_kvb: u64) -> FeeRate {
            FeeRate(sat_kvb)
        }

        /// Returns the rate in satoshis per 1000 virtual bytes.
        pub const fn to_sat_per_kvb(self) -> u64 {
            self.0
        }
    }

    /// A transaction weight in weight units (BIP-0141): 4 per non-witness byte, 1 per
    /// witness byte.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct Weight(u64);

    impl Weight {
        /// Zero weight.
        pub const ZERO: Weight = Weight(0);
        /// The consensus maximum block weight; also the hard ceiling of a transaction.
        pub const MAX_BLOCK: Weight = Weight(4_000_000);
        /// Bitcoin Core's largest standard transaction (400,000 WU).
        pub const MAX_STANDARD_TX: Weight = Weight(400_000);

        /// Creates a weight of `wu` weight units.
        pub const fn from_wu(wu: u64) -> Weight {
            Weight(wu)
        }

        /// Returns the weight in weight units.
        pub const fn to_wu(self) -> u64 {
            self.0
        }
    }
}

impl Amount {
    /// Creates an amount from whole bitcoins, `None` on overflow.
    pub fn from_btc_whole(btc: u64) -> Option<Amount> {
        btc.checked_mul(SAT_PER_BTC).map(Amount::from_sat)
    }

    /// Adds, `None` on overflow.
    pub fn checked_add(self, rhs: Amount) -> Option<Amount> {
        self.to_sat()
            .checked_add(rhs.to_sat())
            .map(Amount::from_sat)
    }

    /// Subtracts, `None` if `rhs` is larger.
    pub fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        self.to_sat()
            .checked_sub(rhs.to_sat())
            .map(Amount::from_sat)
    }

    /// Multiplies by a count, `None` on overflow.
    pub fn checked_mul(self, rhs: u64) -> Option<Amount> {
        self.to_sat().checked_mul(rhs).map(Amount::from_sat)
    }

    /// Sums amounts, `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(iter: I) -> Option<Amount> {
        iter.into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }

    /// Formats as a decimal BTC string with 8 places, e.g. `0.00150000`.
    pub fn to_btc_string(self) -> String {
        let sat = self.to_sat();
        format!("{}.{:08}", sat / SAT_PER_BTC, sat % SAT_PER_BTC)
    }
}

/// Shows the amount in satoshis with its unit, e.g. `150000 sat`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} sat", self.to_sat())
    }
}

/// Why an amount string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseAmountError {
    /// The amount had no unit.
    #[error("amount {0:?} has no unit: write it as e.g. 150000sat or 0.0015btc")]
    MissingUnit(String),
    /// The unit is not one ferry knows.
    #[error("unknown unit {unit:?} in {input:?}: use sat or btc")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unit found.
        unit: String,
    },
    /// The number part is malformed.
    #[error("{0:?} is not a valid amount")]
    InvalidNumber(String),
    /// More than 8 decimal places of bitcoin, or a fraction of a satoshi.
    #[error("{0:?} is more precise than one satoshi")]
    TooPrecise(String),
    /// Above 21 million BTC.
    #[error("{0:?} is more than 21 million BTC")]
    TooLarge(String),
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    /// Parses `150000sat`, `150000 sats`, `0.0015btc` or `0.0015 BTC`; a bare number is an
    /// error because its unit would be a guess.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .ok_or_else(|| ParseAmountError::MissingUnit(input.to_owned()))?;
        let (number, unit) = s.split_at(split);
        let number = number.replace('_', "");
        if number.is_empty() {
            return Err(ParseAmountError::InvalidNumber(input.to_owned()));
        }
        let decimals = match unit.trim().to_ascii_lowercase().as_str() {
            "sat" | "sats" | "satoshi" | "satoshis" => 0,
            "btc" => 8,
            other => {
                return Err(ParseAmountError::UnknownUnit {
                    input: input.to_owned(),
                    unit: other.to_owned(),
                });
            }
        };
        let sat = parse_decimal(&number, decimals).map_err(|e| match e {
            DecimalError::Invalid => ParseAmountError::InvalidNumber(input.to_owned()),
            DecimalError::TooPrecise => ParseAmountError::TooPrecise(input.to_owned()),
            DecimalError::Overflow => ParseAmountError::TooLarge(input.to_owned()),
        })?;
        let amount = Amount::from_sat(sat);
        if amount > Amount::MAX_MONEY {
            return Err(ParseAmountError::TooLarge(input.to_owned()));
        }
        Ok(amount)
    }
}

enum DecimalError {
    Invalid,
    TooPrecise,
    Overflow,
}

/// Parses a non-negative decimal into an integer scaled by 10^`decimals`, exactly.
fn parse_decimal(s: &str, decimals: u32) -> Result<u64, DecimalError> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Invalid);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(DecimalError::TooPrecise);
    }
    let scale = 10u64.pow(decimals);
    let int_value: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| DecimalError::Overflow)?
    };
    let frac_value: u64 = if frac.is_empty() {
        0
    } else {
        let digits: u64 = frac.parse().map_err(|_| DecimalError::Invalid)?;
        digits * 10u64.pow(decimals - frac.len() as u32)
    };
    int_value
        .checked_mul(scale)
        .and_then(|v| v.checked_add(frac_value))
        .ok_or(DecimalError::Overflow)
}

impl FeeRate {
    /// Creates a fee rate of `sat_vb` whole satoshis per virtual byte, `None` on overflow.
    pub fn from_sat_per_vb(sat_vb: u64) -> Option<FeeRate> {
        sat_vb.checked_mul(1000).map(FeeRate::from_sat_per_kvb)
    }

    /// Parses a rate in sat/vB with up to 3 decimals, e.g. `2` or `1.5` (a trailing
    /// `sat/vB` is accepted).
    ///
    /// # Errors
    /// Malformed numbers, more than 3 decimals, or absurd values.
    pub fn parse_sat_per_vb(s: &str) -> Result<FeeRate, ParseFeeRateError> {
        let t = s.trim();
        let t = t
            .strip_suffix("sat/vB")
            .or_else(|| t.strip_suffix("sat/vb"))
            .unwrap_or(t)
            .trim();
        match parse_decimal(t, 3) {
            Ok(v) => Ok(FeeRate::from_sat_per_kvb(v)),
            Err(_) => Err(ParseFeeRateError(s.to_owned())),
        }
    }

    /// Returns the fee for `weight` at this rate, rounded up so the rate paid is never
    /// below this one.
    pub fn fee_for_weight(self, weight: Weight) -> Option<Amount> {
        // fee = rate_kvb * vbytes / 1000, with vbytes = ceil(wu / 4): round up both steps.
        let vbytes = weight.to_vbytes_ceil();
        self.fee_for_vbytes(vbytes)
    }

    /// Returns the fee for `vbytes` virtual bytes at this rate, rounded up.
    pub fn fee_for_vbytes(self, vbytes: u64) -> Option<Amount> {
        let product = self.to_sat_per_kvb().checked_mul(vbytes)?;
        Some(Amount::from_sat(product.div_ceil(1000)))
    }

    /// Returns the rate `fee` pays for `vbytes` (rounded down), `None` if `vbytes` is 0.
    pub fn from_fee_and_vbytes(fee: Amount, vbytes: u64) -> Option<FeeRate> {
        if vbytes == 0 {
            return None;
        }
        fee.to_sat()
            .checked_mul(1000)
            .map(|v| FeeRate::from_sat_per_kvb(v / vbytes))
    }

    /// Returns the rate as sat/vB for display and JSON, e.g. `1.5`.
    pub fn to_sat_per_vb_f64(self) -> f64 {
        self.to_sat_per_kvb() as f64 / 1000.0
    }

    /// Formats as `N.NNN sat/vB` with trailing zeros trimmed.
    pub fn display_sat_per_vb(self) -> String {
        let kvb = self.to_sat_per_kvb();
        let whole = kvb / 1000;
        let frac = kvb % 1000;
        if frac == 0 {
            format!("{whole} sat/vB")
        } else {
            let f = format!("{frac:03}");
            format!("{whole}.{} sat/vB", f.trim_end_matches('0'))
        }
    }
}

/// A fee rate string that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a fee rate in sat/vB (e.g. 2 or 1.5)")]
pub struct ParseFeeRateError(pub String);

impl Weight {
    /// Creates the weight of `vb` virtual bytes.
    pub fn from_vb(vb: u64) -> Option<Weight> {
        vb.checked_mul(4).map(Weight::from_wu)
    }

    /// Returns virtual bytes, rounded up as BIP-0141 defines vsize.
    pub fn to_vbytes_ceil(self) -> u64 {
        self.to_wu().div_ceil(4)
    }

    /// Adds, `None` on overflow.
    pub fn checked_add(self, rhs: Weight) -> Option<Weight> {
        self.to_wu().checked_add(rhs.to_wu()).map(Weight::from_wu)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} WU", self.to_wu())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts_with_units() {
        assert_eq!("150000sat".parse(), Ok(Amount::from_sat(150_000)));
        assert_eq!("150000 sats".parse(), Ok(Amount::from_sat(150_000)));
        assert_eq!("0.0015btc".parse(), Ok(Amount::from_sat(150_000)));
        assert_eq!("1 BTC".parse(), Ok(Amount::from_sat(100_000_000)));
        assert_eq!(".5btc".parse(), Ok(Amount::from_sat(50_000_000)));
        assert_eq!("21000000btc".parse(), Ok(Amount::MAX_MONEY));
    }

    #[test]
    fn refuses_bad_amounts() {
        let bare = "150000".parse::<Amount>().unwrap_err();
        assert!(matches!(bare, ParseAmountError::MissingUnit(_)));
        assert!(bare.to_string().contains("sat") && bare.to_string().contains("btc"));
        assert!(matches!(
            "5eur".parse::<Amount>(),
            Err(ParseAmountError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "0.000000001btc".parse::<Amount>(),
            Err(ParseAmountError::TooPrecise(_))
        ));
        assert!(matches!(
            "1.5sat".parse::<Amount>(),
            Err(ParseAmountError::TooPrecise(_))
        ));
        assert!(matches!(
            "21000000.00000001btc".parse::<Amount>(),
            Err(ParseAmountError::TooLarge(_))
        ));
        assert!(matches!(
            "99999999999999999999sat".parse::<Amount>(),
            Err(ParseAmountError::TooLarge(_))
        ));
        assert!("-1sat".parse::<Amount>().is_err());
        assert!("1.2.3btc".parse::<Amount>().is_err());
        assert!("sat".parse::<Amount>().is_err());
    }

    #[test]
    fn checked_arithmetic() {
        let max = Amount::from_sat(u64::MAX);
        assert_eq!(max.checked_add(Amount::from_sat(1)), None);
        assert_eq!(Amount::ZERO.checked_sub(Amount::from_sat(1)), None);
        assert_eq!(
            Amount::checked_sum([Amount::from_sat(1), Amount::from_sat(2)]),
            Some(Amount::from_sat(3))
        );
        assert_eq!(Amount::from_sat(150_000).to_btc_string(), "0.00150000");
    }

    #[test]
    fn fee_rounds_up_never_below_the_rate() {
        let rate = FeeRate::parse_sat_per_vb("1.5").unwrap();
        assert_eq!(rate.to_sat_per_kvb(), 1500);
        // 561 WU = 140.25 vB → 141 vB → 211.5 sat → 212 sat.
        assert_eq!(
            rate.fee_for_weight(Weight::from_wu(561)),
            Some(Amount::from_sat(212))
        );
        assert_eq!(
            FeeRate::MIN_RELAY.fee_for_vbytes(529),
            Some(Amount::from_sat(529))
        );
        assert_eq!(rate.display_sat_per_vb(), "1.5 sat/vB");
        assert_eq!(
            FeeRate::parse_sat_per_vb("2 sat/vB").unwrap(),
            FeeRate::from_sat_per_vb(2).unwrap()
        );
        assert!(FeeRate::parse_sat_per_vb("1.0001").is_err());
        assert!(FeeRate::parse_sat_per_vb("abc").is_err());
    }
}
