//! Issue 14: the eight weaknesses found by attacking a running relay, each with the attack
//! that found it, through a real relay on 127.0.0.1 in front of a devnet.

use std::time::{Duration, Instant};

use crate::common::devnet::{Key, KeyType, Node};
use crate::common::relay::{Relay, now, test_config};
use ferry::identity::IdentityKey;
use ferry::relay::auth::authorization_header;
use ferry::relay::{AuthMode, RelayConfig};
use ferry::tx::Transaction;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

async fn friends_relay(
    node: &Node,
    dir: &std::path::Path,
    config: RelayConfig,
    friends: Vec<[u8; 32]>,
) -> Relay {
    Relay::start(
        dir,
        &node.base,
        config,
        IdentityKey::generate().unwrap(),
        friends,
        false,
    )
    .await
}

/// A GET signed by `key` for `url`, sent to `target` (the same URL unless replayed).
async fn signed_get(
    http: &reqwest::Client,
    key: &IdentityKey,
    url: &str,
    target: &str,
    created_at: i64,
) -> (u16, String) {
    let h = authorization_header(key.signing_key(), "GET", url, b"", created_at).unwrap();
    let r = http
        .get(target)
        .header("authorization", h)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap_or_default()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Finding 1: connections that send a submission's headers and then its body a byte a
/// second once held every request slot; a stranger is now refused from the headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_do_not_stall_friends() {
    const SLOW: usize = 100;
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let txs = node.presigned_spends(&Key::new(61), &Key::new(62), 1).await;
    let friend = IdentityKey::generate().unwrap();
    let mut config = test_config(AuthMode::Friends);
    config.concurrency = 32;
    config.connections_per_ip = 1_000;
    config.body_timeout = Duration::from_secs(1);
    let relay = friends_relay(&node, dir.path(), config, vec![friend.x_only_public_key()]).await;
    let addr = relay.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..SLOW {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/tx HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100000\r\n\
             Content-Type: application/json\r\n\r\n{{"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        slow.push(c);
    }
    let dribble = tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for c in &mut slow {
                let _ = c.write_all(b" ").await;
            }
        }
        slow
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let http = reqwest::Client::new();
    let t = Instant::now();
    let info = http
        .get(format!("{}/v1/info", relay.base))
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let (status, v) = relay.submit(&http, &txs[0].to_hex(), Some(&friend)).await;
    assert_eq!(status, 202, "{v}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );

    // A friend's own slow body ends at the body timeout, not the request's.
    let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let url = format!("{}/v1/tx", relay.base);
    let body = format!("{{\"tx\":\"{}\"}}", txs[0].to_hex());
    let auth =
        authorization_header(friend.signing_key(), "POST", &url, body.as_bytes(), now()).unwrap();
    let head = format!(
        "POST /v1/tx HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nAuthorization: {auth}\r\n\r\n{{",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 4096];
        let n = c.read(&mut buf).await.unwrap();
        answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    drop(dribble);
    relay.stop().await;
    node.stop().await;
}

/// Finding 1, the per-IP cap: past it, a host's extra connections are closed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_are_capped() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(AuthMode::Open);
    config.connections_per_ip = 8;
    let relay = friends_relay(&node, dir.path(), config, Vec::new()).await;
    let addr = relay.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let refused = http.get(format!("{}/v1/info", relay.base)).send().await;
    assert!(refused.is_err(), "a ninth connection was served");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ok = http
        .get(format!("{}/v1/info", relay.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    relay.stop().await;
    node.stop().await;
}

/// Finding 2: one friend's valid events filled the shared replay cache and locked every
/// other friend out; now each friend has a bounded share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_friend_cannot_lock_the_others_out() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        IdentityKey::generate().unwrap(),
        IdentityKey::generate().unwrap(),
    );
    let mut config = test_config(AuthMode::Friends);
    config.replay_capacity = 90; // three friends (a, b, the harness's): 30 ids each
    let relay = friends_relay(
        &node,
        dir.path(),
        config,
        vec![a.x_only_public_key(), b.x_only_public_key()],
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/tx/{}", relay.base, "00".repeat(32));
    let mut served = 0;
    let mut limited = 0;
    for _ in 0..150 {
        match signed_get(&http, &a, &url, &url, now() + 50).await {
            (404, _) => served += 1,
            (429, body) => {
                assert_eq!(code(&body), "rate_limited", "{body}");
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((served, limited), (30, 120));
    let (status, body) = signed_get(&http, &b, &url, &url, now()).await;
    assert_eq!(status, 404, "the other friend is still served: {body}");
    relay.stop().await;
    node.stop().await;
}

/// Finding 3: `created_at = i64::MIN + now` wrapped the clock check and the same header
/// passed again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_created_at_is_refused_every_time() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let friend = IdentityKey::generate().unwrap();
    let relay = friends_relay(
        &node,
        dir.path(),
        test_config(AuthMode::Friends),
        vec![friend.x_only_public_key()],
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/tx/{}", relay.base, "00".repeat(32));
    for created_at in [i64::MIN + now(), i64::MIN, i64::MAX] {
        let h = authorization_header(friend.signing_key(), "GET", &url, b"", created_at).unwrap();
        for _ in 0..5 {
            let r = http
                .get(&url)
                .header("authorization", &h)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_eq!(status, 401, "{created_at}: {body}");
            assert!(body.contains("outside"), "{body}");
        }
    }
    relay.stop().await;
    node.stop().await;
}

/// Findings 5 and 6: a 401 never names the relay's configured URL, and a header signed for
/// one relay does not pass at another that trusts the same friend (even with the first
/// one's Host header).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_neither_leak_nor_cross_relays() {
    let node = Node::start_fresh().await;
    let (d1, d2, d3) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let friend = IdentityKey::generate().unwrap();
    let friends = vec![friend.x_only_public_key()];
    let one = friends_relay(
        &node,
        d1.path(),
        test_config(AuthMode::Friends),
        friends.clone(),
    )
    .await;
    let two = friends_relay(
        &node,
        d2.path(),
        test_config(AuthMode::Friends),
        friends.clone(),
    )
    .await;
    let mut onion = test_config(AuthMode::Friends);
    onion.public_urls = vec!["http://secretrelayaddress.onion".into()];
    let three = friends_relay(&node, d3.path(), onion, friends).await;
    let http = reqwest::Client::new();
    let path = format!("/v1/tx/{}", "00".repeat(32));

    // Signed for relay one: served there, refused at relay two, Host header or not.
    let for_one = format!("{}{path}", one.base);
    assert_eq!(
        signed_get(&http, &friend, &for_one, &for_one, now())
            .await
            .0,
        404
    );
    let (status, body) = signed_get(
        &http,
        &friend,
        &for_one,
        &format!("{}{path}", two.base),
        now(),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (401, "unauthorized".to_owned()),
        "{body}"
    );
    let h = authorization_header(friend.signing_key(), "GET", &for_one, b"", now()).unwrap();
    let host = one.base.trim_start_matches("http://");
    let r = http
        .get(format!("{}{path}", two.base))
        .header("authorization", h)
        .header("host", host)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Relay three answers to its onion address only, and never says so to a stranger.
    let stranger = IdentityKey::generate().unwrap();
    let (status, body) = signed_get(
        &http,
        &stranger,
        &format!("{}{path}", three.base),
        &format!("{}{path}", three.base),
        now(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(!body.contains("secretrelayaddress"), "{body}");
    let onion_url = format!("http://secretrelayaddress.onion{path}");
    let (status, _) = signed_get(
        &http,
        &friend,
        &onion_url,
        &format!("{}{path}", three.base),
        now(),
    )
    .await;
    assert_eq!(status, 404, "a friend's header for the onion URL passes");
    for r in [one, two, three] {
        r.stop().await;
    }
    node.stop().await;
}

fn spend_to(
    key: &Key,
    coin: &(ferry::tx::OutPoint, ferry::tx::TxOut),
    dest: &Key,
    value: u64,
) -> Transaction {
    key.spend(
        std::slice::from_ref(coin),
        &[(dest.script(KeyType::P2wpkh), value)],
        0xffff_fffd,
    )
}

/// Finding 7: 25 conflicting spends of one coin were all accepted with signed receipts.
/// Now only a valid replacement replaces; a spend of an output spent in a block is refused;
/// each submitter has a bounded number of pending transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_spends_and_the_pending_cap() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, dest) = (Key::new(71), Key::new(72));
    let coins = node
        .fund(
            &key,
            KeyType::P2wpkh,
            &[100_000, 100_000, 100_000, 100_000, 100_000],
        )
        .await;
    let mut config = test_config(AuthMode::Open);
    config.pending_per_submitter = 3;
    let relay = friends_relay(&node, dir.path(), config, Vec::new()).await;
    let http = reqwest::Client::new();

    let first = spend_to(&key, &coins[0], &dest, 99_000);
    let (status, v) = relay.submit(&http, &first.to_hex(), None).await;
    assert_eq!(status, 202, "{v}");
    let mut refused = 0;
    for i in 1..25 {
        let tx = spend_to(&key, &coins[0], &dest, 99_000 - i);
        let (status, v) = relay.submit(&http, &tx.to_hex(), None).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (409, Some("rbf")),
            "{v}"
        );
        refused += 1;
    }
    assert_eq!(refused, 24);
    assert_eq!(relay.state.claims.len(), 1);

    // A valid replacement (its fees plus 1 sat/vB for its own size, a higher rate) is taken
    // and the original is marked failed.
    let bump = spend_to(&key, &coins[0], &dest, 97_000);
    let (status, v) = relay.submit(&http, &bump.to_hex(), None).await;
    assert_eq!(status, 202, "{v}");
    crate::common::relay::wait_until(10, "the original marked replaced", || async {
        relay.status(&http, &first.txid().to_string()).await["status"] == "failed"
    })
    .await;
    let st = relay.status(&http, &first.txid().to_string()).await;
    assert!(
        st["last_error"]
            .as_str()
            .unwrap()
            .contains(&bump.txid().to_string()),
        "{st}"
    );
    assert_eq!(relay.state.claims.len(), 1);

    // The cap: 3 pending per submitter (the replacement is one).
    for coin in &coins[1..3] {
        let (status, v) = relay
            .submit(&http, &spend_to(&key, coin, &dest, 99_000).to_hex(), None)
            .await;
        assert_eq!(status, 202, "{v}");
    }
    let (status, v) = relay
        .submit(
            &http,
            &spend_to(&key, &coins[3], &dest, 99_000).to_hex(),
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (429, Some("too_many_pending")),
        "{v}"
    );

    // Once mined, they are no longer pending; a spend of an output spent in a block is a
    // conflict that can never be valid.
    crate::common::relay::wait_until(10, "all three in the devnet's mempool", || async {
        node.get_json("/api/mempool/txids")
            .await
            .as_array()
            .unwrap()
            .len()
            == 3
    })
    .await;
    node.mine(1, None).await;
    crate::common::relay::wait_until(10, "the relay sees them confirmed", || async {
        relay.state.claims.is_empty()
    })
    .await;
    let late = spend_to(&key, &coins[1], &dest, 90_000);
    let (status, v) = relay.submit(&http, &late.to_hex(), None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("txn_conflict")),
        "{v}"
    );
    let (status, v) = relay
        .submit(
            &http,
            &spend_to(&key, &coins[4], &dest, 99_000).to_hex(),
            None,
        )
        .await;
    assert_eq!(status, 202, "{v}");
    relay.stop().await;
    node.stop().await;
}

/// The status of a broadcast transaction is looked up afresh after a block, not answered
/// from a worker check up to `confirm_poll` old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_fresh_after_a_block() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let txs = node.presigned_spends(&Key::new(81), &Key::new(82), 1).await;
    let mut config = test_config(AuthMode::Open);
    config.worker.confirm_poll = Duration::from_secs(600);
    let relay = friends_relay(&node, dir.path(), config, Vec::new()).await;
    let http = reqwest::Client::new();
    let txid = txs[0].txid().to_string();
    assert_eq!(relay.submit(&http, &txs[0].to_hex(), None).await.0, 202);
    crate::common::relay::wait_until(10, "broadcast", || async {
        relay.status(&http, &txid).await["status"] == "broadcast"
    })
    .await;
    node.mine(1, None).await;
    tokio::time::sleep(ferry::relay::status::STALE_AFTER).await;
    assert_eq!(relay.status(&http, &txid).await["status"], "confirmed");
    relay.stop().await;
    node.stop().await;
}

/// Finished records are deleted after the retention window; pending ones never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_records_are_pruned() {
    use ferry::relay::queue::{Attempt, Queue, Status};
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open(&dir.path().join("queue.sqlite")).unwrap();
    let id = |b: u8| ferry::tx::Txid::from_byte_array([b; 32]);
    for b in 1..=3 {
        q.submit(id(b), vec![b], "ip:x".into()).await.unwrap();
    }
    for (b, status) in [(1, Status::Confirmed), (2, Status::Failed)] {
        let a = Attempt {
            status,
            broadcast: false,
            error: None,
            backend_txid: None,
            next_attempt_at: i64::MAX,
        };
        q.record(id(b), a).await.unwrap();
    }
    assert_eq!(
        q.prune(0).await.unwrap(),
        0,
        "nothing is older than the window"
    );
    let later = ferry::relay::queue::now_ms() + 1_000;
    assert_eq!(q.prune(later).await.unwrap(), 2);
    assert!(q.get(id(1)).await.unwrap().is_none());
    assert!(q.attempts(id(2)).await.unwrap().is_empty());
    assert_eq!(q.get(id(3)).await.unwrap().unwrap().status, Status::Queued);
}

/// Finding 4: a friend's key that does not parse was taken as "no pinned key"; now the
/// list is refused when loaded, naming the line.
#[test]
fn a_bad_pinned_key_is_refused_naming_its_line() {
    let f = crate::common::cli::Ferry::new();
    std::fs::write(
        f.dir.path().join("friends.toml"),
        "[[friend]]\nname = \"bob\"\nurl = \"http://127.0.0.1:9\"\nkey = \"npub1notakey\"\n",
    )
    .unwrap();
    let run = f.run(&["--json", "friends", "list"]).expect_code(1);
    let msg = run.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("line 4") && msg.contains("bob"), "{msg}");
}

