//! The chain state: blocks by height, the UTXO set, a txid index, and the block rules the
//! devnet enforces when it connects a block (Core's reject reasons).

use std::collections::{HashMap, HashSet};

use super::block::{
    Block, BlockHash, BlockHeader, bip34_prefix, find_witness_commitment, regtest_genesis, subsidy,
    witness_commitment,
};
pub use super::txrules::{
    Coin, TxRuleError, check_tx_inputs, check_tx_reason, is_final_tx, is_unspendable,
};
use crate::tx::{OutPoint, Transaction, TxOut, Txid, check_transaction};
use crate::units::{Amount, Weight};

/// BIP-0068: the sequence bit that disables the relative lock.
const SEQUENCE_DISABLE: u32 = 1 << 31;
/// BIP-0068: the sequence bit that makes the relative lock time-based.
const SEQUENCE_TYPE_TIME: u32 = 1 << 22;
/// BIP-0068: the bits that hold the relative lock.
const SEQUENCE_MASK: u32 = 0x0000_ffff;
/// Core's `MAX_FUTURE_BLOCK_TIME`: how far ahead of the clock a block's time may be.
pub const MAX_FUTURE_BLOCK_TIME: i64 = 2 * 60 * 60;

/// Where a confirmed transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block height.
    pub height: u32,
    /// The position in the block (0 = coinbase).
    pub pos: u32,
}

/// A rule a block or transaction broke, with Core's reject reason and a detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A block-level rule.
    #[error("block rejected: {reason}{}", detail(debug))]
    Block {
        /// Core's reject reason, e.g. `bad-cb-amount`.
        reason: String,
        /// More detail (may be empty).
        debug: String,
    },
    /// A rule broken by one transaction of the block.
    #[error("block rejected: transaction {txid}: {reason}{}", detail(debug))]
    Tx {
        /// The transaction.
        txid: Txid,
        /// Core's reject reason, e.g. `bad-txns-inputs-missingorspent`.
        reason: String,
        /// More detail (may be empty).
        debug: String,
    },
}

fn detail(debug: &str) -> String {
    if debug.is_empty() {
        String::new()
    } else {
        format!(", {debug}")
    }
}

fn block_err(reason: &str, debug: impl Into<String>) -> ChainError {
    ChainError::Block {
        reason: reason.into(),
        debug: debug.into(),
    }
}

/// The chain: every block from genesis, the UTXO set and a txid index.
#[derive(Debug)]
pub struct Chain {
    blocks: Vec<Block>,
    hashes: Vec<BlockHash>,
    heights: HashMap<BlockHash, u32>,
    utxos: HashMap<OutPoint, Coin>,
    txindex: HashMap<Txid, TxLocation>,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// A chain holding only the regtest genesis block (whose output, as in Core, is not
    /// spendable).
    pub fn new() -> Self {
        let genesis = regtest_genesis();
        let hash = genesis.block_hash();
        let mut txindex = HashMap::new();
        txindex.insert(genesis.txdata[0].txid(), TxLocation { height: 0, pos: 0 });
        Chain {
            blocks: vec![genesis],
            hashes: vec![hash],
            heights: HashMap::from([(hash, 0)]),
            utxos: HashMap::new(),
            txindex,
        }
    }

    /// Returns the height of the tip.
    pub fn height(&self) -> u32 {
        (self.blocks.len() - 1) as u32
    }

    /// Returns the tip's hash.
    pub fn tip_hash(&self) -> BlockHash {
        *self.hashes.last().expect("the chain always holds genesis")
    }

    /// Returns the block at `height`.
    pub fn block(&self, height: u32) -> Option<&Block> {
        self.blocks.get(height as usize)
    }

    /// Returns the hash of the block at `height`.
    pub fn block_hash(&self, height: u32) -> Option<BlockHash> {
        self.hashes.get(height as usize).copied()
    }

