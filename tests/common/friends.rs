//! The "ask a friend" set-up shared by the CLI relay tests: an in-process devnet, Alice and
//! Carol as installs of the real binary (fixed-seed P2WPKH wallets), Bob's friends-only relay
//! that knows Alice's identity key, and Alice funded with 100,000 confirmed sat. Each test
//! then adds Bob as Alice's friend at whatever URL it is testing.

use ferry::identity::{IDENTITY_FILE, load_or_create};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::relay::AuthMode;
use ferry::script::AddressType;

use crate::common::cli::{self, Ferry, Run};
use crate::common::devnet::Node;
use crate::common::relay::{Relay, test_config};

/// The name Bob's relay is reached at through the proxy (like an onion name).
pub const BOB_RELAY_HOST: &str = "bob-relay.test";

/// The test wallets' password.
pub const PASSWORD: &str = "pw for tests";

/// Alice, Carol, Bob's relay and the devnet.
pub struct Friends {
    pub node: Node,
    /// The devnet's Esplora URL.
    pub backend: String,
    pub alice: Ferry,
    pub carol: Ferry,
    /// Bob's relay (`None` once stopped).
    relay: Option<Relay>,
    /// Bob's relay's URL.
    pub relay_url: String,
    /// Bob's relay key (hex), as Alice pins it.
    pub bob_key: String,
    /// Carol's first receive address.
    pub carol_address: String,
    /// Bob's data dir (his relay's identity and queue).
    _bob_dir: tempfile::TempDir,
}

impl Friends {
    pub async fn start() -> Friends {
        let node = Node::start_fresh().await;
        let backend = format!("{}/api", node.base);
        let alice = Ferry::new();
        let carol = Ferry::new();
        for (f, seed) in [(&alice, 1u8), (&carol, 3)] {
            let m = Mnemonic::from_entropy(&[seed; 16]).unwrap();
            f.add_wallet(
                "default",
                &m,
                Network::Regtest,
                AddressType::P2wpkh,
                PASSWORD,
            );
        }
        // Bob's relay knows Alice's identity key (created on first use by `ferry identity`).
        let alice_id = ferry(&alice, &backend, &["--json", "identity"])
            .await
            .expect_code(0)
            .json();
        let alice_key: [u8; 32] = hex::decode(alice_id["key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let bob_dir = tempfile::tempdir().unwrap();
        let (bob_identity, _) = load_or_create(&bob_dir.path().join(IDENTITY_FILE)).unwrap();
        let bob_key = bob_identity.public_hex();
        // Bob's relay answers at its address and, as with `--public-url`, at the name only
        // a proxy can resolve (tests/relay_proxy.rs).
        let mut config = test_config(AuthMode::Friends);
        config.public_urls = vec![
            "http://127.0.0.1:{port}".into(),
            format!("http://{BOB_RELAY_HOST}:{{port}}"),
        ];
        let relay = Relay::start(
            bob_dir.path(),
            &node.base,
            config,
            bob_identity,
            vec![alice_key],
            false,
        )
        .await;

        let funding = ferry(&alice, &backend, &["--json", "address"])
            .await
            .expect_code(0)
            .json();
        node.faucet(funding["address"].as_str().unwrap(), 100_000)
            .await;
        node.mine(1, None).await;
        let carol_address = ferry(&carol, &backend, &["--json", "address"])
            .await
            .expect_code(0)
            .json()["address"]
            .as_str()
            .unwrap()
            .to_owned();
        Friends {
            node,
            backend,
            alice,
            carol,
            relay_url: relay.base.clone(),
            relay: Some(relay),
            bob_key,
            carol_address,
            _bob_dir: bob_dir,
        }
    }

    /// Stops Bob's relay gracefully.
    pub async fn stop_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.stop().await;
        }
    }

    /// Runs `ferry ARGS` as `who` against the devnet, with the wallets' password.
    /// Alice adds Bob's relay as friend `bob`, its key pinned.
    pub async fn alice_adds_bob(&self) {
        let args = [
            "friends",
            "add",
            "bob",
            "--url",
            &self.relay_url,
            "--key",
            &self.bob_key,
        ];
        self.ferry(&self.alice, &args).await.expect_code(0);
    }

    pub async fn ferry(&self, who: &Ferry, args: &[&str]) -> Run {
        ferry(who, &self.backend, args).await
    }

    /// Returns true if `txid` is in the devnet's mempool.
    pub async fn in_mempool(&self, txid: &str) -> bool {
        let v = self.node.get_json("/api/mempool/txids").await;
        v.as_array().unwrap().iter().any(|t| t == txid)
    }
}

/// Runs `ferry ARGS` with data dir of `who`, the backend and the wallets' password, off the
/// async runtime (the devnet and relay run on it).
pub async fn ferry(who: &Ferry, backend: &str, args: &[&str]) -> Run {
    ferry_env(
        who,
        args,
        &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
    )
    .await
}

/// Runs `ferry ARGS` with data dir of `who` and exactly `env`, off the async runtime.
pub async fn ferry_env(who: &Ferry, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = who.dir.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli::run_in(&dir, &args, "", &env)
    })
    .await
    .unwrap()
}
