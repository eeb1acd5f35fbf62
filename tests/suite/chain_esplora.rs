//! The Esplora backend against the devnet over real HTTP on 127.0.0.1.

use crate::common::devnet::{Key, KeyType, Node};
use ferry::chain::{ChainBackend, ChainError, EsploraBackend, TxStatus};
use ferry::units::{Amount, FeeRate};

fn backend(node: &Node) -> EsploraBackend {
    EsploraBackend::new(&format!("{}/api", node.base)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_chain_and_broadcasts() {
    let node = Node::start_fresh().await;
    let esplora = backend(&node);
    let start = esplora.tip_height().await.unwrap();
    assert!(
        start >= 100,
        "the devnet mines its faucet's coins on first start"
    );

    let alice = Key::new(1);
    let coins = node.fund(&alice, KeyType::P2wpkh, &[50_000, 70_000]).await;
    let script = alice.script(KeyType::P2wpkh);

    let mut utxos = esplora.script_utxos(&script).await.unwrap();
    utxos.sort_by_key(|u| u.value);
    assert_eq!(
        utxos.iter().map(|u| u.value).collect::<Vec<_>>(),
        [Amount::from_sat(50_000), Amount::from_sat(70_000)]
    );
    let tip = esplora.tip_height().await.unwrap();
    assert!(utxos.iter().all(|u| u.height.is_some_and(|h| h <= tip)));

    // A spend: broadcast answers its txid, the mempool has it, then a block confirms it.
    let bob = Key::new(2);
    let spend = alice.spend(&coins, &[(bob.script(KeyType::P2tr), 119_000)], 0xffff_fffd);
    assert_eq!(esplora.broadcast(&spend).await.unwrap(), spend.txid());
    assert_eq!(
        esplora.tx_status(spend.txid()).await.unwrap(),
        TxStatus::Mempool
    );
    assert!(esplora.script_utxos(&script).await.unwrap().is_empty());
    let history = esplora.script_history(&script).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.tx == spend && h.height.is_none() && h.fee == Some(Amount::from_sat(1_000)))
    );
    node.mine(1, None).await;
    assert_eq!(
        esplora.tx_status(spend.txid()).await.unwrap(),
        TxStatus::Confirmed { height: tip + 1 }
    );
    assert_eq!(
        esplora.transaction(spend.txid()).await.unwrap(),
        Some(spend.clone())
    );
    let prevout = esplora
        .prevout(spend.input[0].previous_output)
        .await
        .unwrap();
    assert_eq!(prevout, Some(coins[0].1.clone()));

    // The same transaction again is refused, with the backend's own reason as data.
    match esplora.broadcast(&spend).await {
        Err(ChainError::Rejected { reason }) => assert!(!reason.is_empty()),
        other => panic!("expected a rejection, got {other:?}"),
    }

    let unknown = ferry::tx::Txid::from_byte_array([9; 32]);
    assert_eq!(esplora.transaction(unknown).await.unwrap(), None);
    assert_eq!(esplora.tx_status(unknown).await.unwrap(), TxStatus::Unknown);

    let fees = esplora.fee_estimates().await.unwrap();
    for target in [1u16, 6, 25, 144, 1008] {
        assert!(fees[&target] >= FeeRate::MIN_RELAY, "target {target}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_is_down_is_unreachable_at_once() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let esplora = EsploraBackend::new(&format!("http://127.0.0.1:{port}/api")).unwrap();
    let started = std::time::Instant::now();
    match esplora.tip_height().await {
        Err(ChainError::Unreachable { url, .. }) => assert!(url.contains(&port.to_string())),
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(
        EsploraBackend::new("ftp://example"),
        Err(ChainError::InvalidUrl(_))
    ));
}
