//! NIP-98 (Nostr HTTP Auth) for the relay: verifying the `Authorization: Nostr <base64>`
//! header a friend sends, and building one for our own requests.
//!
//! The header carries a NIP-01 event of kind 27235 with empty content and the tags `u` (the
//! absolute request URL), `method` and `payload` (hex SHA-256 of the body; ferry requires it
//! whenever the request has a body). The relay never trusts the event's `id`: it recomputes
//! it from the NIP-01 serialization (NIP-98's own printed example carries an id made over a
//! different tag than it shows), then checks the BIP-0340 signature, the clock window, the
//! URL, method and payload, and finally — in the server — the friends list and the replay
//! cache ([`ReplayCache`]).

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use k256::schnorr::SigningKey;
use serde::{Deserialize, Serialize};

use crate::hashes::sha256;
use crate::sign::{sign_schnorr, verify_schnorr};

/// The NIP-98 event kind.
pub const NIP98_KIND: u64 = 27235;
/// How far `created_at` may be from the relay's clock, in seconds (either way).
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// A NIP-01 event as it travels in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NostrEvent {
    /// Hex SHA-256 of the NIP-01 serialization (recomputed, never trusted).
    pub id: String,
    /// The signer's x-only public key, hex.
    pub pubkey: String,
    /// Unix time of signing.
    pub created_at: i64,
    /// The event kind (27235 for NIP-98).
    pub kind: u64,
    /// The tags.
    pub tags: Vec<Vec<String>>,
    /// The content (empty for NIP-98).
    pub content: String,
    /// The BIP-0340 signature over the id, hex.
    pub sig: String,
}

impl NostrEvent {
    /// Returns the NIP-01 serialization `[0,pubkey,created_at,kind,tags,content]` without
    /// spaces, as serde_json writes it (it escapes `"`, `\` and control characters and keeps
    /// everything else verbatim, as NIP-01 asks).
    pub fn serialization(&self) -> String {
        serde_json::json!([
            0,
            self.pubkey,
            self.created_at,
            self.kind,
            self.tags,
            self.content
        ])
        .to_string()
    }

    /// Returns the SHA-256 of [`serialization`](Self::serialization): the event id.
    pub fn compute_id(&self) -> [u8; 32] {
        sha256(self.serialization().as_bytes())
    }

    /// Returns the value of the first tag named `name`.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.first().map(String::as_str) == Some(name))
            .and_then(|t| t.get(1))
            .map(String::as_str)
    }

    /// Checks the id against the serialization and the BIP-0340 signature; returns the
    /// signer's x-only key and the id.
    ///
    /// # Errors
    /// [`AuthError::BadPubkey`], [`AuthError::IdMismatch`] or [`AuthError::BadSignature`].
    pub fn verify_signature(&self) -> Result<([u8; 32], [u8; 32]), AuthError> {
        let pubkey = hex32(&self.pubkey).ok_or(AuthError::BadPubkey)?;
        let id = self.compute_id();
        if hex32(&self.id) != Some(id) {
            return Err(AuthError::IdMismatch);
        }
        let sig: [u8; 64] = hex::decode(&self.sig)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(AuthError::BadSignature)?;
        if !verify_schnorr(&pubkey, &id, &sig) {
            return Err(AuthError::BadSignature);
        }
        Ok((pubkey, id))
    }
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// The request as the relay saw it.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The absolute URL the request reached (or `--public-url` + path).
    pub url: &'a str,
    /// The body (empty if none).
    pub body: &'a [u8],
    /// The relay's clock, Unix seconds.
    pub now: i64,
}

/// A header that passed every NIP-98 check (friends and replay are the caller's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The signer's x-only key.
    pub pubkey: [u8; 32],
    /// The event id.
    pub id: [u8; 32],
    /// The event's `created_at`.
    pub created_at: i64,
}

