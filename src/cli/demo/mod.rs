//! `ferry demo` — the whole story on a throw-away devnet, narrated, in one command.
//!
//! Three installs of ferry — Alice, Bob and Carol, each with its own data directory — and a
//! local chain. Each install is both a client and a server: Alice pays Carol herself, then
//! asks her friend Bob, whose ferry runs a friends-only relay, to broadcast for her, then
//! hands a payment straight to the node's peer-to-peer port (`--p2p`). The
//! wallet steps run the real `ferry` binary (this executable) exactly as a person would
//! type them; the devnet and Bob's relay run inside this process on ephemeral ports. Exit 0
//! only if every step really happened, balances checked to the sat.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

mod story;

use super::{CliError, Ctx};
use ferry::chain::EsploraBackend;
use ferry::devnet::{Devnet, DevnetState};
use ferry::identity::{IDENTITY_FILE, load_or_create};
use ferry::network::Network;
use ferry::relay::friends::{FRIENDS_FILE, Friends};
use ferry::relay::queue::Queue;
use ferry::relay::{AppState, AuthMode, RelayConfig};

/// The demo wallets' password (they hold throw-away regtest coins).
const DEMO_PASSWORD: &str = "demo password, regtest only";
pub(super) const FUNDING_SAT: u64 = 1_000_000;
pub(super) const DIRECT_SAT: u64 = 100_000;
pub(super) const VIA_BOB_SAT: u64 = 50_000;
pub(super) const P2P_SAT: u64 = 25_000;

/// Arguments of `ferry demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the devnet and Bob's relay running afterwards (until Ctrl-C), with the
    /// commands to poke at them.
    #[arg(long)]
    pub keep: bool,
}

/// One narrated step and whether it really happened.
#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    ok: bool,
    steps: Vec<Step>,
}

/// Collects steps, printing each as it happens for a person (JSON waits for the end).
pub(super) struct Narrator {
    json: bool,
    steps: Vec<Step>,
}

impl Narrator {
    #[allow(clippy::print_stdout)]
    pub(super) fn step(&mut self, name: &'static str, ok: bool, detail: String) {
        if !self.json {
            let mark = if ok { "ok " } else { "FAIL" };
            println!(
                "{}. [{mark}] {name}\n   {}\n",
                self.steps.len() + 1,
                detail.replace('\n', "\n   ")
            );
        }
        self.steps.push(Step { name, ok, detail });
    }

    fn all_ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }
}

/// One person's install of ferry: a data directory the real binary runs in.
pub(super) struct Install {
    pub(super) name: &'static str,
    pub(super) dir: PathBuf,
}

impl Install {
    /// Runs `ferry --json ARGS` as this person; returns the JSON document.
    pub(super) async fn ferry(&self, backend: &str, args: &[&str]) -> Result<Value, CliError> {
        let exe = std::env::current_exe().map_err(CliError::internal)?;
        let dir = self.dir.clone();
        let backend = backend.to_owned();
        let mut full = vec!["--json".to_owned()];
        full.extend(args.iter().map(|s| (*s).to_owned()));
        let shown = format!("{}$ ferry {}", self.name, args.join(" "));
        let out = tokio::task::spawn_blocking(move || {
            Command::new(exe)
                .args(&full)
                .env("FERRY_DATA_DIR", &dir)
                .env("FERRY_BACKEND", &backend)
                .env("FERRY_PASSWORD", DEMO_PASSWORD)
                .env_remove("FERRY_BIP39_PASSPHRASE")
                .stdin(Stdio::null())
                .output()
        })
        .await
        .map_err(CliError::internal)?
        .map_err(CliError::internal)?;
        let doc: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
            CliError::internal(format!(
                "`{shown}` printed no JSON: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        })?;
        if !out.status.success() {
            return Err(CliError::internal(format!(
                "`{shown}` failed: {}",
                doc["error"]["message"]
            )));
        }
        Ok(doc)
    }
}

/// The devnet's HTTP API, as the demo pokes it (mine, faucet, mempool).
pub(super) struct DevnetClient {
    base: String,
    http: reqwest::Client,
}

impl DevnetClient {
    pub(super) async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| CliError::internal(format!("devnet {path}: {e}")))?;
        r.json()
            .await
            .map_err(|e| CliError::internal(format!("devnet {path}: {e}")))
    }

    pub(super) async fn mine(&self, blocks: u32) -> Result<(), CliError> {
        self.post("/devnet/mine", json!({ "blocks": blocks }))
            .await
            .map(drop)
    }

    pub(super) async fn in_mempool(&self, txid: &str) -> Result<bool, CliError> {
        let ids: Vec<String> = self
            .http
            .get(format!("{}/api/mempool/txids", self.base))
            .send()
            .await
            .map_err(CliError::internal)?
            .json()
            .await
            .map_err(CliError::internal)?;
        Ok(ids.iter().any(|t| t == txid))
    }
}

