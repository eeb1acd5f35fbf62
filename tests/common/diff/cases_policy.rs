//! The differential cases about a transaction alone: fees, dust, signatures, output
//! scripts, versions and lock times.

use super::*;

/// The secp256k1 generator, compressed: a valid public key for bare outputs.
const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

fn script(hex: &str) -> ScriptBuf {
    ScriptBuf::from_hex(hex).unwrap()
}

fn bare_multisig(m: u8, n: u8) -> ScriptBuf {
    let g = hex::decode(G).unwrap();
    let mut s = ScriptBuf::new();
    s.push_opcode(OP_1 + m - 1);
    for _ in 0..n {
        s.push_slice(&g);
    }
    s.push_opcode(OP_1 + n - 1).push_opcode(OP_CHECKMULTISIG);
    s
}

/// Replaces the ECDSA signature of input 0 by its high-S twin (`n − s`): as valid by
/// consensus, not standard.
fn make_high_s(tx: &mut Transaction, kt: KeyType) {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let flip = |with_hashtype: &[u8]| -> Vec<u8> {
        let (der, hashtype) = with_hashtype.split_at(with_hashtype.len() - 1);
        let sig = k256::ecdsa::Signature::from_der(der).unwrap();
        let mut rs: [u8; 64] = sig.to_bytes().into();
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(N[i]) - i16::from(rs[32 + i]) - borrow;
            rs[32 + i] = d.rem_euclid(256) as u8;
            borrow = i16::from(d < 0);
        }
        let high = k256::ecdsa::Signature::from_slice(&rs).unwrap();
        let mut out = high.to_der().as_bytes().to_vec();
        out.extend_from_slice(hashtype);
        out
    };
    let input = &mut tx.input[0];
    match kt {
        KeyType::P2pkh => {
            let pushes: Vec<Vec<u8>> = input
                .script_sig
                .instructions()
                .map(|i| match i.unwrap() {
                    ferry::script::Instruction::Push(d) => d.to_vec(),
                    ferry::script::Instruction::Op(_) => panic!("P2PKH scriptSig pushes only"),
                })
                .collect();
            let mut script = ScriptBuf::new();
            script.push_slice(&flip(&pushes[0])).push_slice(&pushes[1]);
            input.script_sig = script;
        }
        KeyType::P2shP2wpkh | KeyType::P2wpkh => {
            let mut items = input.witness.items().to_vec();
            items[0] = flip(&items[0]);
            input.witness = ferry::tx::Witness::from_items(items);
        }
        KeyType::P2tr | KeyType::P2wsh => panic!("no ECDSA signature"),
    }
}

/// The minimum relay fee and valid spends of each key type.
pub fn fees(p: &mut Planner) {
    // Valid spends of each key type.
    for kt in KeyType::SPENDABLE {
        let c = p.coin(kt);
        p.case(format!("valid spend of a {kt:?} coin"), vec![c], |c| {
            Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::rate(2000))).await })
        });
    }

    // The minimum relay fee: 0.1 sat/vB in Core 30+.
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("fee exactly at the 0.1 sat/vB floor", vec![c], |c| {
        Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::rate(100))).await })
    });
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("fee 1 sat under the 0.1 sat/vB floor", vec![c], |c| {
        Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::rate(100).delta(-1))).await })
    });
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case(
        "fee 0.5 sat/vB (under the old 1 sat/vB floor)",
        vec![c],
        |c| Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::rate(500))).await }),
    );
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("zero fee", vec![c], |c| {
        Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::abs(0))).await })
    });
}

/// Dust outputs, per output type.
pub fn dust(p: &mut Planner) {
    // Dust, per output type, just below and at Core's threshold (3 sat/vB).
    let dust_types: [(&str, KeyType, u64); 5] = [
        ("P2PKH", KeyType::P2pkh, 546),
        ("P2SH", KeyType::P2shP2wpkh, 540),
        ("P2WPKH", KeyType::P2wpkh, 294),
        ("P2WSH", KeyType::P2wsh, 330),
        ("P2TR", KeyType::P2tr, 330),
    ];
    for (label, out_kt, threshold) in dust_types {
        for (value, what) in [(threshold - 1, "1 sat below"), (threshold, "at")] {
            let kt = p.any_type();
            let c = p.coin(kt);
            p.case(
                format!("{label} output {what} the dust threshold ({value} sat)"),
                vec![c],
                move |c| {
                    Box::pin(async move {
                        let dust = (c.w.other.script(out_kt), value);
                        c.probe(&c.pay(0, vec![dust], Fee::rate(2000))).await
                    })
                },
            );
        }
    }
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("one dust output and zero fee", vec![c], |c| {
        Box::pin(async move {
            let dust = (c.w.other.script(KeyType::P2wpkh), 100);
            c.probe(&c.pay(0, vec![dust], Fee::abs(0))).await
        })
    });
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("two dust outputs", vec![c], |c| {
        Box::pin(async move {
            let outs = vec![
                (c.w.other.script(KeyType::P2wpkh), 100),
                (c.w.other.script(KeyType::P2tr), 100),
            ];
            c.probe(&c.pay(0, outs, Fee::rate(2000))).await
        })
    });
}

