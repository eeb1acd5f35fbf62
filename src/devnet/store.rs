//! Persistence in `DATA_DIR/devnet/devnet.sqlite`: raw blocks by height and raw mempool
//! transactions in arrival order. State (UTXO set, index, mempool) is rebuilt from them
//! on start.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::tx::Txid;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("devnet database: {0}")]
    Sqlite(rusqlite::Error),
    /// The data directory could not be created.
    #[error("devnet data directory {path}: {error}")]
    Dir {
        /// The directory.
        path: String,
        /// The cause (in the message).
        error: std::io::Error,
    },
}

/// The devnet's SQLite database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or database cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        crate::fs::create_private_dir_all(dir).map_err(|error| StoreError::Dir {
            path: dir.display().to_string(),
            error,
        })?;
        let db = dir.join("devnet.sqlite");
        crate::fs::create_private_file(&db).map_err(|error| StoreError::Dir {
            path: db.display().to_string(),
            error,
        })?;
        let conn = Connection::open(&db)?;
        // WAL without a sync per commit: a devnet may lose its last block on power loss,
        // never its consistency.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, raw BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS mempool (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 txid BLOB NOT NULL UNIQUE,
                 raw BLOB NOT NULL);",
        )?;
        Ok(Store { conn })
    }

    /// Returns every stored block (raw), by height from 1.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn blocks(&self) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT height, raw FROM blocks ORDER BY height")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the stored mempool transactions (txid, raw), in arrival order.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn mempool(&self) -> Result<Vec<(Txid, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT txid, raw FROM mempool ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            let mut arr = [0u8; 32];
            // A malformed id (never written by the devnet) maps to zero and is dropped.
            if id.len() == 32 {
                arr.copy_from_slice(&id);
            }
            Ok((Txid::from_byte_array(arr), r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a connected block and the mempool transactions it removed, atomically.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn put_block(
        &mut self,
        height: u32,
        raw: &[u8],
        removed: &[Txid],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO blocks (height, raw) VALUES (?1, ?2)",
            params![height, raw],
        )?;
        {
            let mut del = tx.prepare_cached("DELETE FROM mempool WHERE txid = ?1")?;
            for t in removed {
                del.execute([t.as_bytes().as_slice()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records an accepted mempool transaction and the ones it replaced, atomically.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn put_mempool_tx(
        &mut self,
        txid: &Txid,
        raw: &[u8],
        replaced: &[Txid],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM mempool WHERE txid = ?1")?;
            for t in replaced {
                del.execute([t.as_bytes().as_slice()])?;
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO mempool (txid, raw) VALUES (?1, ?2)",
            params![txid.as_bytes().as_slice(), raw],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets mempool transactions (those that failed to re-enter on start).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn remove_mempool_txs(&mut self, txids: &[Txid]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM mempool WHERE txid = ?1")?;
            for t in txids {
                del.execute([t.as_bytes().as_slice()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

// By hand rather than `#[from]`, which would also make the cause a `source()`: the message
// already carries it, and it should print once.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}
