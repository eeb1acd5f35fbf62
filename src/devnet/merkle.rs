//! Merkle inclusion proofs of a confirmed transaction: Electrum's branch
//! (`blockchain.transaction.get_merkle`, Esplora's `/tx/:txid/merkle-proof`) and Bitcoin
//! Core's `CMerkleBlock` (`gettxoutproof`, Esplora's `/tx/:txid/merkleblock-proof`), over
//! txids in internal byte order.

use super::block::BlockHeader;
use crate::hashes::sha256d;
use crate::tx::encode::write_compact_size;

fn parent(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left);
    buf[32..].copy_from_slice(right);
    sha256d(&buf)
}

/// The sibling hashes from the leaf at `pos` up to the root (an odd last node is paired
/// with itself, as in the merkle root); empty for a one-transaction block. `None` when
/// `pos` is out of range.
pub fn merkle_branch(txids: &[[u8; 32]], pos: usize) -> Option<Vec<[u8; 32]>> {
    if pos >= txids.len() {
        return None;
    }
    let mut level = txids.to_vec();
    let mut index = pos;
    let mut branch = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            let last = *level.last().expect("the level is not empty");
            level.push(last);
        }
        branch.push(level[index ^ 1]);
        level = level
            .chunks_exact(2)
            .map(|p| parent(&p[0], &p[1]))
            .collect();
        index /= 2;
    }
    Some(branch)
}

/// Core's `CPartialMerkleTree` for the transactions `matches` marks: the hashes and the
/// flag bits of a depth-first walk that descends only into subtrees holding a match.
struct PartialTree<'a> {
    txids: &'a [[u8; 32]],
    matches: &'a [bool],
    hashes: Vec<[u8; 32]>,
    bits: Vec<bool>,
}

impl PartialTree<'_> {
    fn width(&self, height: u32) -> usize {
        (self.txids.len() + (1 << height) - 1) >> height
    }

    fn hash(&self, height: u32, pos: usize) -> [u8; 32] {
        if height == 0 {
            return self.txids[pos];
        }
        let left = self.hash(height - 1, pos * 2);
        let right = if pos * 2 + 1 < self.width(height - 1) {
            self.hash(height - 1, pos * 2 + 1)
        } else {
            left
        };
        parent(&left, &right)
    }

    fn traverse(&mut self, height: u32, pos: usize) {
        let start = pos << height;
        let end = ((pos + 1) << height).min(self.txids.len());
        let parent_of_match = self.matches[start..end].iter().any(|m| *m);
        self.bits.push(parent_of_match);
        if height == 0 || !parent_of_match {
            let h = self.hash(height, pos);
            self.hashes.push(h);
        } else {
            self.traverse(height - 1, pos * 2);
            if pos * 2 + 1 < self.width(height - 1) {
                self.traverse(height - 1, pos * 2 + 1);
            }
        }
    }
}

/// Core's serialized `CMerkleBlock` proving the transaction at `pos`: the header, the
/// transaction count, the hashes and the flag bits (least significant bit first). `None`
/// when `pos` is out of range.
pub fn merkle_block(header: &BlockHeader, txids: &[[u8; 32]], pos: usize) -> Option<Vec<u8>> {
    if pos >= txids.len() {
        return None;
    }
    let matches: Vec<bool> = (0..txids.len()).map(|i| i == pos).collect();
    let mut tree = PartialTree {
        txids,
        matches: &matches,
        hashes: Vec::new(),
        bits: Vec::new(),
    };
    let mut height = 0;
    while tree.width(height) > 1 {
        height += 1;
    }
    tree.traverse(height, 0);
    let mut out = header.serialize().to_vec();
    out.extend_from_slice(&u32::try_from(txids.len()).ok()?.to_le_bytes());
    write_compact_size(&mut out, tree.hashes.len() as u64);
    for h in &tree.hashes {
        out.extend_from_slice(h);
    }
    let mut flags = vec![0u8; tree.bits.len().div_ceil(8)];
    for (i, bit) in tree.bits.iter().enumerate() {
        if *bit {
            flags[i / 8] |= 1 << (i % 8);
        }
    }
    write_compact_size(&mut out, flags.len() as u64);
    out.extend_from_slice(&flags);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::block::merkle_root;

    fn leaves(n: u8) -> Vec<[u8; 32]> {
        (0..n).map(|i| sha256d(&[i])).collect()
    }

    #[test]
    fn every_branch_climbs_to_the_root() {
        for n in 1..=9u8 {
            let txids = leaves(n);
            let root = merkle_root(txids.clone());
            for pos in 0..usize::from(n) {
                let mut h = txids[pos];
                let mut index = pos;
                for sibling in merkle_branch(&txids, pos).unwrap() {
                    h = if index % 2 == 0 {
                        parent(&h, &sibling)
                    } else {
                        parent(&sibling, &h)
                    };
                    index /= 2;
                }
                assert_eq!(h, root, "n={n} pos={pos}");
            }
            assert!(merkle_branch(&txids, usize::from(n)).is_none());
        }
    }

    #[test]
    fn merkle_block_of_a_single_transaction_block() {
        let header = crate::devnet::block::regtest_genesis().header;
        let txids = leaves(1);
        let mb = merkle_block(&header, &txids, 0).unwrap();
        // Header, count 1, one hash, one flag byte with the bit set.
        assert_eq!(mb.len(), 80 + 4 + 1 + 32 + 1 + 1);
        assert_eq!(&mb[80..84], &1u32.to_le_bytes());
        assert_eq!(mb[84], 1);
        assert_eq!(&mb[85..117], &txids[0]);
        assert_eq!(&mb[117..], &[1, 1]);
    }
}
