//! The relay client: submit a transaction to a friend's relay (NIP-98 signed) and verify
//! the receipt against the friend's pinned key; ask a relay for a transaction's status.

use std::time::Duration;

use serde::Deserialize;

use super::auth::{AuthError, authorization_header};
use super::receipt::{Receipt, ReceiptError, verify_receipt};
use crate::identity::IdentityKey;
use crate::tx::Transaction;

/// A relay's 202 answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Accepted {
    /// The txid the relay queued.
    pub txid: String,
    /// `queued` or `broadcast`.
    pub status: String,
    /// The signed receipt.
    pub receipt: Receipt,
}

/// A relay's status answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct RelayTxStatus {
    /// The txid.
    pub txid: String,
    /// `queued`, `broadcast`, `confirmed` or `failed`.
    pub status: String,
    /// Broadcast attempts so far.
    pub attempts: u64,
    /// The last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The backend's txid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_txid: Option<String>,
    /// For a member of a package: the package's child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Why a relay request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayClientError {
    /// The relay could not be reached or timed out.
    #[error("relay {url} unreachable: {reason}")]
    Unreachable {
        /// The relay.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The relay refused, with its code and message.
    #[error("relay {url} refused ({status} {code}): {message}")]
    Refused {
        /// The relay.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The protocol's error code.
        code: String,
        /// The relay's message.
        message: String,
    },
    /// The answer is not what the protocol says.
    #[error("relay {url} answered something unexpected: {reason}")]
    Protocol {
        /// The relay.
        url: String,
        /// What was unexpected.
        reason: String,
    },
    /// The receipt does not verify against the pinned key, or names another txid.
    #[error("relay {url} sent a receipt that does not verify: {reason}")]
    BadReceipt {
        /// The relay.
        url: String,
        /// Why.
        reason: String,
    },
    /// Signing the request failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A proxy or client setting is invalid.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// Builds the HTTP client: timeouts, and an optional proxy that carries all of its traffic
/// (`socks5h://HOST:PORT` lets the proxy resolve names, which Tor's .onion addresses need).
///
/// # Errors
/// [`RelayClientError::Client`] for an invalid proxy URL.
pub fn http_client(proxy: Option<&str>) -> Result<reqwest::Client, RelayClientError> {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = proxy {
        b = b.proxy(reqwest::Proxy::all(p).map_err(|e| RelayClientError::Client(e.to_string()))?);
    }
    b.build()
        .map_err(|e| RelayClientError::Client(e.to_string()))
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or(i64::MAX)
}

async fn refused(url: &str, r: reqwest::Response) -> RelayClientError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    RelayClientError::Refused {
        url: url.to_owned(),
        status,
        code: v["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
        message: v["error"]["message"]
            .as_str()
            .map_or_else(|| text.chars().take(200).collect(), str::to_owned),
    }
}

/// Submits `tx` to the relay at `url` (its base, e.g. `http://host:3737`), signed with
/// `identity`; verifies the receipt against `pinned_key` when the relay's key is known.
///
/// # Errors
/// [`RelayClientError`].
pub async fn submit(
    http: &reqwest::Client,
    url: &str,
    tx: &Transaction,
    identity: &IdentityKey,
    pinned_key: Option<&[u8; 32]>,
) -> Result<Accepted, RelayClientError> {
    let base = url.trim_end_matches('/');
    let body = serde_json::json!({ "tx": tx.to_hex() }).to_string();
    let a: Accepted = post_signed(http, base, "/v1/tx", body, identity).await?;
    check_receipt(base, &a, tx, pinned_key)?;
    Ok(a)
}

/// Submits a package — `txs`, parents first and their child last — to the relay at `url`
/// (`POST /v1/package`), signed with `identity`; checks every member's receipt as
/// [`submit`] does. Returns the relay's answer for each, in order.
///
/// # Errors
/// [`RelayClientError`].
pub async fn submit_package(
    http: &reqwest::Client,
    url: &str,
    txs: &[Transaction],
    identity: &IdentityKey,
    pinned_key: Option<&[u8; 32]>,
) -> Result<Vec<Accepted>, RelayClientError> {
    #[derive(Deserialize)]
    struct Answer {
        txs: Vec<Accepted>,
    }
    let base = url.trim_end_matches('/');
    let hex: Vec<String> = txs.iter().map(Transaction::to_hex).collect();
    let body = serde_json::json!({ "txs": hex }).to_string();
    let a: Answer = post_signed(http, base, "/v1/package", body, identity)
        .await
        .map_err(|e| match e {
            // No such route: a relay from before packages (or not a relay at all).
            RelayClientError::Refused {
                url, status: 404, ..
            } => RelayClientError::Refused {
                url,
                status: 404,
                code: "not_found".into(),
                message: "this relay does not take packages (POST /v1/package): it may run \
                          an older ferry"
                    .into(),
            },
            other => other,
        })?;
    if a.txs.len() != txs.len() {
        return Err(RelayClientError::Protocol {
            url: base.to_owned(),
            reason: format!("{} answers for {} transactions", a.txs.len(), txs.len()),
        });
    }
    for (accepted, tx) in a.txs.iter().zip(txs) {
        check_receipt(base, accepted, tx, pinned_key)?;
    }
    Ok(a.txs)
}

/// Posts a signed JSON `body` to `base` + `path` and reads the 202 answer.
async fn post_signed<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: String,
    identity: &IdentityKey,
) -> Result<T, RelayClientError> {
    let endpoint = format!("{base}{path}");
    let auth = authorization_header(
        identity.signing_key(),
        "POST",
        &endpoint,
        body.as_bytes(),
        unix_now(),
    )?;
    let r = http
        .post(&endpoint)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| RelayClientError::Unreachable {
            url: base.to_owned(),
            reason: e.to_string(),
        })?;
    if r.status().as_u16() != 202 {
        return Err(refused(base, r).await);
    }
    r.json().await.map_err(|e| RelayClientError::Protocol {
        url: base.to_owned(),
        reason: e.to_string(),
    })
}

