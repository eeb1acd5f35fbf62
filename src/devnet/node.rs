//! The devnet node: chain, mempool, index and store together, with block production and
//! the faucet. Synchronous; the HTTP layer holds it behind a mutex.

use std::path::Path;

use k256::SecretKey;

use super::block::{Block, BlockHash, COINBASE_MATURITY, coinbase, finish_block, subsidy};
use super::chain::{Chain, ChainError, TxLocation};
use super::index::{Index, ScriptHash, script_hash};
use super::mempool::{Accepted, FeeFloor, Mempool, Reject, RejectKind};
use super::policy::{dust_threshold, has_valid_ops, is_unspendable};
use super::store::{Store, StoreError};
use crate::hashes::{hash160, sha256};
use crate::script::ScriptBuf;
use crate::sign::{KeyStore, SignError, sign_transaction};
use crate::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use crate::units::{Amount, FeeRate, Weight};

/// Blocks mined on first start, so the faucet owns matured coinbase coins.
pub const INITIAL_BLOCKS: u32 = 110;
/// The fee rate the faucet pays, 2 sat/vB.
pub const FAUCET_FEE_RATE: FeeRate = FeeRate::from_sat_per_kvb(2000);
/// Weight kept free in a block template for the header and coinbase.
const COINBASE_RESERVE: u64 = 4000;

/// A devnet failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored block does not decode or connect: the data dir is damaged.
    #[error("stored block {height} is unusable ({reason}): the devnet data dir is damaged")]
    Corrupt {
        /// The block height.
        height: u32,
        /// Why.
        reason: String,
    },
    /// A block the devnet mined broke a rule: a devnet bug.
    #[error("the devnet mined a block it cannot connect (a bug): {0}")]
    MinedInvalid(ChainError),
    /// The faucet's transaction was refused.
    #[error("faucet transaction refused: {0}")]
    Rejected(Reject),
    /// The faucet does not hold enough matured coins.
    #[error("faucet has {available} in matured coins, needs {needed}: mine more blocks")]
    FaucetEmpty {
        /// Needed, fee included.
        needed: Amount,
        /// Available.
        available: Amount,
    },
    /// Signing the faucet's transaction failed.
    #[error("faucet signing failed: {0}")]
    Sign(SignError),
    /// Feature `kernel`: libbitcoinkernel did not connect a devnet block. The devnet has
    /// a bug and stops; the block was not stored.
    #[error("{0}")]
    Kernel(String),
}

/// Where a transaction is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// The block height.
    pub height: u32,
    /// The block hash.
    pub hash: BlockHash,
    /// The block's time.
    pub time: u32,
}

/// An unspent output of a scripthash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utxo {
    /// The outpoint.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
    /// Its confirmation, `None` in the mempool.
    pub confirmed: Option<Confirmation>,
}

/// What `sendrawtransaction` and `testmempoolaccept` refuse beyond the mempool's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastLimits {
    /// `maxfeerate`; zero turns the check off.
    pub max_fee_rate: FeeRate,
    /// `maxburnamount`: the most an unspendable output may carry.
    pub max_burn: Amount,
}

impl Default for BroadcastLimits {
    /// Core's defaults: `DEFAULT_MAX_RAW_TX_FEE_RATE` 0.10 BTC/kvB, `maxburnamount` 0.
    fn default() -> Self {
        BroadcastLimits {
            max_fee_rate: FeeRate::from_sat_per_kvb(10_000_000),
            max_burn: Amount::ZERO,
        }
    }
}

impl BroadcastLimits {
    /// Returns true if the accepted transaction pays more than `max_fee_rate` allows.
    pub fn exceeded_by(&self, accepted: &Accepted) -> bool {
        let max = self
            .max_fee_rate
            .fee_for_vbytes(accepted.entry.vsize)
            .unwrap_or(Amount::MAX_MONEY);
        max != Amount::ZERO && accepted.entry.fee > max
    }
}

/// The devnet: a regtest chain, its mempool and its index, persisted in a data dir.
#[derive(Debug)]
pub struct Devnet {
    chain: Chain,
    mempool: Mempool,
    index: Index,
    store: Store,
    faucet_keys: KeyStore,
    faucet_script: ScriptBuf,
    /// Set when libbitcoinkernel refused a block: nothing changes any more.
    halted: Option<String>,
    #[cfg(feature = "kernel")]
    kernel: super::kernel::KernelCheck,
}

