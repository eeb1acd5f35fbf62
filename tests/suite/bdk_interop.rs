//! Issue 15: BDK against the devnet, unchanged. A `bdk_wallet` wallet syncs through
//! `bdk_esplora`'s blocking client (esplora-client over minreq, plain HTTP on an ephemeral
//! 127.0.0.1 port): `full_scan` finds what the devnet paid it, past a gap, to the sat,
//! with each confirmation anchored at the devnet block's real time; it builds, signs and
//! broadcasts (the devnet's `POST /api/tx`) a payment to a ferry wallet, which the real
//! `ferry` binary sees to the sat; after a block `sync` gives BDK's exact balance. And
//! through an open ferry relay's Esplora push (`/api/tx`): a BDK payment reaches the
//! devnet, BDK bumps it, and a second BDK wallet on the same descriptors — which saw the
//! original — sees the replacement instead, its balance exact before and after a block.

use std::str::FromStr;

use crate::common::cli::Ferry;
use crate::common::devnet::{Key, KeyType, Node};
use crate::common::relay::{Relay, wait_until};
use bdk_esplora::EsploraExt;
use bdk_esplora::esplora_client::{self, BlockingClient};
use bdk_wallet::bitcoin::secp256k1::Secp256k1;
use bdk_wallet::bitcoin::{Address, Amount, FeeRate, Network, NetworkKind, Psbt, Txid};
use bdk_wallet::chain::ChainPosition;
use bdk_wallet::descriptor::IntoWalletDescriptor;
use bdk_wallet::signer::SignersContainer;
use bdk_wallet::{KeychainKind, SignOptions, Wallet};
use ferry::keys::Mnemonic;
use ferry::script::AddressType;

/// BDK's own test key (worthless; regtest).
const TPRV: &str = "tprv8ZgxMBicQKsPdy6LMhUtFHAgpocR8GC6QmwMSFpZs7h6Eziw3SpThFfczTDh5rW2krkqffa11UpX3XkeTTB2FvzZKWXqPY54Y6Rq4AQ5R8L";
const PASSWORD: &str = "pw for tests";
const STOP_GAP: usize = 10;
const PARALLEL: usize = 2;

fn descriptor(keychain: KeychainKind) -> String {
    let branch = match keychain {
        KeychainKind::External => 0,
        KeychainKind::Internal => 1,
    };
    format!("wpkh({TPRV}/84'/1'/0'/{branch}/*)")
}

fn bdk_wallet() -> Wallet {
    Wallet::create(
        descriptor(KeychainKind::External),
        descriptor(KeychainKind::Internal),
    )
    .network(Network::Regtest)
    .create_wallet_no_persist()
    .unwrap()
}

