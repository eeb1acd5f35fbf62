//! What happens on one connection: the version handshake, handing one transaction over
//! (sender), and listening for its announcement (observer).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::error::P2pError;
use super::message::{Inventory, Message, VersionMessage};
use super::transport::Connection;
use crate::tx::Transaction;

/// Lowest peer protocol version ferry talks to (BIP-0339 wtxid relay, 70016).
pub const MIN_PEER_VERSION: i32 = 70016;

/// What the peer said in its handshake.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's `version`.
    pub version: VersionMessage,
    /// Whether both sides sent `wtxidrelay`.
    pub wtxid_relay: bool,
}

/// Receives the next message before `deadline`.
///
/// # Errors
/// [`P2pError::Timeout`] naming `step`, or the connection's error.
pub async fn recv_until(
    conn: &mut Connection,
    deadline: Instant,
    step: &'static str,
) -> Result<Message, P2pError> {
    match tokio::time::timeout_at(deadline, conn.recv()).await {
        Ok(r) => r,
        Err(_) => Err(P2pError::Timeout(step)),
    }
}

/// Runs the version handshake as the connecting side: our anonymous `version`, the
/// peer's `version`, then `wtxidrelay` and `sendaddrv2` (both must precede `verack`),
/// `verack`, and the peer's `verack`. Anything else received meanwhile is ignored.
///
/// # Errors
/// [`P2pError::Protocol`] for a peer too old for wtxid relay, timeouts, connection errors.
pub async fn handshake(
    conn: &mut Connection,
    relay: bool,
    deadline: Instant,
) -> Result<PeerInfo, P2pError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| P2pError::Protocol(format!("no randomness: {e}")))?;
    conn.send(&Message::Version(VersionMessage::anonymous(
        u64::from_le_bytes(nonce),
        relay,
    )))
    .await?;
    let mut version = None;
    let mut their_wtxid_relay = false;
    loop {
        match recv_until(conn, deadline, "waiting for the peer's version").await? {
            Message::Version(v) if version.is_none() => {
                if v.version < MIN_PEER_VERSION {
                    return Err(P2pError::Protocol(format!(
                        "peer speaks protocol {}, ferry needs {MIN_PEER_VERSION}",
                        v.version
                    )));
                }
                conn.send(&Message::WtxidRelay).await?;
                conn.send(&Message::SendAddrV2).await?;
                conn.send(&Message::Verack).await?;
                version = Some(v);
            }
            Message::Version(_) => {
                return Err(P2pError::Protocol("a second version message".into()));
            }
            Message::WtxidRelay => their_wtxid_relay = true,
            Message::Verack => {
                let Some(version) = version else {
                    return Err(P2pError::Protocol("verack before version".into()));
                };
                return Ok(PeerInfo {
                    version,
                    wtxid_relay: their_wtxid_relay,
                });
            }
            _ => {}
        }
    }
}

