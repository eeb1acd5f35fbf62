//! The offline commands on a terminal, through a pseudo-terminal as a person would use
//! them (issue 13): `ferry sign` shows what the PSBT pays and asks — "no" signs nothing,
//! "yes" asks the password (hidden) and signs; `ferry psbt create --qr` pages its BBQr
//! frames one per key press.

use std::process::Command;
use std::time::Duration;

use crate::common::cli::Ferry;
use crate::common::devnet::Node;
use expectrl::{Eof, Expect, Session};
use ferry::keys::{KeyChain, Mnemonic};
use ferry::network::Network;
use ferry::psbt::Psbt;
use ferry::script::{AddressType, ScriptBuf};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::{Amount, FeeRate};
use ferry::wallet::builder::{PaymentRequest, Recipient, WalletUtxo, build_payment};
use ferry::wallet::rng::WalletRng;
use ferry::wallet::{Wallet, WalletPaths};

const PASSWORD: &str = "pw for tests";

fn spawn(f: &Ferry, args: &[&str], env: &[(&str, &str)]) -> expectrl::session::OsSession {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("stty echo && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env("FERRY_DATA_DIR", f.dir.path())
        .env_remove("FERRY_PASSWORD")
        .env_remove("FERRY_BACKEND")
        .env("TERM", "dumb");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

fn send_secret(s: &mut expectrl::session::OsSession, answer: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.get_process().get_echo().unwrap() {
        assert!(std::time::Instant::now() < deadline, "no hidden prompt");
        std::thread::sleep(Duration::from_millis(5));
    }
    s.send_line(answer).unwrap();
}

fn finish(mut s: expectrl::session::OsSession) -> (i32, String) {
    let rest = s.expect(Eof).unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(rest.before()),
        String::from_utf8_lossy(rest.as_bytes())
    );
    match s.get_process_mut().wait().unwrap() {
        expectrl::process::unix::WaitStatus::Exited(_, code) => (code, out),
        other => panic!("ferry did not exit normally: {other:?}"),
    }
}

/// A PSBT paying 100,000 sat from the wallet's receive/0 and receive/1 coins, with change.
fn payment_psbt(wallet: &Wallet) -> Psbt {
    let account = wallet.account();
    let spk = |chain, i| account.output_at(chain, i).unwrap().0.script_pubkey;
    let funding = Transaction {
        version: 2,
        lock_time: 0,
        input: vec![TxIn::new(
            OutPoint {
                txid: Txid::from_byte_array([9; 32]),
                vout: 0,
            },
            TxIn::SEQUENCE_FINAL,
        )],
        output: vec![
            TxOut {
                value: Amount::from_sat(80_000),
                script_pubkey: spk(KeyChain::Receive, 0),
            },
            TxOut {
                value: Amount::from_sat(70_000),
                script_pubkey: spk(KeyChain::Receive, 1),
            },
        ],
    };
    let coins: Vec<WalletUtxo> = (0..2u32)
        .map(|i| WalletUtxo {
            outpoint: OutPoint {
                txid: funding.txid(),
                vout: i,
            },
            txout: funding.output[i as usize].clone(),
            chain: KeyChain::Receive,
            index: i,
            height: Some(1),
        })
        .collect();
    let req = PaymentRequest {
        recipients: vec![Recipient {
            script_pubkey: ScriptBuf::new_p2wpkh(&[3; 20]),
            amount: Amount::from_sat(100_000),
        }],
        send_max: false,
        fee_rate: FeeRate::from_sat_per_kvb(2_000),
        min_fee_rate: FeeRate::MIN_RELAY,
        change_script: spk(KeyChain::Change, 0),
        rbf: true,
        tip_height: 10,
        allow_high_fee: false,
        coin_control: Vec::new(),
    };
    let built = build_payment(&req, &coins, &mut WalletRng::seeded(1)).unwrap();
    ferry::wallet::psbt::psbt_for_payment(account, &built, Some(0), &[funding]).unwrap()
}

#[test]
fn sign_shows_what_it_pays_and_asks_first() {
    let f = Ferry::new();
    let m = Mnemonic::from_entropy(&[50; 16]).unwrap();
    f.add_wallet(
        "default",
        &m,
        Network::Regtest,
        AddressType::P2wpkh,
        PASSWORD,
    );
    let wallet = Wallet::open(WalletPaths::new(f.dir.path(), "default").unwrap()).unwrap();
    let psbt = payment_psbt(&wallet);
    let file = f.dir.path().join("pay.psbt");
    std::fs::write(&file, psbt.to_base64()).unwrap();
    let path = file.to_str().unwrap();

    // "No": nothing is signed, nothing printed but the refusal.
    let mut s = spawn(&f, &["sign", path], &[]);
    let shown = s.expect("Sign it?").unwrap();
    let shown = String::from_utf8_lossy(shown.before()).into_owned();
    for part in [
        "Sign this PSBT",
        "100000 sat",
        "ours (change 0)",
        "fee:",
        "sat/vB",
        "ours (receive 0)",
        "ours (receive 1)",
    ] {
        assert!(shown.contains(part), "{part:?} not in {shown}");
    }
    s.send("n").unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cancelled"), "{out}");
    assert!(!out.contains("cHNidP8"), "nothing signed: {out}");

    // "Yes": the password, hidden, then the signed PSBT.
    let mut s = spawn(&f, &["sign", path], &[]);
    s.expect("Sign it?").unwrap();
    s.send("y").unwrap();
    s.expect("Wallet password").unwrap();
    send_secret(&mut s, PASSWORD);
    s.expect("signed 2 input(s)").unwrap();
    let (code, out) = finish(s);
    assert_eq!(code, 0, "{out}");
    let b64 = out
        .split_whitespace()
        .find(|w| w.starts_with("cHNidP8"))
        .unwrap_or_else(|| panic!("no PSBT in {out}"));
    let signed = Psbt::from_base64(b64).unwrap();
    assert!(signed.inputs.iter().all(|i| i.partial_sigs.len() == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psbt_create_qr_pages_frames_one_per_key_press() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let f = std::sync::Arc::new(Ferry::new());
    let m = Mnemonic::from_entropy(&[51; 16]).unwrap();
    f.add_wallet("default", &m, Network::Regtest, AddressType::P2tr, PASSWORD);
    let wallet = Wallet::open(WalletPaths::new(f.dir.path(), "default").unwrap()).unwrap();
    let addr = wallet.address_at(KeyChain::Receive, 0).unwrap().address;
    for _ in 0..10 {
        node.faucet(&addr, 20_000).await;
    }
    node.mine(1, None).await;
    let dest = node.faucet_address();
    let (f2, b) = (f.clone(), backend.clone());
    tokio::task::spawn_blocking(move || {
        let mut s = spawn(
            &f2,
            &["psbt", "create", &dest, "--max", "--fee-rate", "1", "--qr"],
            &[("FERRY_BACKEND", &b)],
        );
        let first = s
            .expect(expectrl::Regex("BBQr frame 1 of ([0-9]+)"))
            .unwrap();
        let n: usize = String::from_utf8_lossy(&first[1]).parse().unwrap();
        assert!(n > 1, "ten taproot inputs need several frames");
        for i in 1..n {
            s.expect("Enter for the next frame").unwrap();
            s.send("\r").unwrap();
            s.expect(format!("BBQr frame {} of {n}", i + 1).as_str())
                .unwrap();
        }
        let (code, out) = finish(s);
        assert_eq!(code, 0, "{out}");
        let b64 = out
            .split_whitespace()
            .find(|w| w.starts_with("cHNidP8"))
            .unwrap_or_else(|| panic!("no PSBT after the frames: {out}"));
        assert_eq!(Psbt::from_base64(b64).unwrap().inputs.len(), 10);
    })
    .await
    .unwrap();
}
