use k256::SecretKey;

use super::*;
use crate::hashes::{hash160, sha256};
use crate::script::taproot::tweak_public_key;
use crate::sign::KeyStore;
use crate::tx::Txid;
use crate::wallet::signing::sighash_types;

const TYPES: [&str; 4] = ["p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr"];

fn key(n: u64) -> SecretKey {
    SecretKey::from_slice(&sha256(&n.to_le_bytes())).unwrap()
}

fn script_for(secret: &SecretKey, kind: &str) -> ScriptBuf {
    let pk = secret.public_key().to_sec1_bytes();
    let pkh = hash160(&pk);
    match kind {
        "p2pkh" => ScriptBuf::new_p2pkh(&pkh),
        "p2sh-p2wpkh" => ScriptBuf::new_p2wpkh(&pkh).to_p2sh(),
        "p2wpkh" => ScriptBuf::new_p2wpkh(&pkh),
        "p2tr" => {
            let x: [u8; 32] = pk[1..].try_into().unwrap();
            ScriptBuf::new_p2tr(&tweak_public_key(&x, None).unwrap().0)
        }
        _ => unreachable!(),
    }
}

fn utxo(n: u32, value: u64, script_pubkey: ScriptBuf) -> WalletUtxo {
    let mut txid = [0u8; 32];
    txid[..4].copy_from_slice(&n.to_le_bytes());
    WalletUtxo {
        outpoint: OutPoint {
            txid: Txid::from_byte_array(txid),
            vout: n % 3,
        },
        txout: TxOut {
            value: Amount::from_sat(value),
            script_pubkey,
        },
        chain: KeyChain::Receive,
        index: n,
        height: Some(100),
    }
}

fn request(to: ScriptBuf, amount: u64, rate_kvb: u64, change: ScriptBuf) -> PaymentRequest {
    PaymentRequest {
        recipients: vec![Recipient {
            script_pubkey: to,
            amount: Amount::from_sat(amount),
        }],
        send_max: false,
        fee_rate: FeeRate::from_sat_per_kvb(rate_kvb),
        min_fee_rate: FeeRate::MIN_RELAY,
        change_script: change,
        rbf: true,
        tip_height: 500,
        allow_high_fee: false,
        coin_control: Vec::new(),
    }
}

fn sign(built: &Built, keys: &KeyStore) -> Transaction {
    let prevouts = built.prevouts();
    let mut tx = built.tx.clone();
    crate::sign::sign_transaction(&mut tx, &prevouts, &sighash_types(&prevouts), keys).unwrap();
    crate::consensus::verify_transaction(&tx, &prevouts).unwrap();
    tx
}

/// What [`random_signed_payments`] saw.
struct FeeStats {
    /// Payments built, signed and checked.
    checked: usize,
    /// The largest gap between estimated and signed weight.
    slack_max: u64,
    /// Paid rate over asked rate, per payment.
    overpay: Vec<f64>,
}

