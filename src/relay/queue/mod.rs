//! The relay's durable queue: `DATA_DIR/relay/queue.sqlite`.
//!
//! Durability: the relay answers 202 only after the submission's transaction has committed.
//! The database runs in WAL mode with `synchronous=FULL`, so each commit fsyncs the WAL and
//! an accepted transaction survives a power cut, not only a process crash (`NORMAL` in WAL
//! mode would survive `kill -9` but could lose the last commits on power loss — too weak for
//! a promise a receipt is signed over).
//!
//! Group commit: one writer thread owns the write connection. Submissions and worker
//! updates reach it through a channel; it takes everything waiting (up to [`MAX_BATCH`]),
//! applies it in ONE SQLite transaction, commits (one fsync), then answers every caller.
//! While one batch is being synced, the next one accumulates, so throughput grows with
//! concurrency instead of dying on fsync. Reads use a separate connection (WAL readers do
//! not block the writer).
//!
//! Checkpoints (copying the WAL back into the database file) are not the writer's job: its
//! connection has `wal_autocheckpoint=0`, and a checkpointer thread with its own connection
//! runs PASSIVE checkpoints after commits, at most every 250 ms, so no
//! commit — and no caller waiting on it — pays for one (docs/adr/0006-relay-queue-commit-path.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::tx::Txid;

mod writer;

/// The most commands the writer applies in one SQLite transaction.
pub const MAX_BATCH: usize = 1024;

/// Where a relayed transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted and committed, not yet accepted by the backend.
    Queued,
    /// The backend accepted it (in its mempool).
    Broadcast,
    /// Mined.
    Confirmed,
    /// Given up: a definitive rejection (conflict) or expiry; see `last_error`.
    Failed,
}

impl Status {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Broadcast => "broadcast",
            Status::Confirmed => "confirmed",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, QueueError> {
        Ok(match s {
            "queued" => Status::Queued,
            "broadcast" => Status::Broadcast,
            "confirmed" => Status::Confirmed,
            "failed" => Status::Failed,
            other => return Err(QueueError::Corrupt(format!("unknown status {other:?}"))),
        })
    }
}

/// One relayed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its txid.
    pub txid: Txid,
    /// The raw transaction (with witnesses).
    pub raw: Vec<u8>,
    /// Where it stands.
    pub status: Status,
    /// How many broadcast attempts were made.
    pub attempts: u32,
    /// The last error (backend's reason, or why it failed).
    pub last_error: Option<String>,
    /// The txid the backend reported when it accepted it.
    pub backend_txid: Option<String>,
    /// Who submitted it: a friend's x-only key (hex), or `ip:ADDR` in open mode.
    pub submitted_by: String,
    /// When it was first accepted, Unix milliseconds.
    pub created_at: i64,
    /// When it last changed, Unix milliseconds.
    pub updated_at: i64,
    /// When the worker should look at it next, Unix milliseconds.
    pub next_attempt_at: i64,
    /// The package it came in, named by the package's child (the child's own record
    /// included): its members are broadcast together, so a child can pay for a parent
    /// below the backend's floor.
    pub package: Option<Txid>,
}

/// What the worker learnt from one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The new status.
    pub status: Status,
    /// True if this was a broadcast attempt (counts in `attempts`).
    pub broadcast: bool,
    /// The error, if any (kept as `last_error`; `None` keeps the previous one).
    pub error: Option<String>,
    /// The backend's txid, when it accepted.
    pub backend_txid: Option<String>,
    /// When to look again, Unix milliseconds.
    pub next_attempt_at: i64,
}

impl Attempt {
    /// The backend (or the network) took it, as `backend_txid`; look again at
    /// `next_attempt_at`.
    pub fn sent(backend_txid: String, next_attempt_at: i64) -> Self {
        Attempt {
            status: Status::Broadcast,
            broadcast: true,
            error: None,
            backend_txid: Some(backend_txid),
            next_attempt_at,
        }
    }

    /// Mined: finished. `broadcast` says whether this was a broadcast attempt.
    pub fn confirmed(broadcast: bool) -> Self {
        Attempt {
            status: Status::Confirmed,
            broadcast,
            error: None,
            backend_txid: None,
            next_attempt_at: i64::MAX,
        }
    }

