//! Key vectors: BIP-0032 (1–5), BIP-0039 (python-mnemonic English), BIP-0049/84/86.

use ferry::keys::{
    self, Bip32Error, ChildNumber, DerivationPath, KeyChain, Mnemonic, PrivateKey, Xpriv, Xpub,
    path,
};
use ferry::network::Network;
use ferry::script::AddressType;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture is JSON")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing {key} in {v}"))
}

#[test]
fn bip32_vectors_1_to_4() {
    let v = json(include_str!("../../fixtures/bip32_vectors.json"));
    let (mut chains, mut public_derivations) = (0, 0);
    for vector in v["valid"].as_array().unwrap() {
        let seed = hex::decode(str_of(vector, "seed_hex")).unwrap();
        let master = Xpriv::new_master(&seed, Network::Bitcoin).unwrap();
        let master_pub = Xpub::from_priv(&master);
        for chain in vector["chains"].as_array().unwrap() {
            let path: DerivationPath = str_of(chain, "chain").parse().unwrap();
            let indices: Vec<u32> = chain["path_indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| u32::try_from(i.as_u64().unwrap()).unwrap())
                .collect();
            let raw: Vec<u32> = path.as_slice().iter().map(|c| c.to_u32()).collect();
            assert_eq!(raw, indices, "{path}");

            let xprv = master.derive_priv(&path).unwrap();
            assert_eq!(
                xprv.to_base58().as_str(),
                str_of(chain, "ext_prv"),
                "{path}"
            );
            let xpub = Xpub::from_priv(&xprv);
            assert_eq!(xpub.to_string(), str_of(chain, "ext_pub"), "{path}");

            // Parsing round-trips both forms.
            let parsed: Xpriv = str_of(chain, "ext_prv").parse().unwrap();
            assert_eq!(parsed, xprv);
            let parsed: Xpub = str_of(chain, "ext_pub").parse().unwrap();
            assert_eq!(parsed, xpub);

            // Public derivation from the deepest hardened ancestor matches.
            let last_hardened = path.as_slice().iter().rposition(|c| c.is_hardened());
            let split = last_hardened.map_or(0, |i| i + 1);
            if split < path.len() {
                let base = DerivationPath::from(path.as_slice()[..split].to_vec());
                let rest = DerivationPath::from(path.as_slice()[split..].to_vec());
                let base_pub = if split == 0 {
                    master_pub.clone()
                } else {
                    Xpub::from_priv(&master.derive_priv(&base).unwrap())
                };
                assert_eq!(
                    base_pub.derive_pub(&rest).unwrap().to_string(),
                    str_of(chain, "ext_pub"),
                    "{path}"
                );
                public_derivations += 1;
            }
            if path.has_hardened() {
                assert!(master_pub.derive_pub(&path).is_err());
            }
            chains += 1;
        }
    }
    assert_eq!(chains, 6 + 6 + 2 + 3);
    assert_eq!(public_derivations, 3 + 3);
}

#[test]
fn bip32_vector_5_invalid_keys_rejected() {
    let v = json(include_str!("../../fixtures/bip32_vectors.json"));
    let mut n = 0;
    for case in v["invalid"].as_array().unwrap() {
        let key = str_of(case, "key");
        let reason = str_of(case, "reason");
        let as_pub = key.parse::<Xpub>();
        let as_prv = key.parse::<Xpriv>();
        assert!(as_pub.is_err(), "{reason}: {key} parsed as xpub");
        assert!(as_prv.is_err(), "{reason}: {key} parsed as xprv");
        // The parser matching the key's prefix names the problem itself.
        let err = if key.starts_with("xpub") {
            as_pub.unwrap_err()
        } else {
            as_prv.unwrap_err()
        };
        let expected = if reason.contains("zero depth with non-zero parent") {
            matches!(err, Bip32Error::ZeroDepthParent(_))
        } else if reason.contains("zero depth with non-zero index") {
            matches!(err, Bip32Error::ZeroDepthChild(_))
        } else if reason.contains("unknown extended key version") {
            matches!(err, Bip32Error::UnknownVersion(_))
        } else if reason.contains("checksum") {
            matches!(err, Bip32Error::Base58(_))
        } else if key.starts_with("xpub") {
            matches!(err, Bip32Error::InvalidPublicKey(_))
        } else {
            matches!(err, Bip32Error::InvalidPrivateKey(_))
        };
        assert!(expected, "{reason}: {key} failed for another reason: {err}");
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn python_mnemonic_english() {
    let v = json(include_str!("../../fixtures/python-mnemonic_vectors.json"));
    let mut n = 0;
    for case in v["english"].as_array().unwrap() {
        let [entropy, phrase, seed, xprv] = [0, 1, 2, 3].map(|i| case[i].as_str().unwrap());
        let m = Mnemonic::from_entropy(&hex::decode(entropy).unwrap()).unwrap();
        assert_eq!(m.phrase().as_str(), phrase);
        let parsed = Mnemonic::parse(phrase).unwrap();
        assert_eq!(hex::encode(&*parsed.to_entropy()), entropy);
        let s = parsed.to_seed("TREZOR");
        assert_eq!(hex::encode(*s), seed);
        let root = Xpriv::new_master(&s[..], Network::Bitcoin).unwrap();
        assert_eq!(root.to_base58().as_str(), xprv);
        n += 1;
    }
    assert_eq!(n, 24);
}

/// Checks a BIP-0049/84/86 file: root, account keys (SLIP-132 read), every address.
fn check_account_vectors(file: &str, address_type: AddressType) -> usize {
    let v = json(file);
    let network = match str_of(&v, "network") {
        "mainnet" => Network::Bitcoin,
        "testnet" => Network::Testnet,
        other => panic!("unknown network {other}"),
    };
    let m = Mnemonic::parse(str_of(&v, "mnemonic")).unwrap();
    let seed = m.to_seed(str_of(&v, "passphrase"));
    let root = Xpriv::new_master(&seed[..], network).unwrap();

    let (root_vec, implied) = Xpriv::parse_slip132(str_of(&v["root"], "xprv")).unwrap();
    assert_eq!(root_vec.with_network(network).unwrap(), root);
    assert!(implied.is_none() || implied == Some(address_type));
    if let Some(xpub) = v["root"]["xpub"].as_str() {
        let (p, _) = Xpub::parse_slip132(xpub).unwrap();
        assert_eq!(p, Xpub::from_priv(&root));
    }

    let account_path = path::account_path(address_type, network, 0).unwrap();
    assert_eq!(account_path.to_string(), str_of(&v["account"], "path"));
    let account = root.derive_priv(&account_path).unwrap();
    let (acc_prv, t1) = Xpriv::parse_slip132(str_of(&v["account"], "xprv")).unwrap();
    let (acc_pub, t2) = Xpub::parse_slip132(str_of(&v["account"], "xpub")).unwrap();
    assert_eq!(acc_prv, account);
    assert_eq!(acc_pub, Xpub::from_priv(&account));
    for t in [t1, t2] {
        assert!(t.is_none() || t == Some(address_type), "{t:?}");
    }

    let mut n = 0;
    for a in v["addresses"].as_array().unwrap() {
        let chain = match a["change"].as_u64().unwrap() {
            0 => KeyChain::Receive,
            _ => KeyChain::Change,
        };
        let index = u32::try_from(a["index"].as_u64().unwrap()).unwrap();
        let full = path::address_path(address_type, network, 0, chain, index).unwrap();
        assert_eq!(full.to_string(), str_of(a, "path"));
        let out = keys::derive_output(address_type, network, &acc_pub, chain, index).unwrap();
        assert_eq!(out.address.to_string(), str_of(a, "address"), "{full}");
        let leaf = root.derive_priv(&full).unwrap();
        assert_eq!(out.public_key, keys::bip32::compressed(&leaf.public_key()));
        if let Some(wif) = a["privkey_wif"].as_str() {
            let k = PrivateKey::from_wif(wif, network).unwrap();
            assert!(k.compressed());
            assert_eq!(k.secret_key(), leaf.secret_key());
            assert_eq!(k.to_wif().as_str(), wif);
        }
        if let Some(h) = a["privkey_hex"].as_str() {
            assert_eq!(hex::encode(leaf.secret_key().to_bytes()), h);
        }
        if let Some(h) = a["pubkey_hex"].as_str() {
            assert_eq!(hex::encode(out.public_key), h);
        }
        if let Some(h) = a["keyhash_hex"].as_str() {
            assert_eq!(hex::encode(ferry::hashes::hash160(&out.public_key)), h);
        }
        if let Some(h) = a["redeemScript_hex"].as_str() {
            assert_eq!(out.redeem_script.as_ref().unwrap().to_hex(), h);
        }
        if let Some(h) = a["script_hash_hex"].as_str() {
            assert_eq!(&out.script_pubkey.to_hex()[4..44], h);
        }
        if let Some(x) = a["xprv"].as_str() {
            assert_eq!(leaf.to_base58().as_str(), x);
        }
        if let Some(x) = a["xpub"].as_str() {
            assert_eq!(Xpub::from_priv(&leaf).to_string(), x);
        }
        if let Some(h) = a["internal_key_xonly_hex"].as_str() {
            assert_eq!(hex::encode(&out.public_key[1..]), h);
        }
        if let Some(h) = a["output_key_xonly_hex"].as_str() {
            assert_eq!(&out.script_pubkey.to_hex()[4..], h);
        }
        if let Some(h) = a["scriptPubKey_hex"].as_str() {
            assert_eq!(out.script_pubkey.to_hex(), h);
        }
        n += 1;
    }
    n
}

#[test]
fn bip49_84_86_accounts() {
    let n49 = check_account_vectors(
        include_str!("../../fixtures/bip49_vectors.json"),
        AddressType::P2shP2wpkh,
    );
    let n84 = check_account_vectors(
        include_str!("../../fixtures/bip84_vectors.json"),
        AddressType::P2wpkh,
    );
    let n86 = check_account_vectors(
        include_str!("../../fixtures/bip86_vectors.json"),
        AddressType::P2tr,
    );
    assert_eq!((n49, n84, n86), (1, 3, 3));
}

#[test]
fn public_derivation_refuses_hardened() {
    let root = Xpriv::new_master(&[1u8; 16], Network::Bitcoin).unwrap();
    let xpub = Xpub::from_priv(&root);
    let err = xpub
        .derive_child(ChildNumber::hardened(0).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("hardened"), "{err}");
}