/// Builds and signs `rounds` random payments (input types, recipients, change types and
/// fee rates from 1 to 60 sat/vB), asserting for each: the signed weight never exceeds the
/// estimate, the fee rate paid is never below the one asked, money is conserved, no output
/// is dust, Core's interpreter accepts every input.
fn random_signed_payments(rounds: u32, seed: u64) -> FeeStats {
    let mut rng = WalletRng::seeded(seed);
    let keys: Vec<SecretKey> = (0..8).map(key).collect();
    let store: KeyStore = keys.iter().cloned().collect();
    let mut stats = FeeStats {
        checked: 0,
        slack_max: 0,
        overpay: Vec::new(),
    };
    for round in 0..rounds {
        let n = 1 + rng.below(6) as u32;
        let utxos: Vec<WalletUtxo> = (0..n)
            .map(|i| {
                let k = &keys[rng.below(8) as usize];
                let kind = TYPES[rng.below(4) as usize];
                utxo(
                    round * 10 + i,
                    20_000 + rng.below(500_000),
                    script_for(k, kind),
                )
            })
            .collect();
        let total: u64 = utxos.iter().map(|u| u.txout.value.to_sat()).sum();
        let to = script_for(&key(99), TYPES[rng.below(4) as usize]);
        let change = script_for(&keys[0], TYPES[rng.below(4) as usize]);
        // 1 to 60 sat/vB with fractional rates.
        let rate = 1000 + rng.below(59_000);
        let mut req = request(to, 1000 + rng.below(total / 2), rate, change);
        req.send_max = rng.below(5) == 0;
        req.allow_high_fee = true;
        let built = match build_payment(&req, &utxos, &mut rng) {
            Ok(b) => b,
            Err(BuildError::Selection(SelectionError::InsufficientFunds { .. })) => continue,
            Err(e) => panic!("round {round}: {e}"),
        };
        let tx = sign(&built, &store);
        assert!(tx.weight() <= built.weight, "round {round}");
        stats.slack_max = stats
            .slack_max
            .max(built.weight.to_wu() - tx.weight().to_wu());
        let asked = FeeRate::from_sat_per_kvb(rate);
        assert!(
            built.fee >= asked.fee_for_vbytes(tx.vsize()).unwrap(),
            "round {round}: fee {} for {} vB at {}",
            built.fee,
            tx.vsize(),
            asked.display_sat_per_vb()
        );
        stats
            .overpay
            .push(built.fee.to_sat() as f64 * 1000.0 / tx.vsize() as f64 / rate as f64);
        // Money is conserved.
        let out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        let inp: u64 = built.inputs.iter().map(|u| u.txout.value.to_sat()).sum();
        assert_eq!(inp - out, built.fee.to_sat());
        // No output is dust.
        for o in &tx.output {
            assert!(o.value >= dust_threshold(&o.script_pubkey), "round {round}");
        }
        stats.checked += 1;
    }
    stats
}

#[test]
fn signed_vsize_within_estimate_and_rate_never_below_asked() {
    let stats = random_signed_payments(300, 2024);
    assert!(stats.checked > 250, "only {} rounds built", stats.checked);
    // ECDSA signatures are 71 or 72 bytes: the estimate is tight.
    assert!(stats.slack_max < 4 * 6, "slack {} WU", stats.slack_max);
}

/// Issue 5's measurement: the fee rate paid vs asked over 1,000 random payments (never
/// below). `cargo test --release --lib fee_rate_paid_vs_asked -- --ignored --nocapture`
#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
#[allow(clippy::print_stdout)]
fn fee_rate_paid_vs_asked_over_1000_payments() {
    let mut stats = random_signed_payments(1_250, 7);
    stats.overpay.truncate(1_000);
    assert_eq!(stats.overpay.len(), 1_000);
    stats.overpay.sort_by(f64::total_cmp);
    let q = |p: f64| stats.overpay[((stats.overpay.len() - 1) as f64 * p) as usize];
    assert!(q(0.0) >= 1.0);
    println!(
        "1,000 signed payments: paid/asked fee rate min {:.5} median {:.5} p99 {:.5} max {:.5}; estimate slack at most {} WU",
        q(0.0),
        q(0.5),
        q(0.99),
        q(1.0),
        stats.slack_max
    );
}

