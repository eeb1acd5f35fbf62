//! Package topology as Bitcoin Core's policy/packages.cpp defines it: a package is one
//! child with some or all of its unconfirmed parents, topologically sorted. Pure checks,
//! shared by the devnet's `submitpackage` and the relay's package submission.

use std::collections::HashSet;

use super::{Transaction, Txid};

/// Core's `MAX_PACKAGE_COUNT`.
pub const MAX_PACKAGE_COUNT: usize = 25;
/// Core's `MAX_PACKAGE_WEIGHT`.
pub const MAX_PACKAGE_WEIGHT: u64 = 404_000;

/// Core's `IsChildWithParents`: every transaction but the last is a parent of the last.
pub fn is_child_with_parents(package: &[Transaction]) -> bool {
    let Some((child, parents)) = package.split_last() else {
        return false;
    };
    if parents.is_empty() {
        return false;
    }
    let inputs: HashSet<Txid> = child.input.iter().map(|i| i.previous_output.txid).collect();
    parents.iter().all(|p| inputs.contains(&p.txid()))
}

/// Core's `IsChildWithParentsTree`: child-with-parents, and no parent spends another.
pub fn is_child_with_parents_tree(package: &[Transaction]) -> bool {
    if !is_child_with_parents(package) {
        return false;
    }
    let parents = &package[..package.len() - 1];
    let ids: HashSet<Txid> = parents.iter().map(Transaction::txid).collect();
    parents.iter().all(|p| {
        p.input
            .iter()
            .all(|i| !ids.contains(&i.previous_output.txid))
    })
}

/// Core's `IsWellFormedPackage`: at most 25 transactions and 404 kWU, no duplicates,
/// sorted (no transaction spends a later one), no two spending the same output.
///
/// # Errors
/// Core's package reason.
pub fn check_well_formed(package: &[Transaction]) -> Result<(), String> {
    if package.len() > MAX_PACKAGE_COUNT {
        return Err("package-too-many-transactions".into());
    }
    let weight: u64 = package.iter().map(|t| t.weight().to_wu()).sum();
    if package.len() > 1 && weight > MAX_PACKAGE_WEIGHT {
        return Err("package-too-large".into());
    }
    let txids: Vec<Txid> = package.iter().map(Transaction::txid).collect();
    let unique: HashSet<Txid> = txids.iter().copied().collect();
    if unique.len() != txids.len() {
        return Err("package-contains-duplicates".into());
    }
    for (i, tx) in package.iter().enumerate() {
        let later: HashSet<Txid> = txids[i..].iter().copied().collect();
        if tx
            .input
            .iter()
            .any(|x| later.contains(&x.previous_output.txid))
        {
            return Err("package-not-sorted".into());
        }
    }
    let mut spent = HashSet::new();
    for tx in package {
        for txin in &tx.input {
            if !spent.insert(txin.previous_output) {
                return Err("conflict-in-package".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{OutPoint, TxIn, TxOut};
    use crate::units::Amount;

    fn tx(spends: &[(Txid, u32)], tag: u8) -> Transaction {
        Transaction {
            version: 2,
            lock_time: 0,
            input: spends
                .iter()
                .map(|&(txid, vout)| TxIn::new(OutPoint { txid, vout }, 0xffff_fffd))
                .collect(),
            output: vec![TxOut {
                value: Amount::from_sat(1000 + u64::from(tag)),
                script_pubkey: crate::script::ScriptBuf::new_p2wpkh(&[tag; 20]),
            }],
        }
    }

    #[test]
    fn topology_and_well_formedness() {
        let base = Txid::from_byte_array([1; 32]);
        let p1 = tx(&[(base, 0)], 1);
        let p2 = tx(&[(base, 1)], 2);
        let child = tx(&[(p1.txid(), 0), (p2.txid(), 0)], 3);
        let pkg = vec![p1.clone(), p2.clone(), child.clone()];
        assert!(is_child_with_parents_tree(&pkg));
        assert_eq!(check_well_formed(&pkg), Ok(()));
        // Sorted wrongly: the child first.
        let unsorted = vec![child.clone(), p1.clone()];
        assert!(!is_child_with_parents(&unsorted));
        assert_eq!(
            check_well_formed(&unsorted).unwrap_err(),
            "package-not-sorted"
        );
        // A parent spending another parent: child-with-parents, not a tree.
        let p3 = tx(&[(p1.txid(), 0)], 4);
        let child2 = tx(&[(p1.txid(), 1), (p3.txid(), 0)], 5);
        let chain = vec![p1.clone(), p3, child2];
        assert!(is_child_with_parents(&chain));
        assert!(!is_child_with_parents_tree(&chain));
        // Two spending the same output.
        let twin = tx(&[(base, 0)], 6);
        assert_eq!(
            check_well_formed(&[p1.clone(), twin]).unwrap_err(),
            "conflict-in-package"
        );
        assert_eq!(
            check_well_formed(&[p1.clone(), p1]).unwrap_err(),
            "package-contains-duplicates"
        );
        assert!(!is_child_with_parents(&[child]));
    }
}
