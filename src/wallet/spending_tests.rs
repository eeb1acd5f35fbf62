//! The money methods of `Wallet` on a real wallet file and a hand-made sync: balance,
//! sent/received, fee bumps and their refusals.

use super::*;
use crate::keys::{KeyChain, Mnemonic};
use crate::network::Network;
use crate::script::AddressType;
use crate::tx::{TxIn, TxOut};
use crate::wallet::builder::WalletUtxo;
use crate::wallet::cache::CachedTx;
use crate::wallet::fee_bump::BumpError;
use crate::wallet::keystore::KdfParams;
use crate::wallet::sync::{SyncResult, UsedAddress};
use crate::wallet::{NewWallet, WalletPaths, create_wallet};

const ABOUT: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                     abandon abandon about";

fn wallet(dir: &std::path::Path) -> Wallet {
    let paths = WalletPaths::new(dir, "w").unwrap();
    let m = Mnemonic::parse(ABOUT).unwrap();
    create_wallet(
        &paths,
        &NewWallet {
            mnemonic: &m,
            passphrase: "",
            network: Network::Regtest,
            address_type: AddressType::P2wpkh,
            password: "pw",
            kdf: KdfParams::MINIMUM,
            force: false,
        },
    )
    .unwrap();
    Wallet::open(paths).unwrap()
}

fn used(w: &Wallet, chain: KeyChain, index: u32) -> UsedAddress {
    let a = w.address_at(chain, index).unwrap();
    UsedAddress {
        chain,
        index,
        address: a.address,
        script_pubkey: a.script_pubkey,
    }
}

fn tx(inputs: &[(OutPoint, u32)], outputs: &[(&ScriptBuf, u64)]) -> Transaction {
    Transaction {
        version: 2,
        lock_time: 0,
        input: inputs
            .iter()
            .map(|(op, seq)| TxIn::new(*op, *seq))
            .collect(),
        output: outputs
            .iter()
            .map(|(s, v)| TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: (*s).clone(),
            })
            .collect(),
    }
}

/// A wallet funded with 100,000 sat (confirmed), which then paid 60,000 to a stranger with
/// 39,000 change (fee 1,000, unconfirmed, RBF).
struct Story {
    wallet: Wallet,
    funding: Transaction,
    payment: Transaction,
    _dir: tempfile::TempDir,
}

fn story(history_complete: bool, sequence: u32) -> Story {
    let dir = tempfile::tempdir().unwrap();
    let mut wallet = wallet(dir.path());
    let receive = used(&wallet, KeyChain::Receive, 0);
    let change = used(&wallet, KeyChain::Change, 0);
    let stranger = ScriptBuf::from_hex("00140000000000000000000000000000000000000001").unwrap();
    let outside = OutPoint {
        txid: Txid::from_byte_array([1; 32]),
        vout: 0,
    };
    let funding = tx(
        &[(outside, 0xffff_fffd)],
        &[(&receive.script_pubkey, 100_000)],
    );
    let coin = OutPoint {
        txid: funding.txid(),
        vout: 0,
    };
    let payment = tx(
        &[(coin, sequence)],
        &[(&stranger, 60_000), (&change.script_pubkey, 39_000)],
    );
    let change_coin = WalletUtxo {
        outpoint: OutPoint {
            txid: payment.txid(),
            vout: 1,
        },
        txout: payment.output[1].clone(),
        chain: KeyChain::Change,
        index: 0,
        height: None,
    };
    let mut txs = vec![CachedTx {
        tx: payment.clone(),
        height: None,
        fee: None,
    }];
    if history_complete {
        txs.insert(
            0,
            CachedTx {
                tx: funding.clone(),
                height: Some(5),
                fee: None,
            },
        );
    }
    wallet
        .apply_sync(SyncResult {
            tip_height: 10,
            utxos: vec![change_coin],
            txs,
            used: vec![receive, change],
            scanned: 40,
            requests: 41,
            history_complete,
        })
        .unwrap();
    Story {
        wallet,
        funding,
        payment,
        _dir: dir,
    }
}