impl Devnet {
    /// Opens the devnet in `dir`: replays stored blocks and mempool transactions, and on
    /// first start mines [`INITIAL_BLOCKS`] blocks to the faucet.
    ///
    /// # Errors
    /// [`DevnetError`] when the store fails or holds a block that does not connect.
    pub fn open(dir: &Path) -> Result<Self, DevnetError> {
        let store = Store::open(dir)?;
        // The faucet key is fixed: devnet coins are worthless, and a fixed key keeps the
        // faucet's coins across restarts without storing a secret.
        let secret = SecretKey::from_slice(&sha256(b"ferry devnet faucet key"))
            .expect("a SHA256 output is a valid secp256k1 scalar with overwhelming odds");
        let pubkey = secret.public_key().to_sec1_bytes();
        let faucet_script = ScriptBuf::new_p2wpkh(&hash160(&pubkey));
        let mut devnet = Devnet {
            chain: Chain::new(),
            mempool: Mempool::new(),
            index: Index::new(),
            store,
            faucet_keys: KeyStore::from_iter([secret]),
            faucet_script,
            halted: None,
            #[cfg(feature = "kernel")]
            kernel: super::kernel::KernelCheck::open(&dir.join("kernel"))
                .map_err(|e| DevnetError::Kernel(e.to_string()))?,
        };
        for (height, raw) in devnet.store.blocks()? {
            let corrupt = |reason: String| DevnetError::Corrupt { height, reason };
            let block = Block::deserialize(&raw).map_err(|e| corrupt(e.to_string()))?;
            if height != devnet.chain.height() + 1 {
                return Err(corrupt("heights are not consecutive".into()));
            }
            // Scripts were verified when the transactions entered the mempool.
            devnet
                .chain
                .replay_block(block.clone())
                .map_err(|e| corrupt(e.to_string()))?;
            #[cfg(feature = "kernel")]
            devnet
                .kernel
                .connect(&raw, height, &block.block_hash())
                .map_err(|e| DevnetError::Kernel(e.to_string()))?;
            devnet.index.connect_block(&block, &devnet.chain);
        }
        let mut dropped = Vec::new();
        for (txid, raw) in devnet.store.mempool()? {
            // What no longer enters (decodes badly, or the chain moved on) is forgotten.
            // The fee floor is left to the package: a parent below it came in with the
            // child stored after it (`submitpackage`).
            let accepted = Transaction::deserialize(&raw).ok().is_some_and(|tx| {
                let checked = devnet
                    .mempool
                    .check_as(&tx, &devnet.chain, FeeFloor::Package);
                checked.map(|a| devnet.mempool.commit(&a)).is_ok()
            });
            if !accepted {
                dropped.push(txid);
            }
        }
        devnet.store.remove_mempool_txs(&dropped)?;
        if devnet.chain.height() == 0 {
            devnet.mine(INITIAL_BLOCKS, None)?;
        }
        Ok(devnet)
    }

    /// Returns why the devnet stopped (libbitcoinkernel refused a block), if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Returns the chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Returns the mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Returns the script the faucet's coins (and default block rewards) pay to.
    pub fn faucet_script(&self) -> &ScriptBuf {
        &self.faucet_script
    }

    /// Runs the mempool checks without adding `tx` (`testmempoolaccept`).
    ///
    /// # Errors
    /// A [`Reject`] with Core's reason.
    pub fn test_accept(&self, tx: &Transaction) -> Result<Accepted, Reject> {
        self.mempool.check(tx, &self.chain)
    }

    /// Adds `tx` to the mempool (a transaction already there is accepted again, as
    /// Core's `sendrawtransaction` does).
    ///
    /// # Errors
    /// A [`Reject`] with Core's reason, or a storage failure as a [`Reject`] too.
    pub fn submit(&mut self, tx: &Transaction) -> Result<Txid, Reject> {
        if let Some(why) = &self.halted {
            return Err(Reject {
                kind: RejectKind::Invalid,
                reason: "devnet-halted".into(),
                debug: why.clone(),
            });
        }
        let accepted = match self.mempool.check(tx, &self.chain) {
            Ok(a) => a,
            Err(r) if r.kind == RejectKind::AlreadyInMempool => return Ok(tx.txid()),
            Err(r) => return Err(r),
        };
        self.commit(&accepted)?;
        Ok(accepted.entry.txid)
    }

