//! ferry's offline signing against BDK (issue 13), on a devnet, for all four address types:
//! a BDK wallet built from `ferry export descriptors` (watch-only) makes a PSBT that `ferry
//! sign` signs and BDK finalizes and the devnet accepts; and a PSBT from `ferry psbt create`
//! is signed and finalized by BDK's own signer (from the same seed) and accepted. Balances
//! come out exact.

use std::str::FromStr;

use crate::common::cli::Ferry;
use crate::common::devnet::Node;
use bdk_wallet::bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bdk_wallet::bitcoin::secp256k1::Secp256k1;
use bdk_wallet::bitcoin::{Address, Amount, FeeRate, Network, NetworkKind, Psbt, Transaction};
use bdk_wallet::descriptor::IntoWalletDescriptor;
use bdk_wallet::signer::SignersContainer;
use bdk_wallet::{KeychainKind, SignOptions, Wallet};
use ferry::keys::{Mnemonic, Xpriv};
use ferry::script::AddressType;

const PASSWORD: &str = "pw for tests";

fn ferry_run(f: &Ferry, backend: &str, args: &[&str], stdin: &str) -> serde_json::Value {
    f.run_with_stdin(
        args,
        stdin,
        &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
    )
    .expect_code(0)
    .json()
}

/// Tells a BDK wallet about transactions (it keeps those that concern it).
fn feed(wallet: &mut Wallet, txs: &[Transaction]) {
    wallet.apply_unconfirmed_txs(txs.iter().map(|t| (t.clone(), 1)));
}

fn to_ferry(tx: &Transaction) -> ferry::tx::Transaction {
    ferry::tx::Transaction::from_hex(&serialize_hex(tx)).unwrap()
}

