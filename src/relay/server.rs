//! The relay's HTTP server (axum): `app(state)` builds the router, `run(state, listener,
//! shutdown)` serves it with the broadcast worker and drains on shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;

use super::error::AppError;
use super::gate;
use super::listener::CappedListener;
use super::queue::Record;
use super::receipt::Receipt;
use super::state::{AppState, AuthMode};
use super::submit::submit;
use super::worker::run_worker;

/// Builds the router: protocol v1, the Esplora-compatible push and metrics, with body
/// limit, timeout and concurrency limit.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/tx", post(post_v1_tx))
        .route("/v1/tx/{txid}", get(get_v1_tx))
        .route("/v1/package", post(post_v1_package))
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
    // `tap_io` only to keep `ConnectInfo<SocketAddr>` (axum provides it for tapped listeners).
    let listener = CappedListener::new(listener, state.config.connections_per_ip).tap_io(|_| {});
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

/// Takes a request slot: lookups and submissions have separate pools, so a flood of slow
/// submissions never makes `/v1/info` or a status lookup wait.
async fn concurrency(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let slots = if matches!(*req.method(), Method::GET | Method::HEAD) {
        &s.read_slots
    } else {
        &s.slots
    };
    match slots.clone().acquire_owned().await {
        Ok(_permit) => next.run(req).await,
        Err(_) => AppError::internal("concurrency semaphore closed").into_response(),
    }
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

/// Signs the receipt for `record` (only `/v1/tx` answers with one: a BIP-340 signature is
/// a good part of an accept's CPU, not to be spent on `/api/tx`, which drops it).
fn receipt(s: &AppState, record: &Record, now: i64) -> Result<Receipt, AppError> {
    Receipt::sign(
        s.identity.signing_key(),
        &record.txid.to_string(),
        record.status.as_str(),
        now,
    )
    .map_err(|e| AppError::internal(e.to_string()))
}

/// Reads the body of an admitted request, within the body limit and the body timeout (a
/// few seconds, apart from the request's: a slow sender does not keep a slot for long).
async fn read_body(s: &AppState, body: axum::body::Body) -> Result<Bytes, AppError> {
    let limit = s.config.body_limit;
    match tokio::time::timeout(s.config.body_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(AppError::too_large(format!(
            "request body over {limit} bytes: {e}"
        ))),
        Err(_) => Err(AppError::body_timeout(format!(
            "the request body did not arrive within {} s",
            s.config.body_timeout.as_secs()
        ))),
    }
}

/// Admits from the headers, then reads the body and finishes the check against it.
async fn admitted_body(s: &AppState, req: Request) -> Result<(String, Bytes), AppError> {
    let (parts, body) = req.into_parts();
    let caller = gate::admit(s, &parts)?;
    let body = read_body(s, body).await?;
    let who = gate::finish(s, caller, &body)?;
    Ok((who, body))
}

fn counted(s: &AppState, r: Result<Response, AppError>) -> Response {
    match r {
        Ok(r) => r,
        Err(e) => {
            if e.code.status().is_client_error() {
                s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            }
            e.into_response()
        }
    }
}

async fn post_v1_tx(State(s): State<AppState>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (who, body) = admitted_body(&s, req).await?;
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
                "receipt": receipt(&s, &record, gate::now_secs())?,
            })),
        )
            .into_response())
    }
    .await;
    counted(&s, r)
}

async fn post_v1_package(State(s): State<AppState>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (who, body) = admitted_body(&s, req).await?;
        #[derive(serde::Deserialize)]
        struct Submit {
            txs: Vec<String>,
            network: Option<String>,
        }
        let sub: Submit = serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_package(format!("body is not {{\"txs\":[HEX,…]}}: {e}")))?;
        let records =
            super::package::submit_package(&s, &sub.txs, sub.network.as_deref(), who).await?;
        let now = gate::now_secs();
        let txs = records
            .iter()
            .map(|record| {
                Ok(serde_json::json!({
                    "txid": record.txid.to_string(),
                    "status": record.status.as_str(),
                    "receipt": receipt(&s, record, now)?,
                }))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "txs": txs })),
        )
            .into_response())
    }
    .await;
    counted(&s, r)
}

async fn post_api_tx(State(s): State<AppState>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (who, body) = admitted_body(&s, req).await?;
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
            if e.code.status().is_client_error() {
                s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            }
            (
                e.code.status(),
                format!("{}: {}", e.code, e.public_message()),
            )
                .into_response()
        }
    }
}

/// A transaction's status. In friends mode only friends may ask: anyone who knows a txid
/// (everyone, once it is broadcast) could otherwise learn which relay handled it.
async fn get_v1_tx(State(s): State<AppState>, Path(txid): Path<String>, req: Request) -> Response {
    let r: Result<Response, AppError> = async {
        let (parts, _) = req.into_parts();
        let caller = gate::admit(&s, &parts)?;
        gate::finish(&s, caller, &[])?;
        let id = txid
            .parse()
            .map_err(|_| AppError::malformed(format!("{txid:?} is not a txid")))?;
        let rec = s
            .queue
            .get(id)
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .ok_or_else(|| AppError::not_found(format!("this relay has no transaction {txid}")))?;
        let rec = super::status::fresher(&s, rec).await;
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
        if let Some(p) = rec.package {
            v["package"] = p.to_string().into();
        }
        Ok(axum::Json(v).into_response())
    }
    .await;
    counted(&s, r)
}

/// Counters for the operator's scraper, on loopback only: the volume a relay handles is
/// nobody else's business.
async fn metrics(State(s): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if !gate::peer_ip(&parts).is_some_and(|ip| ip.is_loopback()) {
        return AppError::not_found("no such resource").into_response();
    }
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
