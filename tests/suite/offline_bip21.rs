//! BIP-0021 through the real binary on a devnet (issue 13): Bob's `address --uri --amount
//! --label` asks, Alice's `send 'bitcoin:…'` pays exactly that (balances exact), keeping the
//! label; an amount on the command line that disagrees with the URI, `--max` against a URI
//! amount, and an unknown `req-` parameter are refused, nothing broadcast.

use crate::common::cli::{Ferry, Run};
use crate::common::devnet::Node;
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::AddressType;
use ferry::wallet::{WalletPaths, WalletStore};

const PASSWORD: &str = "pw for tests";

fn run(f: &Ferry, backend: &str, args: &[&str]) -> Run {
    f.run_with_stdin(
        args,
        "",
        &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_a_payment_uri_and_refuses_conflicts() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let f = std::sync::Arc::new(Ferry::new());
    for (name, seed, ty) in [
        ("alice", 21, AddressType::P2tr),
        ("bob", 22, AddressType::P2wpkh),
    ] {
        let m = Mnemonic::from_entropy(&[seed; 16]).unwrap();
        f.add_wallet(name, &m, Network::Regtest, ty, PASSWORD);
    }
    let (f2, b) = (f.clone(), backend.clone());
    let alice = tokio::task::spawn_blocking(move || {
        run(&f2, &b, &["--json", "--wallet", "alice", "address"])
            .expect_code(0)
            .json()
    })
    .await
    .unwrap();
    node.faucet(alice["address"].as_str().unwrap(), 500_000)
        .await;
    node.mine(1, None).await;

    let (f2, b) = (f.clone(), backend.clone());
    let (uri, bob_addr, fee) = tokio::task::spawn_blocking(move || {
        let asked = run(
            &f2,
            &b,
            &[
                "--json",
                "--wallet",
                "bob",
                "address",
                "--uri",
                "--amount",
                "0.0005btc",
                "--label",
                "rent & food",
            ],
        )
        .expect_code(0)
        .json();
        let uri = asked["uri"].as_str().unwrap().to_owned();
        let addr = asked["address"].as_str().unwrap().to_owned();
        assert_eq!(
            uri,
            format!("bitcoin:{addr}?amount=0.0005&label=rent%20%26%20food")
        );
        let refuse = |args: &[&str], code: &str| {
            let j = run(&f2, &b, args).expect_code(1).json();
            assert_eq!(j["error"]["code"], code, "{args:?}: {j}");
            j
        };
        let j = refuse(
            &[
                "--json", "--wallet", "alice", "send", &uri, "60000sat", "--yes",
            ],
            "amount_conflict",
        );
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("asks for 50000 sat"),
            "{j}"
        );
        refuse(
            &[
                "--json", "--wallet", "alice", "send", &uri, "--max", "--yes",
            ],
            "amount_conflict",
        );
        refuse(
            &[
                "--json",
                "--wallet",
                "alice",
                "send",
                &format!("{uri}&req-pop=1"),
                "--yes",
            ],
            "unsupported_uri",
        );
        refuse(
            &[
                "--json",
                "--wallet",
                "alice",
                "send",
                "bitcoin:?amount=1",
                "--yes",
            ],
            "bad_uri",
        );
        refuse(
            &[
                "--json",
                "--wallet",
                "alice",
                "send",
                &format!("bitcoin:{addr}?amount=1e3"),
                "--yes",
            ],
            "bad_uri",
        );
        // The same amount written another way agrees; without --no-broadcast it pays.
        let sent = run(
            &f2,
            &b,
            &[
                "--json",
                "--wallet",
                "alice",
                "send",
                &uri,
                "50000sat",
                "--fee-rate",
                "2",
                "--yes",
            ],
        )
        .expect_code(0)
        .json();
        assert_eq!(sent["amount_sat"], 50_000);
        (uri, addr, sent["fee_sat"].as_u64().unwrap())
    })
    .await
    .unwrap();
    let pool = node.get_json("/api/mempool/txids").await;
    assert_eq!(
        pool.as_array().unwrap().len(),
        1,
        "only the one payment was broadcast"
    );
    node.mine(1, None).await;
    let (f2, b) = (f.clone(), backend.clone());
    tokio::task::spawn_blocking(move || {
        let bob = run(&f2, &b, &["--json", "--wallet", "bob", "balance"])
            .expect_code(0)
            .json();
        assert_eq!(bob["confirmed"], 50_000);
        let alice = run(&f2, &b, &["--json", "--wallet", "alice", "balance"])
            .expect_code(0)
            .json();
        assert_eq!(alice["confirmed"].as_u64().unwrap(), 500_000 - 50_000 - fee);
        // The URI's label was kept by the payer, and by the payee for its address.
        for who in ["alice", "bob"] {
            let paths = WalletPaths::new(f2.dir.path(), who).unwrap();
            let store = WalletStore::open(&paths.database()).unwrap();
            assert_eq!(
                store.label("addr", &bob_addr).unwrap().as_deref(),
                Some("rent & food"),
                "{who} ({uri})"
            );
        }
    })
    .await
    .unwrap();
}
