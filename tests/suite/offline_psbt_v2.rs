//! BIP-0370 (PSBT version 2) vectors: every invalid PSBT refused for its reason, every valid
//! one read and written back byte for byte, the locktime determination cases, and the
//! conversion between versions 0 and 2.

use ferry::psbt::{Location, Psbt, PsbtError};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../fixtures/bip370_vectors.json")).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))
}

#[test]
fn invalid_v2_vectors_are_refused_for_their_reason() {
    let v = vectors();
    let cases = v["invalid"].as_array().unwrap();
    for case in cases {
        let desc = s(case, "description");
        let err = Psbt::from_hex(s(case, "hex")).unwrap_err();
        assert_eq!(Psbt::from_base64(s(case, "base64")).unwrap_err(), err);
        let ok = if desc.starts_with("PSBTv0 but with PSBT_GLOBAL_VERSION set to 2") {
            matches!(
                err,
                PsbtError::MissingField { .. } | PsbtError::FieldNotInVersion { version: 2, .. }
            )
        } else if desc.starts_with("PSBTv0 but with") {
            matches!(err, PsbtError::FieldNotInVersion { version: 0, .. })
        } else if desc.contains("with PSBT_GLOBAL_UNSIGNED_TX") {
            matches!(
                err,
                PsbtError::FieldNotInVersion {
                    version: 2,
                    key_type: 0,
                    location: Location::Global
                }
            )
        } else if desc.starts_with("PSBTv2 missing") {
            let field = desc
                .trim_start_matches("PSBTv2 missing ")
                .trim_end_matches('.');
            matches!(err, PsbtError::MissingField { what, .. } if what == field)
        } else if desc.contains("LOCKTIME") {
            matches!(
                err,
                PsbtError::InvalidValue {
                    key_type: 0x11 | 0x12,
                    ..
                }
            )
        } else {
            panic!("no expectation for {desc}: {err}")
        };
        assert!(ok, "{desc}: wrong error {err:?} ({err})");
    }
    assert_eq!(cases.len(), 24);
}

#[test]
fn valid_v2_vectors_round_trip_byte_for_byte() {
    let v = vectors();
    let cases = v["valid"].as_array().unwrap();
    for case in cases {
        let desc = s(case, "description");
        let psbt = Psbt::from_hex(s(case, "hex")).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(psbt.psbt_version(), 2, "{desc}");
        assert_eq!(psbt.to_hex(), s(case, "hex"), "{desc}");
        assert_eq!(psbt.to_base64(), s(case, "base64"), "{desc}");
        assert_eq!(psbt.inputs.len(), psbt.unsigned_tx.input.len(), "{desc}");
        assert_eq!(psbt.outputs.len(), psbt.unsigned_tx.output.len(), "{desc}");
        // No version 2 field is left among the unknown pairs.
        assert!(
            psbt.unknown.keys().all(|k| !(2..=6).contains(&k[0])),
            "{desc}"
        );
    }
    assert_eq!(cases.len(), 14);
}

#[test]
fn locktime_is_determined_as_bip370_says() {
    let v = vectors();
    let cases = v["timelock"].as_array().unwrap();
    for case in cases {
        let desc = case["description"].as_str().unwrap_or("(no description)");
        let parsed = Psbt::from_hex(s(case, "hex"));
        match case["expected_locktime"].as_u64() {
            Some(lt) => {
                let psbt = parsed.unwrap_or_else(|e| panic!("{desc}: {e}"));
                let decoded = psbt.decode();
                assert_eq!(u64::from(decoded.tx.locktime), lt, "{desc}");
                for (d, i) in decoded.inputs.iter().zip(&psbt.inputs) {
                    assert_eq!(d.required_height_locktime, i.required_height_locktime);
                    assert_eq!(d.required_time_locktime, i.required_time_locktime);
                }
                assert_eq!(u64::from(psbt.unsigned_tx.lock_time), lt, "{desc}");
                assert_eq!(psbt.to_hex(), s(case, "hex"), "{desc}");
            }
            None => assert_eq!(
                parsed.unwrap_err(),
                PsbtError::LocktimeUndetermined,
                "{desc}"
            ),
        }
    }
    assert_eq!(cases.len(), 10);
}

#[test]
fn conversion_keeps_the_transaction_and_round_trips() {
    let v = vectors();
    for case in v["valid"].as_array().unwrap() {
        let desc = s(case, "description");
        let v2 = Psbt::from_hex(s(case, "hex")).unwrap();
        let mut v0 = v2.clone();
        v0.set_version(0).unwrap();
        let v0_bytes = v0.serialize();
        let reread = Psbt::deserialize(&v0_bytes).unwrap();
        assert_eq!(reread.psbt_version(), 0, "{desc}");
        assert_eq!(reread.unsigned_tx, v2.unsigned_tx, "{desc}");
        assert_eq!(
            reread.inputs[0].partial_sigs, v2.inputs[0].partial_sigs,
            "{desc}"
        );
        let mut back = reread.clone();
        back.set_version(2).unwrap();
        let back = Psbt::deserialize(&back.serialize()).unwrap();
        assert_eq!(back.unsigned_tx, v2.unsigned_tx, "{desc}");
        let mut again = back.clone();
        again.set_version(0).unwrap();
        assert_eq!(again.serialize(), v0_bytes, "{desc}");
        assert!(v0.clone().set_version(1).is_err());
    }
}

#[test]
fn versions_do_not_combine_but_v2_combines_with_itself() {
    let v = vectors();
    let a = Psbt::from_hex(s(&v["valid"][1], "hex")).unwrap();
    let mut v0 = a.clone();
    v0.set_version(0).unwrap();
    let err = a.clone().combine(v0).unwrap_err();
    assert_eq!(err, PsbtError::DifferentVersions { ours: 2, theirs: 0 });
    let mut b = a.clone();
    b.combine(a.clone()).unwrap();
    assert_eq!(b, a);
}