    /// Given up, for `error`: finished.
    pub fn failed(error: String, broadcast: bool) -> Self {
        Attempt {
            status: Status::Failed,
            broadcast,
            error: Some(error),
            backend_txid: None,
            next_attempt_at: i64::MAX,
        }
    }
}

/// Why a queue operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// SQLite failed.
    #[error("queue database {path}: {reason}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's message.
        reason: String,
    },
    /// The writer thread is gone.
    #[error("the queue writer has stopped")]
    Closed,
    /// A stored value is not what ferry writes.
    #[error("queue database holds an unexpected value: {0}")]
    Corrupt(String),
}

enum Cmd {
    Submit {
        txid: Txid,
        raw: Vec<u8>,
        submitted_by: String,
        now: i64,
        reply: oneshot::Sender<Result<(Record, bool), QueueError>>,
    },
    SubmitPackage {
        members: Vec<(Txid, Vec<u8>)>,
        submitted_by: String,
        now: i64,
        reply: oneshot::Sender<Result<Vec<(Record, bool)>, QueueError>>,
    },
    Attempt {
        txid: Txid,
        attempt: Attempt,
        now: i64,
        reply: oneshot::Sender<Result<(), QueueError>>,
    },
    Prune {
        before: i64,
        reply: oneshot::Sender<Result<u64, QueueError>>,
    },
}

/// The largest the database may grow, in pages of 4 KiB (1 GiB): a backstop behind the
/// pending caps and the retention window; past it, submissions fail (no 202) rather than
/// fill the disk.
const MAX_PAGES: u32 = 262_144;

/// A handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Cmd>,
    read: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({})", self.path.display())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS txs (
    txid TEXT PRIMARY KEY,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    backend_txid TEXT,
    submitted_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_due ON txs(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    txid TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_txid ON attempts(txid);
";

/// The schema version this code writes. Version 2 added `txs.package`.
const SCHEMA_VERSION: i64 = 2;

/// Creates the tables of a new database, or brings an older one up to
/// [`SCHEMA_VERSION`], in one SQLite transaction.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    let has_package = tx
        .prepare("SELECT 1 FROM pragma_table_info('txs') WHERE name = 'package'")?
        .exists([])?;
    if !has_package {
        tx.execute_batch("ALTER TABLE txs ADD COLUMN package TEXT;")?;
    }
    tx.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS txs_package ON txs(package) WHERE package IS NOT NULL;
         PRAGMA user_version = {SCHEMA_VERSION};"
    ))?;
    tx.commit()
}

