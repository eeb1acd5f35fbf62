//! Blocks as regtest has them: the 80-byte header, the block encoding, merkle roots, the
//! BIP-0141 witness commitment, proof of work at regtest's target, BIP-0034 coinbases and
//! the subsidy schedule.

use std::fmt;
use std::str::FromStr;

use crate::hashes::sha256d;
use crate::script::ScriptBuf;
use crate::script::opcodes::{OP_0, OP_RETURN};
use crate::tx::encode::{Reader, write_compact_size};
use crate::tx::{DecodeError, OutPoint, Transaction, TxIn, TxOut, Witness};
use crate::units::{Amount, Weight};

/// Regtest's proof-of-work limit in compact form (`powLimit`, never retargeted).
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// The difficulty of a regtest block as Core and Esplora show it: its target against
/// mainnet's difficulty-1 target (`0x1d00ffff`).
pub const REGTEST_DIFFICULTY: f64 = 4.656_542_373_906_925e-10;
/// Blocks between subsidy halvings on regtest (`nSubsidyHalvingInterval`).
pub const HALVING_INTERVAL: u32 = 150;
/// Confirmations a coinbase output needs before it may be spent (`COINBASE_MATURITY`).
pub const COINBASE_MATURITY: u32 = 100;
/// The block version the devnet mines: BIP-0009 top bits, above every buried deployment.
pub const BLOCK_VERSION: i32 = 0x2000_0000;
/// The first bytes of a BIP-0141 witness commitment output after `OP_RETURN`.
pub const WITNESS_COMMITMENT_HEADER: [u8; 4] = [0xaa, 0x21, 0xa9, 0xed];
/// The regtest genesis block hash, as shown.
pub const REGTEST_GENESIS_HASH: &str =
    "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

/// A block hash, in internal byte order; shown byte-reversed, as Bitcoin Core does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BlockHash([u8; 32]);

impl BlockHash {
    /// Wraps a hash in internal byte order.
    pub const fn from_byte_array(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Returns the hash in internal byte order.
    pub const fn to_byte_array(self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rev = self.0;
        rev.reverse();
        f.write_str(&hex::encode(rev))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

impl FromStr for BlockHash {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = crate::tx::encode::decode_hex(s)?;
        let mut arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| DecodeError::Hex("expected 64 hex characters".into()))?;
        arr.reverse();
        Ok(Self(arr))
    }
}

impl serde::Serialize for BlockHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The 80-byte block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// nVersion.
    pub version: i32,
    /// The previous block's hash.
    pub prev_blockhash: BlockHash,
    /// The merkle root of the txids, internal byte order.
    pub merkle_root: [u8; 32],
    /// nTime, seconds since the epoch.
    pub time: u32,
    /// nBits, the compact target.
    pub bits: u32,
    /// nNonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// Returns the 80-byte serialization.
    pub fn serialize(&self) -> [u8; 80] {
        let mut out = [0u8; 80];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_blockhash.0);
        out[36..68].copy_from_slice(&self.merkle_root);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Decodes a header from a reader.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] on short input.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockHeader {
            version: r.u32("block version")? as i32,
            prev_blockhash: BlockHash(r.array("previous block hash")?),
            merkle_root: r.array("merkle root")?,
            time: r.u32("block time")?,
            bits: r.u32("block bits")?,
            nonce: r.u32("block nonce")?,
        })
    }

    /// Returns the block hash: double SHA256 of the header.
    pub fn block_hash(&self) -> BlockHash {
        BlockHash(sha256d(&self.serialize()))
    }

    /// Returns true if the header's hash meets the target its `bits` encode.
    pub fn check_pow(&self) -> bool {
        let Some(target) = compact_to_target(self.bits) else {
            return false;
        };
        let mut hash = self.block_hash().0;
        hash.reverse();
        hash <= target
    }

    /// Grinds the nonce until the proof of work is met; `false` if no nonce does (then
    /// the caller changes the time and tries again).
    pub fn grind(&mut self) -> bool {
        let Some(target) = compact_to_target(self.bits) else {
            return false;
        };
        for nonce in 0..=u32::MAX {
            self.nonce = nonce;
            let mut hash = self.block_hash().0;
            hash.reverse();
            if hash <= target {
                return true;
            }
        }
        false
    }
}

/// Expands a compact target into 32 big-endian bytes; `None` for negative, zero or
/// overflowing encodings (which Core treats as invalid).
pub fn compact_to_target(bits: u32) -> Option<[u8; 32]> {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    if bits & 0x0080_0000 != 0 || mantissa == 0 || exponent > 32 {
        return None;
    }
    let mut target = [0u8; 32];
    let m = mantissa.to_be_bytes(); // [0, b2, b1, b0]
    for (i, byte) in m[1..].iter().enumerate() {
        // Byte i of the mantissa sits at big-endian position 32 - exponent + i.
        let pos = (32 + i).checked_sub(exponent)?;
        // With an exponent below 3 the low mantissa bytes are shifted out.
        if pos < 32 {
            target[pos] = *byte;
        }
    }
    Some(target)
}

