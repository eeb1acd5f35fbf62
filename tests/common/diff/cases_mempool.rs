//! The differential cases that need mempool state: double spends and replacements,
//! resubmissions, TRUC parents, `sendrawtransaction`, coinbase maturity, chains.

use super::*;

/// Double spends and replacements.
pub fn replacements(p: &mut Planner) {
    // Double spends and replacements: the first spend goes into the mempool.
    for (name, seq, second) in [
        (
            "double spend of a non-signalling mempool spend, same fee",
            FINAL,
            (0u64, 0u64, 0i64),
        ),
        (
            "double spend of a non-signalling mempool spend, 5 sat/vB (full RBF)",
            FINAL,
            (u64::MAX, 5000, 0),
        ),
        ("replacement with the same fee", RBF, (0, 0, 0)),
        ("replacement paying 1 sat more", RBF, (0, 0, 1)),
        (
            "replacement paying 0.1 sat/vB of its size more, less 1 sat (rule 4)",
            RBF,
            (0, 100, -1),
        ),
        (
            "replacement paying exactly 0.1 sat/vB of its size more (rule 4)",
            RBF,
            (0, 100, 0),
        ),
    ] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                let mut first = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                first.sequence = seq;
                let first = first.build();
                c.send(&first).await;
                let old_fee = fee_of(&first, &c.coins[..1]);
                let (base, sat_kvb, delta) = second;
                // u64::MAX: a plain fee rate, not relative to the first spend.
                let fee = if base == u64::MAX {
                    Fee::rate(sat_kvb)
                } else {
                    Fee {
                        base: old_fee + base,
                        sat_kvb,
                        delta,
                    }
                };
                let mut again = c.spec(vec![c.coins[0].clone()], vec![], fee);
                again.sequence = seq;
                again.change = c.w.other.script(KeyType::P2wpkh);
                c.probe(&again.build()).await
            })
        });
    }
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case(
        "replacement with a higher fee but a lower fee rate",
        vec![c],
        |c| {
            Box::pin(async move {
                let first = c.pay(0, vec![], Fee::rate(20_000));
                c.send(&first).await;
                let old_fee = fee_of(&first, &c.coins[..1]);
                // A large data output: more fee in total, far less per vbyte.
                let mut big = c.spec(
                    vec![c.coins[0].clone()],
                    vec![(op_return_with(2000), 0)],
                    Fee {
                        base: old_fee,
                        sat_kvb: 200,
                        delta: 0,
                    },
                );
                big.change = c.w.other.script(KeyType::P2wpkh);
                c.probe(&big.build()).await
            })
        },
    );
    let (k1, k2) = (p.any_type(), p.any_type());
    let (c1, c2) = (p.coin(k1), p.coin(k2));
    p.case(
        "replacement adding an unconfirmed input (old BIP125 rule 2)",
        vec![c1, c2],
        |c| {
            Box::pin(async move {
                let mut parent = c.spec(vec![c.coins[1].clone()], vec![], Fee::rate(2000));
                parent.change = c.w.alice.script(KeyType::P2wpkh);
                let parent = parent.build();
                c.send(&parent).await;
                let first = c.pay(0, vec![], Fee::rate(2000));
                c.send(&first).await;
                let mut again = c.spec(
                    vec![c.coins[0].clone(), out(&parent, 0)],
                    vec![],
                    Fee::rate(5000),
                );
                again.change = c.w.other.script(KeyType::P2wpkh);
                c.probe(&again.build()).await
            })
        },
    );
    for (name, pays_for_both) in [
        (
            "replacement evicting a parent and its child, paying less than both",
            false,
        ),
        (
            "replacement evicting a parent and its child, paying for both and its relay",
            true,
        ),
    ] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                let mut parent = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                parent.change = c.w.alice.script(KeyType::P2wpkh);
                let parent = parent.build();
                c.send(&parent).await;
                let child = c.pay_from(out(&parent, 0), Fee::rate(10_000));
                c.send(&child).await;
                let fa = fee_of(&parent, &c.coins[..1]);
                let fc = fee_of(&child, &[out(&parent, 0)]);
                let fee = if pays_for_both {
                    Fee {
                        base: fa + fc,
                        sat_kvb: 100,
                        delta: 0,
                    }
                } else {
                    Fee::abs(fa + fc / 2)
                };
                let mut again = c.spec(vec![c.coins[0].clone()], vec![], fee);
                again.change = c.w.other.script(KeyType::P2wpkh);
                c.probe(&again.build()).await
            })
        });
    }
}

