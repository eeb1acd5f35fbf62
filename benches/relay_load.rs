//! Load tool: N pre-signed devnet transactions fired by C concurrent clients, in three modes:
//!
//! - `relay`: at an in-process relay (open mode, durable queue on disk) whose worker
//!   delivers to the devnet while the load runs (the devnet, verifying and storing every
//!   transaction again, shares the same cores);
//! - `hold`: the same, but delivery waits until the load is over, which measures the relay's
//!   accept path alone (as with a backend on another machine), then reports how long
//!   delivery took;
//! - `proc`: the real `ferry relay serve --open` binary (release build, its own process,
//!   logging to a pipe) delivering meanwhile; its RSS is the relay's alone (`VmRSS` before
//!   the load, `VmHWM` after it, from `/proc/PID/status`);
//! - `direct`: the same transactions posted straight to the devnet's Esplora `POST /api/tx`
//!   (no relay), so the relay's overhead over a direct broadcast can be read off;
//! - `queue` (not in the default set): the durable queue alone, `Queue::submit` from C
//!   tasks (no HTTP, no checks, no receipts): the ceiling that fsync leaves.
//!
//! Each round runs in a fresh process with a fresh devnet and relay. It reports accepts/s,
//! p50/p99 latency and memory: except in `proc` mode, the bench process's RSS before the
//! load and its peak during it (`VmHWM`, reset just before the load via
//! `/proc/self/clear_refs`), which counts the devnet, the load clients and the pre-signed
//! bodies as well as an in-process relay; `proc` gives the relay process alone.
//!
//! `cargo bench --bench relay_load -- [N [C [ROUNDS]]] [relay] [hold] [proc] [direct] [queue]`
//! (default 2000 64 3 with relay, hold, proc and direct); prints the median, min and max
//! over the rounds. Without `--bench` (as `cargo test` runs it) it does one quick 100 × 8
//! round of each mode.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::devnet::{Key, Node};
use common::relay::Relay;
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::relay::queue::{Queue, Status};
use ferry::relay::{AuthMode, RelayConfig};
use ferry::tx::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Relay,
    Hold,
    Proc,
    Direct,
    Queue,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Relay => "relay (delivering meanwhile)",
            Mode::Hold => "relay (delivery held)",
            Mode::Proc => "ferry relay serve (process)",
            Mode::Direct => "direct to the devnet",
            Mode::Queue => "queue alone (no HTTP)",
        }
    }
}

/// One round's figures.
#[derive(Debug, Clone, Copy)]
struct Round {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_before_mib: f64,
    rss_peak_mib: f64,
    /// Seconds from the end of the load until the relay had delivered everything (negative
    /// where there is no relay).
    drain_s: f64,
}