/// A block: header and transactions (the first one the coinbase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions.
    pub txdata: Vec<Transaction>,
}

impl Block {
    /// Returns the full serialization (witnesses included).
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80 + self.txdata.len() * 250);
        out.extend_from_slice(&self.header.serialize());
        write_compact_size(&mut out, self.txdata.len() as u64);
        for tx in &self.txdata {
            out.extend_from_slice(&tx.serialize());
        }
        out
    }

    /// Decodes a block, refusing trailing bytes.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = BlockHeader::decode_from(&mut r)?;
        let n = r.count("transaction count", 60)?;
        let txdata = (0..n)
            .map(|_| Transaction::decode_from(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Block { header, txdata })
    }

    /// Returns the block hash.
    pub fn block_hash(&self) -> BlockHash {
        self.header.block_hash()
    }

    /// Returns the block weight (header and count weigh 4 per byte, as base data).
    pub fn weight(&self) -> Weight {
        let mut n = Vec::new();
        write_compact_size(&mut n, self.txdata.len() as u64);
        let txs: u64 = self.txdata.iter().map(|t| t.weight().to_wu()).sum();
        Weight::from_wu((80 + n.len() as u64) * 4 + txs)
    }

    /// Returns the merkle root of the block's txids.
    pub fn compute_merkle_root(&self) -> [u8; 32] {
        merkle_root(
            self.txdata
                .iter()
                .map(|t| t.txid().to_byte_array())
                .collect(),
        )
    }
}

/// Core's `ComputeMerkleRoot`: pairs hashed with double SHA256, an odd last one paired
/// with itself; the empty list gives zero.
pub fn merkle_root(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    if level.is_empty() {
        return [0; 32];
    }
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            let last = *level.last().expect("the level is not empty");
            level.push(last);
        }
        level = level
            .chunks_exact(2)
            .map(|pair| {
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&pair[0]);
                buf[32..].copy_from_slice(&pair[1]);
                sha256d(&buf)
            })
            .collect();
    }
    level[0]
}

/// The BIP-0141 commitment: SHA256d(witness merkle root || reserved value), where the
/// witness merkle root is over the wtxids with the coinbase's taken as zero.
pub fn witness_commitment(txdata: &[Transaction], reserved: &[u8; 32]) -> [u8; 32] {
    let wtxids = txdata
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            if i == 0 {
                [0; 32]
            } else {
                tx.wtxid().to_byte_array()
            }
        })
        .collect();
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&merkle_root(wtxids));
    buf[32..].copy_from_slice(reserved);
    sha256d(&buf)
}

/// The `OP_RETURN aa21a9ed <commitment>` output script.
pub fn witness_commitment_script(commitment: &[u8; 32]) -> ScriptBuf {
    let mut data = WITNESS_COMMITMENT_HEADER.to_vec();
    data.extend_from_slice(commitment);
    let mut s = ScriptBuf::new();
    s.push_opcode(OP_RETURN).push_slice(&data);
    s
}

/// Finds the witness commitment in a coinbase as Core does: the *last* output whose
/// script is at least 38 bytes and starts with `OP_RETURN 0x24 aa21a9ed`.
pub fn find_witness_commitment(coinbase: &Transaction) -> Option<[u8; 32]> {
    coinbase.output.iter().rev().find_map(|o| {
        let b = o.script_pubkey.as_bytes();
        (b.len() >= 38 && b[0] == OP_RETURN && b[1] == 0x24 && b[2..6] == WITNESS_COMMITMENT_HEADER)
            .then(|| b[6..38].try_into().expect("32 bytes"))
    })
}

/// The block subsidy at `height`: 50 BTC halved every [`HALVING_INTERVAL`] blocks.
pub fn subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * crate::units::SAT_PER_BTC) >> halvings)
}

/// The scriptSig prefix BIP-0034 requires: the height as Core's `CScript() << nHeight`.
pub fn bip34_prefix(height: u32) -> ScriptBuf {
    let mut s = ScriptBuf::new();
    s.push_int(i64::from(height));
    s
}

