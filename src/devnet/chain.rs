//! The chain state: blocks by height, the UTXO set, a txid index, and the block rules the
//! devnet enforces when it connects a block (Core's reject reasons).

use std::collections::{HashMap, HashSet};

use super::block::{
    Block, BlockHash, COINBASE_MATURITY, bip34_prefix, find_witness_commitment, regtest_genesis,
    subsidy, witness_commitment,
};
use crate::script::opcodes::OP_RETURN;
use crate::tx::{OutPoint, Transaction, TxOut, Txid, check_transaction};
use crate::units::{Amount, Weight};

/// `LOCKTIME_THRESHOLD`: lock times below are heights, above are UNIX times.
const LOCKTIME_THRESHOLD: u32 = 500_000_000;
/// BIP-0068: the sequence bit that disables the relative lock.
const SEQUENCE_DISABLE: u32 = 1 << 31;
/// BIP-0068: the sequence bit that makes the relative lock time-based.
const SEQUENCE_TYPE_TIME: u32 = 1 << 22;
/// BIP-0068: the bits that hold the relative lock.
const SEQUENCE_MASK: u32 = 0x0000_ffff;

/// An unspent output and where it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// The output.
    pub output: TxOut,
    /// The height of the block that created it (the next block's height for mempool coins).
    pub height: u32,
    /// Whether a coinbase created it (then it matures after [`COINBASE_MATURITY`] blocks).
    pub is_coinbase: bool,
}

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

/// A transaction rule failure: Core's reason and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRuleError {
    /// Core's reject reason.
    pub reason: String,
    /// Detail, as Core's debug message (may be empty).
    pub debug: String,
}

impl TxRuleError {
    /// Creates a rule failure.
    pub fn new(reason: impl Into<String>, debug: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            debug: debug.into(),
        }
    }
}

/// Returns Core's reject reason for a context-free check failure (`CheckTransaction`).
pub fn check_tx_reason(err: &crate::tx::CheckTxError) -> String {
    // Every CheckTxError message ends with Core's reason in brackets.
    let msg = err.to_string();
    msg.rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .map_or(msg.clone(), str::to_owned)
}

/// Core's `Consensus::CheckTxInputs`: coinbase maturity at `spend_height`, amounts in
/// range, inputs covering outputs. Returns the fee.
///
/// # Errors
/// The rule broken, with Core's reason.
pub fn check_tx_inputs(
    tx: &Transaction,
    coins: &[Coin],
    spend_height: u32,
) -> Result<Amount, TxRuleError> {
    let mut value_in = Amount::ZERO;
    for coin in coins {
        if coin.is_coinbase && spend_height.saturating_sub(coin.height) < COINBASE_MATURITY {
            return Err(TxRuleError::new(
                "bad-txns-premature-spend-of-coinbase",
                format!(
                    "tried to spend coinbase at depth {}",
                    spend_height.saturating_sub(coin.height)
                ),
            ));
        }
        value_in = value_in
            .checked_add(coin.output.value)
            .filter(|v| *v <= Amount::MAX_MONEY && coin.output.value <= Amount::MAX_MONEY)
            .ok_or_else(|| TxRuleError::new("bad-txns-inputvalues-outofrange", ""))?;
    }
    let value_out = Amount::checked_sum(tx.output.iter().map(|o| o.value))
        .ok_or_else(|| TxRuleError::new("bad-txns-txouttotal-toolarge", ""))?;
    value_in.checked_sub(value_out).ok_or_else(|| {
        TxRuleError::new(
            "bad-txns-in-belowout",
            format!(
                "value in ({}) < value out ({})",
                value_in.to_btc_string(),
                value_out.to_btc_string()
            ),
        )
    })
}

/// Core's `IsFinalTx` for a block at `height` whose previous block has median time
/// `time`.
pub fn is_final_tx(tx: &Transaction, height: u32, time: u32) -> bool {
    if tx.lock_time == 0 {
        return true;
    }
    let limit = if tx.lock_time < LOCKTIME_THRESHOLD {
        height
    } else {
        time
    };
    tx.lock_time < limit || tx.input.iter().all(|i| i.sequence == u32::MAX)
}

/// Returns true if an output can never be spent (Core leaves these out of the UTXO set).
pub fn is_unspendable(output: &TxOut) -> bool {
    let b = output.script_pubkey.as_bytes();
    b.first() == Some(&OP_RETURN) || b.len() > 10_000
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

    /// Checks `block` against the devnet's block rules on top of the tip and connects it.
    /// `verify_scripts` runs Bitcoin Core's interpreter on every input (the mempool
    /// already did for transactions it accepted).
    ///
    /// # Errors
    /// [`ChainError`] with Core's reason; the chain is unchanged.
    pub fn connect_block(&mut self, block: Block, verify_scripts: bool) -> Result<(), ChainError> {
        let height = self.height() + 1;
        let header = &block.header;
        if header.prev_blockhash != self.tip_hash() {
            return Err(block_err("bad-prevblk", "previous block is not the tip"));
        }
        if !header.check_pow() {
            return Err(block_err("high-hash", "proof of work failed"));
        }
        if header.version < 4 {
            return Err(block_err(
                "bad-version",
                format!("rejected nVersion={:#x} block", header.version),
            ));
        }
        let prev_mtp = self.median_time_past(self.height());
        if header.time <= prev_mtp {
            return Err(block_err("time-too-old", "block's timestamp is too early"));
        }
        if header.merkle_root != block.compute_merkle_root() {
            return Err(block_err("bad-txnmrklroot", "hashMerkleRoot mismatch"));
        }
        let Some(coinbase) = block.txdata.first().filter(|t| t.is_coinbase()) else {
            return Err(block_err("bad-cb-missing", "first tx is not coinbase"));
        };
        if block.txdata[1..].iter().any(Transaction::is_coinbase) {
            return Err(block_err("bad-cb-multiple", "more than one coinbase"));
        }
        if block.weight() > Weight::MAX_BLOCK {
            return Err(block_err("bad-blk-weight", "weight limit failed"));
        }
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
        self.check_witness_commitment(&block)?;
        let mut seen = HashSet::new();
        for tx in &block.txdata {
            let txid = tx.txid();
            let tx_err = |reason: String, debug: String| ChainError::Tx {
                txid,
                reason,
                debug,
            };
            check_transaction(tx).map_err(|e| tx_err(check_tx_reason(&e), String::new()))?;
            if !is_final_tx(tx, height, prev_mtp) {
                return Err(tx_err(
                    "bad-txns-nonfinal".into(),
                    "non-final transaction".into(),
                ));
            }
            if !seen.insert(txid) || self.txindex.contains_key(&txid) {
                return Err(tx_err(
                    "bad-txns-BIP30".into(),
                    "tried to overwrite transaction".into(),
                ));
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
        let paid = Amount::checked_sum(coinbase.output.iter().map(|o| o.value))
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

        // All rules passed: apply.
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
        Ok(())
    }

    fn check_witness_commitment(&self, block: &Block) -> Result<(), ChainError> {
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
}