/// A transaction sent again, and its txid with another witness.
pub fn resubmissions(p: &mut Planner) {
    // The same transaction again, and its txid with another witness.
    for (name, other_witness, by_send) in [
        (
            "testmempoolaccept of a transaction already in the mempool",
            false,
            false,
        ),
        (
            "testmempoolaccept of a mempool transaction's txid with another witness",
            true,
            false,
        ),
        (
            "sendrawtransaction of a mempool transaction's txid with another witness",
            true,
            true,
        ),
    ] {
        let kt = p
            .rng
            .pick(&[KeyType::P2shP2wpkh, KeyType::P2wpkh, KeyType::P2tr]);
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                let tx = c.pay(0, vec![], Fee::rate(2000));
                c.send(&tx).await;
                let mut again = tx.clone();
                if other_witness {
                    corrupt_signature(&mut again, kt);
                }
                if by_send {
                    c.submit(&again).await
                } else {
                    c.probe(&again).await
                }
            })
        });
    }
}

/// TRUC (version 3) transactions.
pub fn truc(p: &mut Planner) {
    // TRUC (version 3) transactions and their unconfirmed parents.
    for (name, parent_version, child_version, child_data) in [
        ("TRUC child of a TRUC mempool parent", 3, 3, 0usize),
        ("TRUC child of a version 2 mempool parent", 2, 3, 0),
        ("version 2 child of a TRUC mempool parent", 3, 2, 0),
        ("TRUC child over 1000 vB", 3, 3, 1000),
    ] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                let mut parent = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
                parent.change = c.w.alice.script(KeyType::P2wpkh);
                parent.version = parent_version;
                let parent = parent.build();
                c.send(&parent).await;
                let data = if child_data > 0 {
                    vec![(op_return_with(child_data), 0)]
                } else {
                    vec![]
                };
                let mut child = c.spec(vec![out(&parent, 0)], data, Fee::rate(2000));
                child.version = child_version;
                c.probe(&child.build()).await
            })
        });
    }
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case(
        "TRUC grandchild (two unconfirmed ancestors)",
        vec![c],
        |c| {
            Box::pin(async move {
                let mut coin = c.coins[0].clone();
                for _ in 0..2 {
                    let mut s = c.spec(vec![coin], vec![], Fee::rate(2000));
                    s.change = c.w.alice.script(KeyType::P2wpkh);
                    s.version = 3;
                    let tx = s.build();
                    c.send(&tx).await;
                    coin = out(&tx, 0);
                }
                let mut s = c.spec(vec![coin], vec![], Fee::rate(2000));
                s.version = 3;
                c.probe(&s.build()).await
            })
        },
    );
    for (name, rate) in [
        (
            "second TRUC child at the same fee rate (sibling eviction)",
            2000u64,
        ),
        ("second TRUC child paying 5 sat/vB (sibling eviction)", 5000),
    ] {
        let kt = p.any_type();
        let c = p.coin(kt);
        p.case(name, vec![c], move |c| {
            Box::pin(async move {
                // A parent with two outputs: the first child spends one, the second the
                // other (no conflict but through TRUC's one-child rule).
                let mut parent = c.spec(
                    vec![c.coins[0].clone()],
                    vec![(c.w.alice.script(KeyType::P2wpkh), 20_000)],
                    Fee::rate(2000),
                );
                parent.change = c.w.alice.script(KeyType::P2wpkh);
                parent.version = 3;
                let parent = parent.build();
                c.send(&parent).await;
                let mut first = c.spec(vec![out(&parent, 0)], vec![], Fee::rate(2000));
                first.version = 3;
                c.send(&first.build()).await;
                let mut second = c.spec(vec![out(&parent, 1)], vec![], Fee::rate(rate));
                second.version = 3;
                c.probe(&second.build()).await
            })
        });
    }
}

