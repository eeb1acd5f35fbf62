//! Differential tests (issue 8): a generator of transactions — valid ones and subtly wrong
//! ones — each submitted to the devnet and to a real Bitcoin Core (`bitcoind -regtest` from
//! BITCOIND_EXE). Their verdicts must agree: accepted or not, and the reject reason (Core's
//! `reject-reason` without the parenthesised script error, which libbitcoinconsensus does
//! not report). Core is the reference.
//!
//! The two chains cannot be made byte-identical: Core's coinbases carry nLockTime =
//! height − 1 and a non-final sequence, block times differ, and the devnet pre-mines 110
//! blocks to its faucet. So both sides are funded the same way with the same keys (101
//! blocks to a funder key, one funding transaction paying every coin the cases need, the
//! coinbase-maturity blocks) and every case builds its transactions from its side's own
//! coins: verdicts are compared per case, not bytes.
//!
//! Seeded: amounts, key types and destinations come from `FERRY_DIFF_SEED` (a u64; a fixed
//! default otherwise), printed first so that a failure replays. The agreement table goes
//! to stdout: `BITCOIND_EXE=… cargo test --test core_differential -- --nocapture`.

use crate::common::bitcoin_core::{Bitcoind, CoreAuth, bitcoind_exe};
use crate::common::devnet::Node;
use crate::common::diff::{Rpc, Verdict, Wallet, plan, prepare, run_side, table};

/// The seed used when `FERRY_DIFF_SEED` is not set.
const DEFAULT_SEED: u64 = 0x0008_d1ff;

/// Rows in the agreement table.
const CASES: usize = 83;

fn seed() -> u64 {
    match std::env::var("FERRY_DIFF_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FERRY_DIFF_SEED={s:?} is not a u64")),
        Err(_) => DEFAULT_SEED,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_verdicts_match_bitcoin_core() {
    let Some(exe) = bitcoind_exe("devnet_verdicts_match_bitcoin_core") else {
        return;
    };
    let seed = seed();
    println!("core_differential: seed {seed} (replay with FERRY_DIFF_SEED={seed})");
    let plan = plan(seed);
    let w = Wallet::new();

    let core = Bitcoind::start(&exe, CoreAuth::Cookie).await;
    let devnet = Node::start_fresh().await;
    let dev_side = prepare("devnet", Rpc::devnet(&devnet.base), &w, &plan.requests).await;
    let core_side = prepare("core", core.rpc.clone(), &w, &plan.requests).await;

    let dev_rows = run_side(&dev_side, &w, &plan).await;
    let core_rows = run_side(&core_side, &w, &plan).await;
    assert_eq!(dev_rows.len(), core_rows.len());
    let rows: Vec<(String, Verdict, Verdict)> = dev_rows
        .into_iter()
        .zip(core_rows)
        .map(|((name, d), (name_c, c))| {
            assert_eq!(name, name_c);
            (name, d, c)
        })
        .collect();

    println!("{}", table(&rows));
    let mut disagreements = Vec::new();
    for (name, d, c) in &rows {
        if d.class() != c.class() {
            disagreements.push(format!(
                "{name}:\n  devnet: {} {}\n  Core:   {} {}",
                d.shown(),
                d.details(),
                c.shown(),
                c.details()
            ));
        }
    }
    let agreed = rows.len() - disagreements.len();
    println!("{agreed}/{} cases agree", rows.len());
    devnet.stop().await;
    core.stop().await;
    assert!(
        disagreements.is_empty(),
        "the devnet disagrees with Bitcoin Core (seed {seed}):\n{}",
        disagreements.join("\n")
    );
    // Every case ran, the unconfirmed chain giving three rows.
    assert_eq!(rows.len(), plan.cases.len() + 2);
    assert_eq!(rows.len(), CASES);
}