    /// Returns the height of the block with this hash.
    pub fn height_of(&self, hash: &BlockHash) -> Option<u32> {
        self.heights.get(hash).copied()
    }

    /// Returns the unspent coin at `outpoint`.
    pub fn coin(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.utxos.get(outpoint)
    }

    /// Returns the number of unspent outputs.
    pub fn utxo_count(&self) -> usize {
        self.utxos.len()
    }

    /// Iterates over the UTXO set.
    pub fn utxos(&self) -> impl Iterator<Item = (&OutPoint, &Coin)> {
        self.utxos.iter()
    }

    /// Returns where a confirmed transaction is.
    pub fn tx_location(&self, txid: &Txid) -> Option<TxLocation> {
        self.txindex.get(txid).copied()
    }

    /// Returns a confirmed transaction.
    pub fn tx(&self, txid: &Txid) -> Option<(&Transaction, TxLocation)> {
        let loc = self.tx_location(txid)?;
        let tx = self
            .blocks
            .get(loc.height as usize)?
            .txdata
            .get(loc.pos as usize)?;
        Some((tx, loc))
    }

    /// Returns a confirmed output, spent or not.
    pub fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.tx(&outpoint.txid)?
            .0
            .output
            .get(outpoint.vout as usize)
    }

    /// Core's median time past of the block at `height`: the median time of it and the
    /// ten blocks before.
    pub fn median_time_past(&self, height: u32) -> u32 {
        let end = (height as usize + 1).min(self.blocks.len());
        let start = end.saturating_sub(11);
        let mut times: Vec<u32> = self.blocks[start..end]
            .iter()
            .map(|b| b.header.time)
            .collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }

    /// BIP-0068 relative lock times of `tx` spending `coins`, for a block at
    /// `height` (Core's `CalculateSequenceLocks` + `EvaluateSequenceLocks`).
    pub fn sequence_locks_ok(&self, tx: &Transaction, coins: &[Coin], height: u32) -> bool {
        if tx.version < 2 {
            return true;
        }
        let mut min_height: i64 = -1;
        let mut min_time: i64 = -1;
        for (txin, coin) in tx.input.iter().zip(coins) {
            if txin.sequence & SEQUENCE_DISABLE != 0 {
                continue;
            }
            let lock = i64::from(txin.sequence & SEQUENCE_MASK);
            if txin.sequence & SEQUENCE_TYPE_TIME != 0 {
                let coin_time = i64::from(self.median_time_past(coin.height.saturating_sub(1)));
                min_time = min_time.max(coin_time + (lock << 9) - 1);
            } else {
                min_height = min_height.max(i64::from(coin.height) + lock - 1);
            }
        }
        let prev_mtp = i64::from(self.median_time_past(height.saturating_sub(1)));
        min_height < i64::from(height) && min_time < prev_mtp
    }

    /// Checks `block` against the devnet's block rules on top of the tip and connects it:
    /// Core's order — `CheckBlockHeader` (proof of work), `ContextualCheckBlockHeader`
    /// (previous block, time, version), `CheckBlock` (merkle root, coinbase,
    /// transactions), `ContextualCheckBlock` (BIP-0034 height, witness commitment, weight,
    /// finality) and `ConnectBlock` (inputs, scripts, coinbase amount), each a function
    /// here. `verify_scripts` runs Bitcoin Core's interpreter on every
    /// input (the mempool already did for transactions it accepted). The block's time must
    /// not be more than two hours ahead of this machine's clock (`time-too-new`).
    ///
    /// # Errors
    /// [`ChainError`] with Core's reason; the chain is unchanged.
    pub fn connect_block(&mut self, block: Block, verify_scripts: bool) -> Result<(), ChainError> {
        self.connect_block_at(block, verify_scripts, Some(unix_now()))
    }

    /// Connects a block read back from the devnet's own store: every rule but the
    /// scripts (checked when the transactions entered) and the clock (Core does not
    /// re-check a stored block's time against the clock either).
    ///
    /// # Errors
    /// [`ChainError`] with Core's reason; the chain is unchanged.
    pub fn replay_block(&mut self, block: Block) -> Result<(), ChainError> {
        self.connect_block_at(block, false, None)
    }

    fn connect_block_at(
        &mut self,
        block: Block,
        verify_scripts: bool,
        now: Option<u32>,
    ) -> Result<(), ChainError> {
        let height = self.height() + 1;
        Self::check_block_header(&block.header)?;
        let prev_mtp = self.contextual_check_block_header(&block.header, now)?;
        check_block(&block)?;
        self.contextual_check_block(&block, height, prev_mtp)?;
        let (spent, created) = self.connect_checked(&block, height, verify_scripts)?;
        self.apply(block, height, spent, created);
        Ok(())
    }

    /// Core's `CheckBlockHeader`: the proof of work the header's bits ask for.
    fn check_block_header(header: &BlockHeader) -> Result<(), ChainError> {
        if !header.check_pow() {
            return Err(block_err("high-hash", "proof of work failed"));
        }
        Ok(())
    }

    /// Core's `ContextualCheckBlockHeader` (and `AcceptBlockHeader`'s previous-block
    /// lookup): on the tip, a time above the tip's median time past and at most
    /// [`MAX_FUTURE_BLOCK_TIME`] ahead of `now` (when given), version 4 or above. Returns
    /// the median time past of the previous block.
    fn contextual_check_block_header(
        &self,
        header: &BlockHeader,
        now: Option<u32>,
    ) -> Result<u32, ChainError> {
        if header.prev_blockhash != self.tip_hash() {
            return Err(block_err("bad-prevblk", "previous block is not the tip"));
        }
        let prev_mtp = self.median_time_past(self.height());
        if header.time <= prev_mtp {
            return Err(block_err("time-too-old", "block's timestamp is too early"));
        }
        if let Some(now) = now
            && i64::from(header.time) > i64::from(now) + MAX_FUTURE_BLOCK_TIME
        {
            return Err(block_err(
                "time-too-new",
                "block timestamp too far in the future",
            ));
        }
        if header.version < 4 {
            return Err(block_err(
                "bad-version",
                format!("rejected nVersion={:#x} block", header.version),
            ));
        }
        Ok(prev_mtp)
    }

    /// Core's `ContextualCheckBlock`: BIP-0034 height in the coinbase, the BIP-0141
    /// witness commitment, the weight limit, and every transaction final at `height`
    /// (BIP-0113: lock times against the previous block's median time past).
    fn contextual_check_block(
        &self,
        block: &Block,
        height: u32,
        prev_mtp: u32,
    ) -> Result<(), ChainError> {
        let coinbase = &block.txdata[0];
        if !coinbase.input[0]
            .script_sig
            .as_bytes()
            .starts_with(bip34_prefix(height).as_bytes())
        {
            return Err(block_err(
                "bad-cb-height",
                "block height mismatch in coinbase",
            ));
        }
        check_witness_commitment(block)?;
        if block.weight() > Weight::MAX_BLOCK {
            return Err(block_err("bad-blk-weight", "weight limit failed"));
        }
        for tx in &block.txdata {
            if !is_final_tx(tx, height, prev_mtp) {
                return Err(ChainError::Tx {
                    txid: tx.txid(),
                    reason: "bad-txns-nonfinal".into(),
                    debug: "non-final transaction".into(),
                });
            }
        }
        Ok(())
    }

    /// Core's `ConnectBlock` checks: no transaction overwriting one already in the chain
    /// (BIP-0030), inputs existing and unspent (in the UTXO set or earlier in this
    /// block), matured, covering their outputs, BIP-0068 sequence locks, scripts (when
    /// `verify_scripts`), and a coinbase paying at most subsidy plus fees. Returns what
    /// the block spends and creates, for [`apply`](Self::apply).
    #[allow(clippy::type_complexity)]
    fn connect_checked(
        &self,
        block: &Block,
        height: u32,
        verify_scripts: bool,
    ) -> Result<(Vec<OutPoint>, HashMap<OutPoint, Coin>), ChainError> {
        let mut seen = HashSet::new();
        for tx in &block.txdata {
            let txid = tx.txid();
            if !seen.insert(txid) || self.txindex.contains_key(&txid) {
                return Err(ChainError::Tx {
                    txid,
                    reason: "bad-txns-BIP30".into(),
                    debug: "tried to overwrite transaction".into(),
                });
            }
        }
        // Spend inputs against the UTXO set plus outputs created earlier in this block.
        let mut created: HashMap<OutPoint, Coin> = HashMap::new();
        let mut spent: Vec<OutPoint> = Vec::new();
        let mut spent_set: HashSet<OutPoint> = HashSet::new();
        let mut fees = Amount::ZERO;
        for (pos, tx) in block.txdata.iter().enumerate() {
            let txid = tx.txid();
            if pos > 0 {
                let tx_err = |e: TxRuleError| ChainError::Tx {
                    txid,
                    reason: e.reason,
                    debug: e.debug,
                };
                let mut coins = Vec::with_capacity(tx.input.len());
                for txin in &tx.input {
                    let op = txin.previous_output;
                    let coin = created
                        .get(&op)
                        .or_else(|| self.utxos.get(&op))
                        .filter(|_| !spent_set.contains(&op))
                        .ok_or_else(|| {
                            tx_err(TxRuleError::new("bad-txns-inputs-missingorspent", ""))
                        })?;
                    coins.push(coin.clone());
                    spent_set.insert(op);
                    spent.push(op);
                }
                let fee = check_tx_inputs(tx, &coins, height).map_err(tx_err)?;
                if !self.sequence_locks_ok(tx, &coins, height) {
                    return Err(tx_err(TxRuleError::new(
                        "bad-txns-nonfinal",
                        "contains a non-BIP68-final transaction",
                    )));
                }
                if verify_scripts {
                    let prevouts: Vec<TxOut> = coins.into_iter().map(|c| c.output).collect();
                    crate::consensus::verify_transaction(tx, &prevouts).map_err(|e| {
                        tx_err(TxRuleError::new(
                            "block-script-verify-flag-failed",
                            e.to_string(),
                        ))
                    })?;
                }
                fees = fees
                    .checked_add(fee)
                    .ok_or_else(|| block_err("bad-txns-accumulated-fee-outofrange", ""))?;
            }
            for (vout, output) in tx.output.iter().enumerate() {
                if !is_unspendable(output) {
                    let coin = Coin {
                        output: output.clone(),
                        height,
                        is_coinbase: pos == 0,
                    };
                    created.insert(
                        OutPoint {
                            txid,
                            vout: vout as u32,
                        },
                        coin,
                    );
                }
            }
        }
        let limit = subsidy(height)
            .checked_add(fees)
            .ok_or_else(|| block_err("bad-cb-amount", "fees overflow"))?;
        let paid = Amount::checked_sum(block.txdata[0].output.iter().map(|o| o.value))
            .ok_or_else(|| block_err("bad-cb-amount", "coinbase outputs overflow"))?;
        if paid > limit {
            return Err(block_err(
                "bad-cb-amount",
                format!(
                    "coinbase pays too much (actual={} vs limit={})",
                    paid.to_sat(),
                    limit.to_sat()
                ),
            ));
        }
        Ok((spent, created))
    }

    /// Applies a checked block: the UTXO set, the txid index and the block list.
    fn apply(
        &mut self,
        block: Block,
        height: u32,
        spent: Vec<OutPoint>,
        mut created: HashMap<OutPoint, Coin>,
    ) {
        for op in spent {
            self.utxos.remove(&op);
            created.remove(&op);
        }
        self.utxos.extend(created);
        for (pos, tx) in block.txdata.iter().enumerate() {
            self.txindex.insert(
                tx.txid(),
                TxLocation {
                    height,
                    pos: pos as u32,
                },
            );
        }
        let hash = block.block_hash();
        self.hashes.push(hash);
        self.heights.insert(hash, height);
        self.blocks.push(block);
    }
}

