//! A payment's PSBT for each address type: recognised by origin and by script, signed with
//! keys derived from the paths found, finalized, and checked by Bitcoin Core's interpreter.

use super::*;
use crate::consensus::verify_transaction;
use crate::network::Network;
use crate::tx::{OutPoint, TxIn, TxOut};
use crate::units::{Amount, FeeRate};
use crate::wallet::builder::{PaymentRequest, Recipient, WalletUtxo, build_payment};
use crate::wallet::rng::WalletRng;

const ABOUT: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                     abandon abandon about";

fn secret() -> KeystoreSecret {
    KeystoreSecret {
        mnemonic: ABOUT.into(),
        passphrase: String::new(),
    }
}

/// A funding transaction paying receive/0 and receive/3, and the built payment spending both.
fn payment(account: &Account) -> (Built, Transaction) {
    let outs: Vec<TxOut> = [0u32, 3]
        .iter()
        .map(|i| TxOut {
            value: Amount::from_sat(60_000),
            script_pubkey: account
                .output_at(KeyChain::Receive, *i)
                .unwrap()
                .0
                .script_pubkey,
        })
        .collect();
    let funding = Transaction {
        version: 2,
        lock_time: 0,
        input: vec![TxIn::new(
            OutPoint {
                txid: crate::tx::Txid::from_byte_array([1; 32]),
                vout: 0,
            },
            TxIn::SEQUENCE_FINAL,
        )],
        output: outs.clone(),
    };
    let utxos: Vec<WalletUtxo> = [0u32, 3]
        .iter()
        .enumerate()
        .map(|(vout, index)| WalletUtxo {
            outpoint: OutPoint {
                txid: funding.txid(),
                vout: vout as u32,
            },
            txout: outs[vout].clone(),
            chain: KeyChain::Receive,
            index: *index,
            height: Some(1),
        })
        .collect();
    let req = PaymentRequest {
        recipients: vec![Recipient {
            script_pubkey: ScriptBuf::new_p2wpkh(&[7; 20]),
            amount: Amount::from_sat(100_000),
        }],
        send_max: false,
        fee_rate: FeeRate::from_sat_per_kvb(2_000),
        min_fee_rate: FeeRate::MIN_RELAY,
        change_script: account
            .output_at(KeyChain::Change, 5)
            .unwrap()
            .0
            .script_pubkey,
        rbf: true,
        tip_height: 10,
        allow_high_fee: false,
        coin_control: Vec::new(),
    };
    let built = build_payment(&req, &utxos, &mut WalletRng::seeded(7)).unwrap();
    (built, funding)
}

fn sign_and_check(account: &Account, mut psbt: Psbt, scripts: &ScriptIndex, funding: &Transaction) {
    let own = Ownership::of(account, &psbt, scripts);
    assert!(own.inputs.iter().all(Option::is_some), "{own:?}");
    own.fill_missing(account, &mut psbt).unwrap();
    let keys = derive_paths(&secret(), account, &own.signing_paths()).unwrap();
    assert_eq!(psbt.sign(&keys).unwrap(), 2);
    psbt.finalize().unwrap();
    let tx = psbt.extract_tx().unwrap();
    let spent: Vec<TxOut> = tx
        .input
        .iter()
        .map(|i| funding.output[i.previous_output.vout as usize].clone())
        .collect();
    verify_transaction(&tx, &spent).unwrap();
}

#[test]
fn payment_psbt_is_recognised_signed_and_verified_for_every_address_type() {
    let m = Mnemonic::parse(ABOUT).unwrap();
    for ty in AddressType::ALL {
        let account = Account::from_mnemonic(&m, "", Network::Regtest, ty).unwrap();
        let (built, funding) = payment(&account);
        let change_vout = built.change.unwrap().0;
        let psbt =
            psbt_for_payment(&account, &built, Some(5), std::slice::from_ref(&funding)).unwrap();
        // What a signer needs is there.
        for input in &psbt.inputs {
            match ty {
                AddressType::P2tr => {
                    assert!(input.tap_internal_key.is_some());
                    assert_eq!(input.tap_bip32_derivation.len(), 1);
                }
                _ => assert_eq!(input.bip32_derivation.len(), 1, "{ty:?}"),
            }
            let legacy = ty == AddressType::P2pkh;
            let taproot = ty == AddressType::P2tr;
            assert_eq!(input.non_witness_utxo.is_some(), !taproot, "{ty:?}");
            assert_eq!(input.witness_utxo.is_some(), !legacy, "{ty:?}");
            assert_eq!(input.redeem_script.is_some(), ty == AddressType::P2shP2wpkh);
        }
        let change = &psbt.outputs[change_vout];
        assert_eq!(
            change.bip32_derivation.len() + change.tap_bip32_derivation.len(),
            1
        );
        assert_eq!(psbt.xpubs.len(), 1);
        // Read back from its wire form, as the signer would.
        let psbt = Psbt::from_base64(&psbt.to_base64()).unwrap();
        let scripts = ScriptIndex::new(&account, [10, 10]).unwrap();
        let own = Ownership::of(&account, &psbt, &scripts);
        assert!(own.inputs.iter().flatten().all(|o| o.by_origin));
        assert_eq!(
            own.inputs[0].as_ref().unwrap().address.map(|a| a.0),
            Some(KeyChain::Receive)
        );
        assert_eq!(
            own.outputs[change_vout].as_ref().unwrap().address,
            Some((KeyChain::Change, 5))
        );
        assert!(own.outputs[1 - change_vout].is_none());
        sign_and_check(&account, psbt.clone(), &scripts, &funding);

        // Without any origin (as from software that adds none): matched by script.
        let mut bare = psbt.clone();
        for input in &mut bare.inputs {
            input.bip32_derivation.clear();
            input.tap_bip32_derivation.clear();
            input.tap_internal_key = None;
            input.redeem_script = None;
        }
        bare.xpubs.clear();
        let own = Ownership::of(&account, &bare, &scripts);
        assert!(own.inputs.iter().flatten().all(|o| !o.by_origin), "{ty:?}");
        sign_and_check(&account, bare, &scripts, &funding);

        // Another wallet's PSBT: nothing is ours.
        let other = Account::from_mnemonic(&m, "other", Network::Regtest, ty).unwrap();
        let theirs = ScriptIndex::new(&other, [10, 10]).unwrap();
        let own = Ownership::of(&other, &psbt, &theirs);
        assert!(own.inputs.iter().all(Option::is_none));
        assert!(own.signing_paths().is_empty());
    }
}
