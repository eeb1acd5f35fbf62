//! Address and WIF vectors: Bitcoin Core's key_io and base58 files, BIP-0173/350 bech32.

use ferry::keys::PrivateKey;
use ferry::network::Network;
use ferry::script::base58;
use ferry::script::{Address, ScriptBuf};
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture is JSON")
}

/// Core's chain names to ferry's networks (testnet3 and testnet4 share every prefix).
fn networks_of(chain: &str) -> Vec<Network> {
    match chain {
        "main" => vec![Network::Bitcoin],
        "test" | "testnet4" => vec![Network::Testnet, Network::Testnet4],
        "signet" => vec![Network::Signet],
        "regtest" => vec![Network::Regtest],
        other => panic!("unknown chain {other}"),
    }
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn is_address_anywhere(s: &str) -> bool {
    Network::ALL
        .into_iter()
        .any(|n| Address::parse(s, n).is_ok())
}

fn is_wif_anywhere(s: &str) -> bool {
    Network::ALL
        .into_iter()
        .any(|n| PrivateKey::from_wif(s, n).is_ok())
}

#[test]
fn core_key_io_valid() {
    let v = json(include_str!("../../fixtures/core_key_io_valid.json"));
    let (mut addresses, mut privkeys) = (0, 0);
    for case in v.as_array().unwrap() {
        let s = case[0].as_str().unwrap();
        let payload = case[1].as_str().unwrap();
        let meta = &case[2];
        let chain = meta["chain"].as_str().unwrap();
        if meta["isPrivkey"].as_bool().unwrap() {
            let compressed = meta["isCompressed"].as_bool().unwrap();
            for network in networks_of(chain) {
                let k = PrivateKey::from_wif(s, network).unwrap();
                assert_eq!(hex::encode(*k.to_bytes()), payload, "{s}");
                assert_eq!(k.compressed(), compressed, "{s}");
                assert_eq!(k.to_wif().as_str(), s);
            }
            assert!(!is_address_anywhere(s), "privkey {s} parsed as an address");
            privkeys += 1;
        } else {
            let try_case_flip = meta["tryCaseFlip"].as_bool().unwrap_or(false);
            let spk = ScriptBuf::from_hex(payload).unwrap();
            for network in networks_of(chain) {
                let a = Address::parse(s, network).unwrap_or_else(|e| panic!("{s}: {e}"));
                assert_eq!(a.script_pubkey(), spk, "{s}");
                let encoded = Address::from_script(&spk, network).unwrap();
                assert_eq!(encoded.to_string(), s);
                let flipped = Address::parse(&flip_case(s), network);
                assert_eq!(flipped.is_ok(), try_case_flip, "case-flipped {s}");
                if let Ok(f) = flipped {
                    assert_eq!(f.script_pubkey(), spk);
                }
            }
            assert!(!is_wif_anywhere(s), "address {s} parsed as WIF");
            addresses += 1;
        }
    }
    assert_eq!((addresses, privkeys), (54, 16));
}

#[test]
fn core_key_io_invalid() {
    let v = json(include_str!("../../fixtures/core_key_io_invalid.json"));
    let mut n = 0;
    for case in v.as_array().unwrap() {
        let s = case[0].as_str().unwrap();
        for network in Network::ALL {
            assert!(Address::parse(s, network).is_err(), "{s} on {network}");
            assert!(
                PrivateKey::from_wif(s, network).is_err(),
                "{s} on {network}"
            );
        }
        n += 1;
    }
    assert_eq!(n, 70);
}

#[test]
fn core_base58_encode_decode() {
    let v = json(include_str!(
        "../../fixtures/core_base58_encode_decode.json"
    ));
    let mut n = 0;
    for case in v.as_array().unwrap() {
        let bytes = hex::decode(case[0].as_str().unwrap()).unwrap();
        let b58 = case[1].as_str().unwrap();
        assert_eq!(base58::encode(&bytes), b58);
        assert_eq!(base58::decode(b58).unwrap(), bytes, "{b58}");
        n += 1;
    }
    assert_eq!(n, 21);
}

fn checks_as<Ck: bech32::Checksum>(s: &str) -> bool {
    // BIP-0173 caps a whole string at 90 characters; the primitive does not.
    s.len() <= 90 && bech32::primitives::decode::CheckedHrpstring::new::<Ck>(s).is_ok()
}

fn network_of_hrp(address: &str) -> Network {
    match address.to_lowercase().split('1').next() {
        Some("bc") => Network::Bitcoin,
        Some("tb") => Network::Testnet,
        other => panic!("no network for hrp {other:?}"),
    }
}

#[test]
fn bech32_strings() {
    let v = json(include_str!("../../fixtures/bech32_vectors.json"));
    let mut n = 0;
    for (list, bech32m, valid) in [
        ("bip173/valid_bech32", false, true),
        ("bip173/invalid_bech32", false, false),
        ("bip350/valid_bech32m", true, true),
        ("bip350/invalid_bech32m", true, false),
    ] {
        let (bip, key) = list.split_once('/').unwrap();
        for case in v[bip][key].as_array().unwrap() {
            let s = case["string"].as_str().unwrap();
            let ok = if bech32m {
                checks_as::<bech32::Bech32m>(s)
            } else {
                checks_as::<bech32::Bech32>(s)
            };
            assert_eq!(ok, valid, "{list}: {s:?} ({})", case["reason"]);
            n += 1;
        }
    }
    assert_eq!(n, 7 + 12 + 7 + 14);
}

#[test]
fn segwit_addresses() {
    let v = json(include_str!("../../fixtures/bech32_vectors.json"));
    let (mut valid, mut invalid) = (0, 0);
    for bip in ["bip173", "bip350"] {
        for case in v[bip]["valid_segwit_addresses"].as_array().unwrap() {
            let s = case["address"].as_str().unwrap();
            let spk = case["scriptPubKey_hex"].as_str().unwrap();
            let network = network_of_hrp(s);
            let parsed = Address::parse(s, network);
            if case["valid_under_bip350"].as_bool().unwrap_or(true) {
                let a = parsed.unwrap_or_else(|e| panic!("{s}: {e}"));
                assert_eq!(a.script_pubkey().to_hex(), spk, "{s}");
                assert_eq!(a.to_string(), s.to_lowercase());
                valid += 1;
            } else {
                assert!(parsed.is_err(), "{s} is bech32 v1+, invalid since BIP-0350");
                invalid += 1;
            }
        }
        for case in v[bip]["invalid_segwit_addresses"].as_array().unwrap() {
            let s = case["address"].as_str().unwrap();
            assert!(!is_address_anywhere(s), "{s}: {}", case["reason"]);
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid), (3 + 8, 3 + 10 + 15));
}
