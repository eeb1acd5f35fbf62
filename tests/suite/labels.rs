//! Labels (BIP-0329, issue 17) through the real binary: the BIP's own example records
//! round-trip; a file exported by ferry imports into a fresh `restore` of the same wallet
//! and shows the same labels in `history`, `utxos` and `address` (devnet on 127.0.0.1);
//! `send --label` labels the payment and its recipient, and leaves a coin labelled
//! `spendable: false` alone; bad lines are named by number and a file with any is refused
//! whole (or imported in part with `--skip-bad`); a version-2 wallet.sqlite is upgraded
//! to version 3 with its labels.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::cli::{Ferry, Refusal, Run, assert_refusals, snapshot};
use crate::common::devnet::Node;
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::AddressType;
use ferry::tx::Transaction;
use serde_json::Value;

const PASSWORD: &str = "pw for tests";
const EXAMPLE: &str = "fixtures/bip329_example.jsonl";
const TXID: &str = "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd";

fn run(f: &Ferry, backend: &str, args: &[&str]) -> Run {
    f.run_with_stdin(
        args,
        "",
        &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
    )
}

fn ok(f: &Ferry, backend: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    run(f, backend, &all).expect_code(0).json()
}

/// The records of a JSON Lines text as a set of JSON values (key order does not matter).
fn records(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect()
}

