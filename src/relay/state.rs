//! What the relay's parts share: its settings ([`RelayConfig`], [`WorkerConfig`]), its
//! counters and [`AppState`]. The server, the admission gate, the submission path, the
//! status lookups and the worker all use it; none of them imports another for it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::auth::ReplayCache;
use super::claims::Claims;
use super::limits::RateLimiter;
use super::queue::Queue;
use super::validate::PrevoutCache;
use crate::chain::ChainBackend;
use crate::identity::IdentityKey;
use crate::network::Network;
use crate::tx::Transaction;
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
    /// The base URLs this relay is reached at (`http://127.0.0.1:3737`,
    /// `https://relay.example`, an onion): NIP-98's `u` must name one of them. Never taken
    /// from the Host header, so a header signed for another relay does not pass here. In
    /// friends mode an empty list refuses every request (fail closed).
    pub public_urls: Vec<String>,
    /// The fee floor.
    pub min_fee_rate: FeeRate,
    /// The largest transaction accepted, in vbytes.
    pub max_tx_vbytes: u64,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The longest a request may take.
    pub request_timeout: Duration,
    /// The longest reading a request's body may take, once its headers were accepted.
    pub body_timeout: Duration,
    /// The most submissions (POST) handled at once (others wait).
    pub concurrency: usize,
    /// The most lookups (GET) handled at once, apart from the submissions' slots, so
    /// `/v1/info` and status answers never wait behind slow submissions.
    pub read_concurrency: usize,
    /// The most connections one IP address may hold open.
    pub connections_per_ip: usize,
    /// The most NIP-98 event ids remembered (each friend gets an equal share).
    pub replay_capacity: usize,
    /// The most pending (queued or broadcast) transactions per friend, or per IP in open
    /// mode.
    pub pending_per_submitter: usize,
    /// The most pending transactions in all.
    pub max_pending: usize,
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
            public_urls: Vec::new(),
            min_fee_rate: FeeRate::MIN_RELAY,
            max_tx_vbytes: 100_000,
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(5),
            concurrency: 512,
            read_concurrency: 64,
            connections_per_ip: 256,
            replay_capacity: 100_000,
            pending_per_submitter: 10_000,
            max_pending: 200_000,
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
    /// What the pending transactions spend, and who sent them.
    pub claims: Arc<Claims>,
    /// Recent backend looks at broadcast transactions' status (`GET /v1/tx/{txid}`).
    pub(super) looks: Arc<super::status::Looks>,
    pub(super) prevouts: Arc<PrevoutCache>,
    pub(super) outspends: Arc<super::outspends::OutspendCache>,
    pub(super) slots: Arc<Semaphore>,
    pub(super) read_slots: Arc<Semaphore>,
    pub(super) submitting: Arc<AtomicUsize>,
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
        let claims =
            match queue.pending_now() {
                Ok(records) => Claims::load(records.into_iter().filter_map(|r| {
                    Some((Transaction::deserialize(&r.raw).ok()?, r.submitted_by))
                })),
                Err(e) => {
                    tracing::error!("cannot read the queue's pending transactions: {e}");
                    Claims::default()
                }
            };
        let replay = ReplayCache::new(config.replay_capacity);
        AppState {
            claims: Arc::new(claims),
            looks: Arc::default(),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            read_slots: Arc::new(Semaphore::new(config.read_concurrency.max(1))),
            submitting: Arc::new(AtomicUsize::new(0)),
            limiter: Arc::new(Mutex::new(RateLimiter::new(burst, rate))),
            config: Arc::new(config),
            backend,
            queue,
            identity: Arc::new(identity),
            friends: Arc::new(RwLock::new(friends.into_iter().collect())),
            replay: Arc::new(Mutex::new(replay)),
            metrics: Arc::new(Metrics::default()),
            wake: Arc::new(Notify::new()),
            prevouts: Arc::new(PrevoutCache::default()),
            outspends: Arc::default(),
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

/// The worker's timings, and how it broadcasts.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How often the worker looks for due records when nothing wakes it.
    pub poll: Duration,
    /// The first retry delay; doubles per failed attempt.
    pub backoff_base: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// How often a broadcast transaction's status is checked.
    pub confirm_poll: Duration,
    /// After this long unconfirmed, a transaction is marked failed (expired).
    pub expiry: Duration,
    /// How long confirmed and failed records are kept (for status lookups) before they
    /// are deleted.
    pub retain: Duration,
    /// How many records are handled at once.
    pub parallel: usize,
    /// How many while submissions are in flight: accepting comes first, so a burst is
    /// accepted faster and then delivered at full width (`cargo bench --bench relay_load`,
    /// `docs/relay-protocol.md`, Performance).
    pub parallel_while_accepting: usize,
    /// `--broadcast p2p`: hand transactions to the peer-to-peer network instead of the
    /// backend (which still checks them and watches their status).
    pub p2p: Option<std::sync::Arc<crate::p2p::BroadcastConfig>>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            confirm_poll: Duration::from_secs(30),
            expiry: Duration::from_secs(14 * 24 * 3600),
            retain: Duration::from_secs(30 * 24 * 3600),
            parallel: 32,
            parallel_while_accepting: 4,
            p2p: None,
        }
    }
}
