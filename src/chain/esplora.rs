//! An Esplora REST client (Blockstream/esplora's API: mempool.space, blockstream.info,
//! self-hosted electrs, the devnet) as a [`ChainBackend`].
//!
//! Every request has a timeout; 429 and 5xx answers and dropped connections are retried
//! with exponential backoff, honouring `Retry-After`. Esplora's scripthash is SHA256 of the
//! script, in natural byte order (Electrum's is reversed). Transactions come back as JSON
//! and are rebuilt into [`Transaction`]s whose txid is checked against the one the server
//! named, so a confused or lying server cannot slip ferry a different transaction.

use reqwest::{Client, Response, StatusCode};
use serde::Deserialize;
use std::collections::BTreeMap;

use super::{BoxFuture, ChainBackend, ChainError, HistoryTx, Outspend, TxStatus, Utxo, http};
use crate::hashes::sha256;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, TxIn, TxOut, Txid, Witness};
use crate::units::{Amount, FeeRate};

/// Esplora pages confirmed history 25 transactions at a time.
const CHAIN_PAGE: usize = 25;

/// An Esplora server.
#[derive(Debug, Clone)]
pub struct EsploraBackend {
    base: String,
    client: Client,
}

impl EsploraBackend {
    fn to_outspend(&self, s: EsploraSpend, path: &str) -> Result<Outspend, ChainError> {
        let confirmed = s.status.as_ref().is_some_and(|st| st.confirmed);
        match (s.spent, s.txid) {
            (false, _) => Ok(Outspend::Unspent),
            (true, txid) if confirmed => Ok(Outspend::InBlock(txid)),
            (true, Some(txid)) => Ok(Outspend::InMempool(txid)),
            (true, None) => Err(self.protocol(format!("GET {path}: spent without a txid"))),
        }
    }

    /// Creates a client for `url` (`https://host/api`, or `esplora+https://…`), with a
    /// 30 s request timeout and a 10 s connect timeout.
    ///
    /// # Errors
    /// [`ChainError::InvalidUrl`] for anything but an http(s) URL.
    pub fn new(url: &str) -> Result<Self, ChainError> {
        let trimmed = url
            .strip_prefix("esplora+")
            .unwrap_or(url)
            .trim_end_matches('/');
        if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
            return Err(ChainError::InvalidUrl(url.to_owned()));
        }
        let client = http::client(url)?;
        Ok(Self {
            base: trimmed.to_owned(),
            client,
        })
    }

    /// Returns the base URL (e.g. `http://127.0.0.1:3002/api`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, reason: impl ToString) -> ChainError {
        ChainError::Unreachable {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }

    fn protocol(&self, reason: impl ToString) -> ChainError {
        ChainError::Protocol {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }

    /// Sends a request built by `make`, retrying 429/5xx and transport failures.
    async fn send(
        &self,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, ChainError> {
        http::send_retrying(&self.base, make, |s| {
            s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
        })
        .await
    }

    async fn get(&self, path: &str) -> Result<Option<Response>, ChainError> {
        let url = format!("{}{path}", self.base);
        let resp = self.send(|| self.client.get(&url)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp)),
            s => {
                let body = resp.text().await.unwrap_or_default();
                Err(self.protocol(format!("GET {path}: HTTP {s}: {}", body.trim())))
            }
        }
    }

    async fn get_text(&self, path: &str) -> Result<Option<String>, ChainError> {
        match self.get(path).await? {
            Some(resp) => resp.text().await.map(Some).map_err(|e| self.unreachable(e)),
            None => Ok(None),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ChainError> {
        match self.get(path).await? {
            Some(resp) => {
                let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| self.protocol(format!("GET {path}: {e}")))
            }
            None => Ok(None),
        }
    }

    fn to_history(&self, t: EsploraTx) -> Result<HistoryTx, ChainError> {
        let height = t.status.height();
        let fee = t.fee.map(Amount::from_sat);
        let tx = t.into_transaction().map_err(|e| self.protocol(e))?;
        Ok(HistoryTx { tx, height, fee })
    }
}

/// Esplora's scripthash: SHA256 of the script, hex, natural byte order.
pub fn scripthash(script_pubkey: &ScriptBuf) -> String {
    hex::encode(sha256(script_pubkey.as_bytes()))
}

/// One output's spend, as `/outspend(s)` give it.
#[derive(Debug, Deserialize)]
struct EsploraSpend {
    spent: bool,
    txid: Option<Txid>,
    status: Option<EsploraStatus>,
}

#[derive(Debug, Deserialize)]
struct EsploraStatus {
    confirmed: bool,
    block_height: Option<u32>,
}

