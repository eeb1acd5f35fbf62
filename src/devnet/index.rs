//! The address index, by Esplora's scripthash (SHA256 of the scriptPubKey, shown in hex
//! without reversing): confirmed history and confirmed unspent outputs. The mempool's
//! part is added at query time (see [`super::node::Devnet`]).

use std::collections::{HashMap, HashSet};

use super::block::Block;
use super::chain::{Chain, is_unspendable};
use crate::hashes::sha256;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Txid};

/// Esplora's scripthash: SHA256 of the scriptPubKey.
pub type ScriptHash = [u8; 32];

/// Returns the scripthash of `script`.
pub fn script_hash(script: &ScriptBuf) -> ScriptHash {
    sha256(script.as_bytes())
}

/// Confirmed history and unspent outputs by scripthash.
#[derive(Debug, Default)]
pub struct Index {
    history: HashMap<ScriptHash, Vec<Txid>>,
    utxos: HashMap<ScriptHash, HashSet<OutPoint>>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes a block that `chain` has just connected (spent outputs are looked up in
    /// the chain's transaction index).
    pub fn connect_block(&mut self, block: &Block, chain: &Chain) {
        for tx in &block.txdata {
            let txid = tx.txid();
            let mut touched: Vec<ScriptHash> = Vec::new();
            if !tx.is_coinbase() {
                for txin in &tx.input {
                    let op = txin.previous_output;
                    if let Some(prev) = chain.output(&op) {
                        let sh = script_hash(&prev.script_pubkey);
                        if let Some(set) = self.utxos.get_mut(&sh) {
                            set.remove(&op);
                        }
                        touched.push(sh);
                    }
                }
            }
            for (vout, output) in tx.output.iter().enumerate() {
                let sh = script_hash(&output.script_pubkey);
                if !is_unspendable(output) {
                    self.utxos.entry(sh).or_default().insert(OutPoint {
                        txid,
                        vout: vout as u32,
                    });
                }
                touched.push(sh);
            }
            for sh in touched {
                let h = self.history.entry(sh).or_default();
                if h.last() != Some(&txid) {
                    h.push(txid);
                }
            }
        }
    }

    /// Returns the confirmed transactions touching `sh`, oldest first.
    pub fn history(&self, sh: &ScriptHash) -> &[Txid] {
        self.history.get(sh).map_or(&[], Vec::as_slice)
    }

    /// Returns the confirmed unspent outputs paying to `sh` (in no order).
    pub fn utxos(&self, sh: &ScriptHash) -> Vec<OutPoint> {
        self.utxos
            .get(sh)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}