fn export(f: &Ferry, wallet: &str) -> String {
    run(f, "", &["--wallet", wallet, "labels", "export", "-"])
        .expect_code(0)
        .stdout
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

#[test]
fn the_bips_example_records_round_trip() {
    let f = Ferry::new();
    // The example's address and xpub are mainnet ones: a mainnet wallet takes them.
    let m = Mnemonic::from_entropy(&[3; 16]).unwrap();
    f.add_wallet("main", &m, Network::Bitcoin, AddressType::P2wpkh, PASSWORD);
    let example = std::fs::read_to_string(fixture(EXAMPLE)).unwrap();
    let r = ok(
        &f,
        "",
        &["--wallet", "main", "labels", "import", &fixture(EXAMPLE)],
    );
    assert_eq!(r["imported"], example.lines().count(), "{r}");
    assert_eq!(r["ignored"], serde_json::json!([]));
    let out = export(&f, "main");
    assert_eq!(records(&out), records(&example), "same records in meaning");
    assert!(
        out.contains(r#""spendable":false"#),
        "spendable: false is kept: {out}"
    );
    // And again, through stdin into a second wallet: still the same set.
    f.add_wallet("again", &m, Network::Bitcoin, AddressType::P2wpkh, PASSWORD);
    let r = f
        .run_with_stdin(
            &["--json", "--wallet", "again", "labels", "import", "-"],
            &out,
            &[],
        )
        .expect_code(0)
        .json();
    assert_eq!(r["imported"], example.lines().count());
    assert_eq!(records(&export(&f, "again")), records(&example));
}

#[test]
fn bad_lines_are_named_by_number_and_refuse_the_whole_file() {
    let f = Ferry::new();
    let m = Mnemonic::from_entropy(&[4; 16]).unwrap();
    f.add_wallet("w", &m, Network::Regtest, AddressType::P2tr, PASSWORD);
    ok(&f, "", &["--wallet", "w", "label", "tx", TXID, "before"]);
    let before = export(&f, "w");
    let lines = [
        format!(r#"{{"type":"tx","ref":"{TXID}","label":"after"}}"#),
        r#"{"type":"future-type","ref":"anything","label":"x"}"#.to_owned(),
        r#"{"type":"tx","ref":"zz","label":"x"}"#.to_owned(),
        r#"{"type":"addr","ref":"bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c","label":"x"}"#
            .to_owned(),
        "this is not json".to_owned(),
        format!(r#"{{"type":"output","ref":"{TXID}:1","label":"cold","spendable":false}}"#),
        format!(r#"{{"type":"tx","ref":"{TXID}","spendable":false}}"#),
    ];
    let file = f.dir.path().join("import.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.display().to_string();

    let r = run(
        &f,
        "",
        &["--json", "--wallet", "w", "labels", "import", &file],
    )
    .expect_code(1);
    let j = r.json();
    assert_eq!(j["error"]["code"], "bad_label_file", "{j}");
    let bad: Vec<u64> = j["bad_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [3, 4, 5, 7], "every bad line, not the first: {j}");
    assert_eq!(j["ignored"][0]["line"], 2, "unknown types are ignored: {j}");
    let message = j["error"]["message"].as_str().unwrap();
    for want in [
        "line 3: bad tx ref",
        "line 4: bad addr ref",
        "line 5: not JSON",
        "line 7",
        "nothing was imported",
    ] {
        assert!(message.contains(want), "{want:?} in {message}");
    }
    assert_eq!(export(&f, "w"), before, "nothing half-imported");
    // Text mode says the same on stderr, and still changes nothing.
    let r = run(&f, "", &["--wallet", "w", "labels", "import", &file]).expect_code(1);
    assert!(r.stderr.contains("line 4: bad addr ref"), "{}", r.stderr);
    assert_eq!(export(&f, "w"), before);

    let j = ok(
        &f,
        "",
        &["--wallet", "w", "labels", "import", "--skip-bad", &file],
    );
    assert_eq!(j["imported"], 2, "{j}");
    let skipped: Vec<u64> = j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(skipped, [3, 4, 5, 7]);
    let after = records(&export(&f, "w"));
    let origin = "tr([";
    assert!(
        after
            .iter()
            .any(|r| r.contains(r#""label":"after""#) && r.contains(origin)),
        "{after:?}"
    );
    assert!(
        after.iter().any(|r| r.contains(r#""spendable":false"#)),
        "{after:?}"
    );
    assert_eq!(after.len(), 2);
}

#[test]
fn label_refuses_bad_refs_and_text_writing_nothing() {
    let f = Ferry::new();
    let m = Mnemonic::from_entropy(&[5; 16]).unwrap();
    f.add_wallet("w", &m, Network::Regtest, AddressType::P2wpkh, PASSWORD);
    let exists = f.dir.path().join("exists.jsonl");
    std::fs::write(&exists, "").unwrap();
    let exists = exists.display().to_string();
    let cases = [
        Refusal {
            args: vec!["label", "tx", "abc", "x"],
            exit: 1,
            code: "bad_txid",
            says: "not a txid",
        },
        Refusal {
            args: vec![
                "label",
                "addr",
                "bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c",
                "x",
            ],
            exit: 1,
            code: "bad_address",
            says: "this wallet is on regtest",
        },
        Refusal {
            args: vec!["label", "output", TXID, "x"],
            exit: 1,
            code: "bad_utxo",
            says: "TXID:INDEX",
        },
        Refusal {
            args: vec!["label", "tx", TXID, "two\nlines"],
            exit: 1,
            code: "bad_label",
            says: "one line",
        },
        Refusal {
            args: vec!["label", "tx", TXID, "x", "--spendable", "false"],
            exit: 1,
            code: "bad_label",
            says: "outputs only",
        },
        Refusal {
            args: vec!["labels", "import", "/nonexistent/labels.jsonl"],
            exit: 1,
            code: "bad_input",
            says: "cannot read",
        },
        Refusal {
            args: vec!["labels", "export", &exists],
            exit: 1,
            code: "file_exists",
            says: "--force",
        },
    ];
    let before = snapshot(f.dir.path());
    assert_refusals(&cases, |args| {
        let mut all = vec!["--json", "--wallet", "w"];
        all.extend_from_slice(args);
        run(&f, "", &all)
    });
    assert_eq!(snapshot(f.dir.path()), before, "a refusal writes nothing");
}

#[test]
fn a_version_2_wallet_is_upgraded_with_its_labels() {
    let f = Ferry::new();
    let dir = f.dir.path().join("wallets/old");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("wallet.sqlite");
    std::fs::copy(fixture("fixtures/wallet-v2.sqlite"), &db).unwrap();
    let version = || -> i32 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(), 2);
    let out = export(&f, "old");
    assert_eq!(version(), 3);
    let got = records(&out);
    for want in [
        r#"{"label":"from Alice","ref":"bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk","type":"addr"}"#,
        r#"{"label":"donations","ref":"bcrt1qd7spv5q28348xl4myc8zmh983w5jx32cs707jh","type":"addr"}"#,
        r#"{"label":"rent — March","ref":"f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd","type":"tx"}"#,
        r#"{"label":"change from rent","ref":"f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd:1","type":"output"}"#,
    ] {
        assert!(got.contains(want), "{want} in {got:?}");
    }
    assert_eq!(got.len(), 4);
    let a = ok(&f, "", &["--wallet", "old", "address", "--index", "0"]);
    assert_eq!(a["label"], "from Alice");
    // The new columns work on the upgraded file.
    ok(
        &f,
        "",
        &[
            "--wallet",
            "old",
            "label",
            "output",
            &format!("{TXID}:1"),
            "--spendable",
            "false",
        ],
    );
    let out = export(&f, "old");
    let output: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "output")
        .unwrap();
    assert_eq!(output["label"], "change from rent", "{out}");
    assert_eq!(output["spendable"], false, "{out}");
    assert_eq!(
        output.get("origin"),
        None,
        "a mark alone leaves the origin: {out}"
    );
}

/// `(history by txid, utxos by outpoint, address 0)` labels of the wallet, as shown.
type Shown = (
    BTreeMap<String, Value>,
    BTreeMap<String, (Value, Value)>,
    Value,
);

fn shown(f: &Ferry, backend: &str, wallet: &str) -> Shown {
    let history = ok(f, backend, &["--wallet", wallet, "history"]);
    let history = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["txid"].as_str().unwrap().to_owned(), h["label"].clone()))
        .collect();
    let utxos = ok(f, backend, &["--wallet", wallet, "utxos"]);
    let utxos = utxos
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                format!("{}:{}", u["txid"].as_str().unwrap(), u["vout"]),
                (u["label"].clone(), u["spendable"].clone()),
            )
        })
        .collect();
    let address = ok(f, backend, &["--wallet", wallet, "address", "--index", "0"])["label"].clone();
    (history, utxos, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imports_into_a_fresh_restore_with_the_same_labels() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let f = std::sync::Arc::new(Ferry::new());
    let mnemonic = Mnemonic::from_entropy(&[17; 16]).unwrap();
    let phrase = mnemonic.phrase().to_string();
    f.add_wallet(
        "alice",
        &mnemonic,
        Network::Regtest,
        AddressType::P2wpkh,
        PASSWORD,
    );
    let bob = Mnemonic::from_entropy(&[18; 16]).unwrap();
    f.add_wallet("bob", &bob, Network::Regtest, AddressType::P2tr, PASSWORD);

    let (f2, b) = (f.clone(), backend.clone());
    let (a0, a1, bob_addr) = tokio::task::spawn_blocking(move || {
        let a0 = ok(
            &f2,
            &b,
            &["--wallet", "alice", "address", "--label", "from the faucet"],
        );
        assert_eq!(a0["label"], "from the faucet");
        let a1 = ok(&f2, &b, &["--wallet", "alice", "address"]);
        assert_eq!(a1["label"], Value::Null);
        let bob_addr = ok(&f2, &b, &["--wallet", "bob", "address"]);
        let s = |v: &Value| v["address"].as_str().unwrap().to_owned();
        (s(&a0), s(&a1), s(&bob_addr))
    })
    .await
    .unwrap();
    let cold_txid = node.faucet(&a0, 300_000).await;
    let topup_txid = node.faucet(&a1, 200_000).await;
    node.mine(1, None).await;

    let (f2, b) = (f.clone(), backend.clone());
    let (expected, file) = tokio::task::spawn_blocking(move || {
        let (f, b) = (&*f2, b.as_str());
        let utxos = ok(f, b, &["--wallet", "alice", "utxos"]);
        let coin_of = |txid: &str| {
            let u = utxos
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["txid"] == txid)
                .unwrap();
            format!("{txid}:{}", u["vout"])
        };
        let (cold, topup) = (coin_of(&cold_txid), coin_of(&topup_txid));
        ok(
            f,
            b,
            &["--wallet", "alice", "label", "tx", &topup_txid, "top-up"],
        );
        let l = ok(
            f,
            b,
            &[
                "--wallet",
                "alice",
                "label",
                "output",
                &cold,
                "savings",
                "--spendable",
                "false",
            ],
        );
        assert_eq!(
            (l["label"].clone(), l["spendable"].clone()),
            (Value::from("savings"), Value::from(false))
        );

        // The frozen coin alone could pay this; send must take the other one.
        let sent = ok(
            f,
            b,
            &[
                "--wallet",
                "alice",
                "send",
                &bob_addr,
                "50000sat",
                "--fee-rate",
                "2",
                "--yes",
                "--label",
                "rent",
            ],
        );
        let tx = Transaction::from_hex(sent["hex"].as_str().unwrap()).unwrap();
        let spent: Vec<String> = tx
            .input
            .iter()
            .map(|i| i.previous_output.to_string())
            .collect();
        assert_eq!(
            spent,
            std::slice::from_ref(&topup),
            "the unspendable coin is left alone"
        );
        let rent = sent["txid"].as_str().unwrap().to_owned();
        // More than the spendable coins hold: refused, saying why.
        let r = run(
            f,
            b,
            &[
                "--json",
                "--wallet",
                "alice",
                "send",
                &bob_addr,
                "400000sat",
                "--fee-rate",
                "2",
                "--yes",
            ],
        )
        .expect_code(1);
        let j = r.json();
        assert_eq!(j["error"]["code"], "insufficient_funds", "{j}");
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("labelled unspendable"),
            "{j}"
        );
        let file = f.dir.path().join("alice-labels.jsonl");
        let file = file.display().to_string();
        let e = ok(f, b, &["--wallet", "alice", "labels", "export", &file]);
        assert_eq!(
            e["exported"], 5,
            "addr a0, tx top-up, output, tx rent, addr bob: {e}"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains(&format!(
                r#""type":"addr","ref":"{bob_addr}","label":"rent""#
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(r#""type":"tx","ref":"{rent}","label":"rent""#)),
            "{text}"
        );
        ((rent, topup, cold), file)
    })
    .await
    .unwrap();
    node.mine(1, None).await;

    let (f2, b, phrase2) = (f.clone(), backend.clone(), phrase.clone());
    tokio::task::spawn_blocking(move || {
        let (f, b) = (&*f2, b.as_str());
        let (rent, topup, cold) = expected;
        let before = shown(f, b, "alice");
        assert_eq!(before.0[&rent], "rent");
        assert_eq!(
            before.0[&topup.split(':').next().unwrap().to_owned()],
            "top-up"
        );
        assert_eq!(
            before.1[&cold],
            (Value::from("savings"), Value::from(false))
        );
        assert_eq!(before.2, "from the faucet");
        assert!(!before.1.contains_key(&topup), "spent");

        // A fresh restore of the same mnemonic, elsewhere: no labels until imported.
        let fresh = Ferry::new();
        fresh
            .run_with_stdin(
                &[
                    "--json",
                    "restore",
                    "--mnemonic-stdin",
                    "--network",
                    "regtest",
                    "--address-type",
                    "p2wpkh",
                ],
                &format!("{phrase2}\n"),
                &[("FERRY_PASSWORD", PASSWORD)],
            )
            .expect_code(0);
        let unlabelled = shown(&fresh, b, "default");
        assert_eq!(unlabelled.2, Value::Null);
        let r = ok(&fresh, b, &["labels", "import", &file]);
        assert_eq!(r["imported"], 5, "{r}");
        assert_eq!(
            shown(&fresh, b, "default"),
            before,
            "the same labels after the import"
        );
        assert_eq!(
            records(&export(&fresh, "default")),
            records(&std::fs::read_to_string(&file).unwrap())
        );
    })
    .await
    .unwrap();
    node.stop().await;
}
