//! The Bitcoin Core JSON-RPC backend through the real binary, against the devnet's Core
//! subset on 127.0.0.1 (tests/core_bitcoind.rs runs the same story on a real bitcoind):
//! UTXO-scan sync, exact balances, every address type sending and receiving, the
//! `testmempoolaccept` preflight, a fee bump; and the client's handling of what a node
//! says: warm-up retried, 401 and garbage named, credentials never shown.

use crate::common::bitcoin_core::Rpc;
use crate::common::bitcoin_core::story::pay_with_core;
use crate::common::devnet::Node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_through_a_core_rpc_backend() {
    let node = Node::start_fresh().await;
    let rpc = Rpc::devnet(&node.base);
    // The devnet ignores credentials; the URL still needs them, as a node would.
    let port = node.base.rsplit(':').next().unwrap();
    pay_with_core(&rpc, &format!("core+http://u:p@127.0.0.1:{port}")).await;
    node.stop().await;
}

/// Serves `app` on an ephemeral port; returns its port.
async fn serve(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_what_a_node_says_and_never_shows_the_password() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use ferry::chain::{ChainBackend, ChainError, CoreRpcBackend};
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A node warming up (-28) twice, then answering: three requests, one result.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let warming = axum::Router::new().route(
        "/",
        post(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    // Core's 1.0-style error: HTTP 500 with the error in the body.
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"result": null, "id": 1,
                            "error": {"code": -28, "message": "Loading block index…"}})),
                    )
                } else {
                    (
                        StatusCode::OK,
                        axum::Json(json!({"result": 321, "error": null, "id": 1})),
                    )
                }
            }
        }),
    );
    let port = serve(warming).await;
    let core = CoreRpcBackend::new(&format!("core+http://u:hunter2@127.0.0.1:{port}")).unwrap();
    assert_eq!(core.tip_height().await.unwrap(), 321);
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // Wrong credentials: a 401 named as such, without the password.
    let denied = axum::Router::new().route("/", post(|| async { StatusCode::UNAUTHORIZED }));
    let port = serve(denied).await;
    let core = CoreRpcBackend::new(&format!("core+http://u:hunter2@127.0.0.1:{port}")).unwrap();
    let e = core.tip_height().await.unwrap_err();
    assert!(matches!(e, ChainError::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("authentication failed") && !text.contains("hunter2"),
        "{text}"
    );

    // Garbage is a protocol error, never a result; an RPC error on broadcast is the
    // node's reason, verbatim.
    let garbage = axum::Router::new().route(
        "/",
        post(|body: String| async move {
            if body.contains("sendrawtransaction") {
                axum::Json(json!({"result": null, "id": 1,
                    "error": {"code": -26, "message": "min relay fee not met, 100 < 141"}}))
                .into_response()
            } else {
                "<html>proxy error</html>".into_response()
            }
        }),
    );
    let port = serve(garbage).await;
    let core = CoreRpcBackend::new(&format!("core+http://u:p@127.0.0.1:{port}")).unwrap();
    assert!(matches!(
        core.tip_height().await,
        Err(ChainError::Protocol { .. })
    ));
    assert!(matches!(
        core.fee_estimates().await,
        Err(ChainError::Protocol { .. })
    ));
    let tx = ferry::tx::Transaction::from_hex(TX).unwrap();
    assert_eq!(
        core.broadcast(&tx).await.unwrap_err(),
        ChainError::Rejected {
            reason: "min relay fee not met, 100 < 141".into()
        }
    );

    // Another client's UTXO-set scan is running: ferry waits for it, then scans.
    let scans = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&scans);
    let busy = axum::Router::new().route(
        "/",
        post(move |body: String| {
            let n = Arc::clone(&n);
            async move {
                let req: serde_json::Value = serde_json::from_str(&body).unwrap();
                let id = req["id"].clone();
                let answer = match req["method"].as_str().unwrap() {
                    "scantxoutset" if n.fetch_add(1, Ordering::SeqCst) == 0 => json!({"id": id,
                        "result": null, "error": {"code": -8,
                        "message": "Scan already in progress, use action \"abort\" or \"status\""}}),
                    "scantxoutset" => json!({"id": id, "error": null,
                        "result": {"success": true, "unspents": [], "total_amount": 0}}),
                    "getrawmempool" => json!({"id": id, "error": null, "result": []}),
                    m => panic!("unexpected {m}"),
                };
                axum::Json(answer)
            }
        }),
    );
    let port = serve(busy).await;
    let core = CoreRpcBackend::new(&format!("core+http://u:p@127.0.0.1:{port}")).unwrap();
    let spk =
        ferry::script::ScriptBuf::from_hex("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
    let scan = core.scan_utxos(std::slice::from_ref(&spk)).await.unwrap();
    assert!(scan.utxos.is_empty());
    let view = core.mempool_view(&[]).await.unwrap();
    assert_eq!(view.txs, Some(Vec::new()), "the mempool was read");
    assert_eq!(scans.load(Ordering::SeqCst), 2);

    // A cookie file that is not there: the path is named, the node is "unreachable".
    let core = CoreRpcBackend::new("core+http://127.0.0.1:1?cookie=/nonexistent/.cookie").unwrap();
    let e = core.tip_height().await.unwrap_err().to_string();
    assert!(e.contains("/nonexistent/.cookie"), "{e}");
}

/// BIP143's native P2WPKH example, signed (any well-formed transaction would do).
const TX: &str = "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000";
