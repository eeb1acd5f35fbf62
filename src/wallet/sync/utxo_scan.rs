//! Discovery by UTXO scan (Bitcoin Core's `scantxoutset`): both chains up to their floor plus
//! the gap limit in one scan, then again for the addresses a found coin pushes the gap past;
//! then one look at the mempool for all of it ([`apply_mempool`]). An address whose coins are
//! all spent looks unused to such a scan, so the floors (addresses already handed out)
//! matter more here than with history.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{MempoolView, SyncError, SyncOptions, SyncResult, UsedAddress, UtxoScan, is_spendable};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, Txid};
use crate::wallet::Account;
use crate::wallet::builder::WalletUtxo;
use crate::wallet::cache::CachedTx;

/// The state of a sync by UTXO scan.
#[derive(Debug)]
pub struct UtxoScanner<'a> {
    account: &'a Account,
    gap_limit: u32,
    /// Per chain (receive, change): how far scanned, and how far to scan.
    scanned_to: [u32; 2],
    want: [u32; 2],
    /// The scripts of the scan in flight, in the order asked.
    asked: Vec<ScriptBuf>,
    /// Every scanned script, as the address it is.
    ours: HashMap<ScriptBuf, UsedAddress>,
    coins: Vec<WalletUtxo>,
    txs: BTreeMap<Txid, CachedTx>,
}

fn slot(chain: KeyChain) -> usize {
    usize::from(chain == KeyChain::Change)
}

impl<'a> UtxoScanner<'a> {
    /// Starts a sync of `account`.
    pub fn new(account: &'a Account, options: SyncOptions) -> Self {
        Self {
            account,
            gap_limit: options.gap_limit,
            scanned_to: [0; 2],
            want: [
                options.receive_floor.saturating_add(options.gap_limit),
                options.change_floor.saturating_add(options.gap_limit),
            ],
            asked: Vec::new(),
            ours: HashMap::new(),
            coins: Vec::new(),
            txs: BTreeMap::new(),
        }
    }

    /// The scripts of the next scan, or `None` when no found coin moved the gap.
    ///
    /// # Errors
    /// [`SyncError::Derivation`].
    pub fn next_scan(&mut self) -> Result<Option<&[ScriptBuf]>, SyncError> {
        self.asked.clear();
        for chain in KeyChain::ALL {
            let s = slot(chain);
            for index in self.scanned_to[s]..self.want[s] {
                let (out, _) = self
                    .account
                    .output_at(chain, index)
                    .map_err(|e| SyncError::Derivation(e.to_string()))?;
                self.asked.push(out.script_pubkey.clone());
                self.ours.insert(
                    out.script_pubkey.clone(),
                    UsedAddress {
                        chain,
                        index,
                        address: out.address.to_string(),
                        script_pubkey: out.script_pubkey,
                    },
                );
            }
            self.scanned_to[s] = self.want[s];
        }
        Ok((!self.asked.is_empty()).then_some(self.asked.as_slice()))
    }

    /// Records the answer to the scan [`next_scan`](Self::next_scan) gave.
    ///
    /// # Errors
    /// [`SyncError::UnaskedScript`] when the answer names a script not in that scan.
    pub fn apply_scan(&mut self, scan: UtxoScan) -> Result<(), SyncError> {
        for found in scan.utxos {
            let addr = self
                .asked
                .get(found.script_index)
                .and_then(|s| self.ours.get(s))
                .ok_or(SyncError::UnaskedScript)?;
            let s = slot(addr.chain);
            self.want[s] = self.want[s].max(addr.index + 1 + self.gap_limit);
            self.coins.push(WalletUtxo {
                outpoint: found.utxo.outpoint,
                txout: found.txout,
                chain: addr.chain,
                index: addr.index,
                height: found.utxo.height,
            });
        }
        // Each scan is a pass over the whole UTXO set (minutes on mainnet): when the gap
        // moves, at least double the range instead of creeping forward a gap at a time.
        for s in 0..2 {
            if self.want[s] > self.scanned_to[s] {
                self.want[s] = self.want[s].max(self.scanned_to[s].saturating_mul(2));
            }
        }
        for h in scan.txs {
            self.txs.entry(h.tx.txid()).or_insert_with(|| h.into());
        }
        Ok(())
    }

    /// Addresses asked about so far.
    pub fn scanned(&self) -> usize {
        self.scanned_to.iter().map(|n| *n as usize).sum()
    }

