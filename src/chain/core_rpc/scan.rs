//! Finding coins without a wallet or `-txindex`: one `scantxoutset` over a whole range of
//! scripts, the coins' transactions fetched by block hash, and the mempool read in batches
//! (or, when it is too large, `gettxout` for each coin).

use super::*;

impl CoreRpcBackend {
    /// `scantxoutset start`: one pass over the UTXO set, which takes minutes on mainnet, so
    /// it gets its own long timeout; a scan another client started is waited for (Core
    /// runs one at a time).
    pub(super) async fn scantxoutset(&self, descs: Vec<String>) -> Result<ScanResult, ChainError> {
        let mut waits = 0;
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = json!({"jsonrpc": "2.0", "id": id, "method": "scantxoutset", "params": ["start", &descs]});
            let answer = self.post(&body, Some(SCAN_TIMEOUT)).await?;
            match self.outcome("scantxoutset", &answer)? {
                Ok(v) => {
                    return serde_json::from_value(v)
                        .map_err(|e| self.protocol(format!("scantxoutset: {e}")));
                }
                Err(e)
                    if e.code == RPC_INVALID_PARAMETER
                        && e.message.contains("in progress")
                        && waits < SCAN_WAITS =>
                {
                    waits += 1;
                    tokio::time::sleep(SCAN_WAIT).await;
                }
                Err(e) => {
                    return Err(
                        self.protocol(format!("scantxoutset: {} (code {})", e.message, e.code))
                    );
                }
            }
        }
    }

    /// The mempool's transactions (`None` when it is too large to read), and the requests
    /// that took.
    pub(super) async fn mempool_txs(
        &self,
    ) -> Result<(Option<Vec<Transaction>>, usize), ChainError> {
        let txids: Vec<Txid> = self.call_ok("getrawmempool", json!([false])).await?;
        if txids.len() > MEMPOOL_SCAN_LIMIT {
            return Ok((None, 1));
        }
        let requests = 1 + txids.len().div_ceil(BATCH);
        let answers = self
            .batch(
                "getrawtransaction",
                txids.iter().map(|t| json!([t, false])).collect(),
            )
            .await?;
        let mut txs = Vec::with_capacity(txids.len());
        for (txid, answer) in txids.into_iter().zip(answers) {
            match answer {
                Ok(v) => txs.push(self.decode_tx(txid, &v)?),
                // Mined or evicted since the list was taken.
                Err(e) if e.code == RPC_INVALID_ADDRESS_OR_KEY => {}
                Err(e) => {
                    return Err(self.protocol(format!("getrawtransaction {txid}: {}", e.message)));
                }
            }
        }
        Ok((Some(txs), requests))
    }

    /// One `scantxoutset` pass for `scripts`, then the transactions behind the coins.
    pub(super) async fn scan(&self, scripts: &[ScriptBuf]) -> Result<UtxoScan, ChainError> {
        let index: HashMap<&ScriptBuf, usize> =
            scripts.iter().enumerate().map(|(i, s)| (s, i)).collect();
        // One pass over the UTXO set for every script (a scan takes minutes on
        // mainnet, and Core runs one at a time).
        let descs: Vec<String> = scripts
            .iter()
            .map(|s| format!("raw({})", s.to_hex()))
            .collect();
        let scan = self.scantxoutset(descs).await?;
        let mut requests = 1;

        // The confirmed transactions behind the coins, fetched by block hash so no
        // -txindex is needed.
        let heights: Vec<u32> = scan
            .unspents
            .iter()
            .map(|u| u.height)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let hashes = self
            .batch("getblockhash", heights.iter().map(|h| json!([h])).collect())
            .await?;
        requests += heights.len().div_ceil(BATCH);
        let mut hash_at = HashMap::new();
        for (h, answer) in heights.iter().zip(hashes) {
            let hash =
                answer.map_err(|e| self.protocol(format!("getblockhash {h}: {}", e.message)))?;
            hash_at.insert(*h, hash);
        }
        let wanted: Vec<(Txid, u32)> = scan
            .unspents
            .iter()
            .map(|u| (u.txid, u.height))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let answers = self
            .batch(
                "getrawtransaction",
                wanted
                    .iter()
                    .map(|(t, h)| json!([t, false, hash_at[h]]))
                    .collect(),
            )
            .await?;
        requests += wanted.len().div_ceil(BATCH);
        let mut confirmed: BTreeMap<Txid, HistoryTx> = BTreeMap::new();
        for ((txid, height), answer) in wanted.iter().zip(answers) {
            let v = answer
                .map_err(|e| self.protocol(format!("getrawtransaction {txid}: {}", e.message)))?;
            confirmed.insert(
                *txid,
                HistoryTx {
                    tx: self.decode_tx(*txid, &v)?,
                    height: Some(*height),
                    fee: None,
                },
            );
        }

        let mut utxos = Vec::new();
        for u in &scan.unspents {
            let outpoint = OutPoint {
                txid: u.txid,
                vout: u.vout,
            };
            // The transaction, not the scan's float, is the source of the value.
            let txout = confirmed
                .get(&u.txid)
                .and_then(|h| h.tx.output.get(u.vout as usize))
                .cloned()
                .ok_or_else(|| {
                    self.protocol(format!(
                        "scantxoutset named {outpoint}, which its transaction lacks"
                    ))
                })?;
            let Some(&script_index) = index.get(&txout.script_pubkey) else {
                return Err(self.protocol(format!(
                    "scantxoutset returned {outpoint}, which pays to a script not asked about"
                )));
            };
            utxos.push(ScannedUtxo {
                script_index,
                utxo: Utxo {
                    outpoint,
                    value: txout.value,
                    height: Some(u.height),
                },
                txout,
            });
        }

        Ok(UtxoScan {
            utxos,
            txs: confirmed.into_values().collect(),
            requests,
        })
    }

    /// The mempool's transactions, and which of `coins` they spend.
    pub(super) async fn mempool_view_of(
        &self,
        coins: &[OutPoint],
    ) -> Result<MempoolView, ChainError> {
        let (txs, mut requests) = self.mempool_txs().await?;
        let spent = match &txs {
            Some(txs) => {
                let coins: HashSet<&OutPoint> = coins.iter().collect();
                txs.iter()
                    .flat_map(|t| t.input.iter().map(|i| i.previous_output))
                    .filter(|op| coins.contains(op))
                    .collect()
            }
            None => {
                // Too big to read: ask the node which coins a mempool transaction
                // already spends (`gettxout` counting the mempool answers null).
                let answers = self
                    .batch(
                        "gettxout",
                        coins
                            .iter()
                            .map(|op| json!([op.txid, op.vout, true]))
                            .collect(),
                    )
                    .await?;
                requests += coins.len().div_ceil(BATCH);
                let mut spent = HashSet::new();
                for (op, answer) in coins.iter().zip(answers) {
                    let v =
                        answer.map_err(|e| self.protocol(format!("gettxout: {}", e.message)))?;
                    if v.is_null() {
                        spent.insert(*op);
                    }
                }
                spent
            }
        };
        Ok(MempoolView {
            txs,
            spent,
            requests,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ScanResult {
    unspents: Vec<ScanUnspent>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ScanUnspent {
    txid: Txid,
    vout: u32,
    height: u32,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoreTxOut {
    pub(super) confirmations: u32,
    value: f64,
    #[serde(rename = "scriptPubKey")]
    script_pubkey: CoreScript,
}

#[derive(Debug, Deserialize)]
pub(super) struct CoreScript {
    hex: String,
}

impl CoreTxOut {
    pub(super) fn to_txout(&self) -> Result<TxOut, String> {
        if !self.value.is_finite() || self.value < 0.0 {
            return Err(format!("gettxout value {}", self.value));
        }
        Ok(TxOut {
            value: Amount::from_sat((self.value * SAT_PER_BTC as f64).round() as u64),
            script_pubkey: ScriptBuf::from_hex(&self.script_pubkey.hex)
                .map_err(|_| "gettxout scriptPubKey is not hex".to_owned())?,
        })
    }
}
