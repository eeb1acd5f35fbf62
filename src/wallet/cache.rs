//! The chain cache in `wallet.sqlite` (schema version 2): the wallet's unspent coins and
//! transactions with their heights, as the last sync found them, and the tip it saw.
//! Public data only; rebuilt wholesale by each sync.

use rusqlite::{Connection, OptionalExtension, params};

use super::builder::WalletUtxo;
use super::{WalletError, WalletStore};
use crate::keys::KeyChain;
use crate::script::ScriptBuf;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::units::Amount;

/// Tables added by schema version 2.
pub(super) const MIGRATION_2: &str = "
CREATE TABLE utxos (
    txid           TEXT NOT NULL,
    vout           INTEGER NOT NULL,
    value_sat      INTEGER NOT NULL,
    script_pubkey  TEXT NOT NULL,
    chain          INTEGER NOT NULL CHECK (chain IN (0, 1)),
    idx            INTEGER NOT NULL,
    height         INTEGER,
    PRIMARY KEY (txid, vout)
);
CREATE TABLE txs (
    txid     TEXT PRIMARY KEY,
    hex      TEXT NOT NULL,
    height   INTEGER,
    fee_sat  INTEGER
);
CREATE TABLE chain_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    tip_height  INTEGER NOT NULL,
    synced_at   INTEGER NOT NULL
);
";

/// Upgrades a version-1 database in one transaction.
pub(super) fn migrate_1_to_2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = conn
        .execute_batch(MIGRATION_2)
        .and_then(|()| conn.pragma_update(None, "user_version", 2))
        .and_then(|()| conn.execute_batch("COMMIT"));
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// A wallet transaction as cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTx {
    /// The transaction.
    pub tx: Transaction,
    /// Its block height, `None` while unconfirmed.
    pub height: Option<u32>,
    /// Its fee, when the backend reported it.
    pub fee: Option<Amount>,
}

fn chain_of(code: i64) -> KeyChain {
    if code == 0 {
        KeyChain::Receive
    } else {
        KeyChain::Change
    }
}

fn code_of(chain: KeyChain) -> i64 {
    match chain {
        KeyChain::Receive => 0,
        KeyChain::Change => 1,
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl WalletStore {
    /// Replaces the cached coins and transactions with what a sync found at `tip_height`.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a write failure (nothing is changed then).
    pub fn replace_chain_cache(
        &self,
        tip_height: u32,
        utxos: &[WalletUtxo],
        txs: &[CachedTx],
    ) -> Result<(), WalletError> {
        let conn = self.conn();
        let db = |e: rusqlite::Error| WalletError::db(self.path(), e);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let result = (|| {
            conn.execute_batch("DELETE FROM utxos; DELETE FROM txs;")?;
            for u in utxos {
                conn.execute(
                    "INSERT INTO utxos VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        u.outpoint.txid.to_string(),
                        i64::from(u.outpoint.vout),
                        to_i64(u.txout.value.to_sat()),
                        u.txout.script_pubkey.to_hex(),
                        code_of(u.chain),
                        i64::from(u.index),
                        u.height.map(i64::from),
                    ],
                )?;
            }
            for t in txs {
                conn.execute(
                    "INSERT OR REPLACE INTO txs VALUES (?1, ?2, ?3, ?4)",
                    params![
                        t.tx.txid().to_string(),
                        t.tx.to_hex(),
                        t.height.map(i64::from),
                        t.fee.map(|f| to_i64(f.to_sat())),
                    ],
                )?;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| to_i64(d.as_secs()));
            conn.execute(
                "INSERT OR REPLACE INTO chain_state VALUES (1, ?1, ?2)",
                params![i64::from(tip_height), now],
            )?;
            conn.execute_batch("COMMIT")
        })();
        if result.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result.map_err(db)
    }

    /// Returns the cached unspent coins.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure or a value that does not parse.
    pub fn cached_utxos(&self) -> Result<Vec<WalletUtxo>, WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(self.path(), e);
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT txid, vout, value_sat, script_pubkey, chain, idx, height FROM utxos
                 ORDER BY height IS NULL, height, txid, vout",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })
            .map_err(db)?;
        let bad =
            |what: &str| WalletError::db(self.path(), format!("cached {what} does not parse"));
        let mut out = Vec::new();
        for row in rows {
            let (txid, vout, value, spk, chain, idx, height) = row.map_err(db)?;
            out.push(WalletUtxo {
                outpoint: OutPoint {
                    txid: txid.parse().map_err(|_| bad("txid"))?,
                    vout: u32::try_from(vout).map_err(|_| bad("vout"))?,
                },
                txout: TxOut {
                    value: Amount::from_sat(u64::try_from(value).map_err(|_| bad("value"))?),
                    script_pubkey: ScriptBuf::from_hex(&spk).map_err(|_| bad("script"))?,
                },
                chain: chain_of(chain),
                index: u32::try_from(idx).map_err(|_| bad("index"))?,
                height: height.and_then(|h| u32::try_from(h).ok()),
            });
        }
        Ok(out)
    }

    /// Returns the cached transactions, oldest first (unconfirmed last).
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure or a value that does not parse.
    pub fn cached_txs(&self) -> Result<Vec<CachedTx>, WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(self.path(), e);
        let mut stmt = self
            .conn()
            .prepare("SELECT hex, height, fee_sat FROM txs ORDER BY height IS NULL, height, txid")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (hex, height, fee) = row.map_err(db)?;
            out.push(CachedTx {
                tx: Transaction::from_hex(&hex)
                    .map_err(|e| WalletError::db(self.path(), format!("cached tx: {e}")))?,
                height: height.and_then(|h| u32::try_from(h).ok()),
                fee: fee
                    .and_then(|f| u64::try_from(f).ok())
                    .map(Amount::from_sat),
            });
        }
        Ok(out)
    }

    /// Returns the tip height the last sync saw, `None` before the first sync.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure.
    pub fn cached_tip(&self) -> Result<Option<u32>, WalletError> {
        self.conn()
            .query_row("SELECT tip_height FROM chain_state WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|h| h.and_then(|h| u32::try_from(h).ok()))
            .map_err(|e| WalletError::db(self.path(), e))
    }
}
