//! Harness for the relay tests: a relay served in-process on 127.0.0.1:0 in front of a
//! devnet, a chain backend whose broadcast side can be switched off, and NIP-98 requests.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ferry::chain::esplora::EsploraBackend;
use ferry::chain::{BoxFuture, ChainBackend, ChainError, HistoryTx, TxStatus, Utxo};
use ferry::identity::IdentityKey;
use ferry::network::Network;
use ferry::relay::auth::authorization_header;
use ferry::relay::queue::Queue;
use ferry::relay::{AppState, AuthMode, RelayConfig};
use ferry::script::ScriptBuf;
use ferry::tx::{Transaction, Txid};
use serde_json::Value;
use tokio::sync::oneshot;

/// An Esplora backend whose broadcast and status calls fail while `down` is set (the
/// relay still reads prevouts, so it can accept while it cannot deliver), whose broadcasts
/// wait while `held` is false (delivery postponed, not failed: no backoff), and which
/// counts transaction lookups (refusing them while `lookups_down` is set).
pub struct Switch {
    pub inner: Arc<dyn ChainBackend>,
    pub down: AtomicBool,
    pub held: tokio::sync::watch::Sender<bool>,
    pub lookups: AtomicUsize,
    pub lookups_down: AtomicBool,
}

impl Switch {
    fn gate(&self) -> Result<(), ChainError> {
        if self.down.load(Ordering::SeqCst) {
            Err(ChainError::Unreachable {
                url: "test".into(),
                reason: "switched off by the test".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl ChainBackend for Switch {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn tip_height(&self) -> BoxFuture<'_, Result<u32, ChainError>> {
        self.inner.tip_height()
    }
    fn script_utxos<'a>(
        &'a self,
        s: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<Utxo>, ChainError>> {
        self.inner.script_utxos(s)
    }
    fn script_history<'a>(
        &'a self,
        s: &'a ScriptBuf,
    ) -> BoxFuture<'a, Result<Vec<HistoryTx>, ChainError>> {
        self.inner.script_history(s)
    }
    fn transaction(&self, txid: Txid) -> BoxFuture<'_, Result<Option<Transaction>, ChainError>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if self.lookups_down.load(Ordering::SeqCst) {
                return Err(ChainError::Unreachable {
                    url: "test".into(),
                    reason: "lookups switched off by the test".into(),
                });
            }
            self.inner.transaction(txid).await
        })
    }
    fn outspend(
        &self,
        outpoint: ferry::tx::OutPoint,
    ) -> BoxFuture<'_, Result<Option<ferry::chain::Outspend>, ChainError>> {
        self.inner.outspend(outpoint)
    }
    fn outspends(
        &self,
        txid: Txid,
    ) -> BoxFuture<'_, Result<Option<Vec<ferry::chain::Outspend>>, ChainError>> {
        self.inner.outspends(txid)
    }
    fn tx_status(&self, txid: Txid) -> BoxFuture<'_, Result<TxStatus, ChainError>> {
        Box::pin(async move {
            self.gate()?;
            self.inner.tx_status(txid).await
        })
    }
    fn fee_estimates(
        &self,
    ) -> BoxFuture<'_, Result<std::collections::BTreeMap<u16, ferry::units::FeeRate>, ChainError>>
    {
        self.inner.fee_estimates()
    }
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> BoxFuture<'a, Result<Txid, ChainError>> {
        Box::pin(async move {
            self.gate()?;
            let _ = self.held.subscribe().wait_for(|released| *released).await;
            self.inner.broadcast(tx).await
        })
    }
    fn submit_package<'a>(
        &'a self,
        txs: &'a [Transaction],
    ) -> BoxFuture<'a, Result<Option<ferry::chain::package::PackageOutcome>, ChainError>> {
        Box::pin(async move {
            self.gate()?;
            let _ = self.held.subscribe().wait_for(|released| *released).await;
            self.inner.submit_package(txs).await
        })
    }
    fn tx_status_of<'a>(
        &'a self,
        tx: &'a Transaction,
    ) -> BoxFuture<'a, Result<TxStatus, ChainError>> {
        Box::pin(async move {
            self.gate()?;
            self.inner.tx_status_of(tx).await
        })
    }
    fn prevout(
        &self,
        outpoint: ferry::tx::OutPoint,
    ) -> BoxFuture<'_, Result<Option<ferry::tx::TxOut>, ChainError>> {
        self.inner.prevout(outpoint)
    }
}

