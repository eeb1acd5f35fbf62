//! `ferry psbt decode` through the real binary, on BIP-0174's vectors.

use crate::common::cli::Ferry;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../fixtures/bip174_vectors.json")).unwrap()
}

#[test]
fn decodes_every_valid_vector_in_every_form() {
    let f = Ferry::new();
    let v = vectors();
    let valid = v["valid"].as_array().unwrap();
    for (i, case) in valid.iter().enumerate() {
        let b64 = case["base64"].as_str().unwrap();
        let hex_text = case["hex"].as_str().unwrap();
        let from_stdin = f
            .run_with_stdin(&["psbt", "decode", "--json", "-"], b64, &[])
            .expect_code(0)
            .json();
        let bin_path = f.dir.path().join(format!("{i}.psbt"));
        std::fs::write(&bin_path, hex::decode(hex_text).unwrap()).unwrap();
        let from_binary = f
            .run(&["psbt", "decode", "--json", bin_path.to_str().unwrap()])
            .expect_code(0)
            .json();
        let hex_path = f.dir.path().join(format!("{i}.hex"));
        std::fs::write(&hex_path, hex_text).unwrap();
        let from_hex = f
            .run(&["psbt", "decode", "--json", hex_path.to_str().unwrap()])
            .expect_code(0)
            .json();
        assert_eq!(from_stdin, from_binary, "{}", case["description"]);
        assert_eq!(from_stdin, from_hex, "{}", case["description"]);
        assert_eq!(
            from_stdin["inputs"].as_array().unwrap().len(),
            from_stdin["tx"]["inputs"].as_array().unwrap().len()
        );
        let text = f
            .run_with_stdin(&["psbt", "decode", "-"], b64, &[])
            .expect_code(0);
        assert!(text.stdout.starts_with("PSBT for txid"), "{}", text.stdout);
    }
    assert_eq!(valid.len(), 10);
}

#[test]
fn invalid_vectors_are_user_errors() {
    let f = Ferry::new();
    let v = vectors();
    let invalid = v["invalid"].as_array().unwrap();
    for case in invalid {
        let out = f
            .run_with_stdin(
                &["psbt", "decode", "--json", "-"],
                case["base64"].as_str().unwrap(),
                &[],
            )
            .expect_code(1)
            .json();
        assert_eq!(
            out["error"]["code"], "malformed_psbt",
            "{}",
            case["description"]
        );
    }
    assert_eq!(invalid.len(), 20);
    let missing = f
        .run(&["psbt", "decode", "/nonexistent/file.psbt"])
        .expect_code(1);
    assert!(
        missing.stderr.contains("cannot read PSBT"),
        "{}",
        missing.stderr
    );
}

/// BBQr frames as a scanner saves them (Zlib-encoded, the Coldcard's default; made by
/// CPython's zlib from BBQr's test PSBT `1in100out.psbt`, whose unsigned transaction has 3
/// inputs and 101 outputs, counted by a separate parse in Python), read by `psbt decode`
/// from a file and from stdin; frames of a transaction are not a PSBT.
#[test]
fn decodes_a_psbt_from_zlib_bbqr_frames() {
    let f = Ferry::new();
    let frames = include_str!("../../fixtures/bbqr_z_psbt.txt");
    let path = f.dir.path().join("scanned.txt");
    std::fs::write(&path, frames).unwrap();
    let decoded = f
        .run(&["psbt", "decode", "--json", path.to_str().unwrap()])
        .expect_code(0)
        .json();
    assert_eq!(decoded["tx"]["inputs"].as_array().unwrap().len(), 3);
    assert_eq!(decoded["tx"]["outputs"].as_array().unwrap().len(), 101);
    let from_stdin = f
        .run_with_stdin(&["psbt", "decode", "--json", "-"], frames, &[])
        .expect_code(0)
        .json();
    assert_eq!(from_stdin, decoded);
    let txn = include_str!("../../fixtures/bbqr_z_txn.txt");
    let r = f
        .run_with_stdin(&["--json", "psbt", "decode", "-"], txn, &[])
        .expect_code(1)
        .json();
    assert_eq!(r["error"]["code"], "malformed_psbt", "{r}");
}
