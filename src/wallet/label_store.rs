//! Labels in `wallet.sqlite` (schema version 3 adds `origin` and `spendable` to the
//! `labels` table of version 2) and the `Wallet` methods around them: label one thing,
//! read them all, import and export BIP-0329 records. File I/O only.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::labels::{LabelBook, LabelRecord, LabelType};
use super::{Wallet, WalletError, WalletStore};
use crate::tx::OutPoint;

/// Columns added by schema version 3 (a version-2 label row keeps its text; `origin` and
/// `spendable` start unset). An empty `label` means "no label" on a row kept for `spendable`.
pub(super) const MIGRATION_3: &str = "
ALTER TABLE labels ADD COLUMN origin TEXT;
ALTER TABLE labels ADD COLUMN spendable INTEGER CHECK (spendable IN (0, 1));
";

/// Upgrades a version-2 database in one transaction.
pub(super) fn migrate_2_to_3(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = conn
        .execute_batch(MIGRATION_3)
        .and_then(|()| conn.pragma_update(None, "user_version", 3))
        .and_then(|()| conn.execute_batch("COMMIT"));
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

fn put(conn: &Connection, r: &LabelRecord) -> rusqlite::Result<()> {
    // A missing label or spendable leaves the stored one alone (BIP-0329, Importing).
    conn.execute(
        "INSERT INTO labels (kind, ref, label, origin, spendable)
         VALUES (?1, ?2, COALESCE(?3, ''), ?4, ?5)
         ON CONFLICT (kind, ref) DO UPDATE SET
             label = COALESCE(?3, label),
             origin = COALESCE(?4, origin),
             spendable = COALESCE(?5, spendable)",
        params![r.kind.as_str(), r.reference, r.label, r.origin, r.spendable],
    )?;
    conn.execute(
        "DELETE FROM labels WHERE kind = ?1 AND ref = ?2 AND label = '' AND spendable IS NULL",
        params![r.kind.as_str(), r.reference],
    )?;
    Ok(())
}

impl WalletStore {
    /// Sets (or, with an empty `label`, removes) the label of a thing, BIP-0329 style:
    /// `kind` is `addr`, `tx`, `output`…, `reference` its address, txid or outpoint. A
    /// `spendable` mark on the row is kept.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a write failure or an unknown kind.
    pub fn set_label(&self, kind: &str, reference: &str, label: &str) -> Result<(), WalletError> {
        let kind: LabelType = kind.parse().map_err(|e| WalletError::db(self.path(), e))?;
        self.put_labels(&[LabelRecord {
            kind,
            reference: reference.to_owned(),
            label: Some(label.to_owned()),
            origin: None,
            spendable: None,
        }])
    }

    /// Applies `records` in one transaction: all of them, or (on an error) none.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a write failure; nothing is changed then.
    pub fn put_labels(&self, records: &[LabelRecord]) -> Result<(), WalletError> {
        let conn = self.conn();
        let db = |e: rusqlite::Error| WalletError::db(self.path(), e);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let result = records
            .iter()
            .try_for_each(|r| put(conn, r))
            .and_then(|()| conn.execute_batch("COMMIT"));
        if result.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result.map_err(db)
    }

    /// Returns the label of a thing, if any.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure.
    pub fn label(&self, kind: &str, reference: &str) -> Result<Option<String>, WalletError> {
        self.conn()
            .query_row(
                "SELECT label FROM labels WHERE kind = ?1 AND ref = ?2 AND label != ''",
                params![kind, reference],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| WalletError::db(self.path(), e))
    }

    /// Returns every stored record, by type then reference.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure or a row of an unknown type.
    pub fn labels(&self) -> Result<Vec<LabelRecord>, WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(self.path(), e);
        let mut stmt = self
            .conn()
            .prepare("SELECT kind, ref, label, origin, spendable FROM labels ORDER BY ref")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<bool>>(4)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, reference, label, origin, spendable) = row.map_err(db)?;
            out.push(LabelRecord {
                kind: kind.parse().map_err(|e| WalletError::db(self.path(), e))?,
                reference,
                label: (!label.is_empty()).then_some(label),
                origin,
                spendable,
            });
        }
        out.sort_by_key(|r| r.kind);
        Ok(out)
    }
}

impl Wallet {
    /// The BIP-0329 `origin` of this wallet: its descriptor with the key origin only,
    /// e.g. `wpkh([d34db33f/84'/1'/0'])`.
    pub fn label_origin(&self) -> String {
        let a = &self.account;
        let path = a.account_path.to_string();
        let origin = format!(
            "[{}{}]",
            a.master_fingerprint,
            path.strip_prefix('m').unwrap_or(&path)
        );
        match a.address_type {
            crate::script::AddressType::P2pkh => format!("pkh({origin})"),
            crate::script::AddressType::P2shP2wpkh => format!("sh(wpkh({origin}))"),
            crate::script::AddressType::P2wpkh => format!("wpkh({origin})"),
            crate::script::AddressType::P2tr => format!("tr({origin})"),
        }
    }

