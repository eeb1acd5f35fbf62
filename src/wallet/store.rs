//! `wallet.sqlite`: a wallet's public state — network, address type, account key and
//! descriptors, the address indexes handed out, and labels. No secrets are ever stored here
//! (the mnemonic lives only in the encrypted keystore). File I/O only, never the network.
//!
//! The schema is versioned with `PRAGMA user_version`; a database from a newer ferry is
//! refused rather than misread.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Account, WalletError};
use crate::keys::{KeyChain, Xpub};
use crate::network::Network;
use crate::script::{AddressType, ScriptBuf};

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i32 = 3;

const SCHEMA: &str = "
CREATE TABLE wallet (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    network             TEXT NOT NULL,
    address_type        TEXT NOT NULL,
    master_fingerprint  TEXT NOT NULL,
    account_path        TEXT NOT NULL,
    account_xpub        TEXT NOT NULL,
    receive_descriptor  TEXT NOT NULL,
    change_descriptor   TEXT NOT NULL,
    next_receive_index  INTEGER NOT NULL,
    next_change_index   INTEGER NOT NULL,
    created_at          INTEGER NOT NULL
);
CREATE TABLE addresses (
    chain          INTEGER NOT NULL CHECK (chain IN (0, 1)),
    idx            INTEGER NOT NULL,
    address        TEXT NOT NULL,
    script_pubkey  TEXT NOT NULL,
    handed_out_at  INTEGER NOT NULL,
    PRIMARY KEY (chain, idx)
);
CREATE TABLE labels (
    kind   TEXT NOT NULL,
    ref    TEXT NOT NULL,
    label  TEXT NOT NULL,
    PRIMARY KEY (kind, ref)
);
";

/// An address recorded as handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedOut {
    /// Receive or change.
    pub chain: KeyChain,
    /// Index on the chain.
    pub index: u32,
    /// The address text.
    pub address: String,
    /// Its scriptPubKey, hex.
    pub script_pubkey: String,
}

/// An open `wallet.sqlite`.
#[derive(Debug)]
pub struct WalletStore {
    conn: Connection,
    path: PathBuf,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn chain_code(chain: KeyChain) -> i64 {
    match chain {
        KeyChain::Receive => 0,
        KeyChain::Change => 1,
    }
}

impl WalletStore {
    /// Creates a new database at `path` (which must not exist) holding `account`.
    ///
    /// # Errors
    /// [`WalletError::Database`] if the file exists or cannot be written.
    pub fn create(path: &Path, account: &Account) -> Result<Self, WalletError> {
        if path.exists() {
            return Err(WalletError::db(path, "already exists"));
        }
        // Owner only from the first byte (SQLite would create it with the umask's mode).
        crate::fs::create_private_file(path).map_err(|e| WalletError::db(path, e))?;
        let conn = Connection::open(path).map_err(|e| WalletError::db(path, e))?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.init(account)?;
        Ok(store)
    }

