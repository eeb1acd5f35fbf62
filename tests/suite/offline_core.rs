//! ferry's PSBTs against a real Bitcoin Core's PSBT RPCs (issue 13), which need no Core
//! wallet: `bitcoind -regtest -txindex` from BITCOIND_EXE (skipped, saying so, without it).
//!
//! - A PSBT from Core's `createpsbt` (version 2, its default, and version 0) updated by
//!   `utxoupdatepsbt` with the descriptors `ferry export descriptors` prints is signed by
//!   `ferry sign`, finalized by Core's `finalizepsbt` and accepted by `testmempoolaccept`,
//!   for all four address types; the PSBT comes back in the version it went in.
//! - A `ferry psbt create` PSBT passes Core's `analyzepsbt` (next role: signer, fee known,
//!   Core's size estimate against ferry's), and `ferry sign` + Core `finalizepsbt` +
//!   `sendrawtransaction` confirms; ferry's finalizer gives Core's transaction byte for byte.
//! - `ferry psbt combine` of two partial PSBTs (two wallets' inputs) equals Core's
//!   `combinepsbt` byte for byte, in both versions.

use crate::common::bitcoin_core::story::{Wallets, blocking};
use crate::common::bitcoin_core::{Bitcoind, CoreAuth, Rpc, bitcoind_exe};
use ferry::psbt::Psbt;
use ferry::script::AddressType;
use serde_json::{Value, json};

fn btc(sat: u64) -> Value {
    json!(format!("{}.{:08}", sat / 100_000_000, sat % 100_000_000))
}

fn descriptors(w: &Wallets, name: &str) -> Vec<String> {
    let d = w.ok(&["--json", "--wallet", name, "export", "descriptors"]);
    vec![
        d["receive"].as_str().unwrap().to_owned(),
        d["change"].as_str().unwrap().to_owned(),
    ]
}

/// `ferry sign --yes` on a base64 PSBT through stdin; the report.
fn sign(w: &Wallets, name: &str, b64: &str) -> Value {
    w.f.run_with_stdin(
        &["--json", "--wallet", name, "sign", "-", "--yes"],
        b64,
        &[
            ("FERRY_BACKEND", "http://127.0.0.1:9/api"),
            (
                "FERRY_PASSWORD",
                crate::common::bitcoin_core::story::PASSWORD,
            ),
        ],
    )
    .expect_code(0)
    .json()
}

/// Four wallets, one per address type, each with two confirmed coins, on a fresh node.
async fn funded(rpc: &Rpc, w: &Wallets) -> Vec<String> {
    w.make("miner", 1, AddressType::P2wpkh);
    let names: Vec<String> = AddressType::ALL
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    for (i, t) in AddressType::ALL.iter().enumerate() {
        w.make(&names[i], 60 + i as u8, *t);
    }
    let w2 = w.clone();
    let miner = blocking(move || w2.address("miner")).await;
    rpc.mine(101, &miner).await;
    let (w2, n2) = (w.clone(), names.clone());
    blocking(move || {
        for name in &n2 {
            for amount in [2_000_000, 1_500_000] {
                w2.send("miner", &w2.address(name), amount, &["--fee-rate", "2"]);
            }
        }
    })
    .await;
    rpc.mine(1, &miner).await;
    names
}

