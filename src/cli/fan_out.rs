//! Where a signed transaction goes: the chain backend directly, or friends' relays
//! (`--via URL|FRIEND`, repeatable) — tried in order, or all at once with `--fanout` —
//! with a direct broadcast as fallback only when the user allows it (`--fallback-direct`).
//! Every target's outcome is reported.

use std::sync::Arc;

use clap::Args;
use ferry::chain::ChainBackend;
use ferry::identity::{IDENTITY_FILE, IdentityKey, load_or_create};
use ferry::relay::client::{RelayClientError, http_client, submit, submit_package};
use ferry::relay::friends::{FRIENDS_FILE, Friends};
use ferry::relay::receipt::Receipt;
use ferry::tx::Transaction;
use serde::Serialize;

use super::code::Code;
use super::{CliError, Ctx};

/// How to broadcast: `--via`, `--fanout`, `--fallback-direct`.
#[derive(Debug, Clone, Default, Args)]
pub struct ViaArgs {
    /// Hand the signed transaction to this relay (a URL, or a friend's name); repeatable.
    #[arg(long = "via", value_name = "URL|FRIEND")]
    pub via: Vec<String>,
    /// Submit to every --via relay at once instead of one after another.
    #[arg(long, requires = "via")]
    pub fanout: bool,
    /// If no relay accepts the transaction, broadcast it directly to the backend.
    #[arg(long, requires = "via")]
    pub fallback_direct: bool,
}

impl ViaArgs {
    /// Returns true if the backend itself may be used for broadcasting.
    pub fn uses_direct(&self) -> bool {
        self.via.is_empty() || self.fallback_direct
    }
}

/// A friend's relay, resolved.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// As the user named it (friend name or URL).
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// The relay's key pinned in friends.toml, which its receipt must be signed with.
    pub pinned_key: Option<[u8; 32]>,
}

/// What one target said.
#[derive(Debug, Clone, Serialize)]
pub struct BroadcastOutcome {
    /// `direct`, or the relay as named with --via.
    pub via: String,
    /// `accepted` (direct), the relay's status (`queued`, `broadcast`), `rejected` (the
    /// backend's preflight refused it, nothing broadcast) or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The relay's signed receipt, verified against its pinned key when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// For a relay's receipt: true only if it was verified against the key pinned for that
    /// relay in friends.toml. False means any server at that URL could have signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_verified: Option<bool>,
}

impl BroadcastOutcome {
    /// Returns true if this target took the transaction.
    pub fn accepted(&self) -> bool {
        self.error.is_none()
    }

    fn failed(via: &str, error: String) -> Self {
        Self {
            via: via.to_owned(),
            status: "failed".into(),
            error: Some(error),
            receipt: None,
            receipt_verified: None,
        }
    }
}

/// Everything needed to push one transaction.
pub struct Broadcaster {
    relays: Vec<RelayTarget>,
    identity: Option<IdentityKey>,
    direct: Option<Arc<dyn ChainBackend>>,
    fanout: bool,
    /// `--proxy`: every relay request goes through it (direct broadcasts do not).
    proxy: Option<String>,
}

