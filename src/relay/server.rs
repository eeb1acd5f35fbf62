//! The relay's HTTP server (axum): `app(state)` builds the router, `run(state, listener,
//! shutdown)` serves it with the broadcast worker and drains on shutdown.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, Semaphore};

use super::auth::{ReplayCache, RequestInfo, verify_header};
use super::error::AppError;
use super::limits::RateLimiter;
use super::queue::{Queue, Record};
use super::receipt::Receipt;
use super::validate::{PrevoutCache, check_contextual, decode};
use super::worker::{WorkerConfig, run_worker};
use crate::chain::ChainBackend;
use crate::identity::IdentityKey;
use crate::network::Network;
use crate::units::FeeRate;

/// Who may submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Anyone, rate-limited per IP.
    Open,
    /// Only friends, authenticated with NIP-98, each with a quota.
    Friends,
}

/// The relay's settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// A name shown in `/v1/info`.
    pub name: String,
    /// The network the relay's backend is on.
    pub network: Network,
    /// Open or friends-only.
    pub auth: AuthMode,
    /// The public base URL (`https://relay.example` or an onion), used for NIP-98's `u`
    /// check instead of `http://<Host header>`.
    pub public_url: Option<String>,
    /// The fee floor.
    pub min_fee_rate: FeeRate,
    /// The largest transaction accepted, in vbytes.
    pub max_tx_vbytes: u64,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The longest a request may take.
    pub request_timeout: Duration,
    /// The most requests handled at once (others wait).
    pub concurrency: usize,
    /// Token bucket (burst, per second) per IP in open mode.
    pub ip_rate: (u32, u32),
    /// Token bucket (burst, per second) per friend in friends-only mode.
    pub friend_quota: (u32, u32),
    /// The broadcast worker's settings.
    pub worker: WorkerConfig,
}

impl RelayConfig {
    /// Returns the defaults for a relay on `network`.
    pub fn new(network: Network, auth: AuthMode) -> Self {
        RelayConfig {
            name: "ferry relay".into(),
            network,
            auth,
            public_url: None,
            min_fee_rate: FeeRate::MIN_RELAY,
            max_tx_vbytes: 100_000,
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(30),
            concurrency: 512,
            ip_rate: (30, 10),
            friend_quota: (1000, 200),
            worker: WorkerConfig::default(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Transactions newly accepted (202, new record).
    pub accepted: AtomicU64,
    /// Duplicate submissions answered from the existing record.
    pub duplicates: AtomicU64,
    /// Refusals (4xx), all codes.
    pub refused: AtomicU64,
    /// Refused for authorization.
    pub unauthorized: AtomicU64,
    /// Broadcast attempts by the worker.
    pub broadcast_attempts: AtomicU64,
    /// Broadcast attempts that failed.
    pub broadcast_errors: AtomicU64,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The settings.
    pub config: Arc<RelayConfig>,
    /// The chain backend the relay checks against and broadcasts to.
    pub backend: Arc<dyn ChainBackend>,
    /// The durable queue.
    pub queue: Queue,
    /// The relay's identity (signs receipts; its public key is in `/v1/info`).
    pub identity: Arc<IdentityKey>,
    /// The friends' x-only keys.
    pub friends: Arc<RwLock<HashSet<[u8; 32]>>>,
    /// Seen NIP-98 event ids.
    pub replay: Arc<Mutex<ReplayCache>>,
    /// Per-IP or per-friend token buckets.
    pub limiter: Arc<Mutex<RateLimiter>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Wakes the worker when something is queued.
    pub wake: Arc<Notify>,
    prevouts: Arc<PrevoutCache>,
    slots: Arc<Semaphore>,
    submitting: Arc<AtomicUsize>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("backend", &self.backend.describe())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state.
    pub fn new(
        config: RelayConfig,
        backend: Arc<dyn ChainBackend>,
        queue: Queue,
        identity: IdentityKey,
        friends: impl IntoIterator<Item = [u8; 32]>,
    ) -> Self {
        let (burst, rate) = match config.auth {
            AuthMode::Open => config.ip_rate,
            AuthMode::Friends => config.friend_quota,
        };
        AppState {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            submitting: Arc::new(AtomicUsize::new(0)),
            limiter: Arc::new(Mutex::new(RateLimiter::new(burst, rate))),
            config: Arc::new(config),
            backend,
            queue,
            identity: Arc::new(identity),
            friends: Arc::new(RwLock::new(friends.into_iter().collect())),
            replay: Arc::new(Mutex::new(ReplayCache::new(100_000))),
            metrics: Arc::new(Metrics::default()),
            wake: Arc::new(Notify::new()),
            prevouts: Arc::new(PrevoutCache::default()),
        }
    }
}

impl AppState {
    /// How many submissions are being checked or committed right now (the worker narrows
    /// its broadcasts while there are any).
    pub fn submissions_in_flight(&self) -> usize {
        self.submitting.load(Ordering::Relaxed)
    }
}

/// Counts a submission in flight until dropped (also when its request is cancelled).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Builds the router: protocol v1, the Esplora-compatible push and metrics, with body
/// limit, timeout and concurrency limit.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/tx", post(post_v1_tx))
        .route("/v1/tx/{txid}", get(get_v1_tx))
        .route("/api/tx", post(post_api_tx))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), concurrency))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