fn coins(w: &Wallets, name: &str) -> Vec<Value> {
    w.ok(&["--json", "--wallet", name, "utxos"])
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_psbts_are_signed_by_ferry_and_ferrys_by_core_roles() {
    let Some(exe) = bitcoind_exe("core_psbts_are_signed_by_ferry_and_ferrys_by_core_roles") else {
        return;
    };
    let node = Bitcoind::start_with(&exe, CoreAuth::Cookie, &["-txindex=1"]).await;
    let rpc = node.rpc.clone();
    let w = Wallets::new(&node.backend_url());
    let names = funded(&rpc, &w).await;
    // Core has no wallet: payments go to a ferry wallet nobody spends from.
    w.make("sink", 99, AddressType::P2wpkh);
    let w2 = w.clone();
    let dest = blocking(move || w2.address("sink")).await;

    // 1. Core creates (v2 and v0), ferry signs, Core finalizes and accepts.
    for name in &names {
        let (w2, n2) = (w.clone(), name.clone());
        let (coin, descs) =
            blocking(move || (coins(&w2, &n2)[0].clone(), descriptors(&w2, &n2))).await;
        let value = coin["value_sat"].as_u64().unwrap();
        for version in [2, 0] {
            let created = rpc
                .call(
                    "createpsbt",
                    json!([
                        [{"txid": coin["txid"], "vout": coin["vout"]}],
                        [{dest.clone(): btc(value - 2_000)}],
                        0, true, 2, version
                    ]),
                )
                .await;
            let updated = rpc.call("utxoupdatepsbt", json!([created, descs])).await;
            let b64 = updated.as_str().unwrap().to_owned();
            assert_eq!(Psbt::from_base64(&b64).unwrap().psbt_version(), version);
            let (w2, n2) = (w.clone(), name.clone());
            let signed = blocking(move || sign(&w2, &n2, &b64)).await;
            assert_eq!(
                signed["signed_inputs"],
                json!([0]),
                "{name} v{version}: {signed}"
            );
            assert_eq!(signed["fee_sat"], 2_000);
            assert_eq!(signed["psbt_version"], version);
            let ferry_signed = Psbt::from_base64(signed["psbt"].as_str().unwrap()).unwrap();
            assert_eq!(
                ferry_signed.psbt_version(),
                version,
                "written back in its version"
            );
            let done = rpc.call("finalizepsbt", json!([signed["psbt"]])).await;
            assert_eq!(done["complete"], true, "{name} v{version}: {done}");
            rpc.test_accept(done["hex"].as_str().unwrap())
                .await
                .unwrap_or_else(|e| panic!("{name} v{version}: {e}"));
            // ferry's own finalizer and decoder on Core's PSBT, in its version.
            let (f2, p) = (w.f.clone(), signed["psbt"].as_str().unwrap().to_owned());
            let (fin, dec) = blocking(move || {
                let fin = f2
                    .run_with_stdin(&["--json", "psbt", "finalize", "-"], &p, &[])
                    .expect_code(0)
                    .json();
                let dec = f2
                    .run_with_stdin(&["--json", "psbt", "decode", "-"], &p, &[])
                    .expect_code(0)
                    .json();
                (fin, dec)
            })
            .await;
            assert_eq!(
                fin["hex"], done["hex"],
                "{name} v{version}: ferry finalizes as Core"
            );
            assert_eq!(dec["fee_sat"], 2_000);
            let core_dec = rpc.call("decodepsbt", json!([signed["psbt"]])).await;
            assert_eq!(
                core_dec["psbt_version"], version,
                "Core reads ferry's output"
            );
        }
    }

    // A watch-only wallet from Core's own rendering of the descriptor (getdescriptorinfo
    // adds the checksum, writes h for hardened steps): it sees the same coins.
    let (w2, n2) = (w.clone(), names[3].clone());
    let descs = blocking(move || descriptors(&w2, &n2)).await;
    let body = descs[0].split_once('#').unwrap().0.to_owned();
    let info = rpc.call("getdescriptorinfo", json!([body])).await;
    let core_desc = info["descriptor"].as_str().unwrap().to_owned();
    let (w2, n2) = (w.clone(), names[3].clone());
    blocking(move || {
        w2.f.run_with_stdin(
            &[
                "--json",
                "--wallet",
                "watch",
                "create",
                "--watch-only",
                "--network",
                "regtest",
                "--descriptor",
                &core_desc,
            ],
            "",
            &[],
        )
        .expect_code(0);
        assert_eq!(w2.balance("watch"), w2.balance(&n2), "{core_desc}");
        eprintln!("Core's rendering: {core_desc}");
    })
    .await;

    // 2. ferry creates, Core analyzes; ferry signs, both finalize alike; Core mines it.
    for name in &names {
        let (w2, n2, d2) = (w.clone(), name.clone(), dest.clone());
        let created = blocking(move || {
            w2.f.run_with_stdin(
                &[
                    "--json",
                    "--wallet",
                    &n2,
                    "psbt",
                    "create",
                    &d2,
                    "1000000sat",
                    "--fee-rate",
                    "3",
                ],
                "",
                &[("FERRY_BACKEND", &w2.backend)],
            )
            .expect_code(0)
            .json()
        })
        .await;
        let b64 = created["psbt"].as_str().unwrap().to_owned();
        let analysis = rpc.call("analyzepsbt", json!([b64])).await;
        let ferry_psbt = Psbt::from_base64(&b64).unwrap();
        // What Core's own updater makes of the first coin, for comparison.
        let (w2, n2) = (w.clone(), name.clone());
        let descs = blocking(move || descriptors(&w2, &n2)).await;
        let prevout = ferry_psbt.unsigned_tx.input[0].previous_output;
        let spent = ferry_psbt.inputs[0]
            .spent_output(prevout.vout)
            .unwrap()
            .value
            .to_sat();
        let core_made = rpc
            .call(
                "createpsbt",
                json!([
                    [{"txid": prevout.txid.to_string(), "vout": prevout.vout}],
                    [{dest.clone(): btc(spent - 2_000)}],
                    0, true, 2, 0
                ]),
            )
            .await;
        let core_updated = rpc.call("utxoupdatepsbt", json!([core_made, descs])).await;
        let core_psbt = Psbt::from_base64(core_updated.as_str().unwrap()).unwrap();
        let (ours_in, core_in) = (&ferry_psbt.inputs[0], &core_psbt.inputs[0]);
        assert_eq!(ours_in.bip32_derivation, core_in.bip32_derivation, "{name}");
        assert_eq!(ours_in.tap_internal_key, core_in.tap_internal_key, "{name}");
        assert_eq!(
            ours_in.tap_bip32_derivation, core_in.tap_bip32_derivation,
            "{name}"
        );
        assert_eq!(ours_in.redeem_script, core_in.redeem_script, "{name}");
        if name == "p2tr" {
            // Core's analyzepsbt never counts a taproot key-path signature as missing
            // (SignTaproot does not fill missing_sigs), so it says "updater" even for its
            // own fully updated PSBT: ferry's gets the same verdict as Core's own.
            let core_verdict = rpc.call("analyzepsbt", json!([core_updated])).await;
            assert_eq!(analysis["next"], core_verdict["next"], "{name}: {analysis}");
        } else {
            assert_eq!(analysis["next"], "signer", "{name}: {analysis}");
        }
        let core_fee = (analysis["fee"].as_f64().unwrap() * 1e8).round() as u64;
        assert_eq!(core_fee, created["fee_sat"].as_u64().unwrap(), "{name}");
        let core_vsize = analysis["estimated_vsize"].as_u64().unwrap();
        let ferry_vsize = created["vsize"].as_u64().unwrap();
        eprintln!("{name}: estimated vsize ferry {ferry_vsize}, Core {core_vsize}");
        assert!(
            ferry_vsize >= core_vsize,
            "{name}: ferry's estimate must not be below Core's"
        );
        for input in analysis["inputs"].as_array().unwrap() {
            assert_eq!(input["has_utxo"], true);
            assert_eq!(input["next"], analysis["next"]);
            assert!(
                input["missing"]["pubkeys"].is_null(),
                "origins present: {input}"
            );
        }
        let (w2, n2) = (w.clone(), name.clone());
        let signed = blocking(move || sign(&w2, &n2, &b64)).await;
        let core_final = rpc.call("finalizepsbt", json!([signed["psbt"]])).await;
        assert_eq!(core_final["complete"], true);
        let f2 = w.f.clone();
        let psbt_file = f2.dir.path().join(format!("{name}.signed"));
        std::fs::write(&psbt_file, signed["psbt"].as_str().unwrap()).unwrap();
        let ours = blocking(move || {
            f2.run(&["--json", "psbt", "finalize", psbt_file.to_str().unwrap()])
                .expect_code(0)
                .json()
        })
        .await;
        assert_eq!(
            ours["hex"], core_final["hex"],
            "{name}: ferry's finalizer = Core's"
        );
        let txid = rpc
            .call("sendrawtransaction", json!([core_final["hex"]]))
            .await;
        assert!(
            rpc.mempool()
                .await
                .contains(&txid.as_str().unwrap().to_owned())
        );
    }
    let burn = dest.as_str();
    rpc.mine(1, burn).await;
    assert!(rpc.mempool().await.is_empty(), "all four mined");

    // 3. Two wallets' inputs in one PSBT, each signs its own; combine = Core's, byte for byte.
    let (w2, n2) = (w.clone(), names.clone());
    let (a, b, da, db) = blocking(move || {
        (
            coins(&w2, &n2[2])[0].clone(),
            coins(&w2, &n2[3])[0].clone(),
            descriptors(&w2, &n2[2]),
            descriptors(&w2, &n2[3]),
        )
    })
    .await;
    let total = a["value_sat"].as_u64().unwrap() + b["value_sat"].as_u64().unwrap();
    for version in [2, 0] {
        let created = rpc
            .call(
                "createpsbt",
                json!([
                    [{"txid": a["txid"], "vout": a["vout"]}, {"txid": b["txid"], "vout": b["vout"]}],
                    [{burn: btc(total - 3_000)}],
                    0, true, 2, version
                ]),
            )
            .await;
        let all: Vec<String> = da.iter().chain(&db).cloned().collect();
        let updated = rpc.call("utxoupdatepsbt", json!([created, all])).await;
        let b64 = updated.as_str().unwrap().to_owned();
        let (w2, n2, b2) = (w.clone(), names.clone(), b64.clone());
        let (sa, sb) = blocking(move || (sign(&w2, &n2[2], &b2), sign(&w2, &n2[3], &b2))).await;
        assert_eq!(sa["signed_inputs"], json!([0]));
        assert_eq!(sb["signed_inputs"], json!([1]));
        assert_eq!(sa["cannot_sign"], json!([1]));
        let core = rpc
            .call("combinepsbt", json!([[sa["psbt"], sb["psbt"]]]))
            .await;
        let f2 = w.f.clone();
        let (pa, pb) = (
            f2.dir.path().join(format!("a{version}.psbt")),
            f2.dir.path().join(format!("b{version}.psbt")),
        );
        std::fs::write(&pa, sa["psbt"].as_str().unwrap()).unwrap();
        std::fs::write(&pb, sb["psbt"].as_str().unwrap()).unwrap();
        let ours = blocking(move || {
            f2.run(&[
                "--json",
                "psbt",
                "combine",
                pa.to_str().unwrap(),
                pb.to_str().unwrap(),
            ])
            .expect_code(0)
            .json()
        })
        .await;
        assert_eq!(
            ours["psbt"], core,
            "v{version}: ferry's combiner = Core's, byte for byte"
        );
        let done = rpc.call("finalizepsbt", json!([core])).await;
        assert_eq!(done["complete"], true);
        rpc.test_accept(done["hex"].as_str().unwrap())
            .await
            .unwrap();
    }
    node.stop().await;
}
