//! Wallets through the real binary: restoring the BIP-0049/84/86 vector mnemonics gives
//! the vector addresses, every address type on every network gives addresses of that
//! network, exported descriptors verify, several wallets live side by side, and the
//! identity key is created once.

use crate::common::cli::Ferry;
use ferry::descriptor::{Descriptor, checksum};
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::script::{Address, AddressType};
use serde_json::Value;

const BIP84: &str = include_str!("../../fixtures/bip84_vectors.json");
const BIP86: &str = include_str!("../../fixtures/bip86_vectors.json");
const BIP49: &str = include_str!("../../fixtures/bip49_vectors.json");

const PASSWORD: &str = "correct horse battery";

fn network_of(v: &Value) -> &'static str {
    match v["network"].as_str().unwrap() {
        "mainnet" => "bitcoin",
        "testnet" => "testnet",
        other => panic!("unexpected vector network {other}"),
    }
}

/// Restores a vector's mnemonic through `ferry restore --mnemonic-stdin`.
fn restore_vector(f: &Ferry, v: &Value, address_type: &str) {
    let mnemonic = v["mnemonic"].as_str().unwrap();
    assert_eq!(v["passphrase"], "");
    let run = f
        .run_with_stdin(
            &[
                "restore",
                "--mnemonic-stdin",
                "--network",
                network_of(v),
                "--address-type",
                address_type,
                "--json",
            ],
            &format!("{mnemonic}\n"),
            &[("FERRY_PASSWORD", PASSWORD)],
        )
        .expect_code(0);
    let out = run.json();
    assert_eq!(out["wallet"], "default");
    assert_eq!(out["network"], network_of(v));
    assert_eq!(out["address_type"], address_type);
    assert!(
        out.get("mnemonic").is_none(),
        "restore never prints the words"
    );
    assert!(!run.stdout.contains("abandon") && !run.stderr.contains("abandon"));
}

/// Checks every vector address through `ferry address --json`; returns how many.
fn check_vector_addresses(f: &Ferry, v: &Value) -> usize {
    let addresses = v["addresses"].as_array().unwrap();
    // The first plain `ferry address` is receive index 0.
    let first = addresses
        .iter()
        .find(|a| a["change"] == 0 && a["index"] == 0)
        .unwrap();
    let next = f.run(&["address", "--json"]).expect_code(0).json();
    assert_eq!(next["address"], first["address"]);
    assert_eq!(next["path"], first["path"]);
    let mut n = 0;
    for a in addresses {
        let index = a["index"].as_u64().unwrap().to_string();
        let change = a["change"] == 1;
        let mut args = vec!["address", "--json", "--index", &index];
        if change {
            args.push("--change");
        }
        let got = f.run(&args).expect_code(0).json();
        assert_eq!(got["address"], a["address"], "{}", a["path"]);
        assert_eq!(got["path"], a["path"]);
        assert_eq!(got["change"], change);
        assert_eq!(got["index"].as_u64(), a["index"].as_u64());
        if let Some(spk) = a.get("scriptPubKey_hex") {
            assert_eq!(&got["script_pubkey"], spk);
        }
        n += 1;
    }
    n
}

#[test]
fn bip84_restore_gives_vector_addresses_and_descriptors() {
    let v: Value = serde_json::from_str(BIP84).unwrap();
    let f = Ferry::new();
    restore_vector(&f, &v, "p2wpkh");
    assert_eq!(check_vector_addresses(&f, &v), 3);

    let d = f
        .run(&["export", "descriptors", "--json"])
        .expect_code(0)
        .json();
    let addresses = v["addresses"].as_array().unwrap();
    for (key, change) in [("receive", 0), ("change", 1)] {
        let text = d[key].as_str().unwrap();
        let (body, sum) = text.split_once('#').unwrap();
        assert_eq!(checksum(body).unwrap(), sum, "{text}");
        assert!(
            body.starts_with("wpkh([") && body.contains("/84h/0h/0h]xpub"),
            "{text}"
        );
        let desc: Descriptor = text.parse().unwrap();
        let expected = addresses
            .iter()
            .find(|a| a["change"] == change && a["index"] == 0)
            .unwrap();
        assert_eq!(
            desc.address_at(0, Network::Bitcoin).unwrap().to_string(),
            expected["address"].as_str().unwrap()
        );
    }
}