/// Returns the current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Queue {
    /// Opens (creating) the queue database at `path` and starts its writer thread, which
    /// ends when the last handle is dropped (after finishing the batch in hand).
    ///
    /// # Errors
    /// [`QueueError::Sqlite`] if the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Queue, QueueError> {
        let err = |e: &dyn std::fmt::Display| QueueError::Sqlite {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        // Owner only: it holds every relayed transaction and who sent it.
        crate::fs::create_private_file(path).map_err(|e| err(&e))?;
        let mut write = Connection::open(path).map_err(|e| err(&e))?;
        write
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; \
                 PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;",
            )
            .map_err(|e| err(&e))?;
        write
            .execute_batch(&format!("PRAGMA max_page_count={MAX_PAGES};"))
            .map_err(|e| err(&e))?;
        migrate(&mut write).map_err(|e| err(&e))?;
        let read = Connection::open(path).map_err(|e| err(&e))?;
        read.execute_batch("PRAGMA busy_timeout=5000;")
            .map_err(|e| err(&e))?;
        // A checkpoint fsyncs the database file before the WAL may be reused: FULL here too.
        let checkpoint = Connection::open(path).map_err(|e| err(&e))?;
        checkpoint
            .execute_batch("PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
            .map_err(|e| err(&e))?;
        let (tx, rx) = mpsc::channel();
        let (kick, kicked) = mpsc::sync_channel(1);
        let p = path.display().to_string();
        std::thread::Builder::new()
            .name("relay-queue-ckpt".into())
            .spawn(move || writer::checkpointer(&checkpoint, &kicked, &p))
            .map_err(|e| err(&e))?;
        let p = path.display().to_string();
        std::thread::Builder::new()
            .name("relay-queue-writer".into())
            .spawn(move || writer::writer(write, &rx, &kick, &p))
            .map_err(|e| err(&e))?;
        Ok(Queue {
            tx,
            read: Arc::new(Mutex::new(read)),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// Commits a submission and returns its record and whether it is new. A txid already
    /// queued returns the existing record unchanged (idempotent duplicates).
    ///
    /// # Errors
    /// [`QueueError`] if the commit failed: the caller must not answer 202.
    pub async fn submit(
        &self,
        txid: Txid,
        raw: Vec<u8>,
        submitted_by: String,
    ) -> Result<(Record, bool), QueueError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Submit {
                txid,
                raw,
                submitted_by,
                now: now_ms(),
                reply,
            })
            .map_err(|_| QueueError::Closed)?;
        rx.await.map_err(|_| QueueError::Closed)?
    }

    /// Commits a package's transactions (parents first, the child last) in one SQLite
    /// transaction, each marked with the package's child; returns each member's record and
    /// whether it is new. A member queued already keeps its record and joins the package
    /// unless it is in another one.
    ///
    /// # Errors
    /// [`QueueError`] if the commit failed: the caller must not answer 202.
    pub async fn submit_package(
        &self,
        members: Vec<(Txid, Vec<u8>)>,
        submitted_by: String,
    ) -> Result<Vec<(Record, bool)>, QueueError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::SubmitPackage {
                members,
                submitted_by,
                now: now_ms(),
                reply,
            })
            .map_err(|_| QueueError::Closed)?;
        rx.await.map_err(|_| QueueError::Closed)?
    }

    /// Returns the records of the package named by its child `package`, parents first and
    /// the child last.
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub async fn package(&self, package: Txid) -> Result<Vec<Record>, QueueError> {
        let mut members = self
            .read(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM txs WHERE package = ?1 ORDER BY created_at, rowid"
                ))?;
                st.query_map([package.to_string()], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?
            .into_iter()
            .collect::<Result<Vec<Record>, QueueError>>()?;
        // The child last, whatever the order of the rows.
        members.sort_by_key(|r| r.txid == package);
        Ok(members)
    }

    /// Records an attempt (or a status check) and the record's new state.
    ///
    /// # Errors
    /// [`QueueError`] if the commit failed.
    pub async fn record(&self, txid: Txid, attempt: Attempt) -> Result<(), QueueError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Attempt {
                txid,
                attempt,
                now: now_ms(),
                reply,
            })
            .map_err(|_| QueueError::Closed)?;
        rx.await.map_err(|_| QueueError::Closed)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, QueueError> {
        let conn = Arc::clone(&self.read);
        let path = self.path.display().to_string();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| QueueError::Closed)?;
            f(&conn).map_err(|e| QueueError::Sqlite {
                path,
                reason: e.to_string(),
            })
        })
        .await
        .map_err(|_| QueueError::Closed)?
    }

    /// Returns the record of `txid`, if queued.
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub async fn get(&self, txid: Txid) -> Result<Option<Record>, QueueError> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM txs WHERE txid = ?1"))?
                .query_row([txid.to_string()], row)
                .optional()
        })
        .await?
        .transpose()
    }

    /// Deletes the confirmed and failed records (and their attempts) last changed before
    /// `before` (Unix ms); returns how many records went.
    ///
    /// # Errors
    /// [`QueueError`] if the commit failed.
    pub async fn prune(&self, before: i64) -> Result<u64, QueueError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Prune { before, reply })
            .map_err(|_| QueueError::Closed)?;
        rx.await.map_err(|_| QueueError::Closed)?
    }

    /// Returns every unfinished record (queued or broadcast), reading on this thread: for
    /// start-up, before the server runs.
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub fn pending_now(&self) -> Result<Vec<Record>, QueueError> {
        let conn = self.read.lock().map_err(|_| QueueError::Closed)?;
        let sql = || -> rusqlite::Result<Vec<Result<Record, QueueError>>> {
            let mut st = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM txs WHERE status IN ('queued','broadcast')"
            ))?;
            st.query_map([], row)?.collect()
        };
        sql()
            .map_err(|e| QueueError::Sqlite {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })?
            .into_iter()
            .collect()
    }

    /// Returns up to `limit` unfinished records (queued or broadcast) due at `now`.
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub async fn due(&self, now: i64, limit: usize) -> Result<Vec<Record>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM txs WHERE status IN ('queued','broadcast') \
                 AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2"
            ))?;
            st.query_map(params![now, limit], row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?
        .into_iter()
        .collect()
    }

    /// Returns how many records are in each status.
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub async fn counts(&self) -> Result<Vec<(Status, u64)>, QueueError> {
        let rows = self
            .read(|c| {
                let mut st =
                    c.prepare_cached("SELECT status, COUNT(*) FROM txs GROUP BY status")?;
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((Status::parse(&s)?, u64::try_from(n).unwrap_or(0))))
            .collect()
    }

    /// Returns the attempts recorded for `txid`: (time ms, status, error).
    ///
    /// # Errors
    /// [`QueueError`] on a database failure.
    pub async fn attempts(
        &self,
        txid: Txid,
    ) -> Result<Vec<(i64, String, Option<String>)>, QueueError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT at, status, error FROM attempts WHERE txid=?1 ORDER BY id",
            )?;
            st.query_map([txid.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .await
    }
}