    /// Stores and adds a transaction the mempool checked against its current state.
    pub(super) fn commit(&mut self, accepted: &Accepted) -> Result<(), Reject> {
        let raw = accepted.entry.tx.serialize();
        self.store
            .put_mempool_tx(&accepted.entry.txid, &raw, &accepted.replaced)
            .map_err(|e| Reject {
                kind: RejectKind::Invalid,
                reason: "storage-failed".into(),
                debug: e.to_string(),
            })?;
        self.mempool.commit(accepted);
        Ok(())
    }

    /// Core's `sendrawtransaction` (and so Esplora's `POST /tx`, which calls it): refuses
    /// an unspendable output above `limits.max_burn` and a transaction already confirmed,
    /// answers the txid of one already in the mempool (even with another witness), and
    /// refuses a fee above `limits.max_fee_rate` before adding the transaction.
    ///
    /// # Errors
    /// A [`Reject`]: the mempool's, or [`RejectKind::MaxBurnExceeded`],
    /// [`RejectKind::AlreadyInChain`], [`RejectKind::MaxFeeExceeded`].
    pub fn broadcast(
        &mut self,
        tx: &Transaction,
        limits: &BroadcastLimits,
    ) -> Result<Txid, Reject> {
        let refuse = |kind: RejectKind, reason: &str| Reject {
            kind,
            reason: reason.into(),
            debug: String::new(),
        };
        let burns = tx.output.iter().any(|o| {
            (is_unspendable(&o.script_pubkey) || !has_valid_ops(&o.script_pubkey))
                && o.value > limits.max_burn
        });
        if burns {
            return Err(refuse(RejectKind::MaxBurnExceeded, "max-burn-exceeded"));
        }
        let txid = tx.txid();
        let confirmed = (0..tx.output.len() as u32)
            .any(|vout| self.chain.coin(&OutPoint { txid, vout }).is_some());
        if confirmed {
            return Err(refuse(RejectKind::AlreadyInChain, "txn-already-known"));
        }
        if self.mempool.get(&txid).is_some() {
            return Ok(txid);
        }
        let accepted = self.test_accept(tx)?;
        if limits.exceeded_by(&accepted) {
            return Err(refuse(RejectKind::MaxFeeExceeded, "max-fee-exceeded"));
        }
        self.submit(tx)
    }

    /// Mines `n` blocks paying to `script` (the faucet by default), each with as much of
    /// the mempool as fits.
    ///
    /// # Errors
    /// [`DevnetError::MinedInvalid`] (a bug) or a storage failure.
    pub fn mine(
        &mut self,
        n: u32,
        script: Option<&ScriptBuf>,
    ) -> Result<Vec<BlockHash>, DevnetError> {
        let script = script.unwrap_or(&self.faucet_script).clone();
        let mut hashes = Vec::with_capacity(n as usize);
        for _ in 0..n {
            hashes.push(self.mine_one(script.clone())?);
        }
        Ok(hashes)
    }

    fn mine_one(&mut self, script: ScriptBuf) -> Result<BlockHash, DevnetError> {
        if let Some(why) = &self.halted {
            return Err(DevnetError::Kernel(why.clone()));
        }
        let height = self.chain.height() + 1;
        let template = self.mempool.block_template(Weight::from_wu(
            Weight::MAX_BLOCK.to_wu() - COINBASE_RESERVE,
        ));
        let fees = Amount::checked_sum(template.iter().map(|e| e.fee)).unwrap_or(Amount::ZERO);
        let reward = subsidy(height)
            .checked_add(fees)
            .unwrap_or(Amount::MAX_MONEY);
        let script_again = script.clone();
        let mut txdata = vec![coinbase(height, script, reward)];
        txdata.extend(template.into_iter().map(|e| e.tx.clone()));
        let time =
            super::chain::unix_now().max(self.chain.median_time_past(self.chain.height()) + 1);
        let block = finish_block(self.chain.tip_hash(), time, txdata);
        let hash = block.block_hash();
        if let Err(e) = self.chain.connect_block(block.clone(), false) {
            // A mempool transaction the block rules refuse is a devnet bug; evicting it
            // (and its descendants) keeps block production going.
            if let ChainError::Tx { txid, .. } = &e
                && self.mempool.get(txid).is_some()
            {
                tracing::error!("evicting {txid} from the mempool: {e}");
                let evicted = self.mempool.evict(txid);
                self.store.remove_mempool_txs(&evicted)?;
                return self.mine_one(script_again);
            }
            return Err(DevnetError::MinedInvalid(e));
        }
        let raw = block.serialize();
        #[cfg(feature = "kernel")]
        if let Err(e) = self.kernel.connect(&raw, height, &hash) {
            // Our chain has moved past what the kernel accepts: stop before storing it.
            self.halted = Some(e.to_string());
            return Err(DevnetError::Kernel(e.to_string()));
        }
        self.index.connect_block(&block, &self.chain);
        let mut removed: Vec<Txid> = block.txdata[1..].iter().map(Transaction::txid).collect();
        removed.extend(self.mempool.remove_for_block(&block));
        self.store.put_block(height, &raw, &removed)?;
        Ok(hash)
    }

