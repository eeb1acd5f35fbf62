//! `ferry demo --json` as a subprocess: every step must really have happened — a devnet,
//! three installs, Bob's relay, Alice paying Carol herself, through Bob and
//! straight into the peer-to-peer network, the balances
//! to the sat, a forged transaction refused.

use crate::common::cli::Ferry;

#[test]
fn demo_reports_every_step_ok() {
    let f = Ferry::new();
    let v = f.run(&["demo", "--json"]).expect_code(0).json();
    assert_eq!(v["ok"], true, "{v}");
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "devnet",
            "wallet",
            "wallet",
            "wallet",
            "friends",
            "funding",
            "alice pays carol herself",
            "alice pays carol through bob",
            "bob's relay reports",
            "alice hands a payment to the network",
            "balances",
            "a forged transaction is refused"
        ]
    );
    for step in steps {
        assert_eq!(step["ok"], true, "{step}");
        assert!(!step["detail"].as_str().unwrap().is_empty());
    }
    let through_bob = steps[7]["detail"].as_str().unwrap();
    assert!(through_bob.contains("verified: true"), "{through_bob}");
    let refused = steps[11]["detail"].as_str().unwrap();
    assert!(refused.contains("script_verify_failed"), "{refused}");
    // Nothing of the demo is left in the caller's data dir.
    assert_eq!(std::fs::read_dir(f.dir.path()).unwrap().count(), 0);
}
