//! The queue's writer thread (group commit) and its checkpointer.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::{COLUMNS, Cmd, MAX_BATCH, QueueError, Record, Status, row};
use crate::tx::Txid;

/// The checkpointer's pause between two checkpoints while commits keep coming: at 10,000
/// accepts/s that lets a few thousand WAL pages (some MB) gather, each copied once however
/// often it changed, and costs the disk four extra fsyncs a second.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Runs PASSIVE checkpoints (which never wait for, nor block, the writer or readers) after
/// commits, at most one per [`CHECKPOINT_EVERY`]; ends when the writer does.
pub(super) fn checkpointer(conn: &Connection, kicked: &mpsc::Receiver<()>, path: &str) {
    let mut pending = false;
    loop {
        if !pending && kicked.recv().is_err() {
            return;
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("queue database {path}: checkpoint failed: {e}");
        }
        pending = false;
        let until = Instant::now() + CHECKPOINT_EVERY;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match kicked.recv_timeout(left) {
                Ok(()) => pending = true,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

enum Reply {
    Submit(
        oneshot::Sender<Result<(Record, bool), QueueError>>,
        Result<(Record, bool), QueueError>,
    ),
    SubmitPackage(
        oneshot::Sender<Result<Vec<(Record, bool)>, QueueError>>,
        Result<Vec<(Record, bool)>, QueueError>,
    ),
    Attempt(
        oneshot::Sender<Result<(), QueueError>>,
        Result<(), QueueError>,
    ),
    Prune(
        oneshot::Sender<Result<u64, QueueError>>,
        Result<u64, QueueError>,
    ),
}

/// The single writer: batches whatever is waiting into one SQLite transaction, and after
/// each commit asks the checkpointer (through `kick`, never waiting) for a checkpoint.
pub(super) fn writer(
    mut conn: Connection,
    rx: &mpsc::Receiver<Cmd>,
    kick: &mpsc::SyncSender<()>,
    path: &str,
) {
    let sql_err = |e: rusqlite::Error| QueueError::Sqlite {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let committed = (|| {
            let tx = conn.transaction()?;
            for cmd in batch {
                replies.push(apply(&tx, cmd, path));
            }
            tx.commit()
        })();
        // Nobody hears "ok" before the commit; if it failed, everyone hears the error.
        let failed = committed.map_err(sql_err).err();
        if failed.is_none() {
            // Full means a checkpoint is already asked for; gone means it stopped (logged).
            let _ = kick.try_send(());
        }
        for reply in replies {
            match reply {
                Reply::Submit(ch, r) => {
                    let _ = ch.send(match &failed {
                        Some(e) => Err(e.clone()),
                        None => r,
                    });
                }
                Reply::SubmitPackage(ch, r) => {
                    let _ = ch.send(match &failed {
                        Some(e) => Err(e.clone()),
                        None => r,
                    });
                }
                Reply::Attempt(ch, r) => {
                    let _ = ch.send(match &failed {
                        Some(e) => Err(e.clone()),
                        None => r,
                    });
                }
                Reply::Prune(ch, r) => {
                    let _ = ch.send(match &failed {
                        Some(e) => Err(e.clone()),
                        None => r,
                    });
                }
            }
        }
    }
}

/// Inserts a new record, or returns the one queued under `txid` already (which joins
/// `package` if it is in none and still pending); the bool says whether it is new.
fn insert(
    tx: &rusqlite::Transaction<'_>,
    txid: Txid,
    raw: Vec<u8>,
    submitted_by: &str,
    now: i64,
    package: Option<Txid>,
    path: &str,
) -> Result<(Record, bool), QueueError> {
    let sql_err = |e: rusqlite::Error| QueueError::Sqlite {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let id = txid.to_string();
    let package_id = package.map(|p| p.to_string());
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO txs (txid, raw, status, attempts, submitted_by, \
             created_at, updated_at, next_attempt_at, package) \
             VALUES (?1, ?2, 'queued', 0, ?3, ?4, ?4, ?4, ?5)",
        )
        .and_then(|mut st| st.execute(params![id, raw, submitted_by, now, package_id]))
        .map_err(sql_err)?
        == 1;
    if inserted {
        // The row is exactly what was just written: no need to read it back.
        return Ok((
            Record {
                txid,
                raw,
                status: Status::Queued,
                attempts: 0,
                last_error: None,
                backend_txid: None,
                submitted_by: submitted_by.to_owned(),
                created_at: now,
                updated_at: now,
                next_attempt_at: now,
                package,
            },
            true,
        ));
    }
    if package_id.is_some() {
        // Due now: the worker sends it with its package at once.
        tx.prepare_cached(
            "UPDATE txs SET package = ?2, next_attempt_at = MIN(next_attempt_at, ?3) \
             WHERE txid = ?1 AND package IS NULL AND status IN ('queued','broadcast')",
        )
        .and_then(|mut st| st.execute(params![id, package_id, now]))
        .map_err(sql_err)?;
    }
    let record = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM txs WHERE txid = ?1"))
        .and_then(|mut st| st.query_row([id], row))
        .map_err(sql_err)??;
    Ok((record, false))
}

fn apply(tx: &rusqlite::Transaction<'_>, cmd: Cmd, path: &str) -> Reply {
    let sql_err = |e: rusqlite::Error| QueueError::Sqlite {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    match cmd {
        Cmd::Submit {
            txid,
            raw,
            submitted_by,
            now,
            reply,
        } => Reply::Submit(reply, insert(tx, txid, raw, &submitted_by, now, None, path)),
        Cmd::SubmitPackage {
            members,
            submitted_by,
            now,
            reply,
        } => {
            let package = members.last().map(|(txid, _)| *txid);
            let r = members
                .into_iter()
                .map(|(txid, raw)| insert(tx, txid, raw, &submitted_by, now, package, path))
                .collect();
            Reply::SubmitPackage(reply, r)
        }
        Cmd::Attempt {
            txid,
            attempt,
            now,
            reply,
        } => {
            let id = txid.to_string();
            let r = tx
                .prepare_cached(
                    "UPDATE txs SET status=?2, attempts=attempts+?3, \
                     last_error=COALESCE(?4, last_error), \
                     backend_txid=COALESCE(?5, backend_txid), updated_at=?6, next_attempt_at=?7 \
                     WHERE txid=?1 AND status NOT IN ('confirmed','failed')",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        id,
                        attempt.status.as_str(),
                        i64::from(attempt.broadcast),
                        attempt.error,
                        attempt.backend_txid,
                        now,
                        attempt.next_attempt_at
                    ])
                })
                .and_then(|_| {
                    tx.prepare_cached(
                        "INSERT INTO attempts (txid, at, status, error) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![id, now, attempt.status.as_str(), attempt.error])
                    })
                })
                .map(|_| ())
                .map_err(sql_err);
            Reply::Attempt(reply, r)
        }
        Cmd::Prune { before, reply } => {
            let r = (|| {
                tx.execute(
                    "DELETE FROM attempts WHERE txid IN (SELECT txid FROM txs \
                     WHERE status IN ('confirmed','failed') AND updated_at < ?1)",
                    [before],
                )?;
                tx.execute(
                    "DELETE FROM txs WHERE status IN ('confirmed','failed') AND updated_at < ?1",
                    [before],
                )
            })()
            .map(|n| n as u64)
            .map_err(sql_err);
            Reply::Prune(reply, r)
        }
    }
}