/// Why a request is not authorized; every message is the reason sent with the 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header: sign the request with NIP-98 (`Nostr <base64 event>`)")]
    MissingHeader,
    /// The header does not start with `Nostr `.
    #[error("Authorization scheme is not `Nostr`")]
    BadScheme,
    /// The header is not base64 of a JSON event.
    #[error("Authorization is not base64 of a NIP-01 event: {0}")]
    Malformed(String),
    /// The pubkey is not 32 bytes of hex.
    #[error("event pubkey is not a 32-byte hex key")]
    BadPubkey,
    /// The id is not the SHA-256 of the NIP-01 serialization.
    #[error("event id is not sha256 of the NIP-01 serialization")]
    IdMismatch,
    /// The BIP-0340 signature does not verify.
    #[error("BIP340 signature invalid")]
    BadSignature,
    /// The kind is not 27235.
    #[error("event kind is {0}, not 27235")]
    WrongKind(u64),
    /// NIP-98 events have empty content.
    #[error("event content is not empty")]
    NonEmptyContent,
    /// `created_at` is outside the window.
    #[error("created_at {created_at} is outside ±60 s of the relay's clock {now}")]
    Expired {
        /// The event's time.
        created_at: i64,
        /// The relay's time.
        now: i64,
    },
    /// The `u` tag is missing or names a URL this relay does not answer to. The message
    /// never says which URLs it does: that would link a relay's public (e.g. onion)
    /// address to whoever can reach its listener.
    #[error("u tag {got:?} is not a URL of this relay")]
    UrlMismatch {
        /// The tag's value.
        got: Option<String>,
    },
    /// The `method` tag is missing or differs.
    #[error("method tag {got:?} differs from the request method {expected}")]
    MethodMismatch {
        /// The tag's value.
        got: Option<String>,
        /// The request method.
        expected: String,
    },
    /// A request with a body carries no `payload` tag.
    #[error("missing payload tag: ferry requires it on requests with a body")]
    MissingPayload,
    /// The `payload` tag is not the SHA-256 of the body.
    #[error("payload tag differs from the sha256 of the body")]
    PayloadMismatch,
    /// The key is not in the relay's friends list.
    #[error("key {0} is not in this relay's friends list")]
    NotAFriend(String),
    /// The event id was used before.
    #[error("event {0} was already used (replay)")]
    Replayed(String),
    /// The replay cache is full of live entries; the relay fails closed.
    #[error("too many recent authorizations; retry in a minute")]
    ReplayCacheFull,
    /// This key's share of the replay cache is full of live entries: one friend cannot
    /// crowd the others out (the server answers 429, not 401).
    #[error("too many recent authorizations from this key; retry in a minute")]
    KeyShareFull,
    /// The signing side failed (randomness).
    #[error("cannot sign the NIP-98 event: {0}")]
    Signing(String),
}

/// Parses `Nostr <base64>` into an event.
///
/// # Errors
/// [`AuthError::BadScheme`] or [`AuthError::Malformed`].
pub fn parse_header(header: &str) -> Result<NostrEvent, AuthError> {
    let b64 = header
        .strip_prefix("Nostr ")
        .ok_or(AuthError::BadScheme)?
        .trim();
    let json = BASE64
        .decode(b64)
        .map_err(|e| AuthError::Malformed(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| AuthError::Malformed(e.to_string()))
}

/// The request line and headers as the relay saw them, before any body byte is read.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The absolute URLs this request may name in `u`: one per public URL of the relay,
    /// each with the request's path and query.
    pub urls: &'a [String],
    /// The relay's clock, Unix seconds.
    pub now: i64,
}

/// A header that passed every check that needs no body; [`check_body`](Self::check_body)
/// finishes the job once the body is read. Splitting the two lets the relay refuse a
/// stranger from the headers alone, before it spends time (and a request slot) on a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadVerified {
    /// What the header proves, once the body matches.
    verified: Verified,
    /// The `payload` tag, if any.
    payload: Option<[u8; 32]>,
}

impl HeadVerified {
    /// Returns the signer's x-only key (already proven by the signature).
    pub fn pubkey(&self) -> [u8; 32] {
        self.verified.pubkey
    }