/// A running relay.
pub struct Relay {
    pub base: String,
    /// A friend of the relay the harness signs status lookups with.
    pub observer: IdentityKey,
    pub key: [u8; 32],
    pub backend: Arc<Switch>,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Test timings: quick retries and status checks.
pub fn test_config(auth: AuthMode) -> RelayConfig {
    let mut c = RelayConfig::new(Network::Regtest, auth);
    c.worker.poll = Duration::from_millis(100);
    c.worker.backoff_base = Duration::from_millis(100);
    c.worker.backoff_max = Duration::from_millis(500);
    c.worker.confirm_poll = Duration::from_millis(200);
    c.friend_quota = (100_000, 100_000);
    c.ip_rate = (100_000, 100_000);
    // Load tests fire many transactions from one address.
    c.pending_per_submitter = 1_000_000;
    c.max_pending = 1_000_000;
    c
}

impl Relay {
    pub async fn start(
        data_dir: &Path,
        devnet_base: &str,
        config: RelayConfig,
        identity: IdentityKey,
        friends: Vec<[u8; 32]>,
        down: bool,
    ) -> Relay {
        let esplora = Arc::new(EsploraBackend::new(&format!("{devnet_base}/api")).unwrap());
        Relay::start_on(data_dir, esplora, config, identity, friends, down).await
    }

    /// An open relay (no auth, test timings, a fresh identity) in front of a devnet.
    pub async fn open(data_dir: &Path, devnet_base: &str) -> Relay {
        let identity = IdentityKey::generate().unwrap();
        let config = test_config(AuthMode::Open);
        Relay::start(data_dir, devnet_base, config, identity, Vec::new(), false).await
    }

    /// An open relay in front of any backend (a real Bitcoin Core, say).
    pub async fn open_on(data_dir: &Path, backend: Arc<dyn ChainBackend>) -> Relay {
        let identity = IdentityKey::generate().unwrap();
        let config = test_config(AuthMode::Open);
        Relay::start_on(data_dir, backend, config, identity, Vec::new(), false).await
    }

    /// A relay in front of any backend (a real Bitcoin Core, say).
    pub async fn start_on(
        data_dir: &Path,
        inner: Arc<dyn ChainBackend>,
        config: RelayConfig,
        identity: IdentityKey,
        friends: Vec<[u8; 32]>,
        down: bool,
    ) -> Relay {
        let backend = Arc::new(Switch {
            inner,
            down: AtomicBool::new(down),
            held: tokio::sync::watch::Sender::new(true),
            lookups: AtomicUsize::new(0),
            lookups_down: AtomicBool::new(false),
        });
        let queue = Queue::open(&data_dir.join("relay/queue.sqlite")).unwrap();
        let key = identity.x_only_public_key();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The relay's public URLs: its address, or the test's (`{port}` filled in).
        let mut config = config;
        if config.public_urls.is_empty() {
            config.public_urls = vec![format!("http://{addr}")];
        }
        for u in &mut config.public_urls {
            *u = u.replace("{port}", &addr.port().to_string());
        }
        // The harness's own key, a friend, asks for statuses (friends-only lookups).
        let observer = IdentityKey::generate().unwrap();
        let mut friends = friends;
        friends.push(observer.x_only_public_key());
        let state = AppState::new(config, backend.clone(), queue, identity, friends);
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(ferry::relay::run(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Relay {
            base: format!("http://{addr}"),
            observer,
            key,
            backend,
            state,
            stop: Some(stop),
            task,
        }
    }

    /// Graceful stop: drains, then the worker stops.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }

    /// Abrupt stop: the server and worker futures are dropped mid-flight.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Posts `{"tx":hex}` to /v1/tx signed by `signer` (or unsigned).
    pub async fn submit(
        &self,
        client: &reqwest::Client,
        tx_hex: &str,
        signer: Option<&IdentityKey>,
    ) -> (u16, Value) {
        let body = serde_json::json!({ "tx": tx_hex }).to_string();
        self.post(client, "/v1/tx", body, signer).await
    }

    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: String,
        signer: Option<&IdentityKey>,
    ) -> (u16, Value) {
        let (status, text, _) = self.post_raw(client, path, body, signer).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Returns (status, body text, the Authorization header sent).
    pub async fn post_raw(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: String,
        signer: Option<&IdentityKey>,
    ) -> (u16, String, Option<String>) {
        let url = format!("{}{path}", self.base);
        let mut req = client.post(&url).body(body.clone());
        let mut auth = None;
        if let Some(k) = signer {
            let h = authorization_header(k.signing_key(), "POST", &url, body.as_bytes(), now())
                .unwrap();
            req = req.header("authorization", &h);
            auth = Some(h);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap(), auth)
    }

    pub async fn status(&self, client: &reqwest::Client, txid: &str) -> Value {
        let url = format!("{}/v1/tx/{txid}", self.base);
        let h = authorization_header(self.observer.signing_key(), "GET", &url, b"", now()).unwrap();
        let r = client
            .get(&url)
            .header("authorization", h)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }
}

pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Waits until `f` returns true, for at most `secs`.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
