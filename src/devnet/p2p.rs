//! The devnet's peer-to-peer listener: enough of Bitcoin's protocol, v1 and BIP-0324 v2,
//! for a wallet to hand it a transaction (`inv` → `getdata` → `tx`), run it through the
//! mempool, and announce what it accepted to its other peers — so `ferry send --p2p`
//! works against the devnet as it does against Bitcoin Core.
//!
//! Like Core: a transaction is announced only to peers whose `version` said relay, never
//! back to the peer it came from, by wtxid to peers that sent `wtxidrelay`; `getdata` is
//! served only for what was announced on that connection; a refused transaction is
//! dropped silently (there is no `reject` message).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bip324::Role;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use super::state::DevnetState;
use crate::network::Network;
use crate::p2p::message::{
    Inventory, MSG_TX, MSG_WITNESS_FLAG, MSG_WTX, Message, VersionMessage, command_bytes,
};
use crate::p2p::transport::{Connection, V2Read};
use crate::p2p::{P2pError, session};
use crate::tx::Transaction;

/// The devnet's user agent.
pub const USER_AGENT: &str = "/ferry-devnet:0.1.0/";
/// NODE_NETWORK | NODE_WITNESS: a full node (BIP-0144).
const SERVICES: u64 = 1 | 8;

/// An accepted transaction and the connection it came from (not announced back there).
type Accepted = (u64, Arc<Transaction>);

/// Serves peer-to-peer connections on `listener` until the task is dropped. Connections
/// run concurrently; a misbehaving one ends alone.
pub async fn serve(state: DevnetState, listener: TcpListener) {
    let (announce, _) = broadcast::channel::<Accepted>(1024);
    let ids = AtomicU64::new(1);
    while let Ok((stream, addr)) = listener.accept().await {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let (state, announce) = (state.clone(), announce.clone());
        tokio::spawn(async move {
            if let Err(e) = peer(state, stream, id, announce).await {
                tracing::debug!("p2p peer {addr}: {e}");
            }
        });
    }
}

/// Reads the first 16 bytes: a v1 `version` header starts with the network magic and
/// the command "version" (BIP-0324's responder rule); anything else is a v2 key.
async fn accept_transport(stream: TcpStream) -> Result<Connection, P2pError> {
    let magic = Network::Regtest
        .p2p_magic()
        .ok_or(P2pError::Unsupported(Network::Regtest))?;
    stream.set_nodelay(true)?;
    let mut prefix = [0u8; 16];
    let (mut read, write) = stream.into_split();
    read.read_exact(&mut prefix).await?;
    let mut v1 = magic.to_vec();
    v1.extend_from_slice(&command_bytes("version"));
    if prefix[..] == v1[..] {
        let stream = read
            .reunite(write)
            .map_err(|e| P2pError::Protocol(e.to_string()))?;
        return Ok(Connection::v1(
            Network::Regtest,
            magic,
            stream,
            prefix.to_vec(),
        ));
    }
    let replay: V2Read = Box::new(std::io::Cursor::new(prefix.to_vec()).chain(read));
    let protocol = bip324::futures::Protocol::new(
        magic,
        Role::Responder,
        None,
        None,
        BufReader::new(replay),
        write,
    )
    .await
    .map_err(|e| P2pError::Handshake(e.to_string()))?;
    let (r, w) = protocol.into_split();
    Ok(Connection::v2(Network::Regtest, magic, r, w))
}

async fn peer(
    state: DevnetState,
    stream: TcpStream,
    id: u64,
    announce: broadcast::Sender<Accepted>,
) -> Result<(), P2pError> {
    // Subscribed before the handshake: a peer may count itself connected once it has our
    // verack, and anything accepted from then on must reach it.
    let mut accepted = announce.subscribe();
    let deadline = session::after(std::time::Duration::from_secs(30));
    let mut conn = tokio::time::timeout_at(deadline, accept_transport(stream))
        .await
        .map_err(|_| P2pError::Timeout("in the handshake"))??;
    // The peer speaks first.
    let theirs = match session::recv_until(&mut conn, deadline, "waiting for version").await? {
        Message::Version(v) => v,
        m => {
            return Err(P2pError::Protocol(format!(
                "{} before version",
                m.command()
            )));
        }
    };
    let height = state.lock().chain().height();
    let mut ours = VersionMessage::anonymous(nonce(), true);
    ours.services = SERVICES;
    ours.user_agent = USER_AGENT.to_owned();
    ours.start_height = i32::try_from(height).unwrap_or(i32::MAX);
    conn.send(&Message::Version(ours)).await?;
    if theirs.version >= session::MIN_PEER_VERSION {
        conn.send(&Message::WtxidRelay).await?;
        conn.send(&Message::SendAddrV2).await?;
    }
    conn.send(&Message::Verack).await?;
    let mut wtxid_relay = false;
    loop {
        match session::recv_until(&mut conn, deadline, "waiting for verack").await? {
            Message::Verack => break,
            Message::WtxidRelay => wtxid_relay = true,
            _ => {}
        }
    }
    // What this connection was told about, by the hash announced: getdata serves only these.
    let mut announced: HashMap<[u8; 32], Arc<Transaction>> = HashMap::new();
    loop {
        tokio::select! {
            msg = conn.recv() => match msg? {
                Message::Inv(items) => {
                    let wanted: Vec<Inventory> = items
                        .into_iter()
                        .filter(Inventory::is_tx)
                        .map(|i| Inventory {
                            kind: if i.kind == MSG_TX { MSG_TX | MSG_WITNESS_FLAG } else { i.kind },
                            hash: i.hash,
                        })
                        .collect();
                    if !wanted.is_empty() {
                        conn.send(&Message::GetData(wanted)).await?;
                    }
                }
                Message::Tx(tx) => {
                    let tx = Arc::new(tx);
                    let t = Arc::clone(&tx);
                    let fresh = state
                        .blocking(move |d| {
                            let had = d.mempool().get(&t.txid()).is_some();
                            d.submit(&t).map(|_| !had)
                        })
                        .await;
                    match fresh {
                        Ok(Ok(true)) => {
                            tracing::info!("p2p: accepted {} from peer {id}", tx.txid());
                            let _ = announce.send((id, tx));
                        }
                        Ok(Ok(false)) => {}
                        // Refused: dropped silently, as Core does since `reject` is gone.
                        Ok(Err(r)) => tracing::info!("p2p: refused {}: {}", tx.txid(), r.reason),
                        Err(e) => tracing::warn!("p2p: {e:?}"),
                    }
                }
                Message::GetData(items) => {
                    let mut missing = Vec::new();
                    for item in items {
                        match announced.get(&item.hash) {
                            Some(tx) if item.is_tx() => conn.send(&Message::Tx((**tx).clone())).await?,
                            _ => missing.push(item),
                        }
                    }
                    if !missing.is_empty() {
                        conn.send(&Message::NotFound(missing)).await?;
                    }
                }
                Message::Ping(n) => conn.send(&Message::Pong(n)).await?,
                _ => {}
            },
            got = accepted.recv() => match got {
                Ok((from, tx)) if from != id && theirs.relay => {
                    let inv = if wtxid_relay {
                        Inventory { kind: MSG_WTX, hash: tx.wtxid().to_byte_array() }
                    } else {
                        Inventory::tx(tx.txid())
                    };
                    announced.insert(inv.hash, tx);
                    conn.send(&Message::Inv(vec![inv])).await?;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

fn nonce() -> u64 {
    let mut b = [0u8; 8];
    // A failing OS RNG only weakens connection-to-self detection, which the devnet lacks.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}
