//! Discovery by each script's history (Esplora): the wallet hands out batches of scripts to
//! ask about, one key chain at a time, until the gap limit of unused addresses past the last
//! used one (or the floor) is reached; the histories become coins and transactions
//! ([`apply_histories`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{HistoryTx, SyncError, SyncOptions, SyncResult, UsedAddress, is_spendable};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Txid};
use crate::wallet::Account;
use crate::wallet::builder::WalletUtxo;
use crate::wallet::cache::CachedTx;

/// One script to ask the backend's history of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRequest {
    /// Where it is in the wallet.
    pub address: UsedAddress,
}

impl ScriptRequest {
    /// The scriptPubKey to ask about.
    pub fn script_pubkey(&self) -> &ScriptBuf {
        &self.address.script_pubkey
    }
}

/// The state of a sync by history: which chain, how far asked, how far used.
#[derive(Debug)]
pub struct HistoryScan<'a> {
    account: &'a Account,
    options: SyncOptions,
    chains: std::slice::Iter<'static, KeyChain>,
    chain: Option<KeyChain>,
    /// The next index to ask about on `chain`.
    next: u32,
    /// One past the last used index on `chain` (0 if none yet).
    used_end: u32,
    scanned: usize,
    found: Vec<(UsedAddress, Vec<HistoryTx>)>,
}

impl<'a> HistoryScan<'a> {
    /// Starts a sync of `account`.
    pub fn new(account: &'a Account, options: SyncOptions) -> Self {
        let mut chains = KeyChain::ALL.iter();
        let chain = chains.next().copied();
        Self {
            account,
            options,
            chains,
            chain,
            next: 0,
            used_end: 0,
            scanned: 0,
            found: Vec::new(),
        }
    }

    /// The next scripts to ask about, at most `concurrency` of them, or `None` when the
    /// discovery is complete. Apply every answer of a batch before asking for the next: the
    /// gap is measured from what the answers showed.
    ///
    /// # Errors
    /// [`SyncError::Derivation`].
    pub fn next_batch(&mut self) -> Result<Option<Vec<ScriptRequest>>, SyncError> {
        loop {
            let Some(chain) = self.chain else {
                return Ok(None);
            };
            let limit = self
                .used_end
                .max(self.options.floor(chain))
                .saturating_add(self.options.gap_limit);
            if self.next >= limit {
                self.chain = self.chains.next().copied();
                (self.next, self.used_end) = (0, 0);
                continue;
            }
            let size = u32::try_from(self.options.concurrency.max(1)).unwrap_or(u32::MAX);
            let end = self.next.saturating_add(size);
            let batch = (self.next..end)
                .map(|index| {
                    let (out, _) = self
                        .account
                        .output_at(chain, index)
                        .map_err(|e| SyncError::Derivation(e.to_string()))?;
                    Ok(ScriptRequest {
                        address: UsedAddress {
                            chain,
                            index,
                            address: out.address.to_string(),
                            script_pubkey: out.script_pubkey,
                        },
                    })
                })
                .collect::<Result<Vec<_>, SyncError>>()?;
            self.next = end;
            return Ok(Some(batch));
        }
    }

    /// Records the backend's answer for one script of the current batch.
    pub fn apply(&mut self, request: ScriptRequest, history: Vec<HistoryTx>) {
        self.scanned += 1;
        if !history.is_empty() {
            self.used_end = self.used_end.max(request.address.index + 1);
            self.found.push((request.address, history));
        }
    }

    /// Addresses asked about so far.
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// The coins and transactions the histories show, as of `tip_height`.
    pub fn finish(mut self, tip_height: u32, requests: usize) -> SyncResult {
        self.found
            .sort_by_key(|(u, _)| (u.chain.child_number(), u.index));
        let (mut utxos, txs) = apply_histories(&self.found);
        let coinbases: HashMap<Txid, &CachedTx> = txs
            .iter()
            .filter(|t| t.tx.is_coinbase())
            .map(|t| (t.tx.txid(), t))
            .collect();
        utxos.retain(|u| {
            coinbases
                .get(&u.outpoint.txid)
                .is_none_or(|t| is_spendable(&t.tx, u.height, tip_height))
        });
        SyncResult {
            tip_height,
            utxos,
            txs,
            used: self.found.into_iter().map(|(u, _)| u).collect(),
            scanned: self.scanned,
            requests,
            history_complete: true,
        }
    }
}

