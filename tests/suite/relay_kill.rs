//! Real crash and outage tests of `ferry relay serve` run as a separate process in front of
//! an in-process devnet:
//! - SIGKILL in the middle of a 1,000-transaction load from 16 concurrent clients, restart on
//!   the same data dir: every transaction that got a 202 reaches the devnet, none twice;
//! - the devnet really stopped while the relay accepts 500 transactions, then started again
//!   on the same data dir and port: all 500 delivered.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::devnet::{Key, Node};
use ferry::devnet::{Devnet, DevnetState};
use ferry::tx::Transaction;
use tokio::sync::oneshot;

/// A `ferry relay serve --open` child process.
struct RelayProc {
    child: Child,
    base: String,
}

impl RelayProc {
    /// Starts the relay on `data_dir` in front of the devnet at `devnet_base` and waits for
    /// the address it prints.
    fn start(data_dir: &Path, devnet_base: &str) -> RelayProc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("relay.log"))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--backend", &format!("{devnet_base}/api")])
            .args(["relay", "serve", "--open", "--listen", "127.0.0.1:0"])
            .args(["--network", "regtest", "--ip-rate", "1000000"])
            .args(["--ip-burst", "1000000", "--max-retry-delay", "1"])
            .env_remove("FERRY_DATA_DIR")
            .env_remove("FERRY_BACKEND")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            // "relay listening on http://ADDR (open to anyone; …)"
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let base = line
            .strip_prefix("relay listening on ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(data_dir.join("relay.log")).unwrap_or_default();
                panic!("relay did not print its address: {line:?}\n{log}")
            })
            .to_owned();
        RelayProc { child, base }
    }

    /// SIGKILL (std's `Child::kill` on Unix), then reaps it.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A devnet on a fixed data dir and address, so it can be stopped and started again in
