//! `ferry devnet`: run the embedded regtest chain with its Esplora API.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use ferry::devnet::{Devnet, DevnetState};

use super::code::Code;
use super::{CliError, Ctx};

/// Arguments of `ferry devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3002", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Peer-to-peer address (v1 and BIP-0324 v2), for `--p2p` broadcasts; `off` for none.
    /// A busy default port only turns it off, with a warning.
    #[arg(long, default_value = DEFAULT_P2P, value_name = "ADDR|off")]
    pub p2p_listen: String,

    /// Mine a block every SECS seconds (blocks are always mined on demand too).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub block_interval: Option<u64>,
}

/// The devnet's default peer-to-peer address (regtest's port).
const DEFAULT_P2P: &str = "127.0.0.1:18444";

/// Where ferry keeps its data when neither `--data-dir` nor `FERRY_DATA_DIR` says.
/// Runs the devnet until Ctrl-C or SIGTERM.
///
/// # Errors
/// The data dir cannot be opened, or the address cannot be bound.
pub(super) async fn run(ctx: &Ctx, args: DevnetArgs) -> Result<(), CliError> {
    let out = &ctx.out;
    let dir = ctx.data_dir()?.join("devnet");
    let open_dir = dir.clone();
    let devnet = tokio::task::spawn_blocking(move || Devnet::open(&open_dir))
        .await
        .map_err(CliError::internal)?
        .map_err(|e| CliError::new(Code::DevnetOpen, e))?;
    let height = devnet.chain().height();
    let (listener, addr) = super::bind(args.listen).await?;
    let p2p = match args.p2p_listen.as_str() {
        "off" => None,
        a => {
            let at: SocketAddr = a.parse().map_err(|_| {
                CliError::new(
                    Code::BadListen,
                    format!("--p2p-listen {a:?} is not ADDR:PORT or off"),
                )
            })?;
            match tokio::net::TcpListener::bind(at).await {
                Ok(l) => Some(l),
                Err(e) if a == DEFAULT_P2P => {
                    tracing::warn!("peer-to-peer off: cannot listen on {a}: {e}");
                    None
                }
                Err(e) => {
                    return Err(CliError::new(
                        Code::BindFailed,
                        format!("cannot listen on {a}: {e}"),
                    ));
                }
            }
        }
    };
    let p2p_addr = match &p2p {
        Some(l) => Some(l.local_addr().map_err(CliError::internal)?.to_string()),
        None => None,
    };
    let api = format!("http://{addr}/api");
    let info = DevnetInfo {
        listen: addr.to_string(),
        esplora: api.clone(),
        rpc: format!("http://{addr}/"),
        data_dir: dir.display().to_string(),
        height,
        block_interval: args.block_interval,
        p2p: p2p_addr.clone(),
    };
    out.emit(&info, |_| {
        let interval = args
            .block_interval
            .map_or("on demand (POST /devnet/mine)".to_owned(), |s| {
                format!("every {s} s and on demand")
            });
        format!(
            "devnet (regtest) listening on http://{addr}\n\
             data: {}\n\
             height: {height}; blocks: {interval}\n\
             Esplora API: {api}\n\
             Bitcoin Core RPC: http://{addr}/\n\
             Peer-to-peer (v1, v2): {p2p_shown}\n\
             Point a wallet at it: --backend {api}   or   export FERRY_BACKEND={api}\n\
             Coins: POST {addr}/devnet/faucet {{\"address\":\"bcrt1…\",\"amount_sat\":100000}}\n\
             Stop with Ctrl-C.",
            dir.display(),
            p2p_shown = p2p_addr.as_deref().unwrap_or("off"),
        )
    })?;
    let state = DevnetState::new(devnet);
    let p2p_task = p2p.map(|l| tokio::spawn(ferry::devnet::p2p::serve(state.clone(), l)));
    let result = ferry::devnet::run(
        state,
        listener,
        args.block_interval.map(Duration::from_secs),
        super::shutdown_signal(),
    )
    .await
    .map_err(CliError::internal);
    if let Some(t) = p2p_task {
        t.abort();
    }
    result
}

/// What `ferry devnet --json` prints when it is listening.
#[derive(Debug, serde::Serialize)]
struct DevnetInfo {
    listen: String,
    esplora: String,
    rpc: String,
    data_dir: String,
    height: u32,
    block_interval: Option<u64>,
    p2p: Option<String>,
}