/// Turns the histories of the used addresses into the wallet's transactions and unspent
/// coins.
pub fn apply_histories(
    found: &[(UsedAddress, Vec<HistoryTx>)],
) -> (Vec<WalletUtxo>, Vec<CachedTx>) {
    let ours: HashMap<&ScriptBuf, &UsedAddress> =
        found.iter().map(|(u, _)| (&u.script_pubkey, u)).collect();
    let mut txs: BTreeMap<Txid, CachedTx> = BTreeMap::new();
    for (_, history) in found {
        for h in history {
            txs.entry(h.tx.txid())
                .or_insert_with(|| CachedTx::from(h.clone()));
        }
    }
    let spent: HashSet<OutPoint> = txs
        .values()
        .flat_map(|t| t.tx.input.iter().map(|i| i.previous_output))
        .collect();
    let mut utxos = Vec::new();
    for (txid, t) in &txs {
        for (vout, out) in (0u32..).zip(&t.tx.output) {
            let outpoint = OutPoint { txid: *txid, vout };
            if let Some(addr) = ours.get(&out.script_pubkey)
                && !spent.contains(&outpoint)
            {
                utxos.push(WalletUtxo {
                    outpoint,
                    txout: out.clone(),
                    chain: addr.chain,
                    index: addr.index,
                    height: t.height,
                });
            }
        }
    }
    let mut txs: Vec<CachedTx> = txs.into_values().collect();
    txs.sort_by_key(|t| t.height.unwrap_or(u32::MAX));
    (utxos, txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;
    use crate::network::Network;
    use crate::script::AddressType;
    use crate::tx::{Transaction, TxIn, TxOut};
    use crate::units::Amount;

    fn account() -> Account {
        let m = Mnemonic::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon about",
        )
        .unwrap();
        Account::from_mnemonic(&m, "", Network::Regtest, AddressType::P2wpkh).unwrap()
    }

    fn paying(script: &ScriptBuf, sat: u64, tag: u8) -> HistoryTx {
        HistoryTx {
            tx: Transaction {
                version: 2,
                lock_time: 0,
                input: vec![TxIn::new(
                    OutPoint {
                        txid: Txid::from_byte_array([tag; 32]),
                        vout: 0,
                    },
                    0xffff_fffd,
                )],
                output: vec![TxOut {
                    value: Amount::from_sat(sat),
                    script_pubkey: script.clone(),
                }],
            },
            height: Some(10),
            fee: None,
        }
    }

    /// Answers each script from `used` (receive indexes with a payment), the way a driver
    /// would, and returns the indexes asked about per chain.
    fn run(options: SyncOptions, used: &[u32]) -> (SyncResult, Vec<(KeyChain, u32)>) {
        let account = account();
        let mut scan = HistoryScan::new(&account, options);
        let mut asked = Vec::new();
        while let Some(batch) = scan.next_batch().unwrap() {
            assert!(batch.len() <= options.concurrency.max(1));
            for request in batch {
                let a = &request.address;
                asked.push((a.chain, a.index));
                let history = if a.chain == KeyChain::Receive && used.contains(&a.index) {
                    vec![paying(
                        &a.script_pubkey,
                        1_000 + u64::from(a.index),
                        a.index as u8,
                    )]
                } else {
                    Vec::new()
                };
                scan.apply(request, history);
            }
        }
        (scan.finish(20, asked.len()), asked)
    }

    #[test]
    fn stops_at_the_gap_past_the_last_used_address_on_each_chain() {
        let options = SyncOptions {
            gap_limit: 5,
            concurrency: 3,
            ..SyncOptions::default()
        };
        let (result, asked) = run(options, &[0, 4, 8]);
        let receive = asked
            .iter()
            .filter(|(c, _)| *c == KeyChain::Receive)
            .count();
        let change = asked.iter().filter(|(c, _)| *c == KeyChain::Change).count();
        // Used up to index 8, so at least 9 + 5 = 14 asked, rounded up to whole batches.
        assert_eq!(receive, 15);
        assert_eq!(change, 6);
        assert_eq!(result.scanned, 21);
        assert_eq!(
            result.used.iter().map(|u| u.index).collect::<Vec<_>>(),
            [0, 4, 8]
        );
        assert_eq!(
            result
                .utxos
                .iter()
                .map(|u| u.txout.value.to_sat())
                .sum::<u64>(),
            3_012
        );
        assert!(result.history_complete);
    }

    #[test]
    fn the_floor_is_scanned_even_when_unused() {
        let options = SyncOptions {
            gap_limit: 2,
            concurrency: 1,
            receive_floor: 7,
            change_floor: 0,
        };
        let (result, asked) = run(options, &[]);
        assert_eq!(
            asked
                .iter()
                .filter(|(c, _)| *c == KeyChain::Receive)
                .count(),
            9
        );
        assert!(result.used.is_empty() && result.utxos.is_empty());
    }
}
