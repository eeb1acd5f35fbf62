use super::*;

const EXAMPLE: &str = include_str!("../../fixtures/bip329_example.jsonl");
const TXID: &str = "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd";

fn parsed(line: &str) -> Result<LabelRecord, LabelError> {
    LabelRecord::parse_line(line, Network::Bitcoin)
}

fn value(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_bips_example_parses_and_writes_back_the_same_records() {
    let p = parse_file(EXAMPLE.as_bytes(), Network::Bitcoin);
    assert!(p.bad.is_empty(), "{:?}", p.bad);
    assert!(p.ignored.is_empty(), "{:?}", p.ignored);
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    assert_eq!(p.records.len(), lines.len());
    let kinds: Vec<LabelType> = p.records.iter().map(|(_, r)| r.kind).collect();
    for t in LabelType::ALL {
        assert!(kinds.contains(&t), "the example has a {t} record");
    }
    for (n, r) in &p.records {
        assert_eq!(value(&r.to_json_line()), value(lines[n - 1]), "line {n}");
    }
    let output = &p.records[4].1;
    assert_eq!(output.spendable, Some(false));
    assert_eq!(
        p.records[0].1.origin.as_deref(),
        Some("wpkh([d34db33f/84'/0'/0'])")
    );
}

#[test]
fn refs_are_checked_per_type() {
    let cases: &[(&str, &str)] = &[
        ("tx", "f91d"),
        ("tx", &format!("{TXID}00")),
        ("addr", "bc1qnotanaddress"),
        ("addr", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"),
        (
            "pubkey",
            "0483409659355b6d1cc3c32decd5d561abaac86c37a353b52895a5e6c196d6f448",
        ),
        ("pubkey", "zz"),
        ("input", TXID),
        ("output", &format!("{TXID}:x")),
        ("output", &format!("{TXID}:+1")),
        ("output", &format!("{TXID}:4294967296")),
        ("xpub", "xpub-not-really"),
        ("spscan", "bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c"),
    ];
    for (kind, reference) in cases {
        let line = format!(r#"{{"type":"{kind}","ref":"{reference}","label":"x"}}"#);
        assert!(
            matches!(parsed(&line), Err(LabelError::BadRef { .. })),
            "{line}: {:?}",
            parsed(&line)
        );
    }
    // Canonical forms: lower-case txids, one spelling per outpoint.
    let upper = format!(
        r#"{{"type":"output","ref":"{}:01","label":"x"}}"#,
        TXID.to_uppercase()
    );
    assert_eq!(parsed(&upper).unwrap().reference, format!("{TXID}:1"));
    // An address must be of the wallet's network.
    let addr = r#"{"type":"addr","ref":"bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c"}"#;
    assert!(LabelRecord::parse_line(addr, Network::Regtest).is_err());
}

#[test]
fn fields_are_checked() {
    let t = format!(r#""type":"tx","ref":"{TXID}""#);
    for (line, want) in [
        ("not json".to_owned(), "not JSON"),
        ("[1,2]".to_owned(), "not a JSON object"),
        (format!(r#"{{"ref":"{TXID}"}}"#), "no \"type\""),
        (r#"{"type":"tx"}"#.to_owned(), "no \"ref\""),
        (
            format!(r#"{{{t},"label":7}}"#),
            "\"label\" must be a string",
        ),
        (format!(r#"{{{t},"spendable":false}}"#), "only for output"),
        (
            format!(r#"{{"type":"output","ref":"{TXID}:0","spendable":"false"}}"#),
            "true or false",
        ),
        (
            format!(r#"{{{t},"origin":"wpkh(xpub661My)"}}"#),
            "bad origin",
        ),
        (
            format!(r#"{{{t},"origin":"wpkh([d34db33f/84'/0'/0'])#abcd"}}"#),
            "checksum",
        ),
    ] {
        let err = parsed(&line).unwrap_err().to_string();
        assert!(err.contains(want), "{line}: {err}");
    }
    assert_eq!(
        parsed(r#"{"type":"silent","ref":"x"}"#),
        Err(LabelError::UnknownType("silent".into()))
    );
    // No label: leaves a stored one alone. Extra fields are read, not kept.
    let r = parsed(&format!(r#"{{{t},"height":800000,"fee":150}}"#)).unwrap();
    assert_eq!((r.label, r.spendable), (None, None));
}

#[test]
fn origins_are_abbreviated_descriptors() {
    for good in [
        "wpkh([d34db33f/84'/0'/0'])",
        "sh(wpkh([d34db33f/49h/0h/0h]))",
        "tr([d34db33f/86'/1'/0'])",
        "wsh(sortedmulti(2,[d34db33f/48'/0'/0'/2'],[0badf00d/48'/0'/0'/2']))",
    ] {
        check_origin(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "",
        "wpkh()",
        "wpkh([d34db33f/84'/0'/0']xpub)",
        "wpkh([d34db3/84'])",
        "wpkh([d34db33f/84'/0'/0']",
        "x y",
    ] {
        assert!(check_origin(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn files_report_by_line_number() {
    let file = format!(
        "{{\"type\":\"tx\",\"ref\":\"{TXID}\",\"label\":\"a\"}}\r\n\n{{\"type\":\"future\",\"ref\":\"x\"}}\nnope\n"
    );
    let mut file = file.into_bytes();
    file.extend_from_slice(b"\xff\n{\"type\":\"tx\",\"ref\":\"abc\"}\n");
    let p = parse_file(&file, Network::Bitcoin);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].0, 1);
    assert_eq!(p.ignored, vec![(3, "future".to_owned())]);
    let bad: Vec<usize> = p.bad.iter().map(|(n, _)| *n).collect();
    assert_eq!(bad, vec![4, 5, 6]);
    assert_eq!(p.bad[1].1, LabelError::NotUtf8);
}

#[test]
fn the_book_finds_labels_and_frozen_outputs() {
    let outpoint: OutPoint = format!("{TXID}:1").parse().unwrap();
    let p = parse_file(EXAMPLE.as_bytes(), Network::Bitcoin);
    let book = LabelBook::new(p.records.into_iter().map(|(_, r)| r));
    assert_eq!(book.tx(&TXID.parse().unwrap()), Some("Transaction"));
    assert_eq!(book.output(&outpoint), Some("Output"));
    assert!(!book.spendable(&outpoint));
    assert!(book.spendable(&OutPoint {
        vout: 0,
        ..outpoint
    }));
    assert_eq!(
        book.addr("bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c"),
        Some("Address")
    );
}

#[test]
fn private_keys_are_refused_and_never_echoed() {
    use crate::keys::{PrivateKey, Xpriv, Xpub};
    let xprv = Xpriv::new_master(&[9u8; 32], Network::Bitcoin).unwrap();
    let xpub = Xpub::from_priv(&xprv).to_string();
    let secret = k256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let wif = PrivateKey::new(secret, true, Network::Bitcoin).to_wif();
    for (kind, key) in [
        ("xpub", xprv.to_base58().to_string()),
        ("addr", wif.to_string()),
        ("tx", wif.to_string()),
    ] {
        let line = format!(r#"{{"type":"{kind}","ref":"{key}","label":"x"}}"#);
        let err = parsed(&line).unwrap_err();
        assert!(matches!(err, LabelError::PrivateKey(_)), "{kind}: {err:?}");
        assert!(!err.to_string().contains(&key[5..20]), "{err}");
    }
    // The public one is fine.
    let line = format!(r#"{{"type":"xpub","ref":"{xpub}","label":"x"}}"#);
    assert_eq!(parsed(&line).unwrap().reference, xpub);
}