impl Round {
    fn drain(&self) -> String {
        if self.drain_s < 0.0 {
            String::new()
        } else {
            format!(", all delivered {:.2} s after the load", self.drain_s)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let mut modes: Vec<Mode> = args
        .iter()
        .filter_map(|a| match a.as_str() {
            "relay" => Some(Mode::Relay),
            "hold" => Some(Mode::Hold),
            "proc" => Some(Mode::Proc),
            "direct" => Some(Mode::Direct),
            "queue" => Some(Mode::Queue),
            _ => None,
        })
        .collect();
    if modes.is_empty() {
        modes = vec![Mode::Relay, Mode::Hold, Mode::Proc, Mode::Direct];
    }
    let (n, c, rounds) = if full {
        (
            nums.first().copied().unwrap_or(2000),
            nums.get(1).copied().unwrap_or(64),
            nums.get(2).copied().unwrap_or(3).max(1),
        )
    } else {
        (100, 8, 1)
    };
    // A child runs one round and prints its figures for the parent.
    if args.iter().any(|a| a == "--round") {
        let mode = modes[0];
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(run(n, c, mode));
        println!(
            "ROUND {} {} {} {} {} {}",
            r.rate, r.p50_ms, r.p99_ms, r.rss_before_mib, r.rss_peak_mib, r.drain_s
        );
        return;
    }
    let mut results: BTreeMap<Mode, Vec<Round>> = BTreeMap::new();
    for r in 0..rounds {
        for &mode in &modes {
            let round = round_in_child(n, c, mode);
            println!(
                "relay_load: round {}/{rounds}, {n} tx, {c} clients, {}: {:.0} accepts/s, \
                 p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB before, peak {:.1} MiB{}",
                r + 1,
                mode.name(),
                round.rate,
                round.p50_ms,
                round.p99_ms,
                round.rss_before_mib,
                round.rss_peak_mib,
                round.drain(),
            );
            results.entry(mode).or_default().push(round);
        }
    }
    println!("relay_load: summary over {rounds} round(s), {n} tx, {c} clients (median [min–max])");
    for (mode, rs) in &results {
        let drained = if rs[0].drain_s < 0.0 {
            String::new()
        } else {
            format!(", delivered {} s after", stats(rs, |r| r.drain_s, 2))
        };
        println!(
            "  {:<30} {} accepts/s, p50 {} ms, p99 {} ms, peak RSS {} MiB{drained}",
            mode.name(),
            stats(rs, |r| r.rate, 0),
            stats(rs, |r| r.p50_ms, 2),
            stats(rs, |r| r.p99_ms, 2),
            stats(rs, |r| r.rss_peak_mib, 1),
        );
    }
    let med = |rs: &[Round], f: fn(&Round) -> f64| median(rs.iter().map(f).collect());
    if let Some(direct) = results.get(&Mode::Direct) {
        for mode in [Mode::Relay, Mode::Hold, Mode::Proc] {
            if let Some(relay) = results.get(&mode) {
                println!(
                    "  {} vs direct (medians): {:.2}× the throughput, p50 {:+.2} ms, \
                     p99 {:+.2} ms",
                    mode.name(),
                    med(relay, |r| r.rate) / med(direct, |r| r.rate),
                    med(relay, |r| r.p50_ms) - med(direct, |r| r.p50_ms),
                    med(relay, |r| r.p99_ms) - med(direct, |r| r.p99_ms),
                );
            }
        }
    }
    if let Some(proc) = results.get(&Mode::Proc) {
        println!(
            "  the relay process's own RSS (medians): {:.1} MiB idle, {:.1} MiB at its peak under \
             load",
            med(proc, |r| r.rss_before_mib),
            med(proc, |r| r.rss_peak_mib),
        );
    }
}

/// Runs one round in a fresh process, so memory figures and allocator state do not carry
/// over from one round to the next.
fn round_in_child(n: usize, c: usize, mode: Mode) -> Round {
    let mode_arg = match mode {
        Mode::Relay => "relay",
        Mode::Hold => "hold",
        Mode::Proc => "proc",
        Mode::Direct => "direct",
        Mode::Queue => "queue",
    };
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--bench",
            "--round",
            &n.to_string(),
            &c.to_string(),
            mode_arg,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "round failed: {text}");
    let mut figures = None;
    for line in text.lines() {
        match line.strip_prefix("ROUND ") {
            Some(f) => figures = Some(f.to_owned()),
            None => println!("{line}"),
        }
    }
    let f: Vec<f64> = figures
        .expect("the round prints its figures")
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    Round {
        rate: f[0],
        p50_ms: f[1],
        p99_ms: f[2],
        rss_before_mib: f[3],
        rss_peak_mib: f[4],
        drain_s: f[5],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn stats(rs: &[Round], f: impl Fn(&Round) -> f64, prec: usize) -> String {
    let v: Vec<f64> = rs.iter().map(f).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.prec$} [{min:.prec$}–{max:.prec$}]",
        median(v.clone()),
        prec = prec
    )
}

/// A `/proc/self/status` field in MiB (0 where there is no procfs).
fn status_mib(field: &str) -> f64 {
    proc_status_mib("self", field)
}

/// A `/proc/PID/status` field in MiB (0 where there is no procfs).
fn proc_status_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Fires every body at `url` from `c` clients; each answer must be `want`. Returns the
/// latencies and the wall time.
async fn fire(url: &str, bodies: Vec<String>, c: usize, want: u16) -> (Vec<Duration>, Duration) {
    let http = reqwest::Client::new();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (http, url, bodies, next) =
            (http.clone(), url.to_owned(), bodies.clone(), next.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                let t = Instant::now();
                let r = http.post(&url).body(b.clone()).send().await.unwrap();
                let status = r.status().as_u16();
                let text = r.text().await.unwrap();
                assert_eq!(status, want, "{text}");
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat: Vec<Duration> = Vec::new();
    while let Some(l) = set.join_next().await {
        lat.extend(l.unwrap());
    }
    let total = start.elapsed();
    lat.sort();
    (lat, total)
}

/// Submits every transaction straight to `queue` from `c` tasks. Returns the latencies and
/// the wall time.
async fn fire_queue(queue: &Queue, txs: Vec<Transaction>, c: usize) -> (Vec<Duration>, Duration) {
    let txs = Arc::new(txs);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (queue, txs, next) = (queue.clone(), txs.clone(), next.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(tx) = txs.get(i) else { break };
                let t = Instant::now();
                let (_, new) = queue
                    .submit(tx.txid(), tx.serialize(), "bench".into())
                    .await
                    .unwrap();
                assert!(new);
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat: Vec<Duration> = Vec::new();
    while let Some(l) = set.join_next().await {
        lat.extend(l.unwrap());
    }
    let total = start.elapsed();
    lat.sort();
    (lat, total)
}

async fn run(n: usize, c: usize, mode: Mode) -> Round {
    let node = Node::start_fresh().await;
    let txs = node.presigned_spends(&Key::new(9), &Key::new(10), n).await;
    let dir = tempfile::tempdir().unwrap();
    if mode == Mode::Proc {
        let round = run_proc(&node, txs, c, dir.path()).await;
        node.stop().await;
        return round;
    }
    if mode == Mode::Queue {
        let queue = Queue::open(&dir.path().join("relay/queue.sqlite")).unwrap();
        let rss_before_mib = status_mib("VmRSS:");
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let (lat, total) = fire_queue(&queue, txs, c).await;
        let round = figures(n, &lat, total, rss_before_mib);
        node.stop().await;
        return round;
    }
    let mut relay = None;
    let (url, bodies, want) = if mode == Mode::Direct {
        let bodies = txs.iter().map(Transaction::to_hex).collect();
        (format!("{}/api/tx", node.base), bodies, 200)
    } else {
        // Production worker timings (not the tests' quick ones), no rate limit.
        let mut config = RelayConfig::new(Network::Regtest, AuthMode::Open);
        config.ip_rate = (u32::MAX, u32::MAX);
        let r = Relay::start(
            dir.path(),
            &node.base,
            config,
            IdentityKey::generate().unwrap(),
            Vec::new(),
            false,
        )
        .await;
        r.backend.held.send_replace(mode != Mode::Hold);
        let url = format!("{}/v1/tx", r.base);
        relay = Some(r);
        let bodies = txs
            .iter()
            .map(|tx| serde_json::json!({ "tx": tx.to_hex() }).to_string())
            .collect();
        (url, bodies, 202)
    };
    drop(txs);

    let rss_before_mib = status_mib("VmRSS:");
    // "5" resets the peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    // For profiling only the load: `perf record -D -1 --control fifo:PATH`.
    let perf = std::env::var("RELAY_LOAD_PERF_FIFO").ok();
    if let Some(f) = &perf {
        std::fs::write(f, "enable\n").unwrap();
    }
    let (lat, total) = fire(&url, bodies, c, want).await;
    if let Some(f) = &perf {
        std::fs::write(f, "disable\n").unwrap();
    }
    let mut round = figures(n, &lat, total, rss_before_mib);

    if let Some(relay) = relay {
        relay.backend.held.send_replace(true);
        let queue = relay.state.queue.clone();
        let t = Instant::now();
        loop {
            let counts = queue.counts().await.unwrap();
            let queued = counts
                .iter()
                .find(|(s, _)| *s == Status::Queued)
                .map_or(0, |(_, k)| *k);
            if queued == 0 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "delivery stalled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        round.drain_s = t.elapsed().as_secs_f64();
        relay.stop().await;
    }
    node.stop().await;
    round
}

/// The round's figures from sorted latencies, the wall time and the RSS before the load.
fn figures(n: usize, lat: &[Duration], total: Duration, rss_before_mib: f64) -> Round {
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Round {
        rate: n as f64 / total.as_secs_f64(),
        p50_ms: p(0.50).as_secs_f64() * 1e3,
        p99_ms: p(0.99).as_secs_f64() * 1e3,
        rss_before_mib,
        rss_peak_mib: status_mib("VmHWM:").max(status_mib("VmRSS:")),
        drain_s: -1.0,
    }
}

/// `proc` mode: the load against `ferry relay serve --open` in its own process, delivering
/// to the devnet meanwhile; the RSS figures are that process's.
async fn run_proc(node: &Node, txs: Vec<Transaction>, c: usize, dir: &std::path::Path) -> Round {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let n = txs.len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--backend", &format!("{}/api", node.base)])
        .args(["relay", "serve", "--open", "--listen", "127.0.0.1:0"])
        .args(["--network", "regtest", "--ip-rate", "1000000000"])
        .args(["--ip-burst", "1000000000"])
        .env_remove("FERRY_DATA_DIR")
        .env_remove("FERRY_BACKEND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // "relay listening on http://ADDR (open to anyone; …)"
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let base = first
        .strip_prefix("relay listening on ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("relay did not print its address: {first:?}"))
        .to_owned();
    let bodies = txs
        .iter()
        .map(|tx| serde_json::json!({ "tx": tx.to_hex() }).to_string())
        .collect();
    drop(txs);
    let rss_before_mib = proc_status_mib(&pid, "VmRSS:");
    let (lat, total) = fire(&format!("{base}/v1/tx"), bodies, c, 202).await;
    let mut round = figures(n, &lat, total, rss_before_mib);
    round.rss_peak_mib = proc_status_mib(&pid, "VmHWM:");
    let t = Instant::now();
    while node
        .get_json("/api/mempool/txids")
        .await
        .as_array()
        .map_or(0, Vec::len)
        < n
    {
        assert!(t.elapsed() < Duration::from_secs(120), "delivery stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    round.drain_s = t.elapsed().as_secs_f64();
    child.kill().unwrap();
    child.wait().unwrap();
    round
}