    /// The coins found, to ask the mempool about.
    pub fn outpoints(&self) -> Vec<OutPoint> {
        self.coins.iter().map(|u| u.outpoint).collect()
    }

    /// The coins and transactions found, after the mempool, as of `tip_height`.
    pub fn finish(self, tip_height: u32, view: &MempoolView, requests: usize) -> SyncResult {
        let scanned = self.scanned();
        let mut txs = self.txs;
        let applied = apply_mempool(self.coins, &self.ours, view);
        for tx in applied.touching {
            txs.entry(tx.txid()).or_insert(CachedTx {
                tx,
                height: None,
                fee: None,
            });
        }
        // Coins a mempool transaction spends still show their address is in use (and the
        // replacement of that spend needs to know them).
        let mut used: Vec<UsedAddress> = applied
            .unspent
            .iter()
            .chain(&applied.spent)
            .filter_map(|u| self.ours.get(&u.txout.script_pubkey))
            .map(|a| (&a.script_pubkey, a.clone()))
            .collect::<HashMap<_, _>>()
            .into_values()
            .collect();
        used.sort_by_key(|u| (u.chain.child_number(), u.index));
        let mut utxos = applied.unspent;
        utxos.retain(|u| {
            txs.get(&u.outpoint.txid)
                .is_none_or(|t| is_spendable(&t.tx, u.height, tip_height))
        });
        let mut txs: Vec<CachedTx> = txs.into_values().collect();
        txs.sort_by_key(|t| t.height.unwrap_or(u32::MAX));
        SyncResult {
            tip_height,
            utxos,
            txs,
            used,
            scanned,
            requests,
            history_complete: false,
        }
    }
}

/// The coins of a UTXO scan after the mempool: see [`apply_mempool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolApplied {
    /// Coins still unspent: confirmed ones no mempool transaction spends, and mempool
    /// outputs to the wallet's scripts that no other mempool transaction spends.
    pub unspent: Vec<WalletUtxo>,
    /// The wallet's coins a mempool transaction spends.
    pub spent: Vec<WalletUtxo>,
    /// Mempool transactions paying to or spending from the wallet.
    pub touching: Vec<Transaction>,
}