    fn init(&self, account: &Account) -> Result<(), WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(&self.path, e);
        self.conn.execute_batch("BEGIN").map_err(db)?;
        self.conn.execute_batch(SCHEMA).map_err(db)?;
        self.conn
            .execute(
                "INSERT INTO wallet VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8)",
                params![
                    account.network.name(),
                    account.address_type.name(),
                    account.master_fingerprint.to_string(),
                    account.account_path.to_string(),
                    account.account_xpub.to_string(),
                    account.receive.to_string(),
                    account.change.to_string(),
                    now(),
                ],
            )
            .map_err(db)?;
        self.conn
            .execute_batch(super::cache::MIGRATION_2)
            .map_err(db)?;
        self.conn
            .execute_batch(super::label_store::MIGRATION_3)
            .map_err(db)?;
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db)?;
        self.conn.execute_batch("COMMIT").map_err(db)
    }

    /// The connection, for the chain cache (`cache.rs`).
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens an existing database for reading and writing.
    ///
    /// # Errors
    /// [`WalletError::Database`] if it is missing, damaged or of another schema version.
    pub fn open(path: &Path) -> Result<Self, WalletError> {
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens an existing database read-only (for listing wallets).
    ///
    /// # Errors
    /// As [`WalletStore::open`].
    pub fn open_read_only(path: &Path) -> Result<Self, WalletError> {
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, WalletError> {
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| WalletError::db(path, e))?;
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| WalletError::db(path, e))?;
        let read_only = flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY);
        if (1..SCHEMA_VERSION).contains(&version) && read_only {
            // Listing wallets reads the account, which every version has.
            return Ok(Self {
                conn,
                path: path.to_path_buf(),
            });
        }
        if !(1..=SCHEMA_VERSION).contains(&version) {
            return Err(WalletError::db(
                path,
                format!(
                    "schema version {version}, this ferry reads version {SCHEMA_VERSION} (is it from another ferry version?)"
                ),
            ));
        }
        // Older versions are upgraded in place, one step at a time, each in a transaction.
        let db = |e: rusqlite::Error| WalletError::db(path, e);
        if version == 1 {
            super::cache::migrate_1_to_2(&conn).map_err(db)?;
        }
        if version <= 2 {
            super::label_store::migrate_2_to_3(&conn).map_err(db)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Returns the account stored in the database.
    ///
    /// # Errors
    /// [`WalletError::Database`] if a stored value does not parse.
    pub fn account(&self) -> Result<Account, WalletError> {
        let row = self
            .conn
            .query_row(
                "SELECT network, address_type, master_fingerprint, account_path, account_xpub,
                        receive_descriptor, change_descriptor FROM wallet WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .map_err(|e| WalletError::db(&self.path, e))?;
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            WalletError::db(&self.path, format!("stored {what} does not parse: {e}"))
        };
        let network: Network = row.0.parse().map_err(|e| bad("network", &e))?;
        let address_type: AddressType = row.1.parse().map_err(|e| bad("address type", &e))?;
        let fingerprint = row.2.parse().map_err(|e| bad("fingerprint", &e))?;
        let path = row.3.parse().map_err(|e| bad("account path", &e))?;
        let xpub = row
            .4
            .parse::<Xpub>()
            .and_then(|x| x.with_network(network))
            .map_err(|e| bad("account xpub", &e))?;
        let account = Account::from_parts(network, address_type, fingerprint, path, xpub);
        // The descriptors are stored for outside readers; they must agree with the key.
        if account.receive.to_string() != row.5 || account.change.to_string() != row.6 {
            return Err(WalletError::db(
                &self.path,
                "stored descriptors do not match the stored account key",
            ));
        }
        Ok(account)
    }

    /// Returns the next index of `chain` that has not been handed out.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure.
    pub fn next_unused_index(&self, chain: KeyChain) -> Result<u32, WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(&self.path, e);
        let column = match chain {
            KeyChain::Receive => "next_receive_index",
            KeyChain::Change => "next_change_index",
        };
        let mut index: i64 = self
            .conn
            .query_row(
                &format!("SELECT {column} FROM wallet WHERE id = 1"),
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        // Indexes handed out with --index may lie ahead of the counter: skip them.
        loop {
            let taken = self
                .conn
                .query_row(
                    "SELECT 1 FROM addresses WHERE chain = ?1 AND idx = ?2",
                    params![chain_code(chain), index],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db)?
                .is_some();
            if !taken {
                break;
            }
            index += 1;
        }
        u32::try_from(index).map_err(|_| WalletError::db(&self.path, "address index out of range"))
    }

    /// Records an address as handed out, and moves the chain's counter past it.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a write failure.
    pub fn record_handed_out(
        &self,
        chain: KeyChain,
        index: u32,
        address: &str,
        script_pubkey: &ScriptBuf,
    ) -> Result<(), WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(&self.path, e);
        let column = match chain {
            KeyChain::Receive => "next_receive_index",
            KeyChain::Change => "next_change_index",
        };
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let result = (|| {
            self.conn.execute(
                "INSERT OR IGNORE INTO addresses VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    chain_code(chain),
                    i64::from(index),
                    address,
                    script_pubkey.to_hex(),
                    now()
                ],
            )?;
            self.conn.execute(
                &format!("UPDATE wallet SET {column} = ?1 WHERE id = 1 AND {column} = ?2"),
                params![i64::from(index) + 1, i64::from(index)],
            )?;
            self.conn.execute_batch("COMMIT")
        })();
        if result.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result.map_err(db)
    }

    /// Returns the addresses of `chain` handed out so far, by index.
    ///
    /// # Errors
    /// [`WalletError::Database`] on a read failure.
    pub fn handed_out(&self, chain: KeyChain) -> Result<Vec<HandedOut>, WalletError> {
        let db = |e: rusqlite::Error| WalletError::db(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT idx, address, script_pubkey FROM addresses WHERE chain = ?1 ORDER BY idx",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![chain_code(chain)], |r| {
                Ok(HandedOut {
                    chain,
                    index: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                    address: r.get(1)?,
                    script_pubkey: r.get(2)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;

    const ABOUT: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                         abandon abandon about";

    fn account() -> Account {
        let m = Mnemonic::parse(ABOUT).unwrap();
        Account::from_mnemonic(&m, "", Network::Bitcoin, AddressType::P2wpkh).unwrap()
    }

    #[test]
    fn round_trips_account_indexes_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.sqlite");
        let acct = account();
        let store = WalletStore::create(&path, &acct).unwrap();
        assert!(WalletStore::create(&path, &acct).is_err());
        drop(store);
        let store = WalletStore::open(&path).unwrap();
        assert_eq!(store.account().unwrap(), acct);
        assert_eq!(store.next_unused_index(KeyChain::Receive).unwrap(), 0);
        let spk = ScriptBuf::from_hex("0014aa").unwrap();
        store
            .record_handed_out(KeyChain::Receive, 0, "a0", &spk)
            .unwrap();
        store
            .record_handed_out(KeyChain::Receive, 2, "a2", &spk)
            .unwrap();
        assert_eq!(store.next_unused_index(KeyChain::Receive).unwrap(), 1);
        store
            .record_handed_out(KeyChain::Receive, 1, "a1", &spk)
            .unwrap();
        // 2 was handed out with --index before: skipped.
        assert_eq!(store.next_unused_index(KeyChain::Receive).unwrap(), 3);
        assert_eq!(store.next_unused_index(KeyChain::Change).unwrap(), 0);
        assert_eq!(store.handed_out(KeyChain::Receive).unwrap().len(), 3);
        store.set_label("addr", "a0", "from Alice").unwrap();
        assert_eq!(
            store.label("addr", "a0").unwrap().as_deref(),
            Some("from Alice")
        );
        store.set_label("addr", "a0", "").unwrap();
        assert_eq!(store.label("addr", "a0").unwrap(), None);
    }

    #[test]
    fn refuses_other_schema_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.sqlite");
        drop(WalletStore::create(&path, &account()).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = WalletStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
