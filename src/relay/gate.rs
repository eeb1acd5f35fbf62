//! Who may ask, decided in two steps: from the request line and headers alone
//! ([`admit`], before a byte of the body is read), then against the body ([`finish`]).
//!
//! Order matters (issue 14): a stranger is refused from the headers, so a slow body never
//! holds a request slot for someone the relay would refuse anyway; a friend's quota is
//! taken before the event id is recorded, and only an accepted request's id is recorded, in
//! that friend's bounded share of the replay cache, so one friend cannot lock the others
//! out.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::{Method, header, request::Parts};

use super::auth::{AuthError, HeadVerified, RequestHead, parse_header, verify_head};
use super::error::AppError;
use super::state::{AppState, AuthMode};

/// Who is asking, as far as the headers tell.
#[derive(Debug)]
pub struct Caller {
    /// `friend:HEX` or `ip:ADDR`: whose quota and pending share the request counts against.
    pub who: String,
    /// In friends mode, the header still to be checked against the body.
    head: Option<HeadVerified>,
}

/// Returns the peer's IP address, if the server recorded it.
pub fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The relay's clock, Unix seconds.
pub fn now_secs() -> i64 {
    super::queue::now_ms() / 1000
}

/// Returns the absolute URLs a request to `parts` may name in NIP-98's `u`: each public
/// URL of the relay with the request's path and query. Never the Host header: a header
/// signed for one relay must not pass at another that trusts the same friend.
pub fn request_urls(s: &AppState, parts: &Parts) -> Vec<String> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    s.config
        .public_urls
        .iter()
        .map(|base| format!("{}{path}", base.trim_end_matches('/')))
        .collect()
}

fn unauthorized(s: &AppState, e: AuthError) -> AppError {
    s.metrics.unauthorized.fetch_add(1, Ordering::Relaxed);
    match e {
        AuthError::KeyShareFull => AppError::rate_limited(e.to_string()),
        e => AppError::unauthorized(e.to_string()),
    }
}

/// Decides from the headers alone: NIP-98 (signature, kind, clock, `u`, method) and the
/// friends list in friends mode, then the caller's rate limit. Read the body only after
/// this passed.
///
/// # Errors
/// `unauthorized` (401) or `rate_limited` (429).
pub fn admit(s: &AppState, parts: &Parts) -> Result<Caller, AppError> {
    let caller = match s.config.auth {
        AuthMode::Open => Caller {
            who: format!(
                "ip:{}",
                peer_ip(parts).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
            ),
            head: None,
        },
        AuthMode::Friends => {
            let now = now_secs();
            let urls = request_urls(s, parts);
            let event = parts
                .headers
                .get(header::AUTHORIZATION)
                .ok_or(AuthError::MissingHeader)
                .and_then(|v| {
                    v.to_str()
                        .map_err(|_| AuthError::Malformed("not ASCII".into()))
                })
                .and_then(parse_header)
                .map_err(|e| unauthorized(s, e))?;
            let head = RequestHead {
                method: parts.method.as_str(),
                urls: &urls,
                now,
            };
            let head = verify_head(&event, &head).map_err(|e| unauthorized(s, e))?;
            let known = s
                .friends
                .read()
                .map_err(|_| AppError::internal("friends lock poisoned"))?
                .contains(&head.pubkey());
            if !known {
                return Err(unauthorized(
                    s,
                    AuthError::NotAFriend(hex::encode(head.pubkey())),
                ));
            }
            // A body-carrying method must commit to its body: refuse now, not after it.
            if parts.method == Method::POST && !head.has_payload() {
                return Err(unauthorized(s, AuthError::MissingPayload));
            }
            let seen = s
                .replay
                .lock()
                .map_err(|_| AppError::internal("replay cache poisoned"))?
                .contains(&head.id(), now);
            if seen {
                return Err(unauthorized(s, AuthError::Replayed(hex::encode(head.id()))));
            }
            Caller {
                who: format!("friend:{}", hex::encode(head.pubkey())),
                head: Some(head),
            }
        }
    };
    let allowed = s
        .limiter
        .lock()
        .map_err(|_| AppError::internal("rate limiter poisoned"))?
        .allow(&caller.who, Instant::now());
    if !allowed {
        return Err(AppError::rate_limited(format!(
            "too many requests from {}; slow down",
            caller.who
        )));
    }
    Ok(caller)
}

/// Checks the body against the header's `payload` and records the event id in the
/// caller's share of the replay cache; returns who asked.
///
/// # Errors
/// `unauthorized` (401: payload, replay) or `rate_limited` (429: the key's share is full).
pub fn finish(s: &AppState, caller: Caller, body: &[u8]) -> Result<String, AppError> {
    if let Some(head) = caller.head {
        let verified = head.check_body(body).map_err(|e| unauthorized(s, e))?;
        let friends = s
            .friends
            .read()
            .map_err(|_| AppError::internal("friends lock poisoned"))?
            .len();
        let share = s.config.replay_capacity / friends.max(1);
        s.replay
            .lock()
            .map_err(|_| AppError::internal("replay cache poisoned"))?
            .check_and_insert(&verified, now_secs(), share)
            .map_err(|e| unauthorized(s, e))?;
    }
    Ok(caller.who)
}
