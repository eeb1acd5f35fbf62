//! The broadcaster (DESIGN §5b): a fresh connection per peer for one transaction, handed
//! over to a few senders, and "propagated" only once an observer — a connection that was
//! never given the transaction — hears it announced.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::P2pError;
use super::session::{after, hand_over, handshake, watch_for};
use super::transport::{Connection, Route, Transport, connect};
use crate::network::Network;
use crate::tx::{Transaction, Txid, Wtxid};

/// Connections that carry the transaction, as Core's private broadcast opens
/// (`NUM_PRIVATE_BROADCAST_PER_TX`).
pub const DEFAULT_SENDERS: usize = 3;
/// Connections that only listen for the transaction coming back.
pub const DEFAULT_OBSERVERS: usize = 2;

/// Who to talk to and how.
#[derive(Debug, Clone)]
pub struct BroadcastConfig {
    /// The network (its magic bytes frame every message).
    pub network: Network,
    /// Candidate senders, `HOST:PORT`, tried in order.
    pub peers: Vec<String>,
    /// Observers, `HOST:PORT`; none of them is ever given the transaction.
    pub observers: Vec<String>,
    /// Direct, or through a SOCKS5 proxy for every connection.
    pub route: Route,
    /// How many peers get the transaction.
    pub senders: usize,
    /// Try BIP-0324 first (then v1 on the same route); false speaks v1 only.
    pub v2: bool,
    /// Bound on one connection: connect, handshake and hand-over.
    pub connection_timeout: Duration,
    /// How long observers listen after the first hand-over.
    pub propagation_timeout: Duration,
    /// For a package: how long a sender stays after the hand-over to serve a parent the
    /// peer asks for again (Core asks an inbound peer after a 2 s delay).
    pub package_linger: Duration,
}

impl BroadcastConfig {
    /// Defaults: 3 senders, v2 first, 20 s per connection, 30 s to hear it back.
    pub fn new(network: Network, peers: Vec<String>, observers: Vec<String>) -> Self {
        Self {
            network,
            peers,
            observers,
            route: Route::Direct,
            senders: DEFAULT_SENDERS,
            v2: true,
            connection_timeout: Duration::from_secs(20),
            propagation_timeout: Duration::from_secs(30),
            package_linger: Duration::from_secs(5),
        }
    }

    /// Checks the configuration before any connection is opened.
    ///
    /// # Errors
    /// [`P2pError::Unsupported`] for a network without peer-to-peer support;
    /// [`P2pError::NoPeers`] with no peer or no sender; [`P2pError::Protocol`] for an
    /// observer that is also a peer
    /// (it would only echo what it was given, which proves nothing) — except on regtest.
    pub fn check(&self) -> Result<(), P2pError> {
        if self.network.p2p_magic().is_none() {
            return Err(P2pError::Unsupported(self.network));
        }
        if self.peers.is_empty() || self.senders == 0 {
            return Err(P2pError::NoPeers(
                "no peer to hand the transaction to: give --peer HOST:PORT".into(),
            ));
        }
        // On regtest (the devnet, a local node) one node may be both: a second connection
        // then proves that node accepted it, which is all a lone local node can show.
        let shared = self.observers.iter().find(|o| self.peers.contains(o));
        if let (Some(both), false) = (shared, self.network == Network::Regtest) {
            return Err(P2pError::Protocol(format!(
                "{both} is both a peer and an observer: an observer must be a node the transaction was not given to"
            )));
        }
        Ok(())
    }
}

/// One connection's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeerOutcome {
    /// `HOST:PORT` as given.
    pub peer: String,
    /// The transport used (or last tried).
    pub transport: Transport,
    /// True once the peer asked for the transaction, got it, and answered the ping after it.
    pub handed_over: bool,
    /// Why the connection ended early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a broadcast did (the `"p2p"` object of DESIGN §3).
#[derive(Debug, Clone, Serialize)]
pub struct P2pReport {
    /// True only when an observer announced the transaction back.
    pub propagated: bool,
    /// The transaction's txid.
    pub txid: Txid,
    /// Its wtxid.
    pub wtxid: Wtxid,
    /// Every sender connection.
    pub peers: Vec<PeerOutcome>,
    /// Every observer connection (`handed_over` is always false there).
    pub observers: Vec<PeerOutcome>,
    /// Observers that announced the transaction.
    pub seen_by: Vec<String>,
    /// Milliseconds from start to the end of the broadcast (propagation or timeout).
    pub elapsed_ms: u64,
}

impl P2pReport {
    /// Returns true if at least one peer took the transaction.
    pub fn handed_over(&self) -> bool {
        self.peers.iter().any(|p| p.handed_over)
    }
}

/// What an observer task reports.
enum ObserverEvent {
    /// Handshake done (true), or failed (false).
    Ready(bool),
    /// It announced the transaction.
    Seen(String),
}

