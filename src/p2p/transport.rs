//! One connection to a peer, v1 or BIP-0324 v2, over a route (direct, or a SOCKS5 proxy).
//!
//! [`connect`] tries v2 first and falls back to v1 only when the v2 handshake failed the way
//! a v1-only peer makes it fail (it closes or resets the connection on our key), and only
//! on a fresh connection over the same route: a proxied connection never retries in the
//! clear (Core 31.0 did, and leaked the sender's address; fixed in 31.1).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bip324::futures::{ProtocolReader, ProtocolWriter};
use bip324::io::{Payload, ProtocolError, ProtocolFailureSuggestion};
use bip324::{PacketType, Role};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::error::P2pError;
use super::message::Message;
use super::{socks, wire};
use crate::network::Network;

/// How connections reach peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight TCP from this machine.
    Direct,
    /// Through a SOCKS5 proxy (`HOST:PORT`), names resolved by the proxy, random
    /// credentials per connection.
    Socks5(String),
}

/// The transport a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// BIP-0324, encrypted.
    V2,
    /// The original, unencrypted protocol.
    V1,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::V2 => "v2",
            Transport::V1 => "v1",
        })
    }
}

/// The read half under a v2 session.
pub type V2Read = Box<dyn AsyncRead + Send + Unpin>;

enum Inner {
    V1 {
        read: OwnedReadHalf,
        write: OwnedWriteHalf,
        buf: Vec<u8>,
    },
    V2 {
        read: Box<ProtocolReader<BufReader<V2Read>>>,
        write: ProtocolWriter<OwnedWriteHalf>,
    },
}

/// An open connection that sends and receives whole messages.
pub struct Connection {
    network: Network,
    magic: [u8; 4],
    transport: Transport,
    inner: Inner,
}

/// Splits `host:port` (a bracketed IPv6 address allowed).
///
/// # Errors
/// [`P2pError::BadAddress`] when there is no host or port.
pub fn split_host_port(peer: &str) -> Result<(String, u16), P2pError> {
    let bad = || P2pError::BadAddress(peer.to_owned());
    let (host, port) = peer.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Opens a TCP stream to `peer` over `route`.
async fn open_stream(peer: &str, route: &Route) -> Result<TcpStream, P2pError> {
    let stream = match route {
        Route::Direct => TcpStream::connect(peer)
            .await
            .map_err(|error| P2pError::Connect {
                peer: peer.to_owned(),
                error,
            })?,
        Route::Socks5(proxy) => {
            let (host, port) = split_host_port(peer)?;
            let (user, pass) = socks::random_credentials()?;
            socks::connect(proxy, &host, port, &user, &pass).await?
        }
    };
    // Small messages, sent one at a time: do not let Nagle hold them back.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Opens a connection to `peer`: BIP-0324 v2 first unless `v2` is false, then v1 on a
/// fresh connection over the same route if the peer looked v1-only. Each attempt is
/// bounded by `timeout`. Returns the transport that was last tried along with any error,
/// so a failure can still be reported per transport.
///
/// # Errors
/// [`P2pError::Unsupported`] for networks without peer-to-peer support, connection,
/// proxy and handshake errors, [`P2pError::Timeout`].
pub async fn connect(
    network: Network,
    peer: &str,
    route: &Route,
    v2: bool,
    timeout: Duration,
) -> Result<Connection, (Transport, P2pError)> {
    let magic = network
        .p2p_magic()
        .ok_or((Transport::V1, P2pError::Unsupported(network)))?;
    if v2 {
        let attempt = tokio::time::timeout(timeout, connect_v2(network, magic, peer, route)).await;
        match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(V2Failure::RetryV1)) => {}
            Ok(Err(V2Failure::Abort(e))) => return Err((Transport::V2, e)),
            Err(_) => return Err((Transport::V2, P2pError::Timeout("in the v2 handshake"))),
        }
    }
    let attempt = tokio::time::timeout(timeout, open_stream(peer, route)).await;
    let stream = match attempt {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err((Transport::V1, e)),
        Err(_) => return Err((Transport::V1, P2pError::Timeout("connecting"))),
    };
    Ok(Connection::v1(network, magic, stream, Vec::new()))
}

/// A reader that counts the bytes it hands out: a v1 fallback is right only when the
/// peer sent nothing at all (a v1 node drops our key without a word), as Core decides
/// (`V2Transport::ShouldReconnectV1`). A peer that sent half a handshake is not v1.
struct CountingReader {
    inner: OwnedReadHalf,
    count: Arc<AtomicUsize>,
}

impl AsyncRead for CountingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.count.fetch_add(n, Ordering::Relaxed);
        poll
    }
}

enum V2Failure {
    /// The peer closed or reset the connection during the handshake: probably v1-only.
    RetryV1,
    Abort(P2pError),
}

async fn connect_v2(
    network: Network,
    magic: [u8; 4],
    peer: &str,
    route: &Route,
) -> Result<Connection, V2Failure> {
    let stream = open_stream(peer, route).await.map_err(V2Failure::Abort)?;
    let (read, write) = stream.into_split();
    let count = Arc::new(AtomicUsize::new(0));
    let read = CountingReader {
        inner: read,
        count: Arc::clone(&count),
    };
    let protocol = bip324::futures::Protocol::new(
        magic,
        Role::Initiator,
        None,
        None,
        BufReader::new(Box::new(read) as V2Read),
        write,
    )
    .await;
    match protocol {
        Ok(p) => {
            let (read, write) = p.into_split();
            Ok(Connection {
                network,
                magic,
                transport: Transport::V2,
                inner: Inner::V2 {
                    read: Box::new(read),
                    write,
                },
            })
        }
        Err(ProtocolError::Io(_, ProtocolFailureSuggestion::RetryV1))
            if count.load(Ordering::Relaxed) == 0 =>
        {
            Err(V2Failure::RetryV1)
        }
        Err(e) => Err(V2Failure::Abort(P2pError::Handshake(e.to_string()))),
    }
}

