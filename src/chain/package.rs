//! Package submission (Core's `submitpackage`, Esplora's `POST /txs/package`, which passes
//! Core's answer on): what the node said of each transaction of a package.

use serde_json::Value;

use crate::tx::Txid;
use crate::units::{FeeRate, SAT_PER_BTC};

/// Core's answer to `submitpackage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOutcome {
    /// `package_msg`: `success`, or why the package as a whole was refused.
    pub message: String,
    /// Each transaction's result.
    pub results: Vec<PackageTxResult>,
}

/// One transaction's part of a [`PackageOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageTxResult {
    /// Its txid.
    pub txid: Txid,
    /// Why it was refused, if it was.
    pub error: Option<String>,
    /// The fee rate it was judged at (alone, or with the transactions it was judged with).
    pub effective_fee_rate: Option<FeeRate>,
}

impl PackageOutcome {
    /// True when every transaction is in the mempool.
    pub fn accepted(&self) -> bool {
        self.message == "success" && self.results.iter().all(|r| r.error.is_none())
    }

    /// Reads Core's JSON: `{"package_msg", "tx-results": {wtxid: {"txid", "fees":
    /// {"effective-feerate" (BTC/kvB)}, "error"}}}`.
    ///
    /// # Errors
    /// What is missing or malformed.
    pub fn from_core_json(v: &Value) -> Result<Self, String> {
        let message = v["package_msg"]
            .as_str()
            .ok_or("no package_msg")?
            .to_owned();
        let mut results = Vec::new();
        if let Some(map) = v["tx-results"].as_object() {
            for r in map.values() {
                let txid: Txid = r["txid"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .ok_or("a tx-result without a txid")?;
                let effective_fee_rate = r["fees"]["effective-feerate"]
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|btc_per_kvb| {
                        FeeRate::from_sat_per_kvb((btc_per_kvb * SAT_PER_BTC as f64).round() as u64)
                    });
                results.push(PackageTxResult {
                    txid,
                    error: r["error"].as_str().map(str::to_owned),
                    effective_fee_rate,
                });
            }
        }
        Ok(Self { message, results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cores_answer() {
        let parent = "11".repeat(32);
        let child = "22".repeat(32);
        let v = serde_json::json!({
            "package_msg": "success",
            "tx-results": {
                "aa": {"txid": parent, "vsize": 110, "fees": {"base": 0.0000011, "effective-feerate": 0.0001, "effective-includes": []}},
                "bb": {"txid": child, "vsize": 110, "fees": {"base": 0.000021, "effective-feerate": 0.0001}}
            },
            "replaced-transactions": []
        });
        let o = PackageOutcome::from_core_json(&v).unwrap();
        assert!(o.accepted());
        assert_eq!(o.results.len(), 2);
        assert!(
            o.results
                .iter()
                .all(|r| r.effective_fee_rate == Some(FeeRate::from_sat_per_kvb(10_000)))
        );
        let refused = serde_json::json!({
            "package_msg": "transaction failed",
            "tx-results": {"aa": {"txid": parent, "error": "min relay fee not met"}}
        });
        let o = PackageOutcome::from_core_json(&refused).unwrap();
        assert!(!o.accepted());
        assert_eq!(o.results[0].error.as_deref(), Some("min relay fee not met"));
    }
}