#[test]
fn balance_and_history_in_amounts() {
    let s = story(true, 0xffff_fffd);
    assert_eq!(
        s.wallet.balance(),
        Balance {
            confirmed: Amount::ZERO,
            unconfirmed: Amount::from_sat(39_000)
        }
    );
    assert_eq!(s.wallet.balance().total(), Amount::from_sat(39_000));
    let history = s.wallet.history();
    assert_eq!(history.len(), 2);
    let funded = history[0].1;
    assert_eq!(
        (funded.received.to_sat(), funded.net_sat()),
        (100_000, Some(100_000))
    );
    let paid = s.wallet.sent_and_received(&s.payment);
    assert_eq!(paid.sent, Some(Amount::from_sat(100_000)));
    assert_eq!(paid.received, Amount::from_sat(39_000));
    assert_eq!(paid.net_sat(), Some(-61_000), "60,000 paid and 1,000 fee");
}

#[test]
fn a_partial_history_shows_no_sent_figure_rather_than_a_wrong_one() {
    let s = story(false, 0xffff_fffd);
    let paid = s.wallet.sent_and_received(&s.payment);
    assert_eq!((paid.received.to_sat(), paid.sent), (39_000, None));
    assert_eq!(paid.net_sat(), None);
    assert_eq!(
        s.wallet.sent_and_received(&s.funding).received.to_sat(),
        100_000
    );
}

#[test]
fn a_fee_bump_lowers_the_change_and_pays_the_rate_and_rule_4() {
    let s = story(true, 0xffff_fffd);
    // The original here is unsigned (113 vB), so it pays 8.8 sat/vB.
    let rate = FeeRate::from_sat_per_vb(12).unwrap();
    let bump = s
        .wallet
        .build_fee_bump(s.payment.txid(), rate, false)
        .unwrap();
    let vb = bump.built.weight.to_vbytes_ceil();
    assert_eq!(bump.old_fee, Amount::from_sat(1_000));
    assert_eq!(bump.old_change, Amount::from_sat(39_000));
    let expected_fee = (12 * vb).max(1_000 + vb);
    assert_eq!(bump.built.fee.to_sat(), expected_fee);
    assert_eq!(
        bump.built.tx.output[0], s.payment.output[0],
        "the recipient is untouched"
    );
    assert_eq!(
        bump.built.tx.output[1].value.to_sat(),
        39_000 - (expected_fee - 1_000)
    );
    assert_eq!(bump.built.change, Some((1, bump.built.tx.output[1].value)));
    assert_eq!(bump.built.inputs[0].outpoint.txid, s.funding.txid());
    // In, out and fee add up.
    let out: u64 = bump.built.tx.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(out + bump.built.fee.to_sat(), 100_000);
}

#[test]
fn fee_bumps_are_refused_with_the_reason() {
    let s = story(true, 0xffff_fffd);
    let w = &s.wallet;
    let txid = s.payment.txid();
    let rate = |r| FeeRate::from_sat_per_vb(r).unwrap();
    assert_eq!(
        w.build_fee_bump(Txid::from_byte_array([9; 32]), rate(12), false),
        Err(BumpError::UnknownTx(Txid::from_byte_array([9; 32])))
    );
    assert_eq!(
        w.build_fee_bump(s.funding.txid(), rate(5), false),
        Err(BumpError::AlreadyConfirmed {
            txid: s.funding.txid(),
            height: 5
        })
    );
    assert!(matches!(
        w.build_fee_bump(txid, rate(1), false),
        Err(BumpError::FeeRateTooLow { .. })
    ));
    assert!(matches!(
        w.build_fee_bump(txid, rate(300), false),
        Err(BumpError::ChangeTooSmall { .. })
    ));
    assert!(matches!(
        w.build_fee_bump(txid, rate(50), false),
        Err(BumpError::HighFee { .. })
    ));
    assert!(w.build_fee_bump(txid, rate(50), true).is_ok());
    let final_seq = story(true, 0xffff_ffff);
    assert_eq!(
        final_seq
            .wallet
            .build_fee_bump(final_seq.payment.txid(), rate(5), false),
        Err(BumpError::NotReplaceable(final_seq.payment.txid()))
    );
    // Paid from a coin the wallet does not know: not ours to replace.
    let partial = story(false, 0xffff_fffd);
    assert!(matches!(
        partial
            .wallet
            .build_fee_bump(partial.payment.txid(), rate(5), false),
        Err(BumpError::NotOurs { .. })
    ));
}

