//! Hostile or broken peers (issue 12): a tiny TCP server on 127.0.0.1 that behaves like a
//! v1-only node (it drops a v2 key without a word, as Core does) and then sends garbage —
//! bad magic, bad checksum, an oversize length — or cuts a v2 handshake in half, or never
//! answers. Each connection must end with a named reason, no panic, no hang past the
//! timeout, and a half v2 handshake must not be retried as v1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::p2p::sample_tx;
use ferry::network::Network;
use ferry::p2p::message::{Message, VersionMessage};
use ferry::p2p::wire::{HEADER_LEN, MAX_PAYLOAD, encode_frame};
use ferry::p2p::{BroadcastConfig, P2pReport, Transport, broadcast};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REGTEST: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

#[derive(Clone, Copy)]
enum Garbage {
    BadMagic,
    BadChecksum,
    Oversize,
    HalfV2Handshake,
    Silent,
    /// A well-behaved v1 node whose version says it does not relay transactions.
    NoRelay,
}

/// Serves `garbage` on 127.0.0.1:0; returns the address and a connection counter.
async fn serve(garbage: Garbage) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(s, garbage));
        }
    });
    (addr, count)
}

async fn answer(mut s: TcpStream, garbage: Garbage) {
    let mut first = [0u8; 4];
    if s.read_exact(&mut first).await.is_err() {
        return;
    }
    let v1 = first == REGTEST;
    let version = encode_frame(
        REGTEST,
        &Message::Version(VersionMessage::anonymous(1, true)),
    );
    let reply = match garbage {
        // A v1 node reading a v2 key: bad magic, hang up without a word.
        Garbage::BadMagic | Garbage::BadChecksum | Garbage::Oversize | Garbage::NoRelay if !v1 => {
            return;
        }
        Garbage::NoRelay => {
            let mut f = encode_frame(
                REGTEST,
                &Message::Version(VersionMessage::anonymous(2, false)),
            );
            f.extend(encode_frame(REGTEST, &Message::Verack));
            f
        }
        Garbage::BadMagic => encode_frame([0xf9, 0xbe, 0xb4, 0xd9], &Message::Verack),
        Garbage::BadChecksum => {
            let mut f = version;
            f[20] ^= 0xff;
            f
        }
        Garbage::Oversize => {
            let mut f = version[..HEADER_LEN].to_vec();
            f[16..20].copy_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
            f
        }
        Garbage::HalfV2Handshake => {
            let mut rest = [0u8; 60];
            let _ = s.read_exact(&mut rest).await;
            vec![0x5a; 32]
        }
        Garbage::Silent => {
            let mut sink = [0u8; 1024];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
    };
    let _ = s.write_all(&reply).await;
    // Hold the connection open a moment so the bytes are read before any reset.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn run(addr: &str, timeout: Duration) -> (P2pReport, Duration) {
    let mut c = BroadcastConfig::new(Network::Regtest, vec![addr.to_owned()], Vec::new());
    c.connection_timeout = timeout;
    let start = Instant::now();
    let report = broadcast(&c, &sample_tx()).await.unwrap();
    (report, start.elapsed())
}

async fn ends_with(garbage: Garbage, expect: &str, transport: Transport, connections: usize) {
    let (addr, count) = serve(garbage).await;
    let (report, took) = run(&addr, Duration::from_secs(5)).await;
    assert!(!report.propagated && !report.handed_over(), "{report:#?}");
    let peer = &report.peers[0];
    let error = peer.error.as_deref().unwrap();
    assert!(error.contains(expect), "{error:?} should name {expect:?}");
    assert_eq!(peer.transport, transport, "{error}");
    assert_eq!(count.load(Ordering::SeqCst), connections, "{error}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[tokio::test]
async fn bad_magic_is_named_after_the_v1_fallback() {
    ends_with(Garbage::BadMagic, "bad magic f9beb4d9", Transport::V1, 2).await;
}

#[tokio::test]
async fn bad_checksum_is_named() {
    ends_with(Garbage::BadChecksum, "bad checksum", Transport::V1, 2).await;
}

#[tokio::test]
async fn oversize_length_is_named() {
    ends_with(Garbage::Oversize, "oversize message", Transport::V1, 2).await;
}

#[tokio::test]
async fn a_v2_handshake_cut_in_half_is_not_retried_as_v1() {
    ends_with(Garbage::HalfV2Handshake, "v2 handshake", Transport::V2, 1).await;
}

#[tokio::test]
async fn a_peer_that_does_not_relay_is_dropped() {
    ends_with(Garbage::NoRelay, "does not relay", Transport::V1, 2).await;
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    let (addr, _) = serve(Garbage::Silent).await;
    let (report, took) = run(&addr, Duration::from_secs(1)).await;
    let error = report.peers[0].error.as_deref().unwrap();
    assert!(error.contains("timed out"), "{error}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn an_unreachable_peer_is_reported_not_fatal() {
    // A port nothing listens on: bind one, then free it.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (report, _) = run(&addr, Duration::from_secs(2)).await;
    let error = report.peers[0].error.as_deref().unwrap();
    assert!(error.contains("could not connect"), "{error}");
    assert!(!report.handed_over());
}

#[tokio::test]
async fn an_unreachable_observer_is_reported_once_and_nothing_is_claimed() {
    let (addr, _) = serve(Garbage::Silent).await;
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut c = BroadcastConfig::new(Network::Regtest, vec![addr], vec![dead.clone()]);
    c.connection_timeout = Duration::from_secs(1);
    let report = broadcast(&c, &sample_tx()).await.unwrap();
    assert_eq!(report.observers.len(), 1, "{report:#?}");
    assert_eq!(report.observers[0].peer, dead);
    assert!(report.observers[0].error.is_some());
    assert!(!report.propagated && report.seen_by.is_empty());
}
