//! `ferry relay serve|status` and `ferry friends add|list|remove`.

use std::net::SocketAddr;
use std::path::Path;

use clap::{Args, Subcommand};
use ferry::identity::{IDENTITY_FILE, load_or_create};
use ferry::network::Network;
use ferry::relay::client::RelayClientError;
use ferry::relay::friends::{FRIENDS_FILE, Friends};
use ferry::relay::queue::Queue;
use ferry::relay::{AppState, AuthMode, RelayConfig};

use super::code::Code;
use super::{CliError, Ctx};

/// `ferry relay …`.
#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Run a relay for friends (or for anyone with --open).
    Serve(ServeArgs),
    /// Ask a relay where a transaction stands.
    Status {
        /// The transaction id.
        txid: String,
        /// The relay: a URL or a friend's name.
        #[arg(long, value_name = "URL|FRIEND")]
        via: String,
    },
}

/// Arguments of `ferry relay serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3737", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Accept anyone's transactions (rate-limited per IP).
    #[arg(long, conflicts_with = "friends_only")]
    pub open: bool,
    /// Accept only friends' NIP-98-signed requests (the default).
    #[arg(long)]
    pub friends_only: bool,
    /// A URL friends reach this relay at (repeatable: e.g. an onion and a LAN address);
    /// NIP-98's `u` must name one of them. Default: the listen address, when it is a
    /// specific one (with `localhost` for loopback); required when listening on 0.0.0.0.
    #[arg(long, value_name = "URL")]
    pub public_url: Vec<String>,
    /// The network of the backend.
    #[arg(long, default_value = "regtest", value_name = "NETWORK")]
    pub network: Network,
    /// Open mode: requests per second allowed per IP (default 10).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub ip_rate: Option<u32>,
    /// Open mode: burst allowed per IP (default 30).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub ip_burst: Option<u32>,
    /// The longest wait between two broadcast attempts of a transaction, in seconds
    /// (default 300; retries start at 1 s and double).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_retry_delay: Option<u64>,
    /// How often a broadcast transaction's status is checked until it confirms, in
    /// seconds (default 30).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub status_interval: Option<u64>,
    /// How many days confirmed and failed transactions are kept for status lookups before
    /// they are deleted (default 30).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub retain: Option<u64>,
    /// Where queued transactions go: the backend, or the peer-to-peer network (`p2p`,
    /// with --peer/--observer or the network's seeds; the backend still checks them and
    /// watches their status).
    #[arg(long, default_value = "backend", value_name = "backend|p2p")]
    pub broadcast: String,
    /// With --broadcast p2p: a node to hand transactions to (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
    /// With --broadcast p2p: a node that must announce them back (repeatable).
    #[arg(long = "observer", value_name = "HOST:PORT")]
    pub observers: Vec<String>,
}

pub(super) fn friends_err(e: ferry::relay::friends::FriendsError) -> CliError {
    CliError::new(Code::BadFriends, e)
}

/// Maps a relay client failure: the relay being unreachable, refusing or answering
/// nonsense is a failure of the other side (exit 2), like a backend's.
fn relay_err(e: RelayClientError) -> CliError {
    match e {
        RelayClientError::Unreachable { .. } => CliError::new(
            Code::RelayUnreachable,
            format!("{e}: check the URL and that the relay is running"),
        ),
        RelayClientError::Refused { ref code, .. } if code == "not_found" => {
            CliError::new(Code::RelayNotFound, e)
        }
        RelayClientError::Refused { .. } => CliError::new(Code::RelayRefused, e),
        RelayClientError::Protocol { .. } => CliError::new(Code::RelayProtocol, e),
        RelayClientError::BadReceipt { .. } => CliError::new(Code::BadReceipt, e),
        RelayClientError::Client(_) => CliError::new(Code::RelayClient, e),
        other => CliError::internal(other),
    }
}

/// Runs `ferry relay …` (async).
///
/// # Errors
/// Bind failures, an unusable backend or data dir, relay errors for `status`. `--proxy`
/// carries the `status` request, and `serve`'s peer-to-peer broadcasts.
pub(super) async fn run(ctx: &Ctx, cmd: RelayCommand) -> Result<(), CliError> {
    let dir = ctx.data_dir()?;
    let (proxy, out) = (ctx.proxy.as_deref(), &ctx.out);
    match cmd {
        RelayCommand::Status { txid, via } => {
            // A malformed txid is the user's mistake (exit 1), not the relay's refusal.
            txid.parse::<ferry::tx::Txid>().map_err(|_| {
                CliError::new(
                    Code::BadTxid,
                    format!("{txid:?} is not a txid (64 hex digits)"),
                )
            })?;
            let friends = Friends::load(&dir.join(FRIENDS_FILE)).map_err(friends_err)?;
            let (url, _) = friends.resolve_via(&via).map_err(friends_err)?;
            let (identity, _) = load_or_create(&dir.join(IDENTITY_FILE))?;
            let http = ferry::relay::client::http_client(proxy).map_err(CliError::internal)?;
            let st = ferry::relay::client::status(&http, &url, &txid, &identity)
                .await
                .map_err(relay_err)?;
            out.emit(
                &serde_json::to_value(&st).map_err(CliError::internal)?,
                |_| {
                    format!(
                        "{}: {} ({} attempts){}{}",
                        st.txid,
                        st.status,
                        st.attempts,
                        st.package
                            .as_deref()
                            .map(|c| format!("; in the package of child {c}"))
                            .unwrap_or_default(),
                        st.last_error
                            .as_deref()
                            .map(|e| format!("; last error: {e}"))
                            .unwrap_or_default()
                    )
                },
            )
        }
        RelayCommand::Serve(args) => serve(ctx, args, dir).await,
    }
}