impl Broadcaster {
    /// Resolves `--via` names against `DATA_DIR/friends.toml` and loads this install's
    /// identity key (which signs the relay requests). `direct` is the backend for a direct
    /// broadcast, used without --via or with --fallback-direct.
    pub fn new(
        ctx: &Ctx,
        via: &ViaArgs,
        direct: Option<Arc<dyn ChainBackend>>,
    ) -> Result<Self, CliError> {
        if via.via.is_empty() {
            return Ok(Self {
                relays: Vec::new(),
                identity: None,
                direct,
                fanout: false,
                proxy: None,
            });
        }
        let dir = ctx.data_dir()?;
        let friends = Friends::load(&dir.join(FRIENDS_FILE))
            .map_err(|e| CliError::new(Code::BadFriends, e))?;
        let relays = via
            .via
            .iter()
            .map(|name| {
                let (url, pinned_key) = friends
                    .resolve_via(name)
                    .map_err(|e| CliError::new(Code::UnknownRelay, e))?;
                Ok(RelayTarget {
                    name: name.clone(),
                    url,
                    pinned_key,
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let (identity, _) = load_or_create(&dir.join(IDENTITY_FILE))?;
        Ok(Self {
            relays,
            identity: Some(identity),
            direct: if via.fallback_direct { direct } else { None },
            fanout: via.fanout,
            proxy: ctx.proxy.clone(),
        })
    }

    /// Pushes `tx`: relays in order until one accepts (or all at once with --fanout), then
    /// the backend directly if no relay was asked or --fallback-direct allows it.
    pub async fn broadcast(&self, tx: &Transaction) -> Vec<BroadcastOutcome> {
        self.push(Payload::Tx(tx)).await
    }

    /// Pushes a package (parents first, their child last) as [`Broadcaster::broadcast`]
    /// pushes one transaction: to relays as `POST /v1/package`, directly as the backend's
    /// package submission (Core's `submitpackage`, Esplora's `POST /txs/package`). A
    /// relay's outcome carries the child's receipt.
    pub async fn broadcast_package(&self, txs: &[Transaction]) -> Vec<BroadcastOutcome> {
        self.push(Payload::Package(txs)).await
    }

    async fn push(&self, payload: Payload<'_>) -> Vec<BroadcastOutcome> {
        let mut outcomes = Vec::new();
        if !self.relays.is_empty() {
            match http_client(self.proxy.as_deref()) {
                Ok(http) => {
                    if self.fanout {
                        let all = self.relays.iter().map(|r| self.submit(&http, r, payload));
                        outcomes.extend(join_all(all).await);
                    } else {
                        for relay in &self.relays {
                            let outcome = self.submit(&http, relay, payload).await;
                            let done = outcome.accepted();
                            outcomes.push(outcome);
                            if done {
                                break;
                            }
                        }
                    }
                }
                Err(e) => outcomes.push(BroadcastOutcome::failed("relay", e.to_string())),
            }
        }
        let relayed = outcomes.iter().any(BroadcastOutcome::accepted);
        let tx = match payload {
            Payload::Tx(tx) => tx,
            Payload::Package(txs) => {
                if let (false, Some(backend)) = (relayed, &self.direct) {
                    outcomes.push(direct_package(backend, txs).await.0);
                }
                return outcomes;
            }
        };
        if let (false, Some(backend)) = (relayed, &self.direct) {
            // Preflight where the backend offers it (Core's testmempoolaccept): a refusal
            // comes back with the node's own reason and nothing is broadcast.
            match backend.test_accept(tx).await {
                Ok(Some(Err(reason))) => {
                    outcomes.push(BroadcastOutcome {
                        via: "direct".into(),
                        status: "rejected".into(),
                        error: Some(format!(
                            "{} would reject it (testmempoolaccept): {reason}",
                            backend.describe()
                        )),
                        receipt: None,
                        receipt_verified: None,
                    });
                    return outcomes;
                }
                Err(e) => {
                    outcomes.push(BroadcastOutcome::failed("direct", e.to_string()));
                    return outcomes;
                }
                Ok(_) => {}
            }
            let result = backend.broadcast(tx).await;
            outcomes.push(match result {
                Ok(_) => BroadcastOutcome {
                    via: "direct".into(),
                    status: "accepted".into(),
                    error: None,
                    receipt: None,
                    receipt_verified: None,
                },
                Err(e) => BroadcastOutcome::failed("direct", e.to_string()),
            });
        }
        outcomes
    }

    async fn submit(
        &self,
        http: &reqwest::Client,
        relay: &RelayTarget,
        payload: Payload<'_>,
    ) -> BroadcastOutcome {
        let Some(identity) = &self.identity else {
            return BroadcastOutcome::failed(&relay.name, "no identity key".into());
        };
        let pinned = relay.pinned_key.as_ref();
        let answer = match payload {
            Payload::Tx(tx) => submit(http, &relay.url, tx, identity, pinned).await,
            // The package is named by its child: its receipt stands for the package.
            Payload::Package(txs) => submit_package(http, &relay.url, txs, identity, pinned)
                .await
                .and_then(|mut all| {
                    all.pop().ok_or_else(|| RelayClientError::Protocol {
                        url: relay.url.clone(),
                        reason: "an empty answer".into(),
                    })
                }),
        };
        match answer {
            Ok(accepted) => {
                if relay.pinned_key.is_none() {
                    super::prompts::say(&format!(
                        "warning: {}'s receipt was not verified: no key is pinned for {} \
                         (`ferry friends add NAME --url {} --key THEIR_NPUB`), so anyone \
                         answering at that URL could have signed it",
                        relay.name, relay.url, relay.url
                    ));
                }
                BroadcastOutcome {
                    via: relay.name.clone(),
                    status: accepted.status,
                    error: None,
                    receipt: Some(accepted.receipt),
                    receipt_verified: Some(relay.pinned_key.is_some()),
                }
            }
            Err(e) => BroadcastOutcome::failed(&relay.name, e.to_string()),
        }
    }
}

/// What is pushed: one transaction, or a package.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Tx(&'a Transaction),
    Package(&'a [Transaction]),
}

/// A package straight to the backend; one that takes no packages gets the child alone.
/// Says which went: `package` or `child`.
pub async fn direct_package(
    backend: &Arc<dyn ChainBackend>,
    txs: &[Transaction],
) -> (BroadcastOutcome, &'static str) {
    let outcome = |status: &str, error: Option<String>| BroadcastOutcome {
        via: "direct".into(),
        status: status.into(),
        error,
        receipt: None,
        receipt_verified: None,
    };
    let package = match backend.submit_package(txs).await {
        Ok(Some(o)) if o.accepted() => outcome("accepted", None),
        Ok(Some(o)) => {
            let why: Vec<String> = o
                .results
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.txid)))
                .collect();
            outcome(
                "rejected",
                Some(format!(
                    "{} refused the package ({}): {}",
                    backend.describe(),
                    o.message,
                    why.join("; ")
                )),
            )
        }
        Ok(None) => {
            let child = match txs.last() {
                Some(child) => match backend.broadcast(child).await {
                    Ok(_) => outcome("accepted", None),
                    Err(e) => BroadcastOutcome::failed("direct", e.to_string()),
                },
                None => BroadcastOutcome::failed("direct", "an empty package".into()),
            };
            return (child, "child");
        }
        Err(e) => BroadcastOutcome::failed("direct", e.to_string()),
    };
    (package, "package")
}

/// Polls a set of futures to completion concurrently, keeping their order (a small
/// join_all, so the futures crate is not needed for this one use).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, fut) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// Turns a broadcast that no target accepted into an error (exit 2).
pub fn finish_broadcast(outcomes: &[BroadcastOutcome], skipped: bool) -> Result<(), CliError> {
    if skipped || outcomes.iter().any(BroadcastOutcome::accepted) {
        return Ok(());
    }
    let reasons: Vec<String> = outcomes
        .iter()
        .map(|b| format!("{}: {}", b.via, b.error.as_deref().unwrap_or("failed")))
        .collect();
    if outcomes.iter().any(|o| o.status == "rejected") {
        // The node looked at the transaction and refused it: the transaction is at fault.
        return Err(CliError::new(
            Code::TxRejected,
            format!(
                "the transaction was refused before broadcast ({}); nothing was broadcast",
                reasons.join("; ")
            ),
        ));
    }
    Err(CliError::new(
        Code::BroadcastFailed,
        format!(
            "the transaction was not accepted ({}); nothing was spent{}",
            reasons.join("; "),
            if outcomes.iter().all(|o| o.via != "direct") {
                " (add --fallback-direct to let ferry broadcast it itself)"
            } else {
                ""
            }
        ),
    ))
}
