//! Offline signing through the real binary on a devnet (issue 13): for every address type a
//! wallet makes an unsigned PSBT without its password (`ferry psbt create`), a second
//! install holding the same keys and no reachable backend signs it (`ferry sign
//! --finalize`), a third pushes the result (`ferry broadcast`); balances come out exact.
//! The PSBT roles (`combine`, `finalize`, `extract`) on the way, and bad input refused with
//! its code, nothing written.

use crate::common::cli::{Ferry, Run, snapshot};
use crate::common::devnet::Node;
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::psbt::Psbt;
use ferry::script::AddressType;
use ferry::tx::Transaction;
use serde_json::Value;

const PASSWORD: &str = "pw for tests";
/// Nothing listens here: the offline signer's backend.
const DEAD: &str = "http://127.0.0.1:9/api";

fn run(f: &Ferry, backend: &str, args: &[&str], stdin: &str, password: bool) -> Run {
    let mut env = vec![("FERRY_BACKEND", backend)];
    if password {
        env.push(("FERRY_PASSWORD", PASSWORD));
    }
    f.run_with_stdin(args, stdin, &env)
}

fn wallet(f: &Ferry, name: &str, seed: u8, ty: AddressType, network: Network) {
    let m = Mnemonic::from_entropy(&[seed; 16]).unwrap();
    f.add_wallet(name, &m, network, ty, PASSWORD);
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn write(f: &Ferry, name: &str, text: &str) -> String {
    let p = f.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psbt_create_then_offline_sign_then_broadcast_for_every_type() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let online = std::sync::Arc::new(Ferry::new());
    let offline = std::sync::Arc::new(Ferry::new());
    let relay = std::sync::Arc::new(Ferry::new());
    for (i, ty) in AddressType::ALL.iter().enumerate() {
        let name = ty.name();
        wallet(&online, name, 40 + i as u8, *ty, Network::Regtest);
        wallet(&offline, name, 40 + i as u8, *ty, Network::Regtest);
        let (o, b) = (online.clone(), backend.clone());
        let addr = blocking(move || {
            run(&o, &b, &["--json", "--wallet", name, "address"], "", false)
                .expect_code(0)
                .json()
        })
        .await;
        let addr = addr["address"].as_str().unwrap().to_owned();
        node.faucet(&addr, 300_000).await;
        node.faucet(&addr, 200_000).await;
    }
    node.mine(1, None).await;
    let dest = node.faucet_address();
    for ty in AddressType::ALL {
        let name = ty.name();
        let (o, off, r, b, d) = (
            online.clone(),
            offline.clone(),
            relay.clone(),
            backend.clone(),
            dest.clone(),
        );
        let (txid, fee) = blocking(move || {
            // Watch-only side: no password in the environment, none asked.
            let created = run(
                &o,
                &b,
                &[
                    "--json",
                    "--wallet",
                    name,
                    "psbt",
                    "create",
                    &d,
                    "350000sat",
                    "--fee-rate",
                    "3",
                ],
                "",
                false,
            )
            .expect_code(0)
            .json();
            let b64 = created["psbt"].as_str().unwrap().to_owned();
            let fee = created["fee_sat"].as_u64().unwrap();
            assert!(created["fee_rate"].as_f64().unwrap() >= 3.0, "{created}");
            let psbt = Psbt::from_base64(&b64).unwrap();
            assert_eq!(psbt.fee().unwrap().to_sat(), fee);
            assert_eq!(psbt.unsigned_tx.input.len(), 2, "{name}");

            // Offline side: a dead backend, never contacted.
            let file = write(&off, &format!("{name}.psbt"), &b64);
            let before = snapshot(off.dir.path());
            let no = run(
                &off,
                DEAD,
                &["--json", "--wallet", name, "sign", &file],
                "",
                true,
            )
            .expect_code(1)
            .json();
            assert_eq!(no["error"]["code"], "confirmation_required", "{no}");
            assert_eq!(snapshot(off.dir.path()), before, "a refusal writes nothing");
            // Half-way: signed but not finalized, then the roles do the rest.
            let signed = run(
                &off,
                DEAD,
                &["--json", "--wallet", name, "sign", &file, "--yes"],
                "",
                true,
            )
            .expect_code(0)
            .json();
            assert_eq!(
                signed["signed_inputs"],
                serde_json::json!([0, 1]),
                "{signed}"
            );
            assert_eq!(signed["complete"], false);
            assert_eq!(signed["fee_sat"].as_u64().unwrap(), fee);
            assert_eq!(signed["cannot_sign"], serde_json::json!([]));
            assert_eq!(
                signed["ours_outputs"].as_array().unwrap().len(),
                1,
                "change"
            );
            let signed_file = write(
                &off,
                &format!("{name}.signed"),
                signed["psbt"].as_str().unwrap(),
            );
            let combined = run(
                &off,
                DEAD,
                &["--json", "psbt", "combine", &file, &signed_file],
                "",
                false,
            )
            .expect_code(0)
            .json();
            let a = Psbt::from_base64(combined["psbt"].as_str().unwrap()).unwrap();
            let b2 = Psbt::from_base64(signed["psbt"].as_str().unwrap()).unwrap();
            assert_eq!(a.inputs.len(), b2.inputs.len());
            for (x, y) in a.inputs.iter().zip(&b2.inputs) {
                assert_eq!(x.partial_sigs, y.partial_sigs);
                assert_eq!(x.tap_key_sig, y.tap_key_sig);
            }
            let fin = run(
                &off,
                DEAD,
                &["--json", "psbt", "finalize", &signed_file],
                "",
                false,
            )
            .expect_code(0)
            .json();
            assert_eq!(fin["complete"], true);
            let fin_file = write(
                &off,
                &format!("{name}.final"),
                fin["psbt"].as_str().unwrap(),
            );
            let ext = run(
                &off,
                DEAD,
                &["--json", "psbt", "extract", &fin_file],
                "",
                false,
            )
            .expect_code(0)
            .json();
            assert_eq!(ext["hex"], fin["hex"]);
            // And in one step.
            let one = run(
                &off,
                DEAD,
                &[
                    "--json",
                    "--wallet",
                    name,
                    "sign",
                    "-",
                    "--yes",
                    "--finalize",
                ],
                &b64,
                true,
            )
            .expect_code(0)
            .json();
            assert_eq!(one["complete"], true, "{one}");
            let tx = Transaction::from_hex(one["hex"].as_str().unwrap()).unwrap();
            // ECDSA is deterministic, BIP-0340 signatures are not: compare the transaction.
            assert_eq!(tx.txid().to_string(), ext["txid"].as_str().unwrap());
            // A third install with no wallet at all pushes it.
            let hex_file = write(&r, &format!("{name}.hex"), one["hex"].as_str().unwrap());
            let sent = run(
                &r,
                &b,
                &[
                    "--json",
                    "broadcast",
                    &std::fs::read_to_string(&hex_file).unwrap(),
                ],
                "",
                false,
            )
            .expect_code(0)
            .json();
            (sent["txid"].as_str().unwrap().to_owned(), fee)
        })
        .await;
        let pool = node.get_json("/api/mempool/txids").await;
        assert!(
            pool.as_array()
                .unwrap()
                .iter()
                .any(|t| t == &Value::from(txid.clone()))
        );
        node.mine(1, None).await;
        let (o, b) = (online.clone(), backend.clone());
        let bal = blocking(move || {
            run(&o, &b, &["--json", "--wallet", name, "balance"], "", false)
                .expect_code(0)
                .json()
        })
        .await;
        assert_eq!(
            bal["confirmed"].as_u64().unwrap(),
            500_000 - 350_000 - fee,
            "{name}"
        );
        assert_eq!(bal["unconfirmed"].as_u64().unwrap(), 0);
    }
}

/// A PSBT with one input of `name`'s wallet, made by `psbt create`, for the refusals.
async fn one_psbt(node: &Node, f: &Ferry, name: &str, ty: AddressType) -> String {
    let backend = format!("{}/api", node.base);
    wallet(f, name, 77, ty, Network::Regtest);
    let addr = run(
        f,
        &backend,
        &["--json", "--wallet", name, "address"],
        "",
        false,
    )
    .expect_code(0)
    .json()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    node.faucet(&addr, 100_000).await;
    node.mine(1, None).await;
    let dest = node.faucet_address();
    run(
        f,
        &backend,
        &[
            "--json",
            "--wallet",
            name,
            "psbt",
            "create",
            &dest,
            "50000sat",
            "--fee-rate",
            "2",
        ],
        "",
        false,
    )
    .expect_code(0)
    .json()["psbt"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_psbts_are_refused_with_their_code_and_nothing_written() {
    let node = Node::start_fresh().await;
    let f = Ferry::new();
    let legacy = one_psbt(&node, &f, "legacy", AddressType::P2pkh).await;
    let segwit = one_psbt(&node, &f, "segwit", AddressType::P2wpkh).await;
    let m = Mnemonic::from_entropy(&[77; 16]).unwrap();
    f.add_wallet(
        "mainnet",
        &m,
        Network::Bitcoin,
        AddressType::P2wpkh,
        PASSWORD,
    );
    wallet(&f, "stranger", 5, AddressType::P2wpkh, Network::Regtest);
    let before = snapshot(f.dir.path());
    let sign = |wallet: &str, text: &str, password: &str| {
        f.run_with_stdin(
            &["--json", "--wallet", wallet, "sign", "-", "--yes"],
            text,
            &[("FERRY_BACKEND", DEAD), ("FERRY_PASSWORD", password)],
        )
    };
    let code = |r: Run, exit: i32| r.expect_code(exit).json()["error"]["code"].clone();

    // Truncated, and not a PSBT at all.
    let bytes = base64_decode(&segwit);
    let truncated = base64_encode(&bytes[..bytes.len() - 10]);
    assert_eq!(
        code(sign("segwit", &truncated, PASSWORD), 1),
        "malformed_psbt"
    );
    assert_eq!(code(sign("segwit", "hello", PASSWORD), 1), "malformed_psbt");

    // A lying non-witness UTXO: another transaction in place of the one spent.
    let mut lie = Psbt::from_base64(&legacy).unwrap();
    let mut other = lie.inputs[0].non_witness_utxo.clone().unwrap();
    other.lock_time ^= 1;
    lie.inputs[0].non_witness_utxo = Some(other);
    let r = sign("legacy", &lie.to_base64(), PASSWORD).expect_code(1);
    let j = r.json();
    assert_eq!(j["error"]["code"], "utxo_mismatch", "{j}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the one it spends")
    );

    // Fee unknown: the UTXO removed.
    let mut blind = Psbt::from_base64(&segwit).unwrap();
    blind.inputs[0].witness_utxo = None;
    blind.inputs[0].non_witness_utxo = None;
    let j = sign("segwit", &blind.to_base64(), PASSWORD)
        .expect_code(1)
        .json();
    assert_eq!(j["error"]["code"], "unknown_fee", "{j}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fee cannot be known")
    );

    // A sighash type that lets others change what the signature pays.
    let mut none = Psbt::from_base64(&segwit).unwrap();
    none.inputs[0].sighash_type = Some(0x82);
    let j = sign("segwit", &none.to_base64(), PASSWORD)
        .expect_code(1)
        .json();
    assert_eq!(j["error"]["code"], "unsafe_sighash", "{j}");

    // Another network's wallet with the same seed, and a stranger's wallet.
    assert_eq!(code(sign("mainnet", &segwit, PASSWORD), 1), "wrong_network");
    assert_eq!(
        code(sign("stranger", &segwit, PASSWORD), 1),
        "nothing_to_sign"
    );

    // Wrong password: exit 3.
    assert_eq!(code(sign("segwit", &segwit, "nope"), 3), "wrong_password");

    // Combining PSBTs of different transactions.
    let a = write_tmp(&f, "a.psbt", &legacy);
    let b = write_tmp(&f, "b.psbt", &segwit);
    let r = f.run(&["--json", "psbt", "combine", &a, &b]);
    assert_eq!(code(r, 1), "cannot_combine");
    let r = f.run(&["--json", "psbt", "extract", &b]);
    assert_eq!(code(r, 1), "not_finalized");
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
    assert_eq!(snapshot(f.dir.path()), before, "refusals write nothing");
}

fn write_tmp(f: &Ferry, name: &str, text: &str) -> String {
    write(f, name, text)
}

fn base64_decode(s: &str) -> Vec<u8> {
    Psbt::from_base64(s).unwrap().serialize()
}

fn base64_encode(b: &[u8]) -> String {
    use std::fmt::Write;
    // Hex is one of the forms `sign` reads, so a truncated hex PSBT stands in for base64.
    b.iter().fold(String::new(), |mut s, x| {
        write!(s, "{x:02x}").unwrap();
        s
    })
}