/// Signs every input the wallet owns (BDK 3.2's signers, built from the private
/// descriptors) and finalizes.
fn sign(wallet: &Wallet, psbt: &mut Psbt) -> bool {
    let secp = Secp256k1::new();
    let containers: Vec<SignersContainer> = [KeychainKind::External, KeychainKind::Internal]
        .into_iter()
        .map(|k| {
            let (_, keymap) = descriptor(k)
                .into_wallet_descriptor(&secp, NetworkKind::Test)
                .unwrap();
            SignersContainer::build(keymap, wallet.public_descriptor(k), wallet.secp_ctx())
        })
        .collect();
    let refs: Vec<&SignersContainer> = containers.iter().collect();
    wallet
        .sign_with_signers(psbt, &refs, SignOptions::default())
        .unwrap()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// `ferry --json balance` of the wallet: (confirmed, unconfirmed).
fn ferry_balance(f: &Ferry, backend: &str) -> (u64, u64) {
    let b = f
        .run_with_stdin(
            &["--json", "balance"],
            "",
            &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
        )
        .expect_code(0)
        .json();
    (
        b["confirmed"].as_u64().unwrap(),
        b["unconfirmed"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bdk_wallet_scans_pays_ferry_and_syncs_exactly() {
    let node = Node::start_fresh().await;
    let url = format!("{}/api", node.base);
    let client: BlockingClient = esplora_client::Builder::new(&url).build_blocking();
    // Addresses from a twin of the wallet; the wallet itself has revealed none, so it
    // finds the coins by scanning (index 3 is past two unused addresses).
    let mut twin = bdk_wallet();
    let addrs: Vec<Address> = (0..4)
        .map(|_| twin.reveal_next_address(KeychainKind::External).address)
        .collect();
    let mut wallet = bdk_wallet();
    assert_eq!(wallet.derivation_index(KeychainKind::External), None);

    let paid0 = node.faucet(&addrs[0].to_string(), 100_000).await;
    node.faucet(&addrs[3].to_string(), 250_000).await;
    let hash = node.mine(1, None).await.remove(0);
    node.faucet(&addrs[1].to_string(), 30_000).await;

    let (client, mut wallet) = blocking(move || {
        let started = std::time::Instant::now();
        let request = wallet.start_full_scan().build();
        let update = client.full_scan(request, STOP_GAP, PARALLEL).unwrap();
        wallet.apply_update(update).unwrap();
        println!(
            "BDK full_scan (stop gap {STOP_GAP}): {:?}",
            started.elapsed()
        );
        (client, wallet)
    })
    .await;
    let balance = wallet.balance();
    assert_eq!(balance.confirmed, Amount::from_sat(350_000));
    assert_eq!(balance.untrusted_pending, Amount::from_sat(30_000));
    assert_eq!(balance.total(), Amount::from_sat(380_000));
    assert_eq!(wallet.derivation_index(KeychainKind::External), Some(3));
    // The wallet's tip is the devnet's, and the confirmation carries the block's time.
    assert_eq!(wallet.latest_checkpoint().height(), 111);
    assert_eq!(wallet.latest_checkpoint().hash().to_string(), hash);
    let block = node.get_json(&format!("/api/block/{hash}")).await;
    let tx = wallet.get_tx(Txid::from_str(&paid0).unwrap()).unwrap();
    match tx.chain_position {
        ChainPosition::Confirmed { anchor, .. } => {
            assert_eq!(anchor.block_id.height, 111);
            assert_eq!(anchor.block_id.hash.to_string(), hash);
            assert_eq!(
                anchor.confirmation_time,
                block["timestamp"].as_u64().unwrap()
            );
        }
        other => panic!("not confirmed: {other:?}"),
    }

    // A ferry wallet to pay.
    let f = std::sync::Arc::new(Ferry::new());
    let m = Mnemonic::from_entropy(&[77; 16]).unwrap();
    f.add_wallet(
        "default",
        &m,
        ferry::network::Network::Regtest,
        AddressType::P2wpkh,
        PASSWORD,
    );
    let backend = url.clone();
    let (f2, b2) = (f.clone(), backend.clone());
    let ferry_addr = blocking(move || {
        f2.run_with_stdin(
            &["--json", "address"],
            "",
            &[("FERRY_BACKEND", &b2), ("FERRY_PASSWORD", PASSWORD)],
        )
        .expect_code(0)
        .json()["address"]
            .as_str()
            .unwrap()
            .to_owned()
    })
    .await;

    // BDK builds, signs and broadcasts through the devnet's POST /api/tx.
    const PAY: u64 = 123_456;
    let to = Address::from_str(&ferry_addr)
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();
    let (client, mut wallet, txid, fee) = blocking(move || {
        let mut builder = wallet.build_tx();
        builder
            .add_recipient(to.script_pubkey(), Amount::from_sat(PAY))
            .fee_rate(FeeRate::from_sat_per_vb(2).unwrap());
        let mut psbt = builder.finish().unwrap();
        assert!(sign(&wallet, &mut psbt));
        let tx = psbt.extract_tx().unwrap();
        let fee = wallet.calculate_fee(&tx).unwrap();
        client.broadcast(&tx).unwrap();
        (client, wallet, tx.compute_txid(), fee)
    })
    .await;
    let pool = node.get_json("/api/mempool/txids").await;
    assert!(
        pool.as_array()
            .unwrap()
            .contains(&serde_json::json!(txid.to_string()))
    );

    // ferry sees it to the sat, unconfirmed, then confirmed.
    let (f2, b2) = (f.clone(), backend.clone());
    assert_eq!(blocking(move || ferry_balance(&f2, &b2)).await, (0, PAY));
    node.mine(1, None).await;
    let (f2, b2) = (f.clone(), backend.clone());
    assert_eq!(blocking(move || ferry_balance(&f2, &b2)).await, (PAY, 0));

    // BDK syncs: everything confirmed, less what it paid and its fee.
    let wallet = blocking(move || {
        let started = std::time::Instant::now();
        let request = wallet.start_sync_with_revealed_spks().build();
        let update = client.sync(request, PARALLEL).unwrap();
        wallet.apply_update(update).unwrap();
        println!("BDK sync: {:?}", started.elapsed());
        wallet
    })
    .await;
    let balance = wallet.balance();
    let expected = Amount::from_sat(380_000 - PAY) - fee;
    assert_eq!(balance.confirmed, expected);
    assert_eq!(balance.total(), expected);
    assert_eq!(wallet.latest_checkpoint().height(), 112);
    node.stop().await;
}

fn full_scan(client: &BlockingClient, wallet: &mut Wallet) {
    let request = wallet.start_full_scan().build();
    let update = client.full_scan(request, STOP_GAP, PARALLEL).unwrap();
    wallet.apply_update(update).unwrap();
}

fn sync(client: &BlockingClient, wallet: &mut Wallet) {
    let request = wallet.start_sync_with_revealed_spks().build();
    let update = client.sync(request, PARALLEL).unwrap();
    wallet.apply_update(update).unwrap();
}

async fn in_mempool(node: &Node, txid: Txid) -> bool {
    let pool = node.get_json("/api/mempool/txids").await;
    pool.as_array()
        .unwrap()
        .contains(&serde_json::json!(txid.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bdk_pays_through_a_ferry_relay_and_sees_a_replacement() {
    let node = Node::start_fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::open(dir.path(), &node.base).await;
    let url = format!("{}/api", node.base);
    let relay_url = format!("{}/api", relay.base);
    let mut twin = bdk_wallet();
    let addr = twin.reveal_next_address(KeychainKind::External).address;
    node.faucet(&addr.to_string(), 200_000).await;
    node.mine(1, None).await;
    let dest = Key::new(120).address(KeyType::P2wpkh);
    let dest = Address::from_str(&dest)
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();

    // The payment, pushed through the relay's Esplora-compatible /api/tx.
    const PAY: u64 = 50_000;
    let (wallet, twin, original, fee1) = blocking(move || {
        let client = esplora_client::Builder::new(&url).build_blocking();
        let via_relay = esplora_client::Builder::new(&relay_url).build_blocking();
        let mut wallet = bdk_wallet();
        full_scan(&client, &mut wallet);
        assert_eq!(wallet.balance().confirmed, Amount::from_sat(200_000));
        let mut builder = wallet.build_tx();
        builder
            .add_recipient(dest.script_pubkey(), Amount::from_sat(PAY))
            .fee_rate(FeeRate::from_sat_per_vb(2).unwrap());
        let mut psbt = builder.finish().unwrap();
        assert!(sign(&wallet, &mut psbt));
        let tx = psbt.extract_tx().unwrap();
        let fee = wallet.calculate_fee(&tx).unwrap();
        via_relay.broadcast(&tx).unwrap();
        (wallet, twin, tx.compute_txid(), fee)
    })
    .await;
    wait_until(20, "the relay to deliver the BDK payment", || {
        in_mempool(&node, original)
    })
    .await;

    // The twin sees the payment pending: its change, untrusted (it did not build it).
    let url = format!("{}/api", node.base);
    let (mut wallet, mut twin, replacement, fee2) = blocking(move || {
        let client = esplora_client::Builder::new(&url).build_blocking();
        let mut twin = twin;
        full_scan(&client, &mut twin);
        let change = Amount::from_sat(200_000 - PAY) - fee1;
        assert_eq!(twin.balance().total(), change);
        assert!(twin.get_tx(original).is_some());
        // The wallet that built it bumps it to 10 sat/vB, straight to the devnet.
        let mut wallet = wallet;
        sync(&client, &mut wallet);
        let mut builder = wallet.build_fee_bump(original).unwrap();
        builder.fee_rate(FeeRate::from_sat_per_vb(10).unwrap());
        let mut psbt = builder.finish().unwrap();
        assert!(sign(&wallet, &mut psbt));
        let tx = psbt.extract_tx().unwrap();
        let fee = wallet.calculate_fee(&tx).unwrap();
        client.broadcast(&tx).unwrap();
        (wallet, twin, tx.compute_txid(), fee)
    })
    .await;
    assert!(in_mempool(&node, replacement).await);
    assert!(!in_mempool(&node, original).await);
    assert!(fee2 > fee1);

    // The twin syncs and sees the replacement, not the original.
    let url = format!("{}/api", node.base);
    let (wallet_after, twin_after) = blocking(move || {
        let client = esplora_client::Builder::new(&url).build_blocking();
        sync(&client, &mut twin);
        sync(&client, &mut wallet);
        (wallet, twin)
    })
    .await;
    let expected = Amount::from_sat(200_000 - PAY) - fee2;
    for w in [&wallet_after, &twin_after] {
        let canonical: Vec<Txid> = w.transactions().map(|t| t.tx_node.txid).collect();
        assert!(canonical.contains(&replacement), "{canonical:?}");
        assert!(!canonical.contains(&original), "{canonical:?}");
        assert_eq!(w.balance().total(), expected);
    }

    // After a block, confirmed and exact.
    node.mine(1, None).await;
    let url = format!("{}/api", node.base);
    let twin = blocking(move || {
        let client = esplora_client::Builder::new(&url).build_blocking();
        let mut twin = twin_after;
        sync(&client, &mut twin);
        twin
    })
    .await;
    assert_eq!(twin.balance().confirmed, expected);
    assert_eq!(twin.balance().total(), expected);
    relay.stop().await;
    node.stop().await;
}