/// Applies the mempool to the confirmed `coins` of a UTXO scan, `ours` being every script
/// scanned. Mempool transactions come in any order (a child may be listed before its
/// parent), so outputs are collected before spends are looked at.
pub fn apply_mempool(
    coins: Vec<WalletUtxo>,
    ours: &HashMap<ScriptBuf, UsedAddress>,
    view: &MempoolView,
) -> MempoolApplied {
    let pool = view.txs.as_deref().unwrap_or_default();
    let mut all = coins;
    let mut touching = Vec::new();
    let mut paying = HashSet::new();
    for tx in pool {
        let txid = tx.txid();
        for (vout, out) in (0u32..).zip(&tx.output) {
            if let Some(addr) = ours.get(&out.script_pubkey) {
                paying.insert(txid);
                all.push(WalletUtxo {
                    outpoint: OutPoint { txid, vout },
                    txout: out.clone(),
                    chain: addr.chain,
                    index: addr.index,
                    height: None,
                });
            }
        }
    }
    let mine: HashSet<OutPoint> = all.iter().map(|u| u.outpoint).collect();
    let mut spent_ops = view.spent.clone();
    for tx in pool {
        let spends_ours = tx.input.iter().any(|i| mine.contains(&i.previous_output));
        spent_ops.extend(tx.input.iter().map(|i| i.previous_output));
        if spends_ours || paying.contains(&tx.txid()) {
            touching.push(tx.clone());
        }
    }
    let (spent, unspent) = all
        .into_iter()
        .partition(|u| spent_ops.contains(&u.outpoint));
    MempoolApplied {
        unspent,
        spent,
        touching,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{TxIn, TxOut};
    use crate::units::Amount;

    fn spend(from: OutPoint, to: &[&ScriptBuf]) -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: vec![TxIn::new(from, 0xffff_fffd)],
            output: to
                .iter()
                .map(|s| TxOut {
                    value: Amount::from_sat(1_000),
                    script_pubkey: (*s).clone(),
                })
                .collect(),
        }
    }

    /// A confirmed coin spent by a mempool parent that pays the wallet's change, itself
    /// spent by a child listed first: nothing is left unspent, both coins count as spent,
    /// both transactions touch the wallet.
    #[test]
    fn mempool_chains_in_any_order() {
        let change = ScriptBuf::from_hex("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let other = ScriptBuf::from_hex("00140000000000000000000000000000000000000000").unwrap();
        let ours = HashMap::from([(
            change.clone(),
            UsedAddress {
                chain: KeyChain::Change,
                index: 3,
                address: "change".into(),
                script_pubkey: change.clone(),
            },
        )]);
        let confirmed = WalletUtxo {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([7; 32]),
                vout: 1,
            },
            txout: TxOut {
                value: Amount::from_sat(5_000),
                script_pubkey: change.clone(),
            },
            chain: KeyChain::Change,
            index: 3,
            height: Some(100),
        };
        let parent = spend(confirmed.outpoint, &[&change, &other]);
        let child = spend(
            OutPoint {
                txid: parent.txid(),
                vout: 0,
            },
            &[&other],
        );
        let unrelated = spend(
            OutPoint {
                txid: Txid::from_byte_array([9; 32]),
                vout: 0,
            },
            &[&other],
        );
        let view = MempoolView {
            txs: Some(vec![child.clone(), unrelated, parent.clone()]),
            spent: HashSet::new(),
            requests: 0,
        };
        let applied = apply_mempool(vec![confirmed.clone()], &ours, &view);
        assert!(applied.unspent.is_empty(), "{:?}", applied.unspent);
        let spent: HashSet<OutPoint> = applied.spent.iter().map(|u| u.outpoint).collect();
        assert_eq!(
            spent,
            HashSet::from([
                confirmed.outpoint,
                OutPoint {
                    txid: parent.txid(),
                    vout: 0
                }
            ])
        );
        assert_eq!(applied.touching, vec![child, parent]);

        // A mempool too large to read: the backend's own answer decides what is spent.
        let view = MempoolView {
            txs: None,
            spent: HashSet::from([confirmed.outpoint]),
            requests: 0,
        };
        let applied = apply_mempool(vec![confirmed], &ours, &view);
        assert!(applied.unspent.is_empty() && applied.touching.is_empty());
        assert_eq!(applied.spent.len(), 1);
    }

    /// A coin near the end of the first range moves the gap: the next scan asks only for the
    /// new receive addresses, at least doubling the range; an answer naming a script outside
    /// the scan is refused.
    #[test]
    fn a_found_coin_widens_the_next_scan() {
        use crate::keys::Mnemonic;
        use crate::network::Network;
        use crate::script::AddressType;
        use crate::wallet::sync::{ScannedUtxo, Utxo};
        let m = Mnemonic::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon about",
        )
        .unwrap();
        let account =
            Account::from_mnemonic(&m, "", Network::Regtest, AddressType::P2wpkh).unwrap();
        let options = SyncOptions {
            gap_limit: 4,
            ..SyncOptions::default()
        };
        let mut scanner = UtxoScanner::new(&account, options);
        let first = scanner.next_scan().unwrap().unwrap().to_vec();
        assert_eq!(first.len(), 8, "both chains, 4 each");
        let coin = |script_index: usize, script: &ScriptBuf| ScannedUtxo {
            script_index,
            utxo: Utxo {
                outpoint: OutPoint {
                    txid: Txid::from_byte_array([3; 32]),
                    vout: 0,
                },
                value: Amount::from_sat(7_000),
                height: Some(5),
            },
            txout: TxOut {
                value: Amount::from_sat(7_000),
                script_pubkey: script.clone(),
            },
        };
        let answer = |utxos| crate::wallet::sync::UtxoScan {
            utxos,
            txs: Vec::new(),
            requests: 1,
        };
        scanner
            .apply_scan(answer(vec![coin(3, &first[3])]))
            .unwrap();
        let second = scanner.next_scan().unwrap().unwrap().to_vec();
        let (expected, _) = account.output_at(KeyChain::Receive, 4).unwrap();
        assert_eq!((second.len(), &second[0]), (4, &expected.script_pubkey));
        assert_eq!(
            scanner.apply_scan(answer(vec![coin(9, &first[0])])),
            Err(SyncError::UnaskedScript)
        );
        scanner.apply_scan(answer(Vec::new())).unwrap();
        assert!(scanner.next_scan().unwrap().is_none());
        let result = scanner.finish(10, &MempoolView::default(), 3);
        assert_eq!((result.scanned, result.utxos.len()), (12, 1));
        assert_eq!(result.used[0].index, 3);
    }
}