/// Bad and high-S signatures.
pub fn signatures(p: &mut Planner) {
    // One bad signature, for each key type.
    for kt in KeyType::SPENDABLE {
        let c = p.coin(kt);
        p.case(
            format!("bad signature on a {kt:?} input"),
            vec![c],
            move |c| {
                Box::pin(async move {
                    let mut tx = c.pay(0, vec![], Fee::rate(2000));
                    corrupt_signature(&mut tx, kt);
                    c.probe(&tx).await
                })
            },
        );
    }

    // A high-S signature: valid by consensus, refused by Core's LOW_S policy flag.
    for kt in [KeyType::P2pkh, KeyType::P2shP2wpkh, KeyType::P2wpkh] {
        let c = p.coin(kt);
        p.case(
            format!("high-S signature on a {kt:?} input"),
            vec![c],
            move |c| {
                Box::pin(async move {
                    let mut tx = c.pay(0, vec![], Fee::rate(2000));
                    make_high_s(&mut tx, kt);
                    c.probe(&tx).await
                })
            },
        );
    }
}

/// Output scripts.
pub fn outputs(p: &mut Planner) {
    // Output scripts.
    let outputs: [(&str, ScriptBuf, u64); 12] = [
        ("non-standard output script (OP_TRUE)", script("51"), 1000),
        (
            "bare P2PK output",
            {
                let mut s = ScriptBuf::new();
                s.push_slice(&hex::decode(G).unwrap())
                    .push_opcode(OP_CHECKSIG);
                s
            },
            1000,
        ),
        ("bare 1-of-2 multisig output", bare_multisig(1, 2), 1000),
        ("bare 1-of-4 multisig output", bare_multisig(1, 4), 1000),
        (
            "segwit v2 output (future witness version)",
            ScriptBuf::new_witness_program(2, &[7; 32]),
            1000,
        ),
        (
            "segwit v0 output with a 25-byte program",
            ScriptBuf::new_witness_program(0, &[7; 25]),
            1000,
        ),
        (
            "pay-to-anchor output at its dust threshold (240 sat)",
            script("51024e73"),
            240,
        ),
        ("OP_RETURN with 80 bytes of data", op_return_with(80), 0),
        (
            "OP_RETURN with 100 bytes of data (over the old 83-byte limit)",
            op_return_with(100),
            0,
        ),
        (
            "OP_RETURN followed by a non-push opcode",
            {
                let mut s = ScriptBuf::new();
                s.push_opcode(OP_RETURN).push_opcode(OP_CHECKSIG);
                s
            },
            0,
        ),
        (
            "OP_RETURN followed by OP_RESERVED (a push for Core)",
            script("6a50"),
            0,
        ),
        (
            "OP_RETURN paying 1000 sat",
            ScriptBuf::new_op_return(b"ferry"),
            1000,
        ),
    ];
    for (name, spk, value) in outputs {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            let spk = spk.clone();
            Box::pin(async move {
                c.probe(&c.pay(0, vec![(spk, value)], Fee::rate(2000)))
                    .await
            })
        });
    }
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("two OP_RETURN outputs", vec![c], |c| {
        Box::pin(async move {
            let outs = vec![
                (ScriptBuf::new_op_return(b"one"), 0),
                (ScriptBuf::new_op_return(b"two"), 0),
            ];
            c.probe(&c.pay(0, outs, Fee::rate(2000))).await
        })
    });
}

/// Versions, lock times, size, maxfeerate.
pub fn versions(p: &mut Planner) {
    // Transaction versions, lock times, size.
    for version in [0, 3, 4] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(
            format!("transaction version {version}"),
            vec![c],
            move |c| {
                Box::pin(async move {
                    let mut s = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                    s.version = version;
                    c.probe(&s.build()).await
                })
            },
        );
    }
    for (name, ahead) in [
        ("lock time at the tip's height (final)", 0u32),
        ("lock time at the next block's height (non-final)", 1),
    ] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                let mut s = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                s.lock_time = c.tip().await + ahead;
                c.probe(&s.build()).await
            })
        });
    }
    for blocks in [100u32, 101] {
        let kt = p.any_type();
        let c = p.coin(kt);
        // The coins confirmed 100 blocks before the next one.
        p.case(
            format!("BIP68 relative lock of {blocks} blocks on a coin 100 deep"),
            vec![c],
            move |c| {
                Box::pin(async move {
                    let mut s = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                    s.sequence = blocks;
                    c.probe(&s.build()).await
                })
            },
        );
    }
    let c = p.coin_of(KeyType::P2wpkh, 10_000);
    p.case("transaction of 61 non-witness bytes", vec![c], |c| {
        Box::pin(async move {
            // One segwit input, one empty OP_RETURN output: 4 + 1 + 41 + 1 + 10 + 4 bytes.
            let mut s = c.spec(vec![c.coins[0].clone()], vec![], Fee::abs(9_000));
            s.change = script("6a");
            let tx = s.build();
            assert_eq!(tx.base_size(), 61);
            c.probe(&tx).await
        })
    });
    let c = p.coin_of(KeyType::P2wpkh, 3_000_000);
    p.case("fee rate over maxfeerate (0.1 BTC/kvB)", vec![c], |c| {
        Box::pin(async move { c.probe(&c.pay(0, vec![], Fee::rate(11_000_000))).await })
    });
}