/// Builds the coinbase for a block at `height`: BIP-0034 height then `OP_0` (as Core's
/// miner; keeps the scriptSig at least 2 bytes), `value` to `script`, the witness
/// reserved value (32 zero bytes) as its witness; the commitment output is added by
/// [`finish_block`].
pub fn coinbase(height: u32, script: ScriptBuf, value: Amount) -> Transaction {
    let mut script_sig = bip34_prefix(height);
    script_sig.push_opcode(OP_0);
    let mut input = TxIn::new(OutPoint::NULL, u32::MAX);
    input.script_sig = script_sig;
    input.witness = Witness::from_items(vec![vec![0u8; 32]]);
    Transaction {
        version: 2,
        lock_time: 0,
        input: vec![input],
        output: vec![TxOut {
            value,
            script_pubkey: script,
        }],
    }
}

/// Adds the witness commitment to the coinbase (`txdata[0]`), fixes the merkle root and
/// grinds the proof of work.
pub fn finish_block(prev: BlockHash, time: u32, mut txdata: Vec<Transaction>) -> Block {
    let commitment = witness_commitment(&txdata, &[0; 32]);
    if let Some(cb) = txdata.first_mut() {
        cb.output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: witness_commitment_script(&commitment),
        });
    }
    let mut block = Block {
        header: BlockHeader {
            version: BLOCK_VERSION,
            prev_blockhash: prev,
            merkle_root: [0; 32],
            time,
            bits: REGTEST_BITS,
            nonce: 0,
        },
        txdata,
    };
    block.header.merkle_root = block.compute_merkle_root();
    // At regtest's target about one nonce in two works; running out means a new time.
    while !block.header.grind() {
        block.header.time += 1;
    }
    block
}

/// The regtest genesis block, rebuilt from its known coinbase ("The Times 03/Jan/2009 …").
pub fn regtest_genesis() -> Block {
    const SCRIPT_SIG: &str = "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73";
    const OUTPUT_SCRIPT: &str = "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac";
    let mut input = TxIn::new(OutPoint::NULL, u32::MAX);
    input.script_sig = ScriptBuf::from_hex(SCRIPT_SIG).expect("constant hex");
    let coinbase = Transaction {
        version: 1,
        lock_time: 0,
        input: vec![input],
        output: vec![TxOut {
            value: Amount::from_sat(50 * crate::units::SAT_PER_BTC),
            script_pubkey: ScriptBuf::from_hex(OUTPUT_SCRIPT).expect("constant hex"),
        }],
    };
    let mut block = Block {
        header: BlockHeader {
            version: 1,
            prev_blockhash: BlockHash::default(),
            merkle_root: [0; 32],
            time: 1_296_688_602,
            bits: REGTEST_BITS,
            nonce: 2,
        },
        txdata: vec![coinbase],
    };
    block.header.merkle_root = block.compute_merkle_root();
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_hash_and_merkle_root() {
        let g = regtest_genesis();
        assert_eq!(g.block_hash().to_string(), REGTEST_GENESIS_HASH);
        let mut root = g.header.merkle_root;
        root.reverse();
        assert_eq!(
            hex::encode(root),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        );
        assert!(g.header.check_pow());
        let round = Block::deserialize(&g.serialize()).unwrap();
        assert_eq!(round, g);
    }

    #[test]
    fn compact_targets() {
        let t = compact_to_target(REGTEST_BITS).unwrap();
        assert_eq!(&t[..4], &[0x7f, 0xff, 0xff, 0]);
        assert!(t[3..].iter().all(|&b| b == 0));
        let main = compact_to_target(0x1d00_ffff).unwrap();
        assert_eq!(&main[..6], &[0, 0, 0, 0, 0xff, 0xff]);
        assert!(compact_to_target(0x0480_0000).is_none());
    }

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(subsidy(0).to_sat(), 5_000_000_000);
        assert_eq!(subsidy(149).to_sat(), 5_000_000_000);
        assert_eq!(subsidy(150).to_sat(), 2_500_000_000);
        assert_eq!(subsidy(300).to_sat(), 1_250_000_000);
        assert_eq!(subsidy(150 * 64), Amount::ZERO);
    }

    #[test]
    fn mined_block_commits_to_witnesses() {
        let g = regtest_genesis();
        let cb = coinbase(1, ScriptBuf::new_p2wpkh(&[1; 20]), subsidy(1));
        assert_eq!(cb.input[0].script_sig.as_bytes(), &[0x51, 0x00]);
        let b = finish_block(g.block_hash(), g.header.time + 1, vec![cb]);
        assert!(b.header.check_pow());
        assert_eq!(b.header.merkle_root, b.compute_merkle_root());
        let c = find_witness_commitment(&b.txdata[0]).unwrap();
        assert_eq!(c, witness_commitment(&b.txdata, &[0; 32]));
        assert_eq!(bip34_prefix(1000).as_bytes(), &[0x02, 0xe8, 0x03]);
    }
}
