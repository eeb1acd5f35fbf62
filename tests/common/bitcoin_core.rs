//! A real Bitcoin Core in the tests: `bitcoind -regtest` from `BITCOIND_EXE` (BDK's
//! convention; `scripts/build-bitcoind.sh` builds one) on ephemeral ports in a temp dir,
//! with cookie or user:password auth, stopped cleanly. And the JSON-RPC client the tests
//! use against it or against the devnet's Core subset.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How a test authenticates to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreAuth {
    /// `-rpcuser`/`-rpcpassword`.
    UserPass,
    /// The `.cookie` file the node writes.
    Cookie,
}

/// A JSON-RPC client for tests (the node's error comes back as `Err((code, message))`).
#[derive(Clone)]
pub struct Rpc {
    url: String,
    user_pass: Option<(String, String)>,
    cookie: Option<PathBuf>,
    client: reqwest::Client,
}

impl Rpc {
    /// A client for the devnet's Core subset at `base` (no auth).
    pub fn devnet(base: &str) -> Rpc {
        Rpc {
            url: format!("{base}/"),
            user_pass: None,
            cookie: None,
            client: reqwest::Client::new(),
        }
    }

    fn credentials(&self) -> Option<(String, String)> {
        if let Some(path) = &self.cookie {
            let text = std::fs::read_to_string(path).ok()?;
            let (u, p) = text.trim().split_once(':')?;
            return Some((u.to_owned(), p.to_owned()));
        }
        self.user_pass.clone()
    }

    /// Calls `method`; transport failures come back as code 0.
    pub async fn try_call(&self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some((u, p)) = self.credentials() {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|e| (0, e.to_string()))?;
        let v: Value = resp.json().await.map_err(|e| (0, e.to_string()))?;
        match v.get("error") {
            Some(e) if !e.is_null() => Err((
                e["code"].as_i64().unwrap_or(0),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )),
            _ => Ok(v["result"].clone()),
        }
    }

    /// Calls `method`, panicking on an error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .await
            .unwrap_or_else(|e| panic!("{method} {params}: {e:?}"))
    }

    /// Mines `n` blocks paying to `address`.
    pub async fn mine(&self, n: u32, address: &str) {
        self.call("generatetoaddress", json!([n, address])).await;
    }

    /// The txids in the mempool.
    pub async fn mempool(&self) -> Vec<String> {
        self.call("getrawmempool", json!([]))
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }

    /// `testmempoolaccept` for one transaction: `Ok(())` or the reject reason.
    pub async fn test_accept(&self, hex: &str) -> Result<(), String> {
        let r = self.call("testmempoolaccept", json!([[hex]])).await;
        let r = &r[0];
        if r["allowed"].as_bool() == Some(true) {
            Ok(())
        } else {
            Err(r["reject-reason"].as_str().unwrap_or_default().to_owned())
        }
    }
}

/// Where the node binary is: `BITCOIND_EXE`, or `None` (the test is skipped, saying so)
/// outside CI. In CI (`CI` set) a missing node fails the test: there they always run.
pub fn bitcoind_exe(test: &str) -> Option<PathBuf> {
    match std::env::var_os("BITCOIND_EXE") {
        Some(p) if Path::new(&p).is_file() => Some(PathBuf::from(p)),
        Some(p) => panic!("BITCOIND_EXE={} is not a file", Path::new(&p).display()),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: BITCOIND_EXE is not set, and Core tests always run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED {test}: set BITCOIND_EXE (scripts/build-bitcoind.sh builds bitcoind) to run it against a real Bitcoin Core"
            );
            None
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `bitcoind -regtest`.
pub struct Bitcoind {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub rpc_port: u16,
    pub auth: CoreAuth,
    password: String,
    pub rpc: Rpc,
}

impl Bitcoind {
    /// Starts a node (no p2p, no peers) and waits until its RPC answers.
    pub async fn start(exe: &Path, auth: CoreAuth) -> Bitcoind {
        Self::start_with(exe, auth, &[]).await
    }

    /// Starts a node with extra arguments.
    pub async fn start_with(exe: &Path, auth: CoreAuth, extra: &[&str]) -> Bitcoind {
        let dir = tempfile::tempdir().unwrap();
        let rpc_port = free_port();
        let password = format!("pw{}", rand_suffix());
        let mut cmd = Command::new(exe);
        cmd.arg("-regtest")
            .arg(format!("-datadir={}", dir.path().display()))
            .arg(format!("-rpcport={rpc_port}"))
            .args([
                "-server=1",
                "-listen=0",
                "-connect=0",
                "-dnsseed=0",
                "-fixedseeds=0",
                "-natpmp=0",
                "-discover=0",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
                "-printtoconsole=0",
                "-acceptnonstdtxn=0",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if auth == CoreAuth::UserPass {
            cmd.arg("-rpcuser=ferry")
                .arg(format!("-rpcpassword={password}"));
        }
        let child = cmd.spawn().unwrap();
        let rpc = Rpc {
            url: format!("http://127.0.0.1:{rpc_port}/"),
            user_pass: (auth == CoreAuth::UserPass).then(|| ("ferry".to_owned(), password.clone())),
            cookie: (auth == CoreAuth::Cookie).then(|| dir.path().join("regtest/.cookie")),
            // No idle keep-alive connections: bitcoind's shutdown waits for open ones
            // until -rpcservertimeout (30 s).
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        };
        let mut node = Bitcoind {
            child: Some(child),
            dir,
            rpc_port,
            auth,
            password,
            rpc,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match node.rpc.try_call("getblockcount", json!([])).await {
                Ok(_) => break,
                Err(e) => {
                    if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
                        let mut err = String::new();
                        use std::io::Read;
                        let _ = node
                            .child
                            .as_mut()
                            .unwrap()
                            .stderr
                            .take()
                            .unwrap()
                            .read_to_string(&mut err);
                        panic!("bitcoind exited ({status}) before answering: {err}");
                    }
                    assert!(
                        Instant::now() < deadline,
                        "bitcoind did not answer in 60 s: {e:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        node
    }

    /// The ferry backend URL for this node, with this node's kind of auth.
    pub fn backend_url(&self) -> String {
        match self.auth {
            CoreAuth::UserPass => {
                format!(
                    "core+http://ferry:{}@127.0.0.1:{}",
                    self.password, self.rpc_port
                )
            }
            CoreAuth::Cookie => format!(
                "core+http://127.0.0.1:{}?cookie={}",
                self.rpc_port,
                self.dir.path().join("regtest/.cookie").display()
            ),
        }
    }

    /// The node's data dir.
    pub fn datadir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the node through RPC and waits for the process to exit.
    pub async fn stop(mut self) {
        self.rpc.call("stop", json!([])).await;
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "bitcoind exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "bitcoind did not stop in 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Bitcoind {
    fn drop(&mut self) {
        // A test that panicked: do not leave a node behind.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

pub mod story;