/// Core's `CheckBlock` (context-free): the merkle root, a coinbase first and only
/// first, and every transaction passing `CheckTransaction`.
fn check_block(block: &Block) -> Result<(), ChainError> {
    if block.header.merkle_root != block.compute_merkle_root() {
        return Err(block_err("bad-txnmrklroot", "hashMerkleRoot mismatch"));
    }
    if !block.txdata.first().is_some_and(Transaction::is_coinbase) {
        return Err(block_err("bad-cb-missing", "first tx is not coinbase"));
    }
    if block.txdata[1..].iter().any(Transaction::is_coinbase) {
        return Err(block_err("bad-cb-multiple", "more than one coinbase"));
    }
    for tx in &block.txdata {
        check_transaction(tx).map_err(|e| ChainError::Tx {
            txid: tx.txid(),
            reason: check_tx_reason(&e),
            debug: String::new(),
        })?;
    }
    Ok(())
}

/// BIP-0141: a coinbase commitment to the witnesses (its reserved value 32 bytes), or
/// no witness data anywhere in the block.
fn check_witness_commitment(block: &Block) -> Result<(), ChainError> {
    let coinbase = &block.txdata[0];
    match find_witness_commitment(coinbase) {
        Some(commitment) => {
            let items = coinbase.input[0].witness.items();
            let reserved: [u8; 32] = match items {
                [item] if item.len() == 32 => item[..].try_into().expect("32 bytes"),
                _ => {
                    return Err(block_err(
                        "bad-witness-nonce-size",
                        "invalid witness reserved value size",
                    ));
                }
            };
            if witness_commitment(&block.txdata, &reserved) != commitment {
                return Err(block_err(
                    "bad-witness-merkle-match",
                    "witness merkle commitment mismatch",
                ));
            }
        }
        None => {
            if block.txdata.iter().any(Transaction::has_witness) {
                return Err(block_err(
                    "unexpected-witness",
                    "unexpected witness data found",
                ));
            }
        }
    }
    Ok(())
}