/// Serves `app(state)` on `listener` with the broadcast worker until `shutdown` completes,
/// then stops accepting, drains in-flight requests (each bounded by the request timeout),
/// and stops the worker after its current step.
///
/// # Errors
/// The listener's I/O error.
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Aborted if this future is dropped (a crash-like stop), so no orphan worker remains.
    let mut worker = AbortOnDrop(tokio::spawn(run_worker(state.clone(), stop_rx)));
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    let _ = stop_tx.send(true);
    let _ = (&mut worker.0).await;
    served
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn concurrency(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.slots.clone().acquire_owned().await {
        Ok(_permit) => next.run(req).await,
        Err(_) => AppError::internal("concurrency semaphore closed").into_response(),
    }
}

fn now_secs() -> i64 {
    super::queue::now_ms() / 1000
}

async fn info(State(s): State<AppState>) -> Response {
    let c = &s.config;
    axum::Json(serde_json::json!({
        "name": c.name,
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "network": c.network.to_string(),
        "key": s.identity.public_hex(),
        "auth": match c.auth { AuthMode::Open => "open", AuthMode::Friends => "friends" },
        "min_fee_rate": c.min_fee_rate.to_sat_per_vb_f64(),
        "max_tx_vbytes": c.max_tx_vbytes,
    }))
    .into_response()
}

/// Authorizes a submission: NIP-98 + friends + replay + quota, or the per-IP limit.
/// Returns who submitted (`friend:HEX` or `ip:ADDR`).
fn authorize(s: &AppState, req: &Request, body: &[u8]) -> Result<String, AppError> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let who = match s.config.auth {
        AuthMode::Open => format!("ip:{peer}"),
        AuthMode::Friends => {
            let url = request_url(s, req);
            let now = now_secs();
            let info = RequestInfo {
                method: req.method().as_str(),
                url: &url,
                body,
                now,
            };
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let unauthorized = |e: super::auth::AuthError| {
                s.metrics.unauthorized.fetch_add(1, Ordering::Relaxed);
                AppError::unauthorized(e.to_string())
            };
            let v = verify_header(header, &info).map_err(unauthorized)?;
            let known = s
                .friends
                .read()
                .map_err(|_| AppError::internal("friends lock poisoned"))?
                .contains(&v.pubkey);
            if !known {
                return Err(unauthorized(super::auth::AuthError::NotAFriend(
                    hex::encode(v.pubkey),
                )));
            }
            s.replay
                .lock()
                .map_err(|_| AppError::internal("replay cache poisoned"))?
                .check_and_insert(&v, now)
                .map_err(unauthorized)?;
            format!("friend:{}", hex::encode(v.pubkey))
        }
    };
    let allowed = s
        .limiter
        .lock()
        .map_err(|_| AppError::internal("rate limiter poisoned"))?
        .allow(&who, Instant::now());
    if !allowed {
        return Err(AppError::rate_limited(format!(
            "too many requests from {who}; slow down"
        )));
    }
    Ok(who)
}

/// The absolute URL the request reached, for NIP-98's `u` tag.
fn request_url(s: &AppState, req: &Request) -> String {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    match &s.config.public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}{path}")
        }
    }
}

/// Runs the checks and commits to the queue; returns the transaction's record.
async fn submit(
    s: &AppState,
    hex_tx: &str,
    network: Option<&str>,
    who: String,
) -> Result<Record, AppError> {
    let _submitting = InFlight::enter(&s.submitting);
    if let Some(n) = network
        && n != s.config.network.to_string()
    {
        return Err(AppError::wrong_network(format!(
            "the transaction is for {n}, this relay is on {}",
            s.config.network
        )));
    }
    let tx = decode(hex_tx, s.config.max_tx_vbytes)?;
    let txid = tx.txid();
    // A txid already queued is answered from its record (idempotent), whatever the checks
    // would say now (its own confirmation, a raised fee floor, a backend outage). The queue
    // is asked only when the checks fail: a new transaction — nearly every submission —
    // costs no read, and the writer's insert answers a duplicate that passes them.
    if let Err(refused) =
        check_contextual(&tx, &s.backend, &s.prevouts, s.config.min_fee_rate).await
    {
        let existing = s
            .queue
            .get(txid)
            .await
            .map_err(|e| AppError::internal(e.to_string()))?;
        return match existing {
            Some(r) => {
                s.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                Ok(r)
            }
            None => Err(refused),
        };
    }
    let (record, inserted) = s
        .queue
        .submit(txid, tx.serialize(), who)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    if inserted {
        s.metrics.accepted.fetch_add(1, Ordering::Relaxed);
        s.wake.notify_one();
    } else {
        s.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    Ok(record)
}

/// Signs the receipt for `record` (only `/v1/tx` answers with one: a BIP-340 signature is
/// a good part of an accept's CPU, not to be spent on `/api/tx`, which drops it).
fn receipt(s: &AppState, record: &Record) -> Result<Receipt, AppError> {
    Receipt::sign(
        s.identity.signing_key(),
        &record.txid.to_string(),
        record.status.as_str(),
        now_secs(),
    )
    .map_err(|e| AppError::internal(e.to_string()))
}

async fn read_body(s: &AppState, req: Request) -> Result<(Request<()>, Bytes), AppError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, s.config.body_limit)
        .await
        .map_err(|e| {
            AppError::too_large(format!(
                "request body over {} bytes: {e}",
                s.config.body_limit
            ))
        })?;
    Ok((Request::from_parts(parts, ()), bytes))
}