pub(super) fn sat(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

/// Runs the demo.
///
/// # Errors
/// A step that could not run at all (the narration says which); a step that ran but did
/// not do what it should makes the whole demo fail with exit 4.
pub(super) async fn run(ctx: &Ctx, args: DemoArgs) -> Result<(), CliError> {
    let out = &ctx.out;
    let tmp = tempfile::Builder::new()
        .prefix("ferry-demo-")
        .tempdir()
        .map_err(CliError::internal)?;
    let root = tmp.path();
    let mut n = Narrator {
        json: out.is_json(),
        steps: Vec::new(),
    };
    if !n.json {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "ferry demo — pay by yourself, or by asking a friend. Three installs of ferry \
                 (Alice, Bob, Carol) and a local chain, all on this machine.\n"
            );
        }
    }

    // The chain: an embedded regtest devnet on an ephemeral port.
    let devnet_dir = root.join("devnet");
    let devnet = tokio::task::spawn_blocking(move || Devnet::open(&devnet_dir))
        .await
        .map_err(CliError::internal)?
        .map_err(|e| CliError::internal(format!("devnet: {e}")))?;
    let height = devnet.chain().height();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CliError::internal)?;
    let devnet_addr = listener.local_addr().map_err(CliError::internal)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let devnet_stop = wait_for(stop_rx.clone());
    let state = DevnetState::new(devnet);
    // The devnet's peer-to-peer side, for Alice's `--p2p` payment.
    let p2p_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CliError::internal)?;
    let p2p_addr = p2p_listener
        .local_addr()
        .map_err(CliError::internal)?
        .to_string();
    let p2p_task = tokio::spawn(ferry::devnet::p2p::serve(state.clone(), p2p_listener));
    let devnet_task = tokio::spawn(ferry::devnet::run(state, listener, None, devnet_stop));
    let devnet_url = format!("http://{devnet_addr}");
    let backend = format!("{devnet_url}/api");
    let chain = DevnetClient {
        base: devnet_url.clone(),
        http: reqwest::Client::new(),
    };
    n.step(
        "devnet",
        true,
        format!("a local regtest chain at {backend} (Esplora API), {height} blocks, every input checked by Bitcoin Core's interpreter"),
    );

    let result = story::tell(
        &mut n,
        &story::Scene {
            root,
            backend: &backend,
            p2p: &p2p_addr,
            chain: &chain,
            stop: &stop_rx,
        },
        args.keep,
    )
    .await;
    let _ = stop_tx.send(true);
    p2p_task.abort();
    let _ = devnet_task.await;
    if let Err(e) = result {
        n.step("unfinished", false, e.message);
    }
    let report = DemoReport {
        ok: n.all_ok(),
        steps: n.steps,
    };
    if out.is_json() {
        out.emit(&report, |_| String::new())?;
    } else {
        out.emit(&report, |r| {
            if r.ok {
                "every step happened: Carol was paid three times — by Alice through the node's API, through her friend Bob's relay, and straight into the peer-to-peer network.".into()
            } else {
                "some step failed (see above).".into()
            }
        })?;
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::internal(
            "the demo did not complete: a step failed",
        ))
    }
}

pub(super) async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Starts Bob's friends-only relay in this process, with the friends in Bob's
/// friends.toml, and returns its URL.
pub(super) async fn start_bob_relay(
    bob_dir: &Path,
    backend: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<String, CliError> {
    let friends = Friends::load(&bob_dir.join(FRIENDS_FILE))
        .map_err(|e| CliError::internal(format!("bob's friends: {e}")))?;
    let (identity, _) = load_or_create(&bob_dir.join(IDENTITY_FILE))?;
    let queue = Queue::open(&bob_dir.join("relay").join("queue.sqlite"))
        .map_err(|e| CliError::internal(format!("bob's queue: {e}")))?;
    let chain = EsploraBackend::new(backend)?;
    let mut config = RelayConfig::new(Network::Regtest, AuthMode::Friends);
    config.name = "bob's relay".into();
    // A demo should not wait a second between looks at the queue.
    config.worker.poll = Duration::from_millis(50);
    config.worker.confirm_poll = Duration::from_millis(100);
    config.worker.backoff_base = Duration::from_millis(100);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CliError::internal)?;
    let addr = listener.local_addr().map_err(CliError::internal)?;
    config.public_urls = vec![format!("http://{addr}")];
    let state = AppState::new(config, Arc::new(chain), queue, identity, friends.keys());
    tokio::spawn(ferry::relay::run(state, listener, wait_for(stop)));
    Ok(format!("http://{addr}"))
}