/// Finding 8: under umask 022 a first `friends add` made 0755 directories and a 0644
/// friends.toml, and the relay a 0644 queue.sqlite. Everything ferry creates is owner-only.
#[cfg(unix)]
#[test]
fn files_and_directories_are_owner_only_under_umask_022() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("new/ferry");
    let ferry = |args: &str| {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "umask 022; exec '{}' --data-dir '{}' {args}",
                env!("CARGO_BIN_EXE_ferry"),
                data.display()
            ))
            .env_remove("FERRY_DATA_DIR")
            .env_remove("FERRY_BACKEND");
        c
    };
    let key = "ed5db4f7d6d43a6b30f1b28eaee71d911cc1171ebf1439807753dd8522ae0c3d";
    let out = ferry(&format!("friends add bob --key {key}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The relay creates its identity, queue directory and database; stop it once it listens.
    let mut relay = ferry("--backend http://127.0.0.1:9/api relay serve --listen 127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("relay listening"), "{first}");
    relay.kill().unwrap();
    relay.wait().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for dir in [
        data.parent().unwrap().to_path_buf(),
        data.clone(),
        data.join("relay"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        "friends.toml",
        "identity.key",
        "relay/queue.sqlite",
        "relay/queue.sqlite-wal",
    ] {
        let p = data.join(file);
        if p.exists() || !file.ends_with("-wal") {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}