/// place (a backend that is really down, then back).
struct Backend {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Backend {
    async fn start(dir: &Path, addr: SocketAddr) -> Backend {
        let d = dir.to_path_buf();
        let devnet = tokio::task::spawn_blocking(move || Devnet::open(&d))
            .await
            .unwrap()
            .unwrap();
        // The port was ours a moment ago; TIME_WAIT leftovers may delay a rebind briefly.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(ferry::devnet::run(
            DevnetState::new(devnet),
            listener,
            None,
            async move {
                let _ = rx.await;
            },
        ));
        Backend { stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// A port nobody listens on right now: bound, then released.
fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The devnet's mempool, as listed (duplicates would show).
async fn mempool(http: &reqwest::Client, base: &str) -> Vec<String> {
    let v: serde_json::Value = http
        .get(format!("{base}/api/mempool/txids"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

/// Fires `txs` at `base` with `clients` concurrent clients (keep-alive); returns each
/// transaction's HTTP status (0: no answer) in order. `accepted` counts the 202s as they
/// come.
async fn fire(
    base: &str,
    txs: &[Transaction],
    clients: usize,
    accepted: Arc<AtomicUsize>,
) -> Vec<u16> {
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/tx");
    let bodies: Arc<Vec<String>> = Arc::new(
        txs.iter()
            .map(|t| serde_json::json!({ "tx": t.to_hex() }).to_string())
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, url, bodies, next, accepted) = (
            http.clone(),
            url.clone(),
            bodies.clone(),
            next.clone(),
            accepted.clone(),
        );
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                let s = match http.post(&url).body(b.clone()).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                if s == 202 {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                out.push((i, s));
            }
            out
        });
    }
    let mut statuses = vec![0u16; txs.len()];
    while let Some(r) = set.join_next().await {
        for (i, s) in r.unwrap() {
            statuses[i] = s;
        }
    }
    statuses
}

/// Waits until every txid of `want` is in the devnet's mempool; asserts none is listed
/// twice.
async fn wait_delivered(http: &reqwest::Client, base: &str, want: &[String], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let m = mempool(http, base).await;
        let set: HashSet<&String> = m.iter().collect();
        assert_eq!(set.len(), m.len(), "a transaction is twice in the mempool");
        let missing = want.iter().filter(|t| !set.contains(t)).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted transactions never reached the devnet",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Mines a block and checks that each of `txids` is confirmed and out of the mempool:
/// delivered exactly once.
async fn mine_and_check_once(http: &reqwest::Client, base: &str, txids: &[String]) {
    let r = http
        .post(format!("{base}/devnet/mine"))
        .json(&serde_json::json!({"blocks": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let m: HashSet<String> = mempool(http, base).await.into_iter().collect();
    let mut confirmed = 0;
    for t in txids {
        assert!(!m.contains(t), "{t} still in the mempool after a block");
        let st: serde_json::Value = http
            .get(format!("{base}/api/tx/{t}/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(st["confirmed"], true, "{t}: {st}");
        confirmed += 1;
    }
    assert_eq!(confirmed, txids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_then_restart_loses_no_accepted_transaction() {
    const N: usize = 1000;
    const KILL_AFTER: usize = 300;
    let node = Node::start_fresh().await;
    let txs = node.presigned_spends(&Key::new(21), &Key::new(22), N).await;
    let ids: Vec<String> = txs.iter().map(|t| t.txid().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();

    let relay = RelayProc::start(dir.path(), &node.base);
    let accepted = Arc::new(AtomicUsize::new(0));
    let load = {
        let (base, txs, accepted) = (relay.base.clone(), txs.clone(), accepted.clone());
        tokio::spawn(async move { fire(&base, &txs, 16, accepted).await })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::Relaxed) < KILL_AFTER {
        assert!(Instant::now() < deadline, "the relay accepted too slowly");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    relay.kill();
    let statuses = load.await.unwrap();
    let got_202: Vec<String> = (0..N)
        .filter(|&i| statuses[i] == 202)
        .map(|i| ids[i].clone())
        .collect();
    let unanswered: Vec<usize> = (0..N).filter(|&i| statuses[i] == 0).collect();
    assert_eq!(
        got_202.len() + unanswered.len(),
        N,
        "every answer is a 202 or none: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 0 && **s != 202)
            .collect::<Vec<_>>()
    );
    assert!(
        got_202.len() >= KILL_AFTER && got_202.len() < N,
        "killed in the middle: {} accepted",
        got_202.len()
    );

    let at_kill: HashSet<String> = mempool(&http, &node.base).await.into_iter().collect();
    let left_to_queue = got_202.iter().filter(|t| !at_kill.contains(*t)).count();

    // Second life on the same data dir: what the queue kept is delivered.
    let relay = RelayProc::start(dir.path(), &node.base);
    wait_delivered(&http, &node.base, &got_202, 20).await;

    // The unanswered ones sent again: new or idempotent duplicates, all accepted, all there.
    let rest: Vec<Transaction> = unanswered.iter().map(|&i| txs[i].clone()).collect();
    let again = fire(&relay.base, &rest, 8, Arc::new(AtomicUsize::new(0))).await;
    assert!(again.iter().all(|s| *s == 202), "{again:?}");
    wait_delivered(&http, &node.base, &ids, 20).await;
    mine_and_check_once(&http, &node.base, &ids).await;
    eprintln!(
        "sigkill: {} accepted before the kill ({left_to_queue} not yet delivered then), {} \
         unanswered, all {N} delivered once",
        got_202.len(),
        unanswered.len()
    );
    drop(relay);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_really_down_500_accepted_then_delivered() {
    const N: usize = 500;
    let devnet_dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // Funding through the harness (on its own port), then the same data dir on `addr`.
    let txs = {
        let node = Node::start(devnet_dir.path()).await;
        let txs = node
            .presigned_spends(&Key::new(23), &Key::new(24), N + 1)
            .await;
        node.stop().await;
        txs
    };
    let ids: Vec<String> = txs.iter().map(|t| t.txid().to_string()).collect();
    let backend = Backend::start(devnet_dir.path(), addr).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &base);

    // One while the backend is up: the relay learns the parent transaction.
    let first = fire(&relay.base, &txs[..1], 1, Arc::new(AtomicUsize::new(0))).await;
    assert_eq!(first, [202]);
    wait_delivered(&http, &base, &ids[..1], 10).await;

    backend.stop().await;
    assert!(
        http.get(format!("{base}/api/blocks/tip/height"))
            .send()
            .await
            .is_err(),
        "the backend is down"
    );
    let statuses = fire(&relay.base, &txs[1..], 8, Arc::new(AtomicUsize::new(0))).await;
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!(accepted, N, "{statuses:?}");
    // The worker tried and failed meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let st: serde_json::Value = http
        .get(format!("{}/v1/tx/{}", relay.base, ids[1]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "queued", "{st}");
    assert!(st["attempts"].as_u64().unwrap() >= 1, "{st}");

    let backend = Backend::start(devnet_dir.path(), addr).await;
    wait_delivered(&http, &base, &ids, 30).await;
    mine_and_check_once(&http, &base, &ids).await;
    drop(relay);
    backend.stop().await;
}

/// `ferry relay status` exit codes: a relay that cannot be reached or refuses is the other
/// side's failure (2); a malformed txid is the user's (1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_status_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--json", "--data-dir", dir.path().to_str().unwrap()])
            .args(args)
            .env_remove("FERRY_DATA_DIR")
            .env_remove("FERRY_BACKEND")
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), doc)
    };
    let txid = "11".repeat(32);
    let nobody = format!("http://{}", free_addr());
    let cases: Vec<(Vec<String>, i32, &str)> = {
        // A relay in front of a backend that is not there: status does not need it.
        let relay = RelayProc::start(dir.path(), &format!("http://{}", free_addr()));
        let cases = vec![
            (
                vec![txid.clone(), "--via".into(), nobody],
                2,
                "relay_unreachable",
            ),
            (
                vec![txid.clone(), "--via".into(), relay.base.clone()],
                2,
                "relay_not_found",
            ),
            (
                vec!["not-a-txid".into(), "--via".into(), relay.base.clone()],
                1,
                "bad_txid",
            ),
        ];
        let mut results = Vec::new();
        for (args, code, err) in cases {
            let mut full = vec!["relay".to_owned(), "status".to_owned()];
            full.extend(args);
            let refs: Vec<&str> = full.iter().map(String::as_str).collect();
            let (got, doc) = run(&refs);
            assert_eq!(got, code, "{full:?}: {doc}");
            assert_eq!(doc["error"]["code"], err, "{full:?}: {doc}");
            results.push((full, got, err));
        }
        drop(relay);
        results
    };
    assert_eq!(cases.len(), 3);
}