#[test]
fn bip86_restore_gives_vector_addresses() {
    let v: Value = serde_json::from_str(BIP86).unwrap();
    let f = Ferry::new();
    restore_vector(&f, &v, "p2tr");
    assert_eq!(check_vector_addresses(&f, &v), 3);
}

#[test]
fn bip49_restore_on_testnet_gives_vector_address() {
    let v: Value = serde_json::from_str(BIP49).unwrap();
    let f = Ferry::new();
    restore_vector(&f, &v, "p2sh-p2wpkh");
    // BIP-0049 lists only the first receive address (no change vector).
    assert_eq!(check_vector_addresses(&f, &v), 1);
}

/// Creates a wallet with the library (cheap KDF: the binary's `address` never opens the
/// keystore, so its cost does not matter here).
fn quick_wallet(f: &Ferry, name: &str, network: Network, address_type: AddressType) {
    let m = Mnemonic::generate(ferry::keys::WordCount::Words12).unwrap();
    f.add_wallet(name, &m, network, address_type, PASSWORD);
}

/// True if addresses of `t` on `a` and `b` are written with the same prefix.
fn same_prefixes(t: AddressType, a: Network, b: Network) -> bool {
    let (pa, pb) = (a.params(), b.params());
    match t {
        AddressType::P2pkh => pa.p2pkh_prefix == pb.p2pkh_prefix,
        AddressType::P2shP2wpkh => pa.p2sh_prefix == pb.p2sh_prefix,
        AddressType::P2wpkh | AddressType::P2tr => pa.bech32_hrp == pb.bech32_hrp,
    }
}

#[test]
fn every_address_type_on_every_network() {
    let f = Ferry::new();
    let mut checked = 0;
    for network in Network::ALL {
        for t in AddressType::ALL {
            let name = format!("{}-{}", network.name(), t.name());
            quick_wallet(&f, &name, network, t);
            let out = f
                .run(&["--wallet", &name, "address", "--json"])
                .expect_code(0)
                .json();
            let text = out["address"].as_str().unwrap();
            let parsed = Address::parse(text, network)
                .unwrap_or_else(|e| panic!("{name}: {text} does not parse: {e}"));
            assert_eq!(parsed.script_pubkey().to_hex(), out["script_pubkey"]);
            let path = format!("m/{}'/{}'/0'/0/0", t.purpose(), network.params().coin_type);
            assert_eq!(out["path"], path);
            let mut refused = 0;
            for other in Network::ALL {
                let ok = Address::parse(text, other).is_ok();
                assert_eq!(ok, same_prefixes(t, network, other), "{text} on {other}");
                refused += usize::from(!ok);
            }
            assert!(refused > 0, "{name}: no network refuses {text}");
            checked += 1;
        }
    }
    assert_eq!(checked, 28);

    // `ferry wallets` lists all of them with their network and type.
    let list = f.run(&["wallets", "--json"]).expect_code(0).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 28);
    for w in list {
        let name = w["name"].as_str().unwrap();
        assert_eq!(
            name,
            format!(
                "{}-{}",
                w["network"].as_str().unwrap(),
                w["address_type"].as_str().unwrap()
            )
        );
    }
}