impl Connection {
    /// Wraps an accepted v1 stream (the devnet's listener).
    pub fn v1(network: Network, magic: [u8; 4], stream: TcpStream, buffered: Vec<u8>) -> Self {
        let (read, write) = stream.into_split();
        Self {
            network,
            magic,
            transport: Transport::V1,
            inner: Inner::V1 {
                read,
                write,
                buf: buffered,
            },
        }
    }

    /// Wraps an established v2 session (the devnet's listener).
    pub fn v2(
        network: Network,
        magic: [u8; 4],
        read: ProtocolReader<BufReader<V2Read>>,
        write: ProtocolWriter<OwnedWriteHalf>,
    ) -> Self {
        Self {
            network,
            magic,
            transport: Transport::V2,
            inner: Inner::V2 {
                read: Box::new(read),
                write,
            },
        }
    }

    /// Returns the transport this connection speaks.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Sends one message.
    ///
    /// # Errors
    /// I/O or v2 encryption errors.
    pub async fn send(&mut self, msg: &Message) -> Result<(), P2pError> {
        match &mut self.inner {
            Inner::V1 { write, .. } => {
                write
                    .write_all(&wire::encode_frame(self.magic, msg))
                    .await?;
                Ok(())
            }
            Inner::V2 { write, .. } => write
                .write(&Payload::genuine(msg.to_v2_bytes()))
                .await
                .map_err(|e| P2pError::Transport(e.to_string())),
        }
    }

    /// Receives the next message (v2 decoy packets skipped).
    ///
    /// # Errors
    /// [`P2pError::Closed`] when the peer hangs up, [`P2pError::Wire`] for bytes that do not
    /// decode, [`P2pError::Transport`] for a v2 packet that does not decrypt. Cancellation
    /// safe: a timed-out call loses no bytes, so the next call goes on where it stopped.
    pub async fn recv(&mut self) -> Result<Message, P2pError> {
        match &mut self.inner {
            Inner::V1 { read, buf, .. } => loop {
                if let Some((msg, used)) = wire::decode_frame(self.network, self.magic, buf)? {
                    buf.drain(..used);
                    return Ok(msg);
                }
                let mut chunk = [0u8; 16 * 1024];
                let n = read.read(&mut chunk).await?;
                if n == 0 {
                    return Err(P2pError::Closed("mid-conversation"));
                }
                buf.extend_from_slice(&chunk[..n]);
            },
            Inner::V2 { read, .. } => loop {
                let payload = read.read().await.map_err(|e| match e {
                    ProtocolError::Io(e, _)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::UnexpectedEof
                                | std::io::ErrorKind::ConnectionReset
                        ) =>
                    {
                        P2pError::Closed("mid-conversation")
                    }
                    e => P2pError::Transport(e.to_string()),
                })?;
                if payload.packet_type() == PacketType::Decoy {
                    continue;
                }
                return Ok(Message::from_v2_bytes(payload.contents())?);
            },
        }
    }

    /// Closes the connection (flushes and shuts down the write side).
    pub async fn close(self) {
        match self.inner {
            Inner::V1 { mut write, .. } => {
                let _ = write.shutdown().await;
            }
            Inner::V2 { write, .. } => {
                let (_, mut w) = write.into_inner();
                let _ = w.shutdown().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A full BIP-0324 handshake and a message each way over loopback: the ElligatorSwift
    /// ECDH of libsecp256k1 (through the bip324 crate) runs in this build, beside the
    /// build's script engine (bitcoinconsensus or bitcoinkernel; ADR 0007).
    #[tokio::test]
    async fn v2_handshake_and_messages_over_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let magic = Network::Regtest.p2p_magic().unwrap();
        let responder = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, w) = s.into_split();
            let p = bip324::futures::Protocol::new(
                magic,
                Role::Responder,
                None,
                None,
                BufReader::new(Box::new(r) as V2Read),
                w,
            )
            .await
            .unwrap();
            let (r, w) = p.into_split();
            let mut conn = Connection::v2(Network::Regtest, magic, r, w);
            let Message::Ping(n) = conn.recv().await.unwrap() else {
                panic!("expected a ping")
            };
            conn.send(&Message::Pong(n)).await.unwrap();
        });
        let mut conn = connect(
            Network::Regtest,
            &addr,
            &Route::Direct,
            true,
            Duration::from_secs(5),
        )
        .await
        .map_err(|(_, e)| e)
        .unwrap();
        assert_eq!(conn.transport(), Transport::V2);
        conn.send(&Message::Ping(77)).await.unwrap();
        assert_eq!(conn.recv().await.unwrap(), Message::Pong(77));
        responder.await.unwrap();
    }

    #[test]
    fn host_port_split() {
        assert_eq!(
            split_host_port("[::1]:18444").unwrap(),
            ("::1".to_owned(), 18444)
        );
        assert_eq!(
            split_host_port("x.onion:8333").unwrap(),
            ("x.onion".to_owned(), 8333)
        );
        assert!(split_host_port("nohost").is_err());
        assert!(split_host_port(":1").is_err());
    }

    #[tokio::test]
    async fn networks_without_p2p_are_refused_before_connecting() {
        let err = connect(
            Network::Qtum,
            "127.0.0.1:1",
            &Route::Direct,
            true,
            Duration::from_secs(1),
        )
        .await
        .map_err(|(_, e)| e)
        .err()
        .unwrap();
        assert!(matches!(err, P2pError::Unsupported(Network::Qtum)), "{err}");
    }
}