impl EsploraStatus {
    fn height(&self) -> Option<u32> {
        if self.confirmed {
            self.block_height
        } else {
            None
        }
    }
}

#[derive(Debug, Deserialize)]
struct EsploraUtxo {
    txid: Txid,
    vout: u32,
    value: u64,
    status: EsploraStatus,
}

#[derive(Debug, Deserialize)]
struct EsploraTx {
    txid: Txid,
    version: i32,
    locktime: u32,
    vin: Vec<EsploraVin>,
    vout: Vec<EsploraVout>,
    fee: Option<u64>,
    status: EsploraStatus,
}

#[derive(Debug, Deserialize)]
struct EsploraVin {
    txid: Txid,
    vout: u32,
    scriptsig: String,
    #[serde(default)]
    witness: Vec<String>,
    sequence: u32,
}

#[derive(Debug, Deserialize)]
struct EsploraVout {
    scriptpubkey: String,
    value: u64,
}

impl EsploraTx {
    /// Rebuilds the transaction and checks it hashes to the txid the server gave.
    fn into_transaction(self) -> Result<Transaction, String> {
        let bad_hex = |what: &str| format!("transaction {}: bad hex in {what}", self.txid);
        let mut input = Vec::with_capacity(self.vin.len());
        for vin in &self.vin {
            let mut txin = TxIn::new(
                OutPoint {
                    txid: vin.txid,
                    vout: vin.vout,
                },
                vin.sequence,
            );
            txin.script_sig =
                ScriptBuf::from_hex(&vin.scriptsig).map_err(|_| bad_hex("scriptsig"))?;
            txin.witness = Witness::from_items(
                vin.witness
                    .iter()
                    .map(hex::decode)
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad_hex("witness"))?,
            );
            input.push(txin);
        }
        let output = self
            .vout
            .iter()
            .map(|o| {
                Ok(TxOut {
                    value: Amount::from_sat(o.value),
                    script_pubkey: ScriptBuf::from_hex(&o.scriptpubkey)
                        .map_err(|_| bad_hex("scriptpubkey"))?,
                })
            })
            .collect::<Result<_, String>>()?;
        let tx = Transaction {
            version: self.version,
            lock_time: self.locktime,
            input,
            output,
        };
        if tx.txid() != self.txid {
            return Err(format!(
                "server described transaction {} but its contents hash to {}",
                self.txid,
                tx.txid()
            ));
        }
        Ok(tx)
    }
}

impl ChainBackend for EsploraBackend {
    fn describe(&self) -> String {
        format!("esplora {}", self.base)
    }

