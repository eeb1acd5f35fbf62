//! ferry against a real Bitcoin Core (`bitcoind -regtest` from BITCOIND_EXE; built by
//! scripts/build-bitcoind.sh, which .ci/run calls): the Core backend end to end with both
//! kinds of auth, a friend's relay whose backend is Core, and Core's own verdicts.
//! Without BITCOIND_EXE these tests say they are skipped (in CI they always run).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::bitcoin_core::story::{Wallets, blocking, pay_with_core};
use crate::common::bitcoin_core::{Bitcoind, CoreAuth, bitcoind_exe};
use ferry::script::AddressType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_through_bitcoin_core_with_a_cookie() {
    let Some(exe) = bitcoind_exe("pays_through_bitcoin_core_with_a_cookie") else {
        return;
    };
    let node = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    pay_with_core(&node.rpc, &node.backend_url()).await;
    node.stop().await;
}

/// Polls `f` every 100 ms for up to `secs` seconds until it returns true.
async fn eventually(secs: u64, what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..secs * 10 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen in {secs} s");
}

/// `ferry relay serve` as a subprocess; killed when dropped.
struct RelayProc {
    child: std::process::Child,
    url: String,
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_relay(data_dir: &std::path::Path, backend: &str) -> RelayProc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--backend",
            backend,
        ])
        .args([
            "relay",
            "serve",
            "--friends-only",
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--network",
            "regtest",
            "--max-retry-delay",
            "1",
            "--status-interval",
            "1",
        ])
        .env_remove("FERRY_DATA_DIR")
        .env_remove("FERRY_BACKEND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // "relay listening on http://ADDR (…)"
    let url = first
        .strip_prefix("relay listening on ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("relay did not print its address: {first:?}"))
        .to_owned();
    RelayProc { child, url }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friends_relay_with_bitcoin_core_behind_it() {
    let Some(exe) = bitcoind_exe("a_friends_relay_with_bitcoin_core_behind_it") else {
        return;
    };
    // user:password this time (the story above uses the cookie).
    let node = Bitcoind::start(&exe, CoreAuth::UserPass).await;
    let backend = node.backend_url();
    let alice = Wallets::new(&backend);
    alice.make("default", 1, AddressType::P2tr);
    let carol = Wallets::new(&backend);
    carol.make("default", 3, AddressType::P2wpkh);
    let bob = Wallets::new(&backend);
    bob.make("default", 5, AddressType::P2wpkh);

    let (a, b, c) = (alice.clone(), bob.clone(), carol.clone());
    let (alice_addr, carol_addr, bob_addr, bob_key) = blocking(move || {
        let alice_key = a.ok(&["--json", "identity"])["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let bob_key = b.ok(&["--json", "identity"])["key"]
            .as_str()
            .unwrap()
            .to_owned();
        b.ok(&["--json", "friends", "add", "alice", "--key", &alice_key]);
        (
            a.address("default"),
            c.address("default"),
            b.address("default"),
            bob_key,
        )
    })
    .await;
    let relay = serve_relay(bob.f.dir.path(), &backend);
    let (a, url) = (alice.clone(), relay.url.clone());
    blocking(move || {
        a.ok(&[
            "--json", "friends", "add", "bob", "--url", &url, "--key", &bob_key,
        ]);
    })
    .await;
    node.rpc.mine(101, &alice_addr).await;

    // No --fee-rate: regtest Core has no estimates, so ferry says so and uses the relay
    // minimum; the payment goes through Bob, whose backend is this Core node.
    let a = alice.clone();
    let sent = blocking(move || a.send("default", &carol_addr, 40_000, &["--via", "bob"])).await;
    let txid = sent["txid"].as_str().unwrap().to_owned();
    assert_eq!(sent["broadcast"][0]["via"], "bob", "{sent}");
    assert!(
        (sent["fee_rate"].as_f64().unwrap() - 1.0).abs() < 0.1,
        "{sent}"
    );
    let rpc = node.rpc.clone();
    let t = txid.clone();
    eventually(10, "Bob's relay broadcasting to Core", async || {
        rpc.mempool().await.contains(&t)
    })
    .await;
    node.rpc.mine(1, &bob_addr).await;
    // Core runs without -txindex: the relay finds the confirmation through the outputs.
    let (a, t) = (alice.clone(), txid.clone());
    eventually(20, "Bob's relay reporting the confirmation", async || {
        let (a, t) = (a.clone(), t.clone());
        blocking(move || {
            a.ok(&["--json", "relay", "status", &t, "--via", "bob"])["status"] == "confirmed"
        })
        .await
    })
    .await;
    let c = carol.clone();
    assert_eq!(blocking(move || c.balance("default")).await, (40_000, 0));
    drop(relay);
    node.stop().await;
}