/// The URLs NIP-98's `u` may name: the `--public-url`s, or else the listen address when it
/// is a specific one. A relay on every interface cannot know how friends reach it, and
/// guessing from each request's Host header would let a header signed for another relay
/// pass here (issue 14), so it must be told.
fn public_urls(
    given: &[String],
    addr: SocketAddr,
    auth: AuthMode,
) -> Result<Vec<String>, CliError> {
    if !given.is_empty() {
        for u in given {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(CliError::new(
                    Code::BadPublicUrl,
                    format!("--public-url {u:?} is not an http:// or https:// URL"),
                ));
            }
        }
        return Ok(given
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect());
    }
    let ip = addr.ip();
    if ip.is_unspecified() {
        if auth == AuthMode::Open {
            return Ok(Vec::new());
        }
        return Err(CliError::new(
            Code::PublicUrlRequired,
            format!(
                "listening on every interface ({addr}): pass --public-url with each URL your friends \
                 use for this relay (e.g. --public-url http://my-host:{}), so their signed requests \
                 are checked against it",
                addr.port()
            ),
        ));
    }
    let mut urls = vec![format!("http://{addr}")];
    if ip.is_loopback() {
        urls.push(format!("http://localhost:{}", addr.port()));
    }
    Ok(urls)
}

async fn serve(ctx: &Ctx, args: ServeArgs, dir: &Path) -> Result<(), CliError> {
    let (proxy, out) = (ctx.proxy.as_deref(), &ctx.out);
    // The same backend as every wallet command: --backend, or the network's default.
    let chain = ctx.backend(args.network)?;
    let backend_url = chain.describe();
    let (identity, _) = load_or_create(&dir.join(IDENTITY_FILE))?;
    let friends = Friends::load(&dir.join(FRIENDS_FILE)).map_err(friends_err)?;
    let auth = if args.open {
        AuthMode::Open
    } else {
        AuthMode::Friends
    };
    let (listener, addr) = super::bind(args.listen).await?;
    let mut config = RelayConfig::new(args.network, auth);
    config.public_urls = public_urls(&args.public_url, addr, auth)?;
    if let Some(r) = args.ip_rate {
        config.ip_rate.1 = r;
    }
    if let Some(b) = args.ip_burst {
        config.ip_rate.0 = b;
    }
    if let Some(s) = args.max_retry_delay {
        config.worker.backoff_max = std::time::Duration::from_secs(s);
        config.worker.backoff_base = config.worker.backoff_base.min(config.worker.backoff_max);
    }
    if let Some(days) = args.retain {
        config.worker.retain = std::time::Duration::from_secs(days * 24 * 3600);
    }
    if let Some(s) = args.status_interval {
        config.worker.confirm_poll = std::time::Duration::from_secs(s);
    }
    config.worker.p2p = match args.broadcast.as_str() {
        "backend" if args.peers.is_empty() && args.observers.is_empty() => None,
        "p2p" => {
            let p2p = super::p2p::P2pArgs {
                p2p: true,
                peers: args.peers.clone(),
                observers: args.observers.clone(),
                p2p_senders: ferry::p2p::broadcast::DEFAULT_SENDERS,
                p2p_timeout: 20,
                p2p_wait: 30,
                p2p_v1: false,
                p2p_network: Some(args.network),
            };
            super::p2p::plan(proxy, &p2p, args.network)
                .await?
                .map(std::sync::Arc::new)
        }
        "backend" => {
            return Err(CliError::new(
                Code::BadBroadcast,
                "--peer and --observer need --broadcast p2p",
            ));
        }
        other => {
            return Err(CliError::new(
                Code::BadBroadcast,
                format!("--broadcast {other:?}: use backend or p2p"),
            ));
        }
    };
    let queue_path = dir.join("relay").join("queue.sqlite");
    let queue = Queue::open(&queue_path).map_err(|e| CliError::new(Code::RelayQueue, e))?;
    let key = identity.public_hex();
    let urls = config.public_urls.clone();
    let state = AppState::new(config, chain, queue, identity, friends.keys());
    let info = RelayInfo {
        listen: addr.to_string(),
        url: format!("http://{addr}"),
        key: key.clone(),
        auth: if args.open { "open" } else { "friends" },
        friends: friends.keys().len(),
        backend: backend_url.clone(),
        queue: queue_path.display().to_string(),
        public_urls: urls.clone(),
    };
    out.emit(&info, |_| {
        format!(
            "relay listening on http://{addr} ({}; {} friends)\nkey: {key}\nbackend: {backend_url}\nqueue: {}{}\nStop with Ctrl-C.",
            if args.open { "open to anyone" } else { "friends only" },
            friends.keys().len(),
            queue_path.display(),
            if args.open {
                String::new()
            } else {
                format!(
                    "\nfriends' requests must be signed for: {} (--public-url to change)",
                    urls.join(", ")
                )
            }
        )
    })?;
    ferry::relay::run(state, listener, super::shutdown_signal())
        .await
        .map_err(CliError::internal)
}

/// What `ferry relay serve --json` prints when it is listening.
#[derive(Debug, serde::Serialize)]
struct RelayInfo {
    listen: String,
    url: String,
    key: String,
    auth: &'static str,
    friends: usize,
    backend: String,
    queue: String,
    public_urls: Vec<String>,
}