#[test]
fn refusals_name_the_problem() {
    let k = key(1);
    let utxos = vec![utxo(1, 100_000, script_for(&k, "p2wpkh"))];
    let to = script_for(&key(2), "p2wpkh");
    let change = script_for(&k, "p2wpkh");
    let mut rng = WalletRng::seeded(1);

    let dust = build_payment(
        &request(to.clone(), 293, 1000, change.clone()),
        &utxos,
        &mut rng,
    );
    assert_eq!(
        dust,
        Err(BuildError::Dust {
            amount: Amount::from_sat(293),
            threshold: Amount::from_sat(294)
        })
    );
    let low = build_payment(
        &request(to.clone(), 5000, 500, change.clone()),
        &utxos,
        &mut rng,
    );
    assert!(matches!(low, Err(BuildError::FeeRateBelowMinimum { .. })));
    assert!(low.unwrap_err().to_string().contains("--fee-rate 1 sat/vB"));
    let absurd = build_payment(
        &request(to.clone(), 50_000, 1_001_000, change.clone()),
        &utxos,
        &mut rng,
    );
    assert!(matches!(absurd, Err(BuildError::HighFee { .. })));
    // 10 % of a small amount: 200 sat/vB * ~141 vB = 28,200 sat fee for 30,000 sat.
    let ten = build_payment(
        &request(to.clone(), 30_000, 200_000, change.clone()),
        &utxos,
        &mut rng,
    );
    assert!(matches!(ten, Err(BuildError::HighFee { .. })), "{ten:?}");
    let mut allowed = request(to.clone(), 30_000, 200_000, change.clone());
    allowed.allow_high_fee = true;
    build_payment(&allowed, &utxos, &mut rng).unwrap();
    let poor = build_payment(
        &request(to.clone(), 100_000, 1000, change.clone()),
        &utxos,
        &mut rng,
    );
    assert!(matches!(
        poor,
        Err(BuildError::Selection(
            SelectionError::InsufficientFunds { .. }
        ))
    ));
    let mut cc = request(to, 5000, 1000, change);
    cc.coin_control = vec![OutPoint {
        txid: Txid::from_byte_array([9; 32]),
        vout: 0,
    }];
    assert!(matches!(
        build_payment(&cc, &utxos, &mut rng),
        Err(BuildError::UnknownCoin(_))
    ));
}

#[test]
fn send_max_change_rbf_and_locktime() {
    let k = key(1);
    let store: KeyStore = [k.clone()].into_iter().collect();
    let utxos: Vec<_> = (0..3)
        .map(|i| utxo(i, 50_000, script_for(&k, "p2tr")))
        .collect();
    let to = script_for(&key(2), "p2wpkh");
    let change = script_for(&k, "p2tr");
    let mut rng = WalletRng::seeded(3);

    let mut max = request(to.clone(), 0, 2000, change.clone());
    max.send_max = true;
    let built = build_payment(&max, &utxos, &mut rng).unwrap();
    assert_eq!(built.tx.input.len(), 3);
    assert_eq!(built.tx.output.len(), 1);
    assert_eq!(built.change, None);
    assert_eq!(built.amount().to_sat() + built.fee.to_sat(), 150_000);
    sign(&built, &store);

    let built = build_payment(
        &request(to.clone(), 60_000, 2000, change.clone()),
        &utxos,
        &mut rng,
    )
    .unwrap();
    let (vout, value) = built.change.unwrap();
    assert_eq!(built.tx.output[vout].script_pubkey, change);
    assert_eq!(built.tx.output[vout].value, value);
    assert!(
        built
            .tx
            .input
            .iter()
            .all(|i| i.sequence == TxIn::SEQUENCE_RBF)
    );
    let mut no_rbf = request(to, 60_000, 2000, change);
    no_rbf.rbf = false;
    let mut low_locktimes = 0;
    for _ in 0..200 {
        let b = build_payment(&no_rbf, &utxos, &mut rng).unwrap();
        assert!(
            b.tx.input
                .iter()
                .all(|i| i.sequence == TxIn::SEQUENCE_FINAL_LOCKTIME)
        );
        assert!((401..=500).contains(&b.tx.lock_time), "{}", b.tx.lock_time);
        low_locktimes += usize::from(b.tx.lock_time < 500);
    }
    assert!((5..60).contains(&low_locktimes), "{low_locktimes}");
}

#[test]
fn change_below_dust_goes_to_the_fee() {
    let k = key(1);
    let utxos = vec![utxo(1, 10_000, script_for(&k, "p2wpkh"))];
    let to = script_for(&key(2), "p2wpkh");
    // 10,000 - 9,700 - fee(~110 vB at 1 sat/vB) leaves ~190 sat: below 294, no change.
    let built = build_payment(
        &request(to, 9_700, 1000, script_for(&k, "p2wpkh")),
        &utxos,
        &mut WalletRng::seeded(0),
    )
    .unwrap();
    assert_eq!(built.change, None);
    assert_eq!(built.tx.output.len(), 1);
    assert_eq!(built.fee.to_sat(), 300);
}