    /// Returns the event id.
    pub fn id(&self) -> [u8; 32] {
        self.verified.id
    }

    /// Returns true if the event commits to a body (`payload` tag).
    pub fn has_payload(&self) -> bool {
        self.payload.is_some()
    }

    /// Checks the body against the `payload` tag.
    ///
    /// # Errors
    /// [`AuthError::MissingPayload`] or [`AuthError::PayloadMismatch`].
    pub fn check_body(self, body: &[u8]) -> Result<Verified, AuthError> {
        match self.payload {
            None if !body.is_empty() => Err(AuthError::MissingPayload),
            Some(p) if p != sha256(body) => Err(AuthError::PayloadMismatch),
            _ => Ok(self.verified),
        }
    }
}

/// Runs the NIP-98 checks that need no body: id, signature, kind, content, clock, URL,
/// method, and that a `payload` tag is well formed.
///
/// # Errors
/// The first failing check as an [`AuthError`].
pub fn verify_head(event: &NostrEvent, head: &RequestHead<'_>) -> Result<HeadVerified, AuthError> {
    let (pubkey, id) = event.verify_signature()?;
    if event.kind != NIP98_KIND {
        return Err(AuthError::WrongKind(event.kind));
    }
    if !event.content.is_empty() {
        return Err(AuthError::NonEmptyContent);
    }
    // `abs_diff`: a subtraction would overflow for a `created_at` near i64::MIN or MAX and
    // (wrapped) pass the window.
    if event.created_at.abs_diff(head.now) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(AuthError::Expired {
            created_at: event.created_at,
            now: head.now,
        });
    }
    let u = event.tag("u");
    if !u.is_some_and(|u| head.urls.iter().any(|url| url == u)) {
        return Err(AuthError::UrlMismatch {
            got: u.map(str::to_owned),
        });
    }
    if !event
        .tag("method")
        .is_some_and(|m| m.eq_ignore_ascii_case(head.method))
    {
        return Err(AuthError::MethodMismatch {
            got: event.tag("method").map(str::to_owned),
            expected: head.method.to_owned(),
        });
    }
    let payload = match event.tag("payload") {
        None => None,
        Some(p) => Some(hex32(p).ok_or(AuthError::PayloadMismatch)?),
    };
    Ok(HeadVerified {
        verified: Verified {
            pubkey,
            id,
            created_at: event.created_at,
        },
        payload,
    })
}

/// Runs every NIP-98 check of `event` against `req`, cheapest-to-forge last: id, signature,
/// kind, content, clock, URL, method, payload.
///
/// # Errors
/// The first failing check as an [`AuthError`].
pub fn verify_event(event: &NostrEvent, req: &RequestInfo<'_>) -> Result<Verified, AuthError> {
    let urls = [req.url.to_owned()];
    let head = RequestHead {
        method: req.method,
        urls: &urls,
        now: req.now,
    };
    verify_head(event, &head)?.check_body(req.body)
}

/// Parses and verifies an `Authorization` header value.
///
/// # Errors
/// See [`parse_header`] and [`verify_event`].
pub fn verify_header(header: Option<&str>, req: &RequestInfo<'_>) -> Result<Verified, AuthError> {
    let event = parse_header(header.ok_or(AuthError::MissingHeader)?)?;
    verify_event(&event, req)
}

/// Builds the signed NIP-98 event for a request (fresh BIP-0340 aux randomness).
///
/// # Errors
/// [`AuthError::Signing`] if the operating system has no randomness.
pub fn sign_event(
    key: &SigningKey,
    method: &str,
    url: &str,
    body: &[u8],
    created_at: i64,
) -> Result<NostrEvent, AuthError> {
    let mut tags = vec![
        vec!["u".to_owned(), url.to_owned()],
        vec!["method".to_owned(), method.to_ascii_uppercase()],
    ];
    if !body.is_empty() {
        tags.push(vec!["payload".to_owned(), hex::encode(sha256(body))]);
    }
    // Two identical requests in the same second would otherwise be the same event, and the
    // second one a "replay": a random nonce tag (ignored by verifiers) keeps ids unique.
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| AuthError::Signing(e.to_string()))?;
    tags.push(vec!["nonce".to_owned(), hex::encode(nonce)]);
    let mut event = NostrEvent {
        id: String::new(),
        pubkey: hex::encode(key.verifying_key().to_bytes()),
        created_at,
        kind: NIP98_KIND,
        tags,
        content: String::new(),
        sig: String::new(),
    };
    let id = event.compute_id();
    let sig = sign_schnorr(key, &id, 0).map_err(|e| AuthError::Signing(e.to_string()))?;
    event.id = hex::encode(id);
    event.sig = hex::encode(sig.signature.to_bytes());
    Ok(event)
}