const COLUMNS: &str = "txid, raw, status, attempts, last_error, backend_txid, submitted_by, \
                       created_at, updated_at, next_attempt_at, package";

/// Maps a row; the outer error is SQLite's, the inner one a value ferry never writes.
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Record, QueueError>> {
    let txid: String = r.get(0)?;
    let status: String = r.get(2)?;
    let attempts: i64 = r.get(3)?;
    let package: Option<String> = r.get(10)?;
    Ok((|| {
        Ok(Record {
            txid: txid
                .parse()
                .map_err(|_| QueueError::Corrupt(format!("txid {txid:?}")))?,
            raw: r.get(1).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            status: Status::parse(&status)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error: r.get(4).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            backend_txid: r.get(5).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            submitted_by: r.get(6).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            created_at: r.get(7).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            updated_at: r.get(8).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            next_attempt_at: r.get(9).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            package: package
                .map(|p| {
                    p.parse()
                        .map_err(|_| QueueError::Corrupt(format!("package {p:?}")))
                })
                .transpose()?,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue written by the version-1 code (no `package` column) opens, keeps its
    /// records, and takes packages.
    #[tokio::test]
    async fn a_version_1_queue_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        let old = Connection::open(&path).unwrap();
        // Version 1's schema, as it was written.
        old.execute_batch(&format!("{SCHEMA} PRAGMA user_version = 1;"))
            .unwrap();
        let txid = Txid::from_byte_array([7; 32]);
        old.execute(
            "INSERT INTO txs (txid, raw, status, submitted_by, created_at, updated_at, \
             next_attempt_at) VALUES (?1, x'00', 'queued', 'ip:127.0.0.1', 1, 1, 1)",
            [txid.to_string()],
        )
        .unwrap();
        drop(old);

        let queue = Queue::open(&path).unwrap();
        let rec = queue.get(txid).await.unwrap().unwrap();
        assert_eq!((rec.status, rec.package), (Status::Queued, None));
        let version: i64 = queue
            .read(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);

        // The old record joins a package; the child is new.
        let child = Txid::from_byte_array([8; 32]);
        let members = vec![(txid, vec![0]), (child, vec![1])];
        let committed = queue
            .submit_package(members, "ip:127.0.0.1".into())
            .await
            .unwrap();
        assert_eq!(
            committed
                .iter()
                .map(|(r, new)| (r.txid, *new))
                .collect::<Vec<_>>(),
            vec![(txid, false), (child, true)]
        );
        let package = queue.package(child).await.unwrap();
        assert_eq!(
            package.iter().map(|r| r.txid).collect::<Vec<_>>(),
            vec![txid, child]
        );
        assert!(package.iter().all(|r| r.package == Some(child)));
    }
}