    fn tip_height(&self) -> BoxFuture<'_, Result<u32, ChainError>> {
        Box::pin(async move {
            let text = self
                .get_text("/blocks/tip/height")
                .await?
                .ok_or_else(|| self.protocol("GET /blocks/tip/height: not found"))?;
            text.trim()
                .parse()
                .map_err(|_| self.protocol(format!("tip height {:?} is not a number", text.trim())))
        })
    }

    fn script_utxos<'a>(
        &'a self,
        script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<Utxo>, ChainError>> {
        Box::pin(async move {
            let path = format!("/scripthash/{}/utxo", scripthash(script_pubkey));
            let utxos: Vec<EsploraUtxo> = self.get_json(&path).await?.unwrap_or_default();
            Ok(utxos
                .into_iter()
                .map(|u| Utxo {
                    outpoint: OutPoint {
                        txid: u.txid,
                        vout: u.vout,
                    },
                    value: Amount::from_sat(u.value),
                    height: u.status.height(),
                })
                .collect())
        })
    }

    fn script_history<'a>(
        &'a self,
        script_pubkey: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<HistoryTx>, ChainError>> {
        Box::pin(async move {
            let hash = scripthash(script_pubkey);
            // The first page holds the mempool transactions and up to 25 confirmed ones;
            // older confirmed ones are paged by the last txid seen.
            let first: Vec<EsploraTx> = self
                .get_json(&format!("/scripthash/{hash}/txs"))
                .await?
                .unwrap_or_default();
            let mut confirmed_in_page = first.iter().filter(|t| t.status.confirmed).count();
            let mut last = first
                .iter()
                .rev()
                .find(|t| t.status.confirmed)
                .map(|t| t.txid);
            let mut history = first
                .into_iter()
                .map(|t| self.to_history(t))
                .collect::<Result<Vec<_>, _>>()?;
            while confirmed_in_page >= CHAIN_PAGE {
                let Some(after) = last else { break };
                let page: Vec<EsploraTx> = self
                    .get_json(&format!("/scripthash/{hash}/txs/chain/{after}"))
                    .await?
                    .unwrap_or_default();
                confirmed_in_page = page.len();
                last = page.last().map(|t| t.txid);
                for t in page {
                    history.push(self.to_history(t)?);
                }
            }
            Ok(history)
        })
    }

    fn transaction(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Transaction>, ChainError>> {
        Box::pin(async move {
            let Some(hex) = self.get_text(&format!("/tx/{txid}/hex")).await? else {
                return Ok(None);
            };
            let tx = Transaction::from_hex(hex.trim())
                .map_err(|e| self.protocol(format!("transaction {txid}: {e}")))?;
            if tx.txid() != txid {
                return Err(
                    self.protocol(format!("asked for transaction {txid}, got {}", tx.txid()))
                );
            }
            Ok(Some(tx))
        })
    }

    fn outspend(&self, outpoint: OutPoint) -> BoxFuture<'_, Result<Option<Outspend>, ChainError>> {
        Box::pin(async move {
            let path = format!("/tx/{}/outspend/{}", outpoint.txid, outpoint.vout);
            // A server without the endpoint (404) cannot tell.
            match self.get_json::<EsploraSpend>(&path).await? {
                Some(s) => self.to_outspend(s, &path).map(Some),
                None => Ok(None),
            }
        })
    }

    fn outspends(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Vec<Outspend>>, ChainError>> {
        Box::pin(async move {
            let path = format!("/tx/{txid}/outspends");
            match self.get_json::<Vec<EsploraSpend>>(&path).await? {
                Some(all) => all
                    .into_iter()
                    .map(|s| self.to_outspend(s, &path))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                None => Ok(None),
            }
        })
    }

    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>> {
        Box::pin(async move {
            let status: Option<EsploraStatus> =
                self.get_json(&format!("/tx/{txid}/status")).await?;
            if let Some(height) = status.as_ref().and_then(EsploraStatus::height) {
                return Ok(TxStatus::Confirmed { height });
            }
            // Esplora answers `{"confirmed":false}` for any txid, known or not: only the
            // transaction itself tells the mempool from nowhere.
            Ok(match self.get(&format!("/tx/{txid}/hex")).await? {
                Some(_) => TxStatus::Mempool,
                None => TxStatus::Unknown,
            })
        })
    }

    fn fee_estimates(&self) -> BoxFuture<'_, Result<BTreeMap<u16, FeeRate>, ChainError>> {
        Box::pin(async move {
            let raw: BTreeMap<String, f64> =
                self.get_json("/fee-estimates").await?.unwrap_or_default();
            let mut estimates = BTreeMap::new();
            for (target, sat_vb) in raw {
                let target: u16 = target
                    .parse()
                    .map_err(|_| self.protocol(format!("fee-estimates target {target:?}")))?;
                if !sat_vb.is_finite() || sat_vb < 0.0 {
                    return Err(self.protocol(format!("fee estimate {sat_vb} for target {target}")));
                }
                // Rounded up to whole sat/kvB so the rate used is never below the estimate.
                estimates.insert(
                    target,
                    FeeRate::from_sat_per_kvb((sat_vb * 1000.0).ceil() as u64),
                );
            }
            Ok(estimates)
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>> {
        Box::pin(async move {
            let url = format!("{}/tx", self.base);
            let body = tx.to_hex();
            let resp = self
                .send(|| self.client.post(&url).body(body.clone()))
                .await?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| self.unreachable(e))?;
            if !status.is_success() {
                return Err(ChainError::Rejected {
                    reason: text.trim().to_owned(),
                });
            }
            let txid: Txid = text.trim().parse().map_err(|_| {
                self.protocol(format!("broadcast answered {:?}, not a txid", text.trim()))
            })?;
            if txid != tx.txid() {
                return Err(
                    self.protocol(format!("broadcast of {} answered txid {txid}", tx.txid()))
                );
            }
            Ok(txid)
        })
    }

    fn submit_package<'a>(
        &'a self,
        txs: &'a [Transaction],
    ) -> BoxFuture<'a, Result<Option<super::package::PackageOutcome>, ChainError>> {
        Box::pin(async move {
            let url = format!("{}/txs/package", self.base);
            let body =
                serde_json::to_string(&txs.iter().map(Transaction::to_hex).collect::<Vec<_>>())
                    .map_err(|e| self.protocol(e.to_string()))?;
            let resp = self
                .send(|| {
                    self.client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                })
                .await?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| self.unreachable(e))?;
            // A server without the route: no packages here.
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(ChainError::Rejected {
                    reason: text.trim().to_owned(),
                });
            }
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| self.protocol(format!("txs/package answered {e}")))?;
            super::package::PackageOutcome::from_core_json(&v)
                .map(Some)
                .map_err(|e| self.protocol(format!("txs/package: {e}")))
        })
    }
}
