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

use super::{CliError, Ctx};
use ferry::chain::EsploraBackend;
use ferry::devnet::{Devnet, DevnetState};
use ferry::identity::{IDENTITY_FILE, load_or_create};
use ferry::network::Network;
use ferry::relay::friends::{FRIENDS_FILE, Friends};
use ferry::relay::queue::Queue;
use ferry::relay::receipt::{Receipt, verify_receipt};
use ferry::relay::{AppState, AuthMode, RelayConfig};

/// The demo wallets' password (they hold throw-away regtest coins).
const DEMO_PASSWORD: &str = "demo password, regtest only";
const FUNDING_SAT: u64 = 1_000_000;
const DIRECT_SAT: u64 = 100_000;
const VIA_BOB_SAT: u64 = 50_000;
const P2P_SAT: u64 = 25_000;

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
struct Narrator {
    json: bool,
    steps: Vec<Step>,
}

impl Narrator {
    #[allow(clippy::print_stdout)]
    fn step(&mut self, name: &'static str, ok: bool, detail: String) {
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
struct Install {
    name: &'static str,
    dir: PathBuf,
}

impl Install {
    /// Runs `ferry --json ARGS` as this person; returns the JSON document.
    async fn ferry(&self, backend: &str, args: &[&str]) -> Result<Value, CliError> {
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
struct DevnetClient {
    base: String,
    http: reqwest::Client,
}

impl DevnetClient {
    async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
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

    async fn mine(&self, blocks: u32) -> Result<(), CliError> {
        self.post("/devnet/mine", json!({ "blocks": blocks }))
            .await
            .map(drop)
    }

    async fn in_mempool(&self, txid: &str) -> Result<bool, CliError> {
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

fn sat(v: &Value) -> u64 {
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

    let result = story(
        &mut n, root, &backend, &p2p_addr, &chain, &stop_rx, args.keep,
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

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The story proper, on a running devnet.
async fn story(
    n: &mut Narrator,
    root: &Path,
    backend: &str,
    p2p: &str,
    chain: &DevnetClient,
    stop: &tokio::sync::watch::Receiver<bool>,
    keep: bool,
) -> Result<(), CliError> {
    let alice = Install {
        name: "alice",
        dir: root.join("alice"),
    };
    let bob = Install {
        name: "bob",
        dir: root.join("bob"),
    };
    let carol = Install {
        name: "carol",
        dir: root.join("carol"),
    };

    // 1. Wallets: each install creates its own, non-interactively.
    for who in [&alice, &bob, &carol] {
        let w = who
            .ferry(
                backend,
                &["create", "--network", "regtest", "--address-type", "p2wpkh"],
            )
            .await?;
        let ok = w["network"] == "regtest"
            && w["mnemonic"]
                .as_str()
                .is_some_and(|m| m.split(' ').count() == 12);
        n.step(
            "wallet",
            ok,
            format!("{}$ ferry create --network regtest → a 12-word wallet, encrypted on {}'s disk (words not shown here)", who.name, who.name),
        );
    }

    // 2. Identities and friendship: Bob's relay will accept Alice's signed requests.
    let alice_id = alice.ferry(backend, &["identity"]).await?;
    let bob_id = bob.ferry(backend, &["identity"]).await?;
    let alice_npub = alice_id["npub"].as_str().unwrap_or_default().to_owned();
    let bob_key = bob_id["key"].as_str().unwrap_or_default().to_owned();
    bob.ferry(backend, &["friends", "add", "alice", "--key", &alice_npub])
        .await?;

    // 3. Bob runs a friends-only relay (in this process, on an ephemeral port).
    let relay = start_bob_relay(&bob.dir, backend, stop.clone()).await?;
    alice
        .ferry(
            backend,
            &["friends", "add", "bob", "--url", &relay, "--key", &bob_key],
        )
        .await?;
    n.step(
        "friends",
        true,
        format!(
            "bob$ ferry friends add alice --key {alice_npub}\nbob$ ferry relay serve --friends-only → {relay}\nalice$ ferry friends add bob --url {relay} --key {bob_key}"
        ),
    );

    // 4. The faucet pays Alice; a block confirms it.
    let funding = alice.ferry(backend, &["address"]).await?;
    let funding_address = funding["address"].as_str().unwrap_or_default().to_owned();
    chain
        .post(
            "/devnet/faucet",
            json!({"address": funding_address, "amount_sat": FUNDING_SAT}),
        )
        .await?;
    chain.mine(1).await?;
    let balance = alice.ferry(backend, &["balance"]).await?;
    n.step(
        "funding",
        sat(&balance["confirmed"]) == FUNDING_SAT,
        format!("the devnet faucet pays {FUNDING_SAT} sat to Alice's {funding_address}; alice$ ferry balance → {} sat confirmed", balance["confirmed"]),
    );

    // 5. Alice pays Carol herself.
    let carol_address = carol.ferry(backend, &["address"]).await?["address"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let amount = format!("{DIRECT_SAT}sat");
    let direct = alice
        .ferry(
            backend,
            &["send", &carol_address, &amount, "--fee-rate", "2", "--yes"],
        )
        .await?;
    let direct_txid = direct["txid"].as_str().unwrap_or_default().to_owned();
    let direct_fee = sat(&direct["fee_sat"]);
    let pushed =
        direct["broadcast"][0]["via"] == "direct" && direct["broadcast"][0]["status"] == "accepted";
    let seen = chain.in_mempool(&direct_txid).await?;
    chain.mine(1).await?;
    n.step(
        "alice pays carol herself",
        pushed && seen,
        format!("alice$ ferry send {carol_address} {amount} --fee-rate 2 --yes\n→ txid {direct_txid}, fee {direct_fee} sat, broadcast directly; mined"),
    );

    // 6. Alice pays Carol through Bob's relay.
    let amount = format!("{VIA_BOB_SAT}sat");
    let via = alice
        .ferry(
            backend,
            &[
                "send",
                &carol_address,
                &amount,
                "--fee-rate",
                "2",
                "--yes",
                "--via",
                "bob",
            ],
        )
        .await?;
    let via_txid = via["txid"].as_str().unwrap_or_default().to_owned();
    let via_fee = sat(&via["fee_sat"]);
    let outcome = &via["broadcast"][0];
    let receipt: Option<Receipt> = serde_json::from_value(outcome["receipt"].clone()).ok();
    let pinned: Option<[u8; 32]> = hex::decode(&bob_key).ok().and_then(|b| b.try_into().ok());
    let receipt_ok = match (&receipt, &pinned) {
        (Some(r), Some(k)) => r.txid == via_txid && verify_receipt(r, k).is_ok(),
        _ => false,
    };
    let mut relayed = false;
    for _ in 0..100 {
        if chain.in_mempool(&via_txid).await? {
            relayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    n.step(
        "alice pays carol through bob",
        outcome["via"] == "bob" && receipt_ok && relayed,
        format!(
            "alice$ ferry send {carol_address} {amount} --fee-rate 2 --yes --via bob\n→ txid {via_txid}, fee {via_fee} sat; Bob's relay answered {} with a receipt signed by Bob's key (verified: {receipt_ok}) and broadcast it (in the devnet mempool: {relayed})",
            outcome["status"]
        ),
    );
    chain.mine(1).await?;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = alice
            .ferry(backend, &["relay", "status", &via_txid, "--via", "bob"])
            .await?;
        if status["status"] == "confirmed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    n.step(
        "bob's relay reports",
        status["status"] == "confirmed",
        format!(
            "alice$ ferry relay status {via_txid} --via bob → {} after {} attempt(s)",
            status["status"], status["attempts"]
        ),
    );

    // 7. Alice hands a payment straight to the network: ferry connects to the node's
    // peer-to-peer port (BIP-0324), inv → getdata → tx, and a second connection hears the
    // node announce it back.
    let amount = format!("{P2P_SAT}sat");
    let sent = alice
        .ferry(
            backend,
            &[
                "send",
                &carol_address,
                &amount,
                "--fee-rate",
                "2",
                "--yes",
                "--p2p",
                "--peer",
                p2p,
                "--observer",
                p2p,
            ],
        )
        .await?;
    let p2p_txid = sent["txid"].as_str().unwrap_or_default().to_owned();
    let p2p_fee = sat(&sent["fee_sat"]);
    let report = &sent["p2p"];
    let in_pool = chain.in_mempool(&p2p_txid).await?;
    chain.mine(1).await?;
    n.step(
        "alice hands a payment to the network",
        report["propagated"] == true && in_pool,
        format!(
            "alice$ ferry send {carol_address} {amount} --fee-rate 2 --yes --p2p --peer {p2p} --observer {p2p}\n→ txid {p2p_txid}, fee {p2p_fee} sat; handed over on a fresh {} connection (no server asked), announced back to the observer: {}; mined",
            report["peers"][0]["transport"], report["propagated"]
        ),
    );

    // 8. The balances, to the sat.
    let a = alice.ferry(backend, &["balance"]).await?;
    let c = carol.ferry(backend, &["balance"]).await?;
    let alice_expected =
        FUNDING_SAT - DIRECT_SAT - VIA_BOB_SAT - P2P_SAT - direct_fee - via_fee - p2p_fee;
    let carol_expected = DIRECT_SAT + VIA_BOB_SAT + P2P_SAT;
    n.step(
        "balances",
        sat(&a["confirmed"]) == alice_expected && sat(&a["unconfirmed"]) == 0 && sat(&c["confirmed"]) == carol_expected,
        format!(
            "Alice {} sat (expected {FUNDING_SAT} − {DIRECT_SAT} − {VIA_BOB_SAT} − {P2P_SAT} − fees {direct_fee}, {via_fee} and {p2p_fee} = {alice_expected}); Carol {} sat (expected {carol_expected})",
            a["confirmed"], c["confirmed"]
        ),
    );

    // 9. A relay checks what it relays: a forged signature is refused.
    let unsigned = alice
        .ferry(
            backend,
            &[
                "send",
                &carol_address,
                "10000sat",
                "--fee-rate",
                "2",
                "--no-broadcast",
            ],
        )
        .await?;
    let forged = forge(unsigned["hex"].as_str().unwrap_or_default());
    let refused = alice
        .ferry(backend, &["broadcast", &forged, "--via", "bob"])
        .await;
    let refused_ok = matches!(&refused, Err(e) if e.message.contains("script"));
    n.step(
        "a forged transaction is refused",
        refused_ok,
        format!(
            "one flipped bit in a signature: Bob's relay runs Bitcoin Core's interpreter before queueing and refuses it: {}",
            refused
                .err()
                .map(|e| e.message.rsplit_once("failed: ").map_or(e.message.clone(), |(_, m)| m.to_owned()))
                .unwrap_or_else(|| "accepted (wrong!)".into())
        ),
    );

    if keep {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "\nStill running (Ctrl-C to stop):\n  devnet  {backend}\n  relay   {relay}\nTry:\n  FERRY_DATA_DIR={} FERRY_BACKEND={backend} ferry balance\n  curl {relay}/v1/info\n",
                alice.dir.display()
            );
        }
        let _ = tokio::signal::ctrl_c().await;
    }
    Ok(())
}

/// Flips one bit inside the first input's signature (a witness item), keeping the
/// transaction well-formed.
fn forge(hex_tx: &str) -> String {
    match ferry::tx::Transaction::from_hex(hex_tx) {
        Ok(mut tx) => {
            if let Some(input) = tx.input.first_mut() {
                let mut items = input.witness.items().to_vec();
                if let Some(sig) = items.first_mut().filter(|s| s.len() > 10) {
                    sig[10] ^= 0x01;
                }
                input.witness = ferry::tx::Witness::from_items(items);
            }
            tx.to_hex()
        }
        Err(_) => hex_tx.to_owned(),
    }
}

/// Starts Bob's friends-only relay in this process, with the friends in Bob's
/// friends.toml, and returns its URL.
async fn start_bob_relay(
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
