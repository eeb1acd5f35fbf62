//! The JSON-RPC transport: URLs and credentials (user:password or a cookie file read at each
//! request), posting with timeouts and retries while the node warms up, batches, and Core's
//! two error styles (JSON-RPC 2.0 in HTTP 200; 1.0 in HTTP 500).

use super::*;

impl CoreRpcBackend {
    /// Creates a client for `core+http://user:pass@host:port[/wallet/…]` or
    /// `core+http://host:port?cookie=PATH`.
    ///
    /// # Errors
    /// [`ChainError::InvalidUrl`] for another scheme or a URL without credentials.
    pub fn new(url: &str) -> Result<Self, ChainError> {
        // The message names the URL without its password.
        let invalid = |why: &str| ChainError::InvalidUrl(format!("{}: {why}", redact(url)));
        let rest = url
            .strip_prefix("core+")
            .ok_or_else(|| invalid("a Core URL starts with core+http://"))?;
        let mut parsed =
            reqwest::Url::parse(rest).map_err(|e| invalid(&format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("use core+http:// or core+https://"));
        }
        let cookie = parsed
            .query_pairs()
            .find(|(k, _)| k == "cookie")
            .map(|(_, v)| PathBuf::from(v.into_owned()));
        let auth = match (cookie, parsed.username(), parsed.password()) {
            (Some(path), "", None) => Auth::Cookie(path),
            (None, user, Some(password)) if !user.is_empty() => Auth::UserPass {
                user: percent_decode(user),
                password: percent_decode(password),
            },
            (Some(_), _, _) => return Err(invalid("give either user:pass@ or ?cookie=, not both")),
            _ => {
                return Err(invalid(
                    "needs credentials: core+http://user:pass@host:port or core+http://host:port?cookie=/path/.cookie",
                ));
            }
        };
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        parsed.set_query(None);
        let base = parsed.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            client: http::client(&base)?,
            url: base,
            auth,
            next_id: AtomicU64::new(1),
        })
    }

    pub(super) fn protocol(&self, reason: impl ToString) -> ChainError {
        ChainError::Protocol {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    pub(super) fn credentials(&self) -> Result<(String, String), ChainError> {
        match &self.auth {
            Auth::UserPass { user, password } => Ok((user.clone(), password.clone())),
            Auth::Cookie(path) => {
                // The cookie's contents are a password: never in an error.
                let text = std::fs::read_to_string(path).map_err(|e| ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: format!(
                        "cannot read the cookie file {} ({}): is the node running, and is this its data directory?",
                        path.display(),
                        e.kind()
                    ),
                })?;
                let (user, password) = text.trim().split_once(':').ok_or_else(|| {
                    self.protocol(format!(
                        "cookie file {} is not user:password",
                        path.display()
                    ))
                })?;
                Ok((user.to_owned(), password.to_owned()))
            }
        }
    }

    /// Posts a JSON-RPC body and returns the parsed answer, asking again while the node
    /// warms up.
    pub(super) async fn post(
        &self,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<Value, ChainError> {
        let mut attempt = 0;
        loop {
            let (user, password) = self.credentials()?;
            let resp = http::send_retrying(
                &self.url,
                || {
                    let req = self
                        .client
                        .post(&self.url)
                        .basic_auth(&user, Some(&password))
                        .json(body);
                    match timeout {
                        Some(t) => req.timeout(t),
                        None => req,
                    }
                },
                // 500 carries RPC errors in the 1.0 style: read, not retried.
                |s| {
                    matches!(
                        s,
                        StatusCode::TOO_MANY_REQUESTS
                            | StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    )
                },
            )
            .await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                return Err(ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: "authentication failed (HTTP 401): check the user:password or the cookie file".into(),
                });
            }
            if status == StatusCode::FORBIDDEN {
                return Err(ChainError::Unreachable {
                    url: self.url.clone(),
                    reason: "forbidden (HTTP 403): does the node's rpcallowip include this host?"
                        .into(),
                });
            }
            let bytes = resp.bytes().await.map_err(|e| ChainError::Unreachable {
                url: self.url.clone(),
                reason: http::error_chain(&e),
            })?;
            let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
                let text = String::from_utf8_lossy(&bytes);
                self.protocol(format!(
                    "HTTP {status}, not a JSON-RPC answer: {:?}",
                    text.chars().take(200).collect::<String>()
                ))
            })?;
            if warming_up(&answer) && attempt < WARMUP_RETRIES {
                tokio::time::sleep(http::backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Calls one method.
    pub(super) async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, RpcError>, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answer = self.post(&body, None).await?;
        self.outcome(method, &answer)
    }

    /// Calls one method whose errors are failures (anything but a result is an error).
    pub(super) async fn call_ok<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ChainError> {
        let v = self
            .call(method, params)
            .await?
            .map_err(|e| self.protocol(format!("{method}: {} (code {})", e.message, e.code)))?;
        serde_json::from_value(v).map_err(|e| self.protocol(format!("{method}: {e}")))
    }

    /// Calls `method` once per parameter list, `BATCH` calls per request; answers come back
    /// in the order asked.
    pub(super) async fn batch(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Result<Value, RpcError>>, ChainError> {
        let mut out = Vec::with_capacity(params.len());
        for chunk in params.chunks(BATCH) {
            let first = self
                .next_id
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let body: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": method, "params": p}))
                .collect();
            let answer = self.post(&Value::Array(body), None).await?;
            let Value::Array(items) = answer else {
                // A node refusing the whole batch answers one error object.
                return match self.outcome(method, &answer)? {
                    Err(e) => {
                        Err(self
                            .protocol(format!("{method} batch: {} (code {})", e.message, e.code)))
                    }
                    Ok(_) => Err(self.protocol(format!("{method} batch: answer is not a list"))),
                };
            };
            let mut by_id: HashMap<u64, Value> = HashMap::with_capacity(items.len());
            for item in items {
                if let Some(id) = item.get("id").and_then(Value::as_u64) {
                    by_id.insert(id, item);
                }
            }
            for i in 0..chunk.len() as u64 {
                let item = by_id.remove(&(first + i)).ok_or_else(|| {
                    self.protocol(format!("{method} batch: no answer for call {i}"))
                })?;
                out.push(self.outcome(method, &item)?);
            }
        }
        Ok(out)
    }

    /// Splits a JSON-RPC answer into its result or its error.
    pub(super) fn outcome(
        &self,
        method: &str,
        answer: &Value,
    ) -> Result<Result<Value, RpcError>, ChainError> {
        match answer.get("error") {
            Some(e) if !e.is_null() => Ok(Err(RpcError {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .to_owned(),
            })),
            _ => answer.get("result").cloned().map(Ok).ok_or_else(|| {
                self.protocol(format!("{method}: answer has neither result nor error"))
            }),
        }
    }

    pub(super) fn decode_tx(&self, txid: Txid, v: &Value) -> Result<Transaction, ChainError> {
        let hex = v
            .as_str()
            .ok_or_else(|| self.protocol(format!("transaction {txid}: not hex")))?;
        let tx = Transaction::from_hex(hex)
            .map_err(|e| self.protocol(format!("transaction {txid}: {e}")))?;
        if tx.txid() != txid {
            return Err(self.protocol(format!("asked for transaction {txid}, got {}", tx.txid())));
        }
        Ok(tx)
    }
}

pub(super) fn warming_up(answer: &Value) -> bool {
    let code = |v: &Value| {
        v.get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
    };
    match answer {
        Value::Array(items) => items.iter().any(|i| code(i) == Some(RPC_IN_WARMUP)),
        v => code(v) == Some(RPC_IN_WARMUP),
    }
}

/// The URL as it may be shown: the password replaced.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Decodes `%XX` escapes in a URL's user or password.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_credentials_one_way_and_never_show_the_password() {
        let b = CoreRpcBackend::new("core+http://alice:s%40cret@127.0.0.1:18443").unwrap();
        assert_eq!(b.describe(), "bitcoin core http://127.0.0.1:18443");
        assert!(!format!("{b:?}").contains("cret"));
        let Auth::UserPass { user, password } = &b.auth else {
            panic!("user:pass expected")
        };
        assert_eq!((user.as_str(), password.as_str()), ("alice", "s@cret"));

        let b = CoreRpcBackend::new("core+http://127.0.0.1:8332/?cookie=/tmp/x/.cookie").unwrap();
        assert!(matches!(&b.auth, Auth::Cookie(p) if p == std::path::Path::new("/tmp/x/.cookie")));
        assert_eq!(b.describe(), "bitcoin core http://127.0.0.1:8332");

        for bad in [
            "http://127.0.0.1:8332",
            "core+http://127.0.0.1:8332",
            "core+ftp://u:p@127.0.0.1:8332",
            "core+http://u:hunter2@127.0.0.1:8332?cookie=/x",
        ] {
            let e = CoreRpcBackend::new(bad).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(
                matches!(CoreRpcBackend::new(bad), Err(ChainError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("core+http://u:pw@h:1"), "core+http://u:***@h:1");
        assert_eq!(redact("core+http://h:1"), "core+http://h:1");
    }
}
