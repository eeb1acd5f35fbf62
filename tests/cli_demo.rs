//! `ferry demo --json` as a subprocess: every step must really have happened.

#![allow(clippy::unwrap_used)]

mod common;

use common::Ferry;

#[test]
fn demo_reports_every_step_ok() {
    let f = Ferry::new();
    let v = f.run(&["demo", "--json"]).expect_code(0).json();
    assert_eq!(v["ok"], true);
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "wallets",
            "funding",
            "alice pays carol",
            "bitcoin core checks it",
            "the same payment as a psbt",
            "a forged signature is caught"
        ]
    );
    for step in steps {
        assert_eq!(step["ok"], true, "{step}");
        assert!(!step["detail"].as_str().unwrap().is_empty());
    }
    // The payment line states the exact balance check.
    assert!(
        steps[2]["detail"]
            .as_str()
            .unwrap()
            .contains("to the sat: true")
    );
}