fn counted(s: &AppState, r: Result<Response, AppError>) -> Response {
    match r {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_client_error() {
                s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            }
            e.into_response()
        }
    }
}

async fn post_v1_tx(State(s): State<AppState>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (parts, body) = read_body(&s, req).await?;
        let who = authorize(&s, &parts.map(|()| axum::body::Body::empty()), &body)?;
        #[derive(serde::Deserialize)]
        struct Submit {
            tx: String,
            network: Option<String>,
        }
        let sub: Submit = serde_json::from_slice(&body)
            .map_err(|e| AppError::malformed(format!("body is not {{\"tx\":HEX}}: {e}")))?;
        let record = submit(&s, &sub.tx, sub.network.as_deref(), who).await?;
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "txid": record.txid.to_string(),
                "status": record.status.as_str(),
                "receipt": receipt(&s, &record)?,
            })),
        )
            .into_response())
    }
    .await;
    counted(&s, r)
}

async fn post_api_tx(State(s): State<AppState>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (parts, body) = read_body(&s, req).await?;
        let who = authorize(&s, &parts.map(|()| axum::body::Body::empty()), &body)?;
        let text =
            std::str::from_utf8(&body).map_err(|_| AppError::malformed("body is not hex text"))?;
        let record = submit(&s, text, None, who).await?;
        Ok((StatusCode::OK, record.txid.to_string()).into_response())
    }
    .await;
    // Esplora answers errors as text; keep the status, send the message as text.
    match r {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_client_error() {
                s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            }
            (e.status, format!("{}: {}", e.code, e.public_message())).into_response()
        }
    }
}

async fn get_v1_tx(State(s): State<AppState>, Path(txid): Path<String>) -> Response {
    let r: Result<Response, AppError> = async {
        let id = txid
            .parse()
            .map_err(|_| AppError::malformed(format!("{txid:?} is not a txid")))?;
        let rec = s
            .queue
            .get(id)
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .ok_or_else(|| AppError::not_found(format!("this relay has no transaction {txid}")))?;
        let mut v = serde_json::json!({
            "txid": rec.txid.to_string(),
            "status": rec.status.as_str(),
            "attempts": rec.attempts,
        });
        if let Some(e) = rec.last_error {
            v["last_error"] = e.into();
        }
        if let Some(b) = rec.backend_txid {
            v["backend_txid"] = b.into();
        }
        Ok(axum::Json(v).into_response())
    }
    .await;
    counted(&s, r)
}

async fn metrics(State(s): State<AppState>, _h: HeaderMap) -> Response {
    let m = &s.metrics;
    let mut out = String::new();
    let counters = [
        ("accepted", "Transactions newly accepted.", &m.accepted),
        ("duplicates", "Duplicate submissions.", &m.duplicates),
        ("refused", "Submissions refused (4xx).", &m.refused),
        (
            "unauthorized",
            "Requests refused for authorization.",
            &m.unauthorized,
        ),
        (
            "broadcast_attempts",
            "Broadcast attempts.",
            &m.broadcast_attempts,
        ),
        (
            "broadcast_errors",
            "Failed broadcast attempts.",
            &m.broadcast_errors,
        ),
    ];
    for (name, help, value) in counters {
        let v = value.load(Ordering::Relaxed);
        out.push_str(&format!(
            "# HELP ferry_relay_{name}_total {help}\n# TYPE ferry_relay_{name}_total counter\nferry_relay_{name}_total {v}\n"
        ));
    }
    out.push_str("# HELP ferry_relay_queue Transactions in the queue by status.\n# TYPE ferry_relay_queue gauge\n");
    if let Ok(counts) = s.queue.counts().await {
        for (st, n) in counts {
            out.push_str(&format!(
                "ferry_relay_queue{{status=\"{}\"}} {n}\n",
                st.as_str()
            ));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