/// Builds the `Authorization` header value (`Nostr <base64>`) for a request.
///
/// # Errors
/// See [`sign_event`].
pub fn authorization_header(
    key: &SigningKey,
    method: &str,
    url: &str,
    body: &[u8],
    created_at: i64,
) -> Result<String, AuthError> {
    let event = sign_event(key, method, url, body, created_at)?;
    let json = serde_json::to_vec(&event).map_err(|e| AuthError::Signing(e.to_string()))?;
    Ok(format!("Nostr {}", BASE64.encode(json)))
}

/// Remembers the ids of accepted events until they could no longer pass the clock check,
/// so a captured header cannot be replayed. Bounded: when full of live ids it refuses new
/// ones (fails closed) rather than forgetting; and each key has a bounded share, so one
/// friend's flood of valid events cannot lock the others out.
#[derive(Debug)]
pub struct ReplayCache {
    seen: HashMap<[u8; 32], i64>,
    /// (expiry, id, signer), sorted by expiry: the front is the next to expire.
    order: VecDeque<(i64, [u8; 32], [u8; 32])>,
    per_key: HashMap<[u8; 32], usize>,
    capacity: usize,
}

impl ReplayCache {
    /// Creates a cache holding at most `capacity` live ids.
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: HashMap::new(),
            order: VecDeque::new(),
            per_key: HashMap::new(),
            capacity,
        }
    }

    /// Forgets the ids that can no longer pass the clock check at `now`.
    fn expire(&mut self, now: i64) {
        while let Some(&(expiry, id, key)) = self.order.front() {
            if expiry >= now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&id);
            if let Some(n) = self.per_key.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.per_key.remove(&key);
                }
            }
        }
    }

    /// Returns true if `id` was recorded and is still live at `now` (a cheap early refusal;
    /// [`check_and_insert`](Self::check_and_insert) is the authoritative check).
    pub fn contains(&mut self, id: &[u8; 32], now: i64) -> bool {
        self.expire(now);
        self.seen.contains_key(id)
    }

    /// Records `v.id` at `now`, counting it against `v.pubkey`'s share of at most
    /// `key_share` live ids; errors if it was seen before.
    ///
    /// # Errors
    /// [`AuthError::Replayed`], [`AuthError::KeyShareFull`] or [`AuthError::ReplayCacheFull`].
    pub fn check_and_insert(
        &mut self,
        v: &Verified,
        now: i64,
        key_share: usize,
    ) -> Result<(), AuthError> {
        self.expire(now);
        if self.seen.contains_key(&v.id) {
            return Err(AuthError::Replayed(hex::encode(v.id)));
        }
        if self.per_key.get(&v.pubkey).copied().unwrap_or(0) >= key_share {
            return Err(AuthError::KeyShareFull);
        }
        if self.seen.len() >= self.capacity {
            return Err(AuthError::ReplayCacheFull);
        }
        // An event is accepted while |created_at - now| <= skew, so after
        // created_at + skew it can never pass again and its id may be forgotten.
        let expiry = v.created_at.saturating_add(MAX_CLOCK_SKEW_SECS);
        self.seen.insert(v.id, expiry);
        *self.per_key.entry(v.pubkey).or_insert(0) += 1;
        // Expiries arrive out of order (clients' clocks differ); keep the deque sorted so
        // the front is always the next to expire.
        let pos = self.order.partition_point(|(e, _, _)| *e <= expiry);
        self.order.insert(pos, (expiry, v.id, v.pubkey));
        Ok(())
    }

    /// Returns how many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Returns true if no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32].into()).expect("valid key")
    }

    #[test]
    fn signed_header_verifies_and_replay_is_refused() {
        let url = "http://127.0.0.1:1/v1/tx";
        let body = br#"{"tx":"00"}"#;
        let h = authorization_header(&key(), "POST", url, body, 1000).unwrap();
        let req = RequestInfo {
            method: "POST",
            url,
            body,
            now: 1030,
        };
        let v = verify_header(Some(&h), &req).unwrap();
        assert_eq!(v.pubkey, <[u8; 32]>::from(key().verifying_key().to_bytes()));
        let mut cache = ReplayCache::new(2);
        cache.check_and_insert(&v, 1030, 2).unwrap();
        assert!(matches!(
            cache.check_and_insert(&v, 1031, 2),
            Err(AuthError::Replayed(_))
        ));
        // After the window the id is forgotten (and the event would fail the clock check).
        let h2 = authorization_header(&key(), "POST", url, body, 1100).unwrap();
        let v2 = verify_header(Some(&h2), &RequestInfo { now: 1100, ..req }).unwrap();
        cache.check_and_insert(&v2, 1100, 2).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn full_cache_fails_closed() {
        let mut cache = ReplayCache::new(1);
        let v = |b| Verified {
            pubkey: [0; 32],
            id: [b; 32],
            created_at: 0,
        };
        cache.check_and_insert(&v(1), 0, 10).unwrap();
        assert_eq!(
            cache.check_and_insert(&v(2), 0, 10),
            Err(AuthError::ReplayCacheFull)
        );
        cache.check_and_insert(&v(2), 61, 10).unwrap();
    }

    #[test]
    fn one_key_cannot_crowd_out_another() {
        let mut cache = ReplayCache::new(10);
        let v = |key: u8, b: u8| Verified {
            pubkey: [key; 32],
            id: [b; 32],
            created_at: 0,
        };
        for b in 0..5 {
            cache.check_and_insert(&v(1, b), 0, 5).unwrap();
        }
        assert_eq!(
            cache.check_and_insert(&v(1, 99), 0, 5),
            Err(AuthError::KeyShareFull)
        );
        // The flooding key's refused event was not recorded; another key still gets in.
        assert_eq!(cache.len(), 5);
        cache.check_and_insert(&v(2, 100), 0, 5).unwrap();
        // Shares free up as their ids expire.
        assert!(!cache.contains(&[0; 32], 61));
        cache.check_and_insert(&v(1, 99), 61, 5).unwrap();
    }

    /// Finding 3 of issue 14: a `created_at` at the ends of i64 once wrapped the clock check
    /// (and, with overflow checks, panicked); the id then expired at once.
    #[test]
    fn clock_check_survives_extreme_created_at() {
        let url = "http://127.0.0.1:1/v1/info";
        let now = 1_700_000_000;
        for created_at in [
            i64::MIN,
            i64::MIN + now,
            i64::MIN + now + 30,
            i64::MAX,
            i64::MAX - 30,
            -now,
            0,
        ] {
            let h = authorization_header(&key(), "GET", url, b"", created_at).unwrap();
            let req = RequestInfo {
                method: "GET",
                url,
                body: b"",
                now,
            };
            assert!(
                matches!(
                    verify_header(Some(&h), &req),
                    Err(AuthError::Expired { .. })
                ),
                "created_at {created_at}"
            );
        }
        // Near the ends the expiry saturates instead of wrapping into the past.
        let mut cache = ReplayCache::new(4);
        let v = Verified {
            pubkey: [1; 32],
            id: [1; 32],
            created_at: i64::MAX - 1,
        };
        cache.check_and_insert(&v, i64::MAX - 1, 4).unwrap();
        assert!(cache.contains(&v.id, i64::MAX));
    }
}