#[test]
fn address_hands_out_the_next_unused_and_never_asks_a_password() {
    let f = Ferry::new();
    quick_wallet(&f, "default", Network::Regtest, AddressType::P2wpkh);
    // No FERRY_PASSWORD and no terminal: watch-only commands still work.
    let a0 = f.run(&["address", "--json"]).expect_code(0).json();
    let a1 = f.run(&["address", "--json"]).expect_code(0).json();
    assert_eq!(
        (a0["index"].as_u64(), a1["index"].as_u64()),
        (Some(0), Some(1))
    );
    assert_ne!(a0["address"], a1["address"]);
    // An explicit index is handed out too, and the counter skips it later.
    let a3 = f
        .run(&["address", "--json", "--index", "3"])
        .expect_code(0)
        .json();
    assert_eq!(a3["index"], 3);
    let a2 = f.run(&["address", "--json"]).expect_code(0).json();
    let a4 = f.run(&["address", "--json"]).expect_code(0).json();
    assert_eq!(
        (a2["index"].as_u64(), a4["index"].as_u64()),
        (Some(2), Some(4))
    );
    let c0 = f
        .run(&["address", "--json", "--change"])
        .expect_code(0)
        .json();
    assert_eq!(c0["change"], true);
    assert!(c0["path"].as_str().unwrap().ends_with("/1/0"));
    // The QR code is drawn with half blocks, and the address follows it.
    let qr = f.run(&["address", "--index", "0", "--qr"]).expect_code(0);
    assert!(qr.stdout.contains('▀') || qr.stdout.contains('▄'));
    assert!(
        qr.stdout
            .trim_end()
            .ends_with(a0["address"].as_str().unwrap())
    );
    // A bad index is refused.
    let run = f.run(&["address", "--index", "2147483648"]).expect_code(1);
    assert!(run.stderr.contains("2^31"), "{}", run.stderr);
}

#[test]
fn wallets_side_by_side() {
    let f = Ferry::new();
    let empty = f.run(&["wallets", "--json"]).expect_code(0).json();
    assert_eq!(empty, serde_json::json!([]));
    quick_wallet(&f, "savings", Network::Bitcoin, AddressType::P2tr);
    quick_wallet(&f, "spending", Network::Signet, AddressType::P2wpkh);
    let s = f
        .run(&["--wallet", "savings", "address", "--json"])
        .expect_code(0)
        .json();
    let t = f
        .run(&["--wallet", "spending", "address", "--json"])
        .expect_code(0)
        .json();
    assert!(s["address"].as_str().unwrap().starts_with("bc1p"));
    assert!(t["address"].as_str().unwrap().starts_with("tb1q"));
    let text = f.run(&["wallets"]).expect_code(0).stdout;
    assert!(text.contains("savings") && text.contains("spending") && text.contains("signet"));
    let run = f.run(&["--wallet", "nope", "address"]).expect_code(1);
    assert!(
        run.stderr.contains("no wallet named \"nope\""),
        "{}",
        run.stderr
    );
}

#[test]
fn identity_is_created_once_and_can_be_imported() {
    let f = Ferry::new();
    let first = f.run(&["identity", "--json"]).expect_code(0);
    assert!(first.stderr.contains("Created"));
    let a = first.json();
    let b = f.run(&["identity", "--json"]).expect_code(0).json();
    assert_eq!(a, b);
    let key = a["key"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(
        ferry::identity::encode_npub(&hex::decode(key).unwrap().try_into().unwrap()),
        a["npub"].as_str().unwrap()
    );
    let path = f.dir.path().join("identity.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let secret = std::fs::read_to_string(&path).unwrap();
    assert!(!first.stdout.contains(secret.trim()) && !first.stderr.contains(secret.trim()));

    // Import from stdin: refused over the existing key, accepted with --force.
    let nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";
    let run = f
        .run_with_stdin(&["identity", "import"], nsec, &[])
        .expect_code(1);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    let run = f
        .run_with_stdin(&["identity", "import", "--force", "--json"], nsec, &[])
        .expect_code(0);
    let imported = run.json();
    assert_ne!(imported["key"], a["key"]);
    assert_eq!(
        imported["npub"],
        "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
    );
    assert!(!run.stdout.contains(nsec) && !run.stderr.contains(nsec));
    let bad = f
        .run_with_stdin(&["identity", "import", "--force"], "nsec1notakey", &[])
        .expect_code(1);
    assert!(bad.stderr.contains("not a secret key"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("notakey"));
}