/// Broadcasts `tx` as configured: observers connect first (they must be listening before
/// anyone has the transaction), then senders hand it over, then observers listen until one
/// hears it or the propagation timeout passes. Never fails as a whole: every failure is in
/// the report, per connection.
///
/// # Errors
/// Only [`BroadcastConfig::check`]'s.
pub async fn broadcast(config: &BroadcastConfig, tx: &Transaction) -> Result<P2pReport, P2pError> {
    broadcast_package(config, std::slice::from_ref(tx)).await
}

/// Broadcasts a package — parents first, their child last — as [`broadcast`] broadcasts one
/// transaction: each sender is offered all of them and serves the child first (see
/// [`hand_over`]), and observers listen for the child. The report names the child.
///
/// # Errors
/// Only [`BroadcastConfig::check`]'s, or an empty package.
pub async fn broadcast_package(
    config: &BroadcastConfig,
    txs: &[Transaction],
) -> Result<P2pReport, P2pError> {
    config.check()?;
    let Some(tx) = txs.last() else {
        return Err(P2pError::Protocol("an empty package".into()));
    };
    let txs: Arc<[Transaction]> = txs.into();
    let start = Instant::now();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut observer_tasks = JoinSet::new();
    // Observers stop listening at `stop`; it is set once the senders are done.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None::<Instant>);
    for observer in &config.observers {
        let (cfg, tx, peer) = (config.clone(), tx.clone(), observer.clone());
        let (events, stop) = (events_tx.clone(), stop_rx.clone());
        observer_tasks.spawn(observe(cfg, peer, tx, events, stop));
    }
    drop(events_tx);
    // Each observer reports once that it is listening or has failed (its outcome comes
    // back when its task is joined).
    let (mut ready, mut failed) = (0, 0);
    let mut seen_by = Vec::new();
    while ready + failed < config.observers.len() {
        match events.recv().await {
            Some(ObserverEvent::Ready(true)) => ready += 1,
            Some(ObserverEvent::Ready(false)) => failed += 1,
            Some(ObserverEvent::Seen(peer)) => seen_by.push(peer),
            None => break,
        }
    }

    // Senders run while observers listen: the first announcement also ends any sender
    // still lingering for a package's parent.
    let (heard_tx, heard) = tokio::sync::watch::channel(false);
    let send = send_all(config, &txs, &heard);
    tokio::pin!(send);
    let peers = loop {
        tokio::select! {
            peers = &mut send => break peers,
            event = events.recv() => match event {
                Some(ObserverEvent::Seen(peer)) => {
                    seen_by.push(peer);
                    let _ = heard_tx.send(true);
                }
                Some(ObserverEvent::Ready(_)) => {}
                None => break (&mut send).await,
            },
        }
    };
    let handed = peers.iter().any(|p| p.handed_over);
    // Without a hand-over there is nothing to wait for.
    let deadline = if handed && ready > 0 {
        after(config.propagation_timeout)
    } else {
        Instant::now()
    };
    let _ = stop_tx.send(Some(deadline));
    while seen_by.is_empty() && Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ObserverEvent::Seen(peer))) => seen_by.push(peer),
            Ok(Some(ObserverEvent::Ready(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // The first announcement settles it: the other observers stop now.
    let _ = stop_tx.send(Some(Instant::now()));
    let mut observers = Vec::new();
    while let Some(done) = observer_tasks.join_next().await {
        if let Ok(outcome) = done {
            observers.push(outcome);
        }
    }
    while let Ok(event) = events.try_recv() {
        if let ObserverEvent::Seen(peer) = event
            && !seen_by.contains(&peer)
        {
            seen_by.push(peer);
        }
    }
    observers.sort_by_key(|o| config.observers.iter().position(|x| *x == o.peer));
    Ok(P2pReport {
        propagated: !seen_by.is_empty(),
        txid: tx.txid(),
        wtxid: tx.wtxid(),
        peers,
        observers,
        seen_by,
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Hands the transaction to up to `senders` peers at once, moving on to the next
/// candidate when one fails — but starting none after twice the connection timeout, so
/// a long list of dead peers cannot stretch the broadcast without bound (each connection
/// is bounded by itself: a v2 try and a v1 retry, each within the timeout).
async fn send_all(
    config: &BroadcastConfig,
    txs: &Arc<[Transaction]>,
    heard: &tokio::sync::watch::Receiver<bool>,
) -> Vec<PeerOutcome> {
    let last_start = after(config.connection_timeout * 2);
    let mut candidates = config.peers.iter();
    let mut running = JoinSet::new();
    let mut outcomes = Vec::new();
    let mut handed = 0;
    for peer in candidates.by_ref().take(config.senders) {
        running.spawn(send_one(
            config.clone(),
            peer.clone(),
            Arc::clone(txs),
            heard.clone(),
        ));
    }
    while let Some(done) = running.join_next().await {
        let outcome = match done {
            Ok(o) => o,
            Err(e) => PeerOutcome {
                peer: "?".into(),
                transport: Transport::V2,
                handed_over: false,
                error: Some(format!("internal: {e}")),
            },
        };
        if outcome.handed_over {
            handed += 1;
        } else if handed + running.len() < config.senders
            && Instant::now() < last_start
            && let Some(next) = candidates.next()
        {
            running.spawn(send_one(
                config.clone(),
                next.clone(),
                Arc::clone(txs),
                heard.clone(),
            ));
        }
        outcomes.push(outcome);
    }
    outcomes.sort_by_key(|o| config.peers.iter().position(|x| *x == o.peer));
    outcomes
}

async fn send_one(
    config: BroadcastConfig,
    peer: String,
    txs: Arc<[Transaction]>,
    mut heard: tokio::sync::watch::Receiver<bool>,
) -> PeerOutcome {
    let deadline = after(config.connection_timeout);
    let failed = |transport, e: P2pError| PeerOutcome {
        peer: peer.clone(),
        transport,
        handed_over: false,
        error: Some(e.to_string()),
    };
    let mut conn = match connect_peer(&config, &peer).await {
        Ok(c) => c,
        Err((t, e)) => return failed(t, e),
    };
    let transport = conn.transport();
    let result = async {
        let info = handshake(&mut conn, false, deadline).await?;
        let linger = config.package_linger;
        hand_over(&mut conn, &info, &txs, linger, &mut heard, deadline).await
    }
    .await;
    conn.close().await;
    match result {
        Ok(()) => PeerOutcome {
            peer,
            transport,
            handed_over: true,
            error: None,
        },
        Err(e) => failed(transport, e),
    }
}

/// Opens a connection to `peer` as `config` says (network, route, v2, timeout).
async fn connect_peer(
    config: &BroadcastConfig,
    peer: &str,
) -> Result<Connection, (Transport, P2pError)> {
    connect(
        config.network,
        peer,
        &config.route,
        config.v2,
        config.connection_timeout,
    )
    .await
}

async fn observe(
    config: BroadcastConfig,
    peer: String,
    tx: Transaction,
    events: mpsc::UnboundedSender<ObserverEvent>,
    mut stop: tokio::sync::watch::Receiver<Option<Instant>>,
) -> PeerOutcome {
    let deadline = after(config.connection_timeout);
    let outcome = |transport, error: Option<P2pError>| PeerOutcome {
        peer: peer.clone(),
        transport,
        handed_over: false,
        error: error.map(|e| e.to_string()),
    };
    let mut conn = match connect_peer(&config, &peer).await {
        Ok(c) => c,
        Err((t, e)) => {
            let _ = events.send(ObserverEvent::Ready(false));
            return outcome(t, Some(e));
        }
    };
    let transport = conn.transport();
    if let Err(e) = handshake(&mut conn, true, deadline).await {
        let _ = events.send(ObserverEvent::Ready(false));
        return outcome(transport, Some(e));
    }
    let _ = events.send(ObserverEvent::Ready(true));
    // Listen until the broadcaster sets the end: an announcement may come before the
    // senders are even done.
    let far = after(config.connection_timeout + config.propagation_timeout);
    let result = loop {
        let end = (*stop.borrow_and_update()).unwrap_or(far);
        tokio::select! {
            r = watch_for(&mut conn, &tx, end) => break r,
            changed = stop.changed() => if changed.is_err() { break Ok(false) },
        }
    };
    conn.close().await;
    match result {
        Ok(seen) => {
            if seen {
                let _ = events.send(ObserverEvent::Seen(peer.clone()));
            }
            outcome(transport, None)
        }
        Err(e) => outcome(transport, Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked_before_any_connection() {
        let peer = || vec!["127.0.0.1:1".to_owned()];
        let qtum = BroadcastConfig::new(Network::Qtum, peer(), vec![]);
        assert!(matches!(qtum.check(), Err(P2pError::Unsupported(_))));
        let none = BroadcastConfig::new(Network::Testnet4, vec![], vec![]);
        assert!(matches!(none.check(), Err(P2pError::NoPeers(_))));
        let mut zero = BroadcastConfig::new(Network::Testnet4, peer(), vec![]);
        zero.senders = 0;
        assert!(matches!(zero.check(), Err(P2pError::NoPeers(_))));
        // An observer that is also a peer proves nothing — except on a local regtest node.
        let echo = BroadcastConfig::new(Network::Testnet4, peer(), peer());
        let err = echo.check().unwrap_err();
        assert!(
            err.to_string().contains("both a peer and an observer"),
            "{err}"
        );
        assert!(
            BroadcastConfig::new(Network::Regtest, peer(), peer())
                .check()
                .is_ok()
        );
    }
}
