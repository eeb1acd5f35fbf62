//! What the HTTP backends share: one client configuration, and sending with retries.
//!
//! 429 and the "try again" 5xx answers, and dropped connections, are retried with
//! exponential backoff, honouring `Retry-After`; a refused connection is a backend that is
//! down, reported at once rather than after a minute of retries.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};

use super::ChainError;

/// Retries after the first attempt for 429/5xx/connection failures.
pub(super) const RETRIES: u32 = 3;
/// First backoff; doubled each retry.
const BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` ferry waits for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A client with a 30 s request timeout and a 10 s connect timeout.
pub(super) fn client(url: &str) -> Result<Client, ChainError> {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ChainError::InvalidUrl(format!("{url}: {e}")))
}

/// Sends a request built by `make`, retrying the statuses `retryable` names and transport
/// failures. `url` names the backend in errors (never with credentials).
pub(super) async fn send_retrying(
    url: &str,
    make: impl Fn() -> RequestBuilder,
    retryable: impl Fn(StatusCode) -> bool,
) -> Result<Response, ChainError> {
    let unreachable = |reason: String| ChainError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let mut delay = BACKOFF;
    let mut attempt = 0;
    loop {
        let retry_after = match make().send().await {
            Ok(resp) => {
                let status = resp.status();
                if !retryable(status) {
                    return Ok(resp);
                }
                if attempt == RETRIES {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(unreachable(format!("HTTP {status}: {}", body.trim())));
                }
                retry_after(&resp)
            }
            Err(e) if e.is_builder() => {
                return Err(ChainError::Protocol {
                    url: url.to_owned(),
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                if attempt == RETRIES || e.is_connect() {
                    return Err(unreachable(error_chain(&e)));
                }
                None
            }
        };
        tokio::time::sleep(retry_after.unwrap_or(delay).min(MAX_RETRY_AFTER)).await;
        delay *= 2;
        attempt += 1;
    }
}

/// Backoff before retry `attempt` (0-based) of an answer that says "try again" in its body
/// rather than its status (Core's warm-up).
pub(super) fn backoff(attempt: u32) -> Duration {
    BACKOFF * 2u32.pow(attempt.min(6))
}

fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Returns an error with its causes, which reqwest keeps in its source chain.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