    /// A record for this wallet: `reference` checked as a `kind` of the wallet's network,
    /// the wallet's origin attached.
    ///
    /// # Errors
    /// [`super::labels::LabelError::BadRef`].
    pub fn label_record(
        &self,
        kind: LabelType,
        reference: &str,
        label: &str,
    ) -> Result<LabelRecord, super::labels::LabelError> {
        let mut r = LabelRecord::new(kind, reference, label, self.network())?;
        r.origin = Some(self.label_origin());
        Ok(r)
    }

    /// Stores `records` (from [`Wallet::label_record`] or an import) in one transaction.
    ///
    /// # Errors
    /// A database error; nothing is stored then.
    pub fn put_labels(&mut self, records: &[LabelRecord]) -> Result<(), WalletError> {
        self.store.put_labels(records)?;
        self.frozen = unspendable(&self.store)?;
        Ok(())
    }

    /// The label of one thing (`reference` in canonical form), if any.
    ///
    /// # Errors
    /// A database error.
    pub fn label_of(
        &self,
        kind: LabelType,
        reference: &str,
    ) -> Result<Option<String>, WalletError> {
        self.store.label(kind.as_str(), reference)
    }

    /// Every label of the wallet, to look things up.
    ///
    /// # Errors
    /// A database error.
    pub fn label_book(&self) -> Result<LabelBook, WalletError> {
        Ok(LabelBook::new(self.store.labels()?))
    }

    /// Every record, as BIP-0329 JSON Lines (one `\n` after each).
    ///
    /// # Errors
    /// A database error.
    pub fn export_labels(&self) -> Result<String, WalletError> {
        Ok(self
            .store
            .labels()?
            .iter()
            .map(|r| r.to_json_line() + "\n")
            .collect())
    }
}

/// The outputs marked `spendable: false`, which coin selection leaves alone.
pub(super) fn unspendable(store: &WalletStore) -> Result<HashSet<OutPoint>, WalletError> {
    let db = |e: rusqlite::Error| WalletError::db(store.path(), e);
    let mut stmt = store
        .conn()
        .prepare("SELECT ref FROM labels WHERE kind = 'output' AND spendable = 0")
        .map_err(db)?;
    let refs = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    // Stored refs were checked on the way in; one that does not parse marks nothing.
    Ok(refs.iter().filter_map(|r| r.parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &[u8] = include_bytes!("../../fixtures/wallet-v2.sqlite");

    #[test]
    fn a_version_2_file_keeps_its_labels_as_version_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.sqlite");
        std::fs::write(&path, V2).unwrap();
        let v = |p: &std::path::Path| -> i32 {
            Connection::open(p)
                .unwrap()
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap()
        };
        assert_eq!(v(&path), 2);
        // Read-only (listing wallets) leaves it as it is.
        drop(
            WalletStore::open_read_only(&path)
                .unwrap()
                .account()
                .unwrap(),
        );
        assert_eq!(v(&path), 2);
        let store = WalletStore::open(&path).unwrap();
        assert_eq!(v(&path), 3);
        let labels = store.labels().unwrap();
        let texts: Vec<(&str, &str)> = labels
            .iter()
            .map(|r| (r.kind.as_str(), r.label.as_deref().unwrap()))
            .collect();
        assert_eq!(
            texts,
            [
                ("tx", "rent — March"),
                ("addr", "from Alice"),
                ("addr", "donations"),
                ("output", "change from rent"),
            ]
        );
        assert!(
            labels
                .iter()
                .all(|r| r.origin.is_none() && r.spendable.is_none())
        );
        // The new columns work on the migrated file.
        let out = labels[3].clone();
        store
            .put_labels(&[LabelRecord {
                label: None,
                spendable: Some(false),
                ..out.clone()
            }])
            .unwrap();
        store.set_label("output", &out.reference, "").unwrap();
        let kept = store.labels().unwrap();
        assert_eq!(
            kept[3].spendable,
            Some(false),
            "the mark outlives its label"
        );
        assert_eq!(kept[3].label, None);
        drop(store);
        assert_eq!(v(&path), 3);
        WalletStore::open(&path).unwrap();
    }

    #[test]
    fn a_refused_batch_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.sqlite");
        std::fs::write(&path, V2).unwrap();
        let store = WalletStore::open(&path).unwrap();
        let before = store.labels().unwrap();
        let good = LabelRecord {
            kind: LabelType::Tx,
            reference: "00".repeat(32),
            label: Some("new".into()),
            origin: None,
            spendable: None,
        };
        // The second record fails inside the transaction: the first goes with it.
        store
            .conn()
            .execute_batch("CREATE TRIGGER no_xpub BEFORE INSERT ON labels WHEN NEW.kind = 'xpub' BEGIN SELECT RAISE(ABORT, 'refused'); END;")
            .unwrap();
        let bad = LabelRecord {
            kind: LabelType::Xpub,
            ..good.clone()
        };
        assert!(store.put_labels(&[good, bad]).is_err());
        assert_eq!(store.labels().unwrap(), before);
    }
}
