//! ferry against a real Bitcoin Core (`bitcoind -regtest` from BITCOIND_EXE; built by
//! scripts/build-bitcoind.sh, which .ci/run calls): the Core backend end to end with both
//! kinds of auth, a friend's relay whose backend is Core, and Core's own verdicts.
//! Without BITCOIND_EXE these tests say they are skipped (in CI they always run).

#![allow(clippy::unwrap_used)]

mod common;
mod common_core;

use common_core::story::pay_with_core;
use common_core::{Bitcoind, CoreAuth, bitcoind_exe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_through_bitcoin_core_with_a_cookie() {
    let Some(exe) = bitcoind_exe("pays_through_bitcoin_core_with_a_cookie") else {
        return;
    };
    let node = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    pay_with_core(&node.rpc, &node.backend_url()).await;
    node.stop().await;
}