/// Checks that a receipt names `tx` and, when the relay's key is pinned, that it verifies.
fn check_receipt(
    base: &str,
    a: &Accepted,
    tx: &Transaction,
    pinned_key: Option<&[u8; 32]>,
) -> Result<(), RelayClientError> {
    let bad = |reason: String| RelayClientError::BadReceipt {
        url: base.to_owned(),
        reason,
    };
    let txid = tx.txid().to_string();
    if a.txid != txid || a.receipt.txid != txid {
        return Err(bad(format!(
            "it names {} instead of {txid}",
            a.receipt.txid
        )));
    }
    if let Some(k) = pinned_key {
        verify_receipt(&a.receipt, k).map_err(|e: ReceiptError| bad(e.to_string()))?;
    }
    Ok(())
}

/// Asks the relay at `url` where `txid` stands; the request is signed with `identity`
/// (a friends-only relay answers only its friends).
///
/// # Errors
/// [`RelayClientError`].
pub async fn status(
    http: &reqwest::Client,
    url: &str,
    txid: &str,
    identity: &IdentityKey,
) -> Result<RelayTxStatus, RelayClientError> {
    let base = url.trim_end_matches('/');
    let endpoint = format!("{base}/v1/tx/{txid}");
    let auth = authorization_header(identity.signing_key(), "GET", &endpoint, b"", unix_now())?;
    let r = http
        .get(&endpoint)
        .header("authorization", auth)
        .send()
        .await
        .map_err(|e| RelayClientError::Unreachable {
            url: base.to_owned(),
            reason: e.to_string(),
        })?;
    if !r.status().is_success() {
        return Err(refused(base, r).await);
    }
    r.json().await.map_err(|e| RelayClientError::Protocol {
        url: base.to_owned(),
        reason: e.to_string(),
    })
}
