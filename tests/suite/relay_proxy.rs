//! `--proxy socks5h://…`: Alice reaches Bob's relay by a name only her SOCKS5 proxy can
//! resolve (as a .onion name only Tor can). A minimal in-test SOCKS5 server (no auth,
//! CONNECT, domain-name and IPv4 targets) maps `bob-relay.test` to 127.0.0.1 and records
//! every CONNECT target, proving the name went to the proxy unresolved. Without --proxy the
//! same send fails (exit 2) and spends nothing; a proxy that is not SOCKS5 is exit 1.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use crate::common::friends::{Friends, ferry_env};
use ferry::relay::receipt::{Receipt, verify_receipt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The relay's name, known only to the proxy.
use crate::common::friends::BOB_RELAY_HOST as BOB_HOST;

/// A minimal SOCKS5 server (RFC 1928): no authentication, CONNECT only, domain-name and
/// IPv4 targets. It knows one name, `bob-relay.test` → 127.0.0.1, and only connects to
/// 127.0.0.1. Returns its port and the `host:port` targets it was asked to CONNECT to.
async fn start_socks5() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let _ = serve_socks5(conn, log).await;
            });
        }
    });
    (port, seen)
}

async fn serve_socks5(mut c: TcpStream, log: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    // Greeting: VER NMETHODS METHODS…; we need "no authentication" (0x00).
    let mut head = [0u8; 2];
    c.read_exact(&mut head).await?;
    assert_eq!(head[0], 5, "SOCKS version");
    let mut methods = vec![0u8; usize::from(head[1])];
    c.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        c.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    c.write_all(&[5, 0]).await?;
    // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
    let mut req = [0u8; 4];
    c.read_exact(&mut req).await?;
    let reply = |code: u8| [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
    if req[1] != 1 {
        c.write_all(&reply(0x07)).await?; // command not supported
        return Ok(());
    }
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a).await?;
            Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            c.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            c.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            c.write_all(&reply(0x08)).await?; // address type not supported
            return Ok(());
        }
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    log.lock().unwrap().push(format!("{host}:{port}"));
    // Only the proxy knows bob's name; it reaches nothing but this machine.
    if host != BOB_HOST && host != "127.0.0.1" {
        c.write_all(&reply(0x04)).await?; // host unreachable
        return Ok(());
    }
    let Ok(mut upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        c.write_all(&reply(0x05)).await?; // connection refused
        return Ok(());
    };
    c.write_all(&reply(0)).await?;
    tokio::io::copy_bidirectional(&mut c, &mut upstream).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_via_a_relay_only_the_proxy_can_resolve() {
    let mut f = Friends::start().await;
    let (socks_port, seen) = start_socks5().await;
    let proxy = format!("socks5h://127.0.0.1:{socks_port}");
    let relay_port = f.relay_url.rsplit_once(':').unwrap().1.to_owned();
    let bob_target = format!("{BOB_HOST}:{relay_port}");
    let bob_url = format!("http://{bob_target}");
    f.ferry(
        &f.alice,
        &[
            "friends", "add", "bob", "--url", &bob_url, "--key", &f.bob_key,
        ],
    )
    .await
    .expect_code(0);

    let carol_addr = f.carol_address.clone();
    let send = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--json",
            "send",
            carol_addr.as_str(),
            "40000sat",
            "--fee-rate",
            "2",
            "--yes",
            "--via",
            "bob",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let balance = async || {
        f.ferry(&f.alice, &["--json", "balance"])
            .await
            .expect_code(0)
            .json()
    };
    let before = balance().await;

    // Without the proxy nobody can resolve bob's name: the send fails, nothing is spent.
    let args = send(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let direct = f.ferry(&f.alice, &args).await.expect_code(2).json();
    assert_eq!(direct["error"]["code"], "broadcast_failed", "{direct}");
    assert!(seen.lock().unwrap().is_empty(), "no proxy was asked");
    let mempool = f.node.get_json("/api/mempool/txids").await;
    assert_eq!(mempool.as_array().unwrap().len(), 0, "{mempool}");
    assert_eq!(balance().await, before, "nothing spent");

    // A proxy that is not SOCKS5 (or has no port) is the user's mistake, before anything.
    let mut malformed = 0;
    for bad in [
        "http://127.0.0.1:9050",
        "127.0.0.1:9050",
        "socks4://127.0.0.1:9050",
        "socks5h://127.0.0.1",
        "socks5h://:9050",
        "http://tor:secret@127.0.0.1:9050",
    ] {
        let mut args = vec!["--proxy", bad];
        let sent = send(&[]);
        args.extend(sent.iter().map(String::as_str));
        let err = f.ferry(&f.alice, &args).await.expect_code(1).json();
        assert_eq!(err["error"]["code"], "bad_proxy", "{bad}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("socks5h://HOST:PORT"),
            "{err}"
        );
        assert!(!err.to_string().contains("secret"), "{err}");
        malformed += 1;
    }
    assert_eq!(malformed, 6);
    assert_eq!(balance().await, before, "nothing spent");

    // Through the proxy: bob's relay takes it, the receipt verifies, and the proxy was the
    // one asked to find `bob-relay.test` (socks5h: the name, not an address).
    let mut args = vec!["--proxy", proxy.as_str()];
    let sent = send(&[]);
    args.extend(sent.iter().map(String::as_str));
    let sent = f.ferry(&f.alice, &args).await.expect_code(0).json();
    let txid = sent["txid"].as_str().unwrap().to_owned();
    let outcomes = sent["broadcast"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{sent}");
    assert_eq!(outcomes[0]["via"], "bob");
    assert!(outcomes[0].get("error").is_none(), "{sent}");
    let receipt: Receipt = serde_json::from_value(outcomes[0]["receipt"].clone()).unwrap();
    assert_eq!(receipt.txid, txid);
    let pinned: [u8; 32] = hex::decode(&f.bob_key).unwrap().try_into().unwrap();
    verify_receipt(&receipt, &pinned).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![bob_target.clone()]);

    // `relay status` goes through the proxy too (FERRY_PROXY works as the flag does).
    let status = ferry_env(
        &f.alice,
        &["--json", "relay", "status", &txid, "--via", "bob"],
        &[("FERRY_BACKEND", &f.backend), ("FERRY_PROXY", &proxy)],
    )
    .await
    .expect_code(0)
    .json();
    assert_eq!(status["txid"], txid.as_str(), "{status}");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![bob_target.clone(), bob_target.clone()]
    );
    let no_proxy = f
        .ferry(
            &f.alice,
            &["--json", "relay", "status", &txid, "--via", "bob"],
        )
        .await
        .expect_code(2)
        .json();
    assert_eq!(no_proxy["error"]["code"], "relay_unreachable", "{no_proxy}");
    assert_eq!(seen.lock().unwrap().len(), 2, "no proxy was asked");

    f.stop_relay().await;
    f.node.stop().await;
}
