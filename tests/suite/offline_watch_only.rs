//! The air-gapped story through the real binary on a devnet (issue 13): a watch-only install
//! (made from Alice's exported descriptors) syncs and makes a PSBT; an offline install
//! holding Alice's keys, with no reachable backend, signs it; Alice's online install hands
//! the result to her friend Bob's relay (`--via bob`); balances come out exact. And a
//! watch-only wallet refusing to sign or send, and bad descriptors refused, nothing written.

use crate::common::cli::{Ferry, snapshot};
use crate::common::friends::{Friends, PASSWORD, ferry, ferry_env};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::AddressType;

const DEAD: &str = "http://127.0.0.1:9/api";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_only_makes_offline_signs_a_friend_relays() {
    let f = Friends::start().await;
    f.alice_adds_bob().await;
    // Alice's descriptors, as `ferry export descriptors` prints them.
    let d = f
        .ferry(&f.alice, &["--json", "export", "descriptors"])
        .await
        .expect_code(0)
        .json();
    let (receive, change) = (
        d["receive"].as_str().unwrap().to_owned(),
        d["change"].as_str().unwrap().to_owned(),
    );

    // The watch-only install: no keystore, never a password.
    let watcher = Ferry::new();
    let no_pw = [("FERRY_BACKEND", f.backend.as_str())];
    let created = ferry_env(
        &watcher,
        &[
            "--json",
            "create",
            "--watch-only",
            "--network",
            "regtest",
            "--descriptor",
            &receive,
            "--change-descriptor",
            &change,
        ],
        &no_pw,
    )
    .await
    .expect_code(0)
    .json();
    assert_eq!(created["watch_only"], true);
    assert_eq!(created["address_type"], "p2wpkh");
    assert!(
        !watcher
            .dir
            .path()
            .join("wallets/default/keystore.json")
            .exists()
    );
    let listed = ferry_env(&watcher, &["--json", "wallets"], &no_pw)
        .await
        .expect_code(0)
        .json();
    assert_eq!(listed[0]["watch_only"], true, "{listed}");
    let bal = ferry_env(&watcher, &["--json", "balance"], &no_pw)
        .await
        .expect_code(0)
        .json();
    assert_eq!(bal["confirmed"], 100_000, "the watcher sees Alice's coins");
    let alice_addr = f
        .ferry(&f.alice, &["--json", "address", "--index", "0"])
        .await
        .expect_code(0)
        .json();
    let watched_addr = ferry_env(&watcher, &["--json", "address", "--index", "0"], &no_pw)
        .await
        .expect_code(0)
        .json();
    assert_eq!(alice_addr["address"], watched_addr["address"]);
    // It cannot sign or send, and says what to do instead.
    let refused = ferry_env(
        &watcher,
        &["--json", "send", &f.carol_address, "1000sat", "--yes"],
        &[
            ("FERRY_BACKEND", f.backend.as_str()),
            ("FERRY_PASSWORD", PASSWORD),
        ],
    )
    .await
    .expect_code(1)
    .json();
    assert_eq!(refused["error"]["code"], "watch_only");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ferry psbt create")
    );
    let refused = ferry_env(
        &watcher,
        &["--json", "keystore", "verify"],
        &[("FERRY_PASSWORD", PASSWORD)],
    )
    .await
    .expect_code(1)
    .json();
    assert_eq!(refused["error"]["code"], "watch_only");

    let created = ferry_env(
        &watcher,
        &[
            "--json",
            "psbt",
            "create",
            &f.carol_address,
            "40000sat",
            "--fee-rate",
            "2",
        ],
        &no_pw,
    )
    .await
    .expect_code(0)
    .json();
    let psbt = created["psbt"].as_str().unwrap().to_owned();
    let fee = created["fee_sat"].as_u64().unwrap();
    let dir = watcher.dir.path().to_path_buf();
    let p2 = psbt.clone();
    let refused = tokio::task::spawn_blocking(move || {
        crate::common::cli::run_in(
            &dir,
            &["--json", "sign", "-", "--yes"],
            &p2,
            &[("FERRY_PASSWORD", PASSWORD)],
        )
    })
    .await
    .unwrap()
    .expect_code(1)
    .json();
    assert_eq!(refused["error"]["code"], "watch_only");

    // The offline install: Alice's keys, a dead backend.
    let offline = Ferry::new();
    let m = Mnemonic::from_entropy(&[1; 16]).unwrap();
    offline.add_wallet(
        "default",
        &m,
        Network::Regtest,
        AddressType::P2wpkh,
        PASSWORD,
    );
    let dir = offline.dir.path().to_path_buf();
    let p2 = psbt.clone();
    let signed = tokio::task::spawn_blocking(move || {
        crate::common::cli::run_in(
            &dir,
            &["--json", "sign", "-", "--yes", "--finalize"],
            &p2,
            &[("FERRY_BACKEND", DEAD), ("FERRY_PASSWORD", PASSWORD)],
        )
    })
    .await
    .unwrap()
    .expect_code(0)
    .json();
    assert_eq!(signed["complete"], true, "{signed}");
    let hex = signed["hex"].as_str().unwrap().to_owned();

    // Alice's online install hands it to Bob's relay.
    let relayed = f
        .ferry(&f.alice, &["--json", "broadcast", &hex, "--via", "bob"])
        .await
        .expect_code(0)
        .json();
    let txid = relayed["txid"].as_str().unwrap().to_owned();
    assert_eq!(relayed["broadcast"][0]["via"], "bob", "{relayed}");
    crate::common::relay::wait_until(10, "the relay broadcasts it", || async {
        f.in_mempool(&txid).await
    })
    .await;
    f.node.mine(1, None).await;
    let bal = ferry_env(&watcher, &["--json", "balance"], &no_pw)
        .await
        .expect_code(0)
        .json();
    assert_eq!(bal["confirmed"].as_u64().unwrap(), 100_000 - 40_000 - fee);
    assert_eq!(bal["unconfirmed"], 0);
    let carol = ferry(&f.carol, &f.backend, &["--json", "balance"])
        .await
        .expect_code(0)
        .json();
    assert_eq!(carol["confirmed"], 40_000);
}