/// sendrawtransaction's own checks.
pub fn broadcast(p: &mut Planner) {
    // sendrawtransaction's own checks (maxfeerate, maxburnamount, already confirmed).
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("sendrawtransaction of a valid spend", vec![c], |c| {
        Box::pin(async move { c.submit(&c.pay(0, vec![], Fee::rate(2000))).await })
    });
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("sendrawtransaction under the fee floor", vec![c], |c| {
        Box::pin(async move { c.submit(&c.pay(0, vec![], Fee::abs(0))).await })
    });
    let c = p.coin_of(KeyType::P2wpkh, 3_000_000);
    p.case("sendrawtransaction over maxfeerate", vec![c], |c| {
        Box::pin(async move { c.submit(&c.pay(0, vec![], Fee::rate(11_000_000))).await })
    });
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case(
        "sendrawtransaction of an OP_RETURN paying 1000 sat (maxburnamount)",
        vec![c],
        |c| {
            Box::pin(async move {
                let burn = (ScriptBuf::new_op_return(b"ferry"), 1000);
                c.submit(&c.pay(0, vec![burn], Fee::rate(2000))).await
            })
        },
    );
    p.case(
        "sendrawtransaction of an output that never existed",
        vec![],
        |c| {
            Box::pin(async move {
                let ghost = ghost(c.w.alice.script(KeyType::P2wpkh), 0x43, 1);
                c.submit(&c.spec(vec![ghost], vec![], Fee::rate(2000)).build())
                    .await
            })
        },
    );
    p.case(
        "sendrawtransaction of a confirmed transaction",
        vec![],
        |c| Box::pin(async move { c.submit(&c.side.fund).await }),
    );
}

/// Coinbase maturity and missing inputs.
pub fn coins(p: &mut Planner) {
    // Coinbase maturity and missing inputs.
    p.case("spend of a coinbase at depth 99", vec![], |c| {
        Box::pin(async move {
            let mut s = c.spec(vec![c.side.immature_cb.clone()], vec![], Fee::rate(2000));
            s.signer = &c.w.cb_immature;
            c.probe(&s.build()).await
        })
    });
    p.case(
        "spend of a coinbase at depth 100 (just mature)",
        vec![],
        |c| {
            Box::pin(async move {
                let mut s = c.spec(vec![c.side.mature_cb.clone()], vec![], Fee::rate(2000));
                s.signer = &c.w.cb_mature;
                c.probe(&s.build()).await
            })
        },
    );
    p.case("spend of an output that never existed", vec![], |c| {
        Box::pin(async move {
            let ghost = ghost(c.w.alice.script(KeyType::P2wpkh), 0x42, 0);
            c.probe(&c.spec(vec![ghost], vec![], Fee::rate(2000)).build())
                .await
        })
    });
    p.case("spend of an output already spent in a block", vec![], |c| {
        Box::pin(async move {
            let mut s = c.spec(vec![c.side.spent_cb.clone()], vec![], Fee::rate(2000));
            s.signer = &c.w.funder;
            c.probe(&s.build()).await
        })
    });
}

/// Unconfirmed chains.
pub fn chains(p: &mut Planner) {
    // Unconfirmed chains.
    let kt = p.any_type();
    let c = p.coin(kt);
    p.case("child of a mempool parent", vec![c], |c| {
        Box::pin(async move {
            let mut parent = c.spec(vec![c.coins[0].clone()], vec![], Fee::rate(2000));
            parent.change = c.w.alice.script(KeyType::P2wpkh);
            let parent = parent.build();
            c.send(&parent).await;
            c.probe(&c.pay_from(out(&parent, 0), Fee::rate(2000))).await
        })
    });
    let kt = p.any_type();
    let c = p.coin_of(kt, 1_000_000);
    p.cases_with_rows("unconfirmed chain", vec![c], |c| {
        Box::pin(async move {
            let mut rows = Vec::new();
            let mut coin = c.coins[0].clone();
            for n in 1..=65u32 {
                let mut s = c.spec(vec![coin.clone()], vec![], Fee::rate(1000));
                s.change = c.w.alice.script(KeyType::P2wpkh);
                let tx = s.build();
                if [26, 64, 65].contains(&n) {
                    rows.push((
                        format!(
                            "unconfirmed chain: transaction {n} (spends a chain of {})",
                            n - 1
                        ),
                        c.probe(&tx).await,
                    ));
                }
                if n < 65 {
                    c.send(&tx).await;
                }
                coin = out(&tx, 0);
            }
            rows
        })
    });
}

/// A coin whose transaction never existed (a made-up txid), paying 100,000 sat.
fn ghost(script_pubkey: ScriptBuf, fill: u8, vout: u32) -> (OutPoint, TxOut) {
    (
        OutPoint {
            txid: Txid::from_byte_array([fill; 32]),
            vout,
        },
        TxOut {
            value: Amount::from_sat(100_000),
            script_pubkey,
        },
    )
}
