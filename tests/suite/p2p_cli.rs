//! `ferry broadcast … --p2p` through the real binary (issue 12): exit 0 only when
//! propagated, exit 2 when handed over but not seen or when no peer is reachable, exit 1
//! for bad input; JSON per DESIGN §3. And `--proxy socks5h://…`: a SOCKS5 server in the
//! test, in front of real Core nodes, sees every connection (v1 retries included), each
//! with its own credentials; with the proxy down nothing reaches the node directly.
//! The Core parts are skipped without BITCOIND_EXE (never in CI).

use std::sync::{Arc, Mutex};

use crate::common::bitcoin_core::bitcoind_exe;
use crate::common::bitcoin_core::story::Wallets;
use crate::common::cli::Ferry;
use crate::common::p2p::{Pair, sample_tx};
use ferry::script::AddressType;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Runs the binary off the test's runtime.
async fn ferry(args: Vec<String>) -> crate::common::cli::Run {
    tokio::task::spawn_blocking(move || {
        let f = Ferry::new();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        f.run(&args)
    })
    .await
    .unwrap()
}

fn p2p_args(hex: &str, peer: &str, observer: &str, wait: u64) -> Vec<String> {
    [
        "--json",
        "broadcast",
        hex,
        "--p2p",
        "--p2p-network",
        "regtest",
        "--peer",
        peer,
        "--observer",
        observer,
        "--p2p-timeout",
        "10",
        "--p2p-wait",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([wait.to_string()])
    .collect()
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn bad_p2p_input_is_a_user_error() {
    let hex = "00";
    let cases: [(&[&str], &str); 4] = [
        (&["--peer", "nohostport"], "HOST:PORT"),
        (
            &[
                "--p2p-network",
                "testnet4",
                "--peer",
                "127.0.0.1:1",
                "--observer",
                "127.0.0.1:1",
            ],
            "both a peer and an observer",
        ),
        (
            &["--p2p-network", "qtum", "--peer", "127.0.0.1:1"],
            "does not speak the qtum",
        ),
        (&["--p2p-network", "regtest"], "regtest has no seeds"),
    ];
    // A valid transaction, so the errors are about the p2p options.
    let tx = sample_tx().to_hex();
    assert_ne!(tx, hex);
    for (extra, says) in cases {
        let mut args: Vec<String> = ["--json", "broadcast", &tx, "--p2p"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if !extra.contains(&"--p2p-network") {
            args.extend(["--p2p-network".into(), "regtest".into()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let run = ferry(args).await.expect_code(1);
        let msg = run.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.contains(says), "{msg:?} should say {says:?}");
    }
}

#[tokio::test]
async fn no_reachable_peer_is_exit_2_with_the_report() {
    let hex = sample_tx().to_hex();
    let (peer, observer) = (free_addr(), free_addr());
    let run = ferry(p2p_args(&hex, &peer, &observer, 1))
        .await
        .expect_code(2);
    let j = run.json();
    assert_eq!(j["error"]["code"], "no_peer_reachable", "{j}");
    assert_eq!(j["p2p"]["propagated"], false);
    assert_eq!(j["p2p"]["peers"][0]["peer"], peer.as_str());
    assert_eq!(j["p2p"]["peers"][0]["handed_over"], false);
    assert!(
        j["p2p"]["peers"][0]["error"]
            .as_str()
            .unwrap()
            .contains("could not connect")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_p2p_through_the_binary_against_core() {
    let Some(exe) = bitcoind_exe("broadcast_p2p_through_the_binary_against_core") else {
        return;
    };
    let pair = Pair::start(&exe, &[], 2).await;
    let tx = pair.spend(0, 1_000);
    let run = ferry(p2p_args(&tx.to_hex(), &pair.a_p2p, &pair.b_p2p, 10))
        .await
        .expect_code(0);
    let j = run.json();
    assert_eq!(j["txid"], tx.txid().to_string());
    assert_eq!(j["p2p"]["propagated"], true, "{j}");
    assert_eq!(j["p2p"]["peers"][0]["transport"], "v2");
    assert_eq!(j["p2p"]["peers"][0]["handed_over"], true);
    assert_eq!(j["p2p"]["seen_by"], Value::from(vec![pair.b_p2p.clone()]));
    assert!(Pair::in_mempool(&pair.b, &tx.txid().to_string()).await);

    // Zero fee: handed over, never seen — exit 2, not success, with the report.
    let free = pair.spend(1, 0);
    let run = ferry(p2p_args(&free.to_hex(), &pair.a_p2p, &pair.b_p2p, 2))
        .await
        .expect_code(2);
    let j = run.json();
    assert_eq!(j["error"]["code"], "not_propagated", "{j}");
    assert_eq!(j["p2p"]["propagated"], false);
    assert_eq!(j["p2p"]["peers"][0]["handed_over"], true);

    // `ferry send --p2p`: a wallet whose backend is A builds and signs; the network, not
    // the backend, carries the payment.
    let w = Wallets::new(&pair.a.backend_url());
    w.make("alice", 7, AddressType::P2tr);
    let w2 = w.clone();
    let alice = tokio::task::spawn_blocking(move || w2.address("alice"))
        .await
        .unwrap();
    pair.a.rpc.mine(101, &alice).await;
    let height = pair
        .a
        .rpc
        .call("getblockcount", serde_json::json!([]))
        .await;
    crate::common::p2p::wait_for(30, "B synced", async || {
        pair.b
            .rpc
            .call("getblockcount", serde_json::json!([]))
            .await
            == height
    })
    .await;
    let (a_p2p, b_p2p) = (pair.a_p2p.clone(), pair.b_p2p.clone());
    let w2 = w.clone();
    let sent = tokio::task::spawn_blocking(move || {
        let to = w2.address("alice");
        w2.send(
            "alice",
            &to,
            25_000,
            &[
                "--fee-rate",
                "2",
                "--p2p",
                "--peer",
                &a_p2p,
                "--observer",
                &b_p2p,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(sent["p2p"]["propagated"], true, "{sent}");
    assert_eq!(
        sent["broadcast"],
        serde_json::json!([]),
        "no backend broadcast"
    );
    let txid = sent["txid"].as_str().unwrap();
    assert!(Pair::in_mempool(&pair.b, txid).await);
    pair.stop().await;
}

/// What the SOCKS5 server saw: (username, password, host, port) per connection.
type Seen = Arc<Mutex<Vec<(String, String, String, u16)>>>;

/// A SOCKS5 server (username/password auth, CONNECT by name or IPv4) that records every
/// connection and splices it to its destination.
async fn socks5_server() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let _ = socks5_session(s, log).await;
            });
        }
    });
    (addr, seen, task)
}

async fn socks5_session(mut s: TcpStream, log: Seen) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut methods).await?;
    assert!(methods.contains(&2), "ferry offers username/password");
    s.write_all(&[5, 2]).await?;
    let mut ver = [0u8; 2];
    s.read_exact(&mut ver).await?;
    let mut user = vec![0u8; usize::from(ver[1])];
    s.read_exact(&mut user).await?;
    let plen = s.read_u8().await?;
    let mut pass = vec![0u8; usize::from(plen)];
    s.read_exact(&mut pass).await?;
    s.write_all(&[1, 0]).await?;
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await?;
    let host = match req[3] {
        3 => {
            let n = s.read_u8().await?;
            let mut h = vec![0u8; usize::from(n)];
            s.read_exact(&mut h).await?;
            String::from_utf8(h).unwrap()
        }
        1 => {
            let mut ip = [0u8; 4];
            s.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        t => panic!("address type {t}"),
    };
    let port = s.read_u16().await?;
    log.lock().unwrap().push((
        String::from_utf8(user).unwrap(),
        String::from_utf8(pass).unwrap(),
        host.clone(),
        port,
    ));
    let mut out = TcpStream::connect((host.as_str(), port)).await?;
    s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut s, &mut out).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_goes_through_the_socks5_proxy() {
    let Some(exe) = bitcoind_exe("every_connection_goes_through_the_socks5_proxy") else {
        return;
    };
    // A speaks v1 only, so the sender's connection is a v2 try and a v1 retry.
    let pair = Pair::start(&exe, &["-v2transport=0", "-debug=net"], 2).await;
    let (proxy, seen, server) = socks5_server().await;
    let tx = pair.spend(0, 1_000);
    let mut args = vec!["--proxy".to_owned(), format!("socks5h://{proxy}")];
    args.extend(p2p_args(&tx.to_hex(), &pair.a_p2p, &pair.b_p2p, 10));
    let j = ferry(args.clone()).await.expect_code(0).json();
    assert_eq!(j["p2p"]["propagated"], true, "{j}");
    assert_eq!(j["p2p"]["peers"][0]["transport"], "v1");
    let log = seen.lock().unwrap().clone();
    let a_port: u16 = pair.a_p2p.rsplit_once(':').unwrap().1.parse().unwrap();
    let b_port: u16 = pair.b_p2p.rsplit_once(':').unwrap().1.parse().unwrap();
    let to_a = log.iter().filter(|c| c.3 == a_port).count();
    let to_b = log.iter().filter(|c| c.3 == b_port).count();
    assert_eq!(
        (to_a, to_b),
        (2, 1),
        "v2 try + v1 retry to A, one observer: {log:?}"
    );
    assert!(
        log.iter().all(|c| c.2 == "127.0.0.1"),
        "destinations sent as given: {log:?}"
    );
    let mut creds: Vec<(String, String)> = log.iter().map(|c| (c.0.clone(), c.1.clone())).collect();
    creds.sort();
    creds.dedup();
    assert_eq!(
        creds.len(),
        log.len(),
        "distinct credentials per connection: {log:?}"
    );

    // The proxy goes down: the broadcast fails and nothing reaches A in the clear.
    server.abort();
    let _ = server.await;
    let accepted_before = accepted_connections(&pair);
    assert!(
        accepted_before > 0,
        "A's debug log names accepted connections"
    );
    let again = pair.spend(1, 1_000);
    let mut args = vec!["--proxy".to_owned(), format!("socks5h://{proxy}")];
    args.extend(p2p_args(&again.to_hex(), &pair.a_p2p, &pair.b_p2p, 2));
    let j = ferry(args).await.expect_code(2).json();
    assert_eq!(j["error"]["code"], "no_peer_reachable", "{j}");
    let err = j["p2p"]["peers"][0]["error"].as_str().unwrap();
    assert!(err.contains("proxy"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        accepted_connections(&pair),
        accepted_before,
        "no direct connection"
    );
    assert!(!Pair::in_mempool(&pair.a, &again.txid().to_string()).await);
    pair.stop().await;
}

/// Lines in A's debug log (with -debug=net) for accepted inbound connections.
fn accepted_connections(pair: &Pair) -> usize {
    let log = std::fs::read_to_string(pair.a.datadir().join("regtest/debug.log")).unwrap();
    log.lines()
        .filter(|l| l.contains("connection from") && l.contains("accepted"))
        .count()
}