/// Hands `txs` over on a connection that finished its handshake: `inv` (by wtxid when both
/// sides relay by wtxid), the peer's `getdata`, the transactions it asked for, `ping`, and
/// the matching `pong` — which tells that the peer has processed them (messages are
/// handled in order).
///
/// `txs` is one transaction, or a package: parents first, their child last. A package is
/// served child first: a node that cannot take a parent alone (below its fee floor) keeps
/// the child as an orphan and, when the parent then fails on its fee, judges the two
/// together (Bitcoin Core's one-parent-one-child package relay). A node that orphaned the
/// child asks for its parent again after its request delay, so when the peer did not ask
/// for every transaction at once the connection stays open `linger` after the `pong`,
/// serving what is asked — or until `heard` turns true (an observer heard the child).
///
/// # Errors
/// [`P2pError::NoRelay`] for a peer that said it does not relay transactions,
/// [`P2pError::NotRequested`] when the peer did not ask for any of them before `deadline`
/// (it may already have them), timeouts and connection errors.
pub async fn hand_over(
    conn: &mut Connection,
    peer: &PeerInfo,
    txs: &[Transaction],
    linger: Duration,
    heard: &mut watch::Receiver<bool>,
    deadline: Instant,
) -> Result<(), P2pError> {
    if !peer.version.relay {
        return Err(P2pError::NoRelay);
    }
    let inv = |tx: &Transaction| {
        if peer.wtxid_relay {
            Inventory::wtx(tx.wtxid())
        } else {
            Inventory::tx(tx.txid())
        }
    };
    conn.send(&Message::Inv(txs.iter().rev().map(inv).collect()))
        .await?;
    let asked = loop {
        match recv_until(conn, deadline, "waiting for getdata").await {
            Ok(Message::GetData(items)) => {
                let asked = serve(conn, txs, &items).await?;
                if asked > 0 {
                    break asked;
                }
            }
            Ok(_) => {}
            Err(P2pError::Timeout(_)) => return Err(P2pError::NotRequested),
            Err(e) => return Err(e),
        }
    };
    ping_pong(conn, txs, deadline).await?;
    // Everything asked for at once: the peer judged the parents before the child (served
    // first, so kept as an orphan until they came), and asks nothing again.
    if asked == txs.len() {
        return Ok(());
    }
    let mut until = after(linger).min(deadline);
    loop {
        let received = tokio::select! {
            r = recv_until(conn, until, "lingering") => r,
            // An observer heard the child: the network has the package, nobody will ask.
            _ = heard.wait_for(|h| *h) => return Ok(()),
        };
        match received {
            Ok(Message::GetData(items)) if serve(conn, txs, &items).await? > 0 => {
                ping_pong(conn, txs, deadline).await?;
                until = after(linger).min(deadline);
            }
            Ok(Message::Ping(n)) => conn.send(&Message::Pong(n)).await?,
            Ok(_) => {}
            Err(P2pError::Timeout(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Sends the transactions of `txs` that `items` asks for, the last (the child) first;
/// returns how many were asked for.
async fn serve(
    conn: &mut Connection,
    txs: &[Transaction],
    items: &[Inventory],
) -> Result<usize, P2pError> {
    let mut asked = 0;
    for tx in txs.iter().rev() {
        if items.iter().any(|i| i.names(tx)) {
            conn.send(&Message::Tx(tx.clone())).await?;
            asked += 1;
        }
    }
    Ok(asked)
}

/// Sends a `ping` and waits for its `pong`, serving any `getdata` for `txs` meanwhile.
async fn ping_pong(
    conn: &mut Connection,
    txs: &[Transaction],
    deadline: Instant,
) -> Result<(), P2pError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| P2pError::Protocol(format!("no randomness: {e}")))?;
    let nonce = u64::from_le_bytes(nonce);
    conn.send(&Message::Ping(nonce)).await?;
    loop {
        match recv_until(conn, deadline, "waiting for pong").await? {
            Message::Pong(n) if n == nonce => return Ok(()),
            Message::GetData(items) => {
                serve(conn, txs, &items).await?;
            }
            _ => {}
        }
    }
}

/// Listens on an observer connection until the peer announces `tx` (by txid or, with
/// wtxid relay, by this exact wtxid) or `deadline` passes. Returns whether it was seen.
///
/// # Errors
/// Connection errors other than the deadline.
pub async fn watch_for(
    conn: &mut Connection,
    tx: &Transaction,
    deadline: Instant,
) -> Result<bool, P2pError> {
    loop {
        match recv_until(conn, deadline, "watching").await {
            Ok(Message::Inv(items)) if items.iter().any(|i| i.is_tx() && i.names(tx)) => {
                return Ok(true);
            }
            // Core pings every peer; an observer that stays long should answer.
            Ok(Message::Ping(n)) => conn.send(&Message::Pong(n)).await?,
            Ok(_) => {}
            Err(P2pError::Timeout(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// Returns `now + d`, saturating.
pub fn after(d: Duration) -> Instant {
    Instant::now() + d
}