/// Seconds since the UNIX epoch, by this machine's clock.
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::block::{coinbase, finish_block};
    use crate::script::ScriptBuf;

    fn next_block(chain: &Chain, time: u32) -> Block {
        let height = chain.height() + 1;
        let cb = coinbase(height, ScriptBuf::new_p2wpkh(&[3; 20]), subsidy(height));
        finish_block(chain.tip_hash(), time, vec![cb])
    }

    #[test]
    fn block_times_between_median_time_past_and_two_hours_ahead() {
        let mut chain = Chain::new();
        let now = unix_now();
        for i in 0..11 {
            chain
                .connect_block(next_block(&chain, now - 100 + i), true)
                .unwrap();
        }
        // The median of the last 11 times (now-100 … now-90) is now-95.
        assert_eq!(chain.median_time_past(chain.height()), now - 95);
        let old = next_block(&chain, now - 95);
        let err = chain.connect_block(old, true).unwrap_err();
        assert!(err.to_string().contains("time-too-old"), "{err}");
        let ahead = u32::try_from(MAX_FUTURE_BLOCK_TIME).unwrap();
        let future = next_block(&chain, now + ahead + 60);
        let err = chain.connect_block(future.clone(), true).unwrap_err();
        assert!(err.to_string().contains("time-too-new"), "{err}");
        assert_eq!(chain.height(), 11);
        // A stored block is not held to the clock again; it moves the median to now-94.
        chain.replay_block(future).unwrap();
        assert_eq!(chain.height(), 12);
        chain
            .connect_block(next_block(&chain, now - 93), true)
            .unwrap();
    }
}