#[test]
fn bad_descriptors_are_refused_and_nothing_is_written() {
    let alice = Ferry::new();
    let m = Mnemonic::from_entropy(&[1; 16]).unwrap();
    alice.add_wallet("default", &m, Network::Regtest, AddressType::P2tr, PASSWORD);
    let d = alice
        .run(&["--json", "export", "descriptors"])
        .expect_code(0)
        .json();
    let receive = d["receive"].as_str().unwrap();
    let f = Ferry::new();
    let before = snapshot(f.dir.path());
    let create = |desc: &str, extra: &[&str]| {
        let mut args = vec!["--json", "create", "--watch-only", "--descriptor", desc];
        args.extend_from_slice(extra);
        f.run(&args)
    };
    let (body, sum) = receive.split_once('#').unwrap();
    let cases: Vec<(String, Vec<&str>, &str, &str)> = vec![
        (
            body.to_owned(),
            vec!["--network", "regtest"],
            "bad_descriptor",
            "no #checksum",
        ),
        (
            format!(
                "{body}#{}",
                if sum == "aaaaaaaa" {
                    "bbbbbbbb"
                } else {
                    "aaaaaaaa"
                }
            ),
            vec!["--network", "regtest"],
            "bad_descriptor",
            "checksum mismatch",
        ),
        (
            receive.to_owned(),
            vec![],
            "wrong_network",
            "pass --network",
        ),
        (
            receive.to_owned(),
            vec!["--network", "bitcoin"],
            "wrong_network",
            "--network is bitcoin",
        ),
        (
            receive.to_owned(),
            vec!["--network", "regtest", "--change-descriptor", receive],
            "unsupported_descriptor",
            "/1/*",
        ),
    ];
    for (desc, extra, code, says) in cases {
        let j = create(&desc, &extra).expect_code(1).json();
        assert_eq!(j["error"]["code"], code, "{desc} {extra:?}: {j}");
        assert!(
            j["error"]["message"].as_str().unwrap().contains(says),
            "{j}"
        );
        assert_eq!(snapshot(f.dir.path()), before, "{desc}: nothing written");
    }
    let ok = create(receive, &["--network", "regtest"])
        .expect_code(0)
        .json();
    assert_eq!(ok["address_type"], "p2tr");
    let again = create(receive, &["--network", "regtest"])
        .expect_code(1)
        .json();
    assert_eq!(again["error"]["code"], "wallet_exists");
}