/// The private descriptors of the ferry wallet made from `m` (the root tprv, so BDK knows
/// the master fingerprint), for BDK's signer.
fn private_descriptor(m: &Mnemonic, ty: AddressType, branch: u32) -> String {
    let root = Xpriv::new_master(m.to_seed("").as_ref(), ferry::network::Network::Regtest).unwrap();
    let tprv = root.to_base58();
    let (open, close, purpose) = match ty {
        AddressType::P2pkh => ("pkh(", ")", 44),
        AddressType::P2shP2wpkh => ("sh(wpkh(", "))", 49),
        AddressType::P2wpkh => ("wpkh(", ")", 84),
        AddressType::P2tr => ("tr(", ")", 86),
    };
    format!("{open}{}/{purpose}'/1'/0'/{branch}/*{close}", tprv.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bdk_and_ferry_sign_each_others_psbts_for_every_type() {
    let node = Node::start_fresh().await;
    let url = format!("{}/api", node.base);
    let dest = Address::from_str(&node.faucet_address())
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();
    for (i, ty) in AddressType::ALL.into_iter().enumerate() {
        let f = std::sync::Arc::new(Ferry::new());
        let m = Mnemonic::from_entropy(&[90 + i as u8; 16]).unwrap();
        f.add_wallet(
            "default",
            &m,
            ferry::network::Network::Regtest,
            ty,
            PASSWORD,
        );
        let (f2, u) = (f.clone(), url.clone());
        let (addr, descs) = tokio::task::spawn_blocking(move || {
            (
                ferry_run(&f2, &u, &["--json", "address"], "")["address"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                ferry_run(&f2, &u, &["--json", "export", "descriptors"], ""),
            )
        })
        .await
        .unwrap();
        let mut funding: Vec<Transaction> = Vec::new();
        for amount in [300_000, 200_000] {
            let txid = node.faucet(&addr, amount).await;
            let hex = node.get_text(&format!("/api/tx/{txid}/hex")).await;
            funding.push(deserialize_hex(&hex).unwrap());
        }
        node.mine(1, None).await;

        // 1. BDK (watch-only, from ferry's descriptors) creates; ferry signs; BDK finalizes.
        let (f2, u, d) = (f.clone(), url.clone(), dest.clone());
        let phase1 = tokio::task::spawn_blocking(move || {
            let mut watch = Wallet::create(
                descs["receive"].as_str().unwrap().to_owned(),
                descs["change"].as_str().unwrap().to_owned(),
            )
            .network(Network::Regtest)
            .create_wallet_no_persist()
            .unwrap();
            feed(&mut watch, &funding);
            assert_eq!(watch.balance().total(), Amount::from_sat(500_000), "{ty:?}");
            let mut builder = watch.build_tx();
            builder
                .add_recipient(d.script_pubkey(), Amount::from_sat(120_000))
                .fee_rate(FeeRate::from_sat_per_vb(2).unwrap());
            let psbt = builder.finish().unwrap();
            let signed = ferry_run(
                &f2,
                &u,
                &["--json", "sign", "-", "--yes"],
                &psbt.to_string(),
            );
            assert!(
                !signed["signed_inputs"].as_array().unwrap().is_empty(),
                "{ty:?}: {signed}"
            );
            assert_eq!(signed["cannot_sign"], serde_json::json!([]));
            let mut back = Psbt::from_str(signed["psbt"].as_str().unwrap()).unwrap();
            assert!(
                watch
                    .finalize_psbt(&mut back, SignOptions::default())
                    .unwrap(),
                "{ty:?}: BDK finalizes ferry's signatures"
            );
            let tx = back.extract_tx().unwrap();
            let fee = watch.calculate_fee(&tx).unwrap();
            // ferry's own check of BDK's finalized transaction, then the devnet.
            let spent: Vec<ferry::tx::TxOut> = tx
                .input
                .iter()
                .map(|i| {
                    let prev = funding
                        .iter()
                        .find(|f| f.compute_txid() == i.previous_output.txid)
                        .unwrap();
                    to_ferry(prev).output[i.previous_output.vout as usize].clone()
                })
                .collect();
            ferry::consensus::verify_transaction(&to_ferry(&tx), &spent).unwrap();
            (tx, fee.to_sat(), funding)
        })
        .await
        .unwrap();
        let (tx, fee_a, funding) = phase1;
        node.post_tx(&to_ferry(&tx)).await.unwrap();

        let (f2, u, d, m2) = (f.clone(), url.clone(), dest.clone(), m.clone());
        let (tx2, fee_b) = tokio::task::spawn_blocking(move || {
            // 2. ferry creates; BDK's signer (same seed) signs and finalizes.
            let created = ferry_run(
                &f2,
                &u,
                &[
                    "--json",
                    "psbt",
                    "create",
                    &d.to_string(),
                    "60000sat",
                    "--fee-rate",
                    "2",
                ],
                "",
            );
            let mut psbt = Psbt::from_str(created["psbt"].as_str().unwrap()).unwrap();
            let secp = Secp256k1::new();
            let mut signer_wallet = Wallet::create(
                private_descriptor(&m2, ty, 0),
                private_descriptor(&m2, ty, 1),
            )
            .network(Network::Regtest)
            .create_wallet_no_persist()
            .unwrap();
            let mut known = funding.clone();
            known.push(tx.clone());
            feed(&mut signer_wallet, &known);
            let containers: Vec<SignersContainer> =
                [(KeychainKind::External, 0), (KeychainKind::Internal, 1)]
                    .into_iter()
                    .map(|(k, b)| {
                        let (_, keymap) = private_descriptor(&m2, ty, b)
                            .into_wallet_descriptor(&secp, NetworkKind::Test)
                            .unwrap();
                        SignersContainer::build(
                            keymap,
                            signer_wallet.public_descriptor(k),
                            signer_wallet.secp_ctx(),
                        )
                    })
                    .collect();
            let refs: Vec<&SignersContainer> = containers.iter().collect();
            assert!(
                signer_wallet
                    .sign_with_signers(&mut psbt, &refs, SignOptions::default())
                    .unwrap(),
                "{ty:?}: BDK signs and finalizes ferry's PSBT"
            );
            let tx2 = psbt.extract_tx().unwrap();
            (tx2, created["fee_sat"].as_u64().unwrap())
        })
        .await
        .unwrap();
        node.post_tx(&to_ferry(&tx2)).await.unwrap();
        node.mine(1, None).await;
        let (f2, u) = (f.clone(), url.clone());
        let bal =
            tokio::task::spawn_blocking(move || ferry_run(&f2, &u, &["--json", "balance"], ""))
                .await
                .unwrap();
        assert_eq!(
            bal["confirmed"].as_u64().unwrap(),
            500_000 - 120_000 - fee_a - 60_000 - fee_b,
            "{ty:?}"
        );
    }
}