    /// Pays `amount` to `script` from the faucet's coins with an ordinary mempool
    /// transaction (P2WPKH inputs, change back to the faucet, 2 sat/vB).
    ///
    /// # Errors
    /// [`DevnetError::FaucetEmpty`], or the mempool's refusal (dust, …).
    pub fn faucet(&mut self, script: &ScriptBuf, amount: Amount) -> Result<Txid, DevnetError> {
        let faucet_sh = script_hash(&self.faucet_script);
        // Confirmed, matured coins first (largest first), then unconfirmed change.
        let mut coins: Vec<(Utxo, bool)> = self
            .utxos(&faucet_sh)
            .into_iter()
            .filter_map(|u| {
                let spendable = match u.confirmed {
                    Some(c) => {
                        let is_cb = self
                            .chain
                            .tx_location(&u.outpoint.txid)
                            .is_some_and(|l| l.pos == 0);
                        !is_cb || self.chain.height() + 1 - c.height >= COINBASE_MATURITY
                    }
                    None => true,
                };
                spendable.then(|| {
                    let confirmed = u.confirmed.is_some();
                    (u, confirmed)
                })
            })
            .collect();
        coins.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.value.cmp(&a.0.value)));
        let mut selected = Vec::new();
        let mut total = Amount::ZERO;
        let mut needed = amount;
        for (u, _) in coins {
            if total >= needed {
                break;
            }
            total = total.checked_add(u.value).unwrap_or(Amount::MAX_MONEY);
            selected.push(u);
            // P2WPKH input ~68 vB, two outputs and overhead ~ 75 vB.
            let vsize = 75 + 68 * selected.len() as u64;
            needed = amount
                .checked_add(
                    FAUCET_FEE_RATE
                        .fee_for_vbytes(vsize)
                        .unwrap_or(Amount::MAX_MONEY),
                )
                .unwrap_or(Amount::MAX_MONEY);
        }
        if total < needed {
            return Err(DevnetError::FaucetEmpty {
                needed,
                available: total,
            });
        }
        let mut tx = Transaction {
            version: 2,
            lock_time: 0,
            input: selected
                .iter()
                .map(|u| TxIn::new(u.outpoint, 0xffff_fffd))
                .collect(),
            output: vec![TxOut {
                value: amount,
                script_pubkey: script.clone(),
            }],
        };
        let prevouts: Vec<TxOut> = selected
            .iter()
            .map(|u| TxOut {
                value: u.value,
                script_pubkey: self.faucet_script.clone(),
            })
            .collect();
        let sighash_types = vec![0x01; tx.input.len()];
        let change_out = TxOut {
            value: Amount::ZERO,
            script_pubkey: self.faucet_script.clone(),
        };
        // Sign, measure, set the fee from the real size and sign again.
        let mut fee = needed.checked_sub(amount).unwrap_or(Amount::ZERO);
        for _ in 0..2 {
            tx.output.truncate(1);
            let change = total
                .checked_sub(amount)
                .and_then(|r| r.checked_sub(fee))
                .unwrap_or(Amount::ZERO);
            if change.to_sat() >= dust_threshold(&change_out) {
                tx.output.push(TxOut {
                    value: change,
                    ..change_out.clone()
                });
            }
            sign_transaction(&mut tx, &prevouts, &sighash_types, &self.faucet_keys)?;
            fee = FAUCET_FEE_RATE
                .fee_for_vbytes(tx.vsize() + 1)
                .unwrap_or(Amount::MAX_MONEY);
        }
        self.submit(&tx).map_err(DevnetError::Rejected)
    }

    /// Returns the confirmation of a block height.
    pub fn confirmation(&self, height: u32) -> Option<Confirmation> {
        let block = self.chain.block(height)?;
        Some(Confirmation {
            height,
            hash: block.block_hash(),
            time: block.header.time,
        })
    }

    /// Returns a transaction (mempool or confirmed), its confirmation and the outputs
    /// its inputs spent (`None` for a coinbase input).
    pub fn transaction(
        &self,
        txid: &Txid,
    ) -> Option<(Transaction, Option<Confirmation>, Vec<Option<TxOut>>)> {
        if let Some(e) = self.mempool.get(txid) {
            return Some((
                e.tx.clone(),
                None,
                e.prevouts.iter().cloned().map(Some).collect(),
            ));
        }
        let (tx, TxLocation { height, .. }) = self.chain.tx(txid)?;
        let prevouts = tx
            .input
            .iter()
            .map(|i| {
                (!tx.is_coinbase())
                    .then(|| self.chain.output(&i.previous_output).cloned())
                    .flatten()
            })
            .collect();
        Some((tx.clone(), self.confirmation(height), prevouts))
    }

    /// Returns what spends `outpoint`: the spending transaction, its input index and its
    /// confirmation (`None` while in the mempool); `None` if the output is unspent or
    /// unknown (Esplora's `outspend`).
    pub fn outspend(&self, outpoint: &OutPoint) -> Option<(Txid, u32, Option<Confirmation>)> {
        let spends = |tx: &Transaction| {
            tx.input
                .iter()
                .position(|i| i.previous_output == *outpoint)
                .and_then(|vin| u32::try_from(vin).ok())
        };
        if let Some(txid) = self.mempool.spender(outpoint) {
            let vin = self.mempool.get(&txid).and_then(|e| spends(&e.tx))?;
            return Some((txid, vin, None));
        }
        if self.chain.coin(outpoint).is_some() {
            return None;
        }
        // Spent in a block: the spender is in the history of the output's script.
        let output = self.chain.output(outpoint)?;
        let sh = script_hash(&output.script_pubkey);
        self.index.history(&sh).iter().find_map(|txid| {
            let (tx, loc) = self.chain.tx(txid)?;
            Some((*txid, spends(tx)?, self.confirmation(loc.height)))
        })
    }

    /// Returns the transactions touching `sh`: mempool ones newest first, then confirmed
    /// ones newest first.
    pub fn history(&self, sh: &ScriptHash) -> (Vec<Txid>, Vec<Txid>) {
        let mut mempool: Vec<_> = self
            .mempool
            .entries_in_order()
            .into_iter()
            .filter(|e| {
                e.prevouts
                    .iter()
                    .any(|p| script_hash(&p.script_pubkey) == *sh)
                    || e.tx
                        .output
                        .iter()
                        .any(|o| script_hash(&o.script_pubkey) == *sh)
            })
            .map(|e| e.txid)
            .collect();
        mempool.reverse();
        let confirmed = self.index.history(sh).iter().rev().copied().collect();
        (mempool, confirmed)
    }

    /// Returns the unspent outputs of `sh` as Esplora counts them: confirmed ones not
    /// spent in the mempool, then mempool outputs not spent in the mempool.
    pub fn utxos(&self, sh: &ScriptHash) -> Vec<Utxo> {
        let mut out: Vec<Utxo> = Vec::new();
        let mut confirmed: Vec<(TxLocation, OutPoint)> = self
            .index
            .utxos(sh)
            .into_iter()
            .filter(|op| self.mempool.spender(op).is_none())
            .filter_map(|op| Some((self.chain.tx_location(&op.txid)?, op)))
            .collect();
        confirmed.sort_by_key(|(l, op)| (l.height, l.pos, op.vout));
        for (loc, op) in confirmed {
            if let Some(coin) = self.chain.coin(&op) {
                out.push(Utxo {
                    outpoint: op,
                    value: coin.output.value,
                    confirmed: self.confirmation(loc.height),
                });
            }
        }
        for e in self.mempool.entries_in_order() {
            for (vout, o) in e.tx.output.iter().enumerate() {
                let op = OutPoint {
                    txid: e.txid,
                    vout: vout as u32,
                };
                if script_hash(&o.script_pubkey) == *sh && self.mempool.spender(&op).is_none() {
                    out.push(Utxo {
                        outpoint: op,
                        value: o.value,
                        confirmed: None,
                    });
                }
            }
        }
        out
    }
}

// By hand rather than `#[from]`, which would also make the cause a `source()`: the message
// already carries it, and it should print once.
impl From<SignError> for DevnetError {
    fn from(e: SignError) -> Self {
        DevnetError::Sign(e)
    }
}
