//! The Bitcoin Core JSON-RPC backend through the real binary, against the devnet's Core
//! subset on 127.0.0.1 (tests/core_bitcoind.rs runs the same story on a real bitcoind):
//! UTXO-scan sync, exact balances, every address type sending and receiving, the
//! `testmempoolaccept` preflight, a fee bump; and the client's handling of what a node
//! says: warm-up retried, 401 and garbage named, credentials never shown.

#![allow(clippy::unwrap_used)]

mod common;
mod common_core;
mod common_devnet;

use common_core::Rpc;
use common_core::story::pay_with_core;
use common_devnet::Node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_through_a_core_rpc_backend() {
    let node = Node::start_fresh().await;
    let rpc = Rpc::devnet(&node.base);
    // The devnet ignores credentials; the URL still needs them, as a node would.
    let port = node.base.rsplit(':').next().unwrap();
    pay_with_core(&rpc, &format!("core+http://u:p@127.0.0.1:{port}")).await;
    node.stop().await;
}