#[test]
fn a_child_lifts_the_pair_to_the_rate_asked() {
    use crate::wallet::cpfp::CpfpError;
    let s = story(true, 0xffff_fffd);
    let w = &s.wallet;
    let change = w.next_change_address().unwrap();
    let rate = |r| FeeRate::from_sat_per_vb(r).unwrap();
    let cpfp = w
        .build_cpfp(s.payment.txid(), rate(20), &change, false, None)
        .unwrap();
    let child = &cpfp.built.tx;
    assert_eq!(cpfp.parent_fee, Amount::from_sat(1_000));
    assert_eq!(child.input[0].previous_output.txid, s.payment.txid());
    assert_eq!(child.input[0].previous_output.vout, 1, "our change output");
    let (pv, cv) = (s.payment.vsize(), cpfp.built.weight.to_vbytes_ceil());
    let total = cpfp.parent_fee.to_sat() + cpfp.built.fee.to_sat();
    assert_eq!(total, 20 * (pv + cv), "the pair pays exactly 20 sat/vB");
    assert!(cpfp.package_fee_rate >= rate(20));
    assert_eq!(
        child.output[0].value.to_sat() + cpfp.built.fee.to_sat(),
        39_000
    );
    assert_eq!(child.output[0].script_pubkey, change.script_pubkey);

    // The refusals, each with its reason.
    assert!(matches!(
        w.build_cpfp(s.payment.txid(), rate(5), &change, false, None),
        Err(CpfpError::AlreadyPays { .. })
    ));
    assert!(matches!(
        w.build_cpfp(s.funding.txid(), rate(20), &change, false, None),
        Err(CpfpError::AlreadyConfirmed { height: 5, .. })
    ));
    assert_eq!(
        w.build_cpfp(
            Txid::from_byte_array([4; 32]),
            rate(20),
            &change,
            false,
            None
        ),
        Err(CpfpError::UnknownTx(Txid::from_byte_array([4; 32])))
    );
    assert_eq!(
        w.build_cpfp(s.payment.txid(), rate(2_000), &change, false, None),
        Err(CpfpError::HighFee(rate(2_000)))
    );
    assert!(matches!(
        w.build_cpfp(s.payment.txid(), rate(1_000), &change, true, None),
        Err(CpfpError::CannotReach { .. })
    ));
    // Without the funding transaction the parent's fee cannot be known.
    let partial = story(false, 0xffff_fffd);
    assert_eq!(
        partial
            .wallet
            .build_cpfp(partial.payment.txid(), rate(20), &change, false, None),
        Err(CpfpError::UnknownParentFee(partial.payment.txid()))
    );
    // Unless the caller looked up what it spends.
    let parent = partial
        .wallet
        .parent_needing_prevouts(partial.payment.txid())
        .unwrap();
    let spent = [s.funding.output[0].clone()];
    assert_eq!(parent.input.len(), spent.len());
    let cpfp = partial
        .wallet
        .build_cpfp(
            partial.payment.txid(),
            rate(20),
            &change,
            false,
            Some(&spent),
        )
        .unwrap();
    assert_eq!(cpfp.parent_fee, Amount::from_sat(1_000));
}

#[test]
fn a_child_never_spends_an_output_labelled_unspendable() {
    use crate::wallet::cpfp::CpfpError;
    use crate::wallet::labels::LabelType;
    let mut s = story(true, 0xffff_fffd);
    let reference = format!("{}:1", s.payment.txid());
    let mut record = s
        .wallet
        .label_record(LabelType::Output, &reference, "savings")
        .unwrap();
    record.spendable = Some(false);
    s.wallet.put_labels(&[record]).unwrap();
    let change = s.wallet.next_change_address().unwrap();
    assert_eq!(
        s.wallet.build_cpfp(
            s.payment.txid(),
            FeeRate::from_sat_per_vb(20).unwrap(),
            &change,
            false,
            None
        ),
        Err(CpfpError::OnlyUnspendable(s.payment.txid()))
    );
}
