//! `ferry tx decode` through the real binary.

use crate::common::cli::Ferry;

// BIP-0143's native P2WPKH example, signed.
const SEGWIT_TX: &str = "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000";

#[test]
fn decode_json_has_the_contract_fields() {
    let f = Ferry::new();
    let v = f
        .run(&["tx", "decode", "--json", SEGWIT_TX])
        .expect_code(0)
        .json();
    assert_eq!(v["version"], 1);
    assert_eq!(v["locktime"], 17);
    assert_eq!(v["size"], SEGWIT_TX.len() / 2);
    let weight = v["weight"].as_u64().unwrap();
    assert_eq!(v["vsize"].as_u64().unwrap(), weight.div_ceil(4));
    let inputs = v["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    assert_eq!(
        inputs[0]["txid"],
        "9f96ade4b41d5433f4eda31e1738ec2b36f6e7d1420d94a6af99801a88f7f7ff"
    );
    assert_eq!(inputs[0]["vout"], 0);
    assert_eq!(inputs[0]["sequence"], 0xffff_ffeeu32);
    assert_eq!(inputs[0]["witness"].as_array().unwrap().len(), 0);
    assert_eq!(inputs[1]["witness"].as_array().unwrap().len(), 2);
    let outputs = v["outputs"].as_array().unwrap();
    assert_eq!(outputs[0]["value_sat"], 112_340_000u64);
    // base58check(0x00 || 8280b3…6d59), computed independently with Python.
    assert_eq!(outputs[0]["address"], "1Cu32FVupVCgHkMMRJdYJugxwo2Aprgk7H");
    for key in ["txid", "wtxid"] {
        assert_eq!(v[key].as_str().unwrap().len(), 64);
    }
    assert_ne!(v["txid"], v["wtxid"]);
}

#[test]
fn decode_reads_stdin_and_prints_text() {
    let f = Ferry::new();
    let run = f.run_with_stdin(&["tx", "decode", "-"], &format!("{SEGWIT_TX}\n"), &[]);
    let run = run.expect_code(0);
    assert!(run.stdout.contains("inputs (2)"), "{}", run.stdout);
}

#[test]
fn malformed_hex_is_a_user_error_with_a_code() {
    let f = Ferry::new();
    let v = f
        .run(&["tx", "decode", "--json", "0100zz"])
        .expect_code(1)
        .json();
    assert_eq!(v["error"]["code"], "malformed_tx");
    let truncated = &SEGWIT_TX[..SEGWIT_TX.len() - 2];
    let run = f.run(&["tx", "decode", truncated]).expect_code(1);
    assert!(
        run.stderr.contains("not a valid raw transaction"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_for_every_shell() {
    let f = Ferry::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = f.run(&["completions", shell]).expect_code(0);
        assert!(run.stdout.contains("ferry"), "{shell}");
        assert!(
            run.stdout.contains("send"),
            "{shell}: subcommands are completed"
        );
    }
    f.run(&["completions", "cmd.exe"]).expect_code(1);
}
