//! The Esplora backend against servers that misbehave, on 127.0.0.1: 429 with Retry-After
//! and 5xx are retried with backoff, then given up on; garbage and lies are refused as
//! protocol errors, never taken as results; through the binary, a garbage-answering backend
//! is a backend failure (exit 2) that names the backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::cli::Ferry;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use ferry::chain::{ChainBackend, ChainError, EsploraBackend};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::{AddressType, ScriptBuf};
use ferry::tx::Txid;

/// Serves `app` on an ephemeral port; returns its `/api` base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_429_and_5xx_then_gives_up() {
    // Two 429s (Retry-After: 0) then an answer: three requests, one result.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let flaky = Router::new().route(
        "/api/blocks/tip/height",
        get(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", "0".parse().unwrap());
                if n < 2 {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        headers,
                        "slow down".to_owned(),
                    )
                } else {
                    (StatusCode::OK, headers, "123".to_owned())
                }
            }
        }),
    );
    let esplora = EsploraBackend::new(&serve(flaky).await).unwrap();
    assert_eq!(esplora.tip_height().await.unwrap(), 123);
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // Always 503: the first try and three retries, then unreachable with the status.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let down = Router::new().route(
        "/api/blocks/tip/height",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }
        }),
    );
    let esplora = EsploraBackend::new(&serve(down).await).unwrap();
    match esplora.tip_height().await {
        Err(ChainError::Unreachable { reason, .. }) => {
            assert!(
                reason.contains("503") && reason.contains("maintenance"),
                "{reason}"
            )
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_lies_are_protocol_errors() {
    // A transaction the server will claim is another one.
    // A well-formed 1-in/1-out transaction; its txid is not the one asked for below.
    let real = "0100000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0000000000ffffffff0100e1f50500000000160014000000000000000000000000000000000000000000000000";
    let liar = Router::new()
        .route("/api/blocks/tip/height", get(|| async { "tall" }))
        .route("/api/scripthash/{h}/utxo", get(|| async { "{not json" }))
        .route("/api/fee-estimates", get(|| async { r#"{"1": -5}"# }))
        .route(
            "/api/tx/{txid}/hex",
            get(move || async move { real.to_owned() }),
        );
    let esplora = EsploraBackend::new(&serve(liar).await).unwrap();
    let protocol = |r: Result<(), ChainError>| match r {
        Err(ChainError::Protocol { reason, .. }) => reason,
        other => panic!("expected a protocol error, got {other:?}"),
    };
    assert!(protocol(esplora.tip_height().await.map(drop)).contains("tall"));
    protocol(
        esplora
            .script_utxos(&ScriptBuf::new_p2wpkh(&[1; 20]))
            .await
            .map(drop),
    );
    protocol(esplora.fee_estimates().await.map(drop));
    let asked = Txid::from_byte_array([7; 32]);
    assert!(protocol(esplora.transaction(asked).await.map(drop)).contains("asked for"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_backend_fails_balance_with_exit_2() {
    let garbage = Router::new().fallback(|| async { "<html>captive portal</html>" });
    let backend = serve(garbage).await;
    let f = Ferry::new();
    let m = Mnemonic::from_entropy(&[9; 16]).unwrap();
    f.add_wallet("default", &m, Network::Regtest, AddressType::P2wpkh, "pw");
    let dir = f.dir.path().to_path_buf();
    let b = backend.clone();
    let run = tokio::task::spawn_blocking(move || {
        crate::common::cli::run_in(&dir, &["--json", "--backend", &b, "balance"], "", &[])
    })
    .await
    .unwrap()
    .expect_code(2);
    let err = run.json();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains(&backend), "{message}");
}
