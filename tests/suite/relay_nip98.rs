//! NIP-98 verification against every case of fixtures/nip98_relay_auth.json.

use ferry::relay::auth::{
    AuthError, NostrEvent, RequestInfo, parse_header, verify_event, verify_header,
};
use serde_json::Value;

const VECTORS: &str = include_str!("../../fixtures/nip98_relay_auth.json");

/// The fixture's reason text mapped to the error ferry must give.
fn expected(reason: &str, err: &AuthError) -> bool {
    match reason {
        "created_at outside ±60 s" => matches!(err, AuthError::Expired { .. }),
        "method tag differs" => matches!(err, AuthError::MethodMismatch { .. }),
        "u tag differs from request URL" => matches!(err, AuthError::UrlMismatch { .. }),
        "payload hash differs" => matches!(err, AuthError::PayloadMismatch),
        "BIP340 signature invalid" => matches!(err, AuthError::BadSignature),
        "id is not sha256 of the NIP-01 serialization" => matches!(err, AuthError::IdMismatch),
        "kind is not 27235" => matches!(err, AuthError::WrongKind(_)),
        "ferry requires the payload tag on requests with a body" => {
            matches!(err, AuthError::MissingPayload)
        }
        other => panic!("unmapped reason {other:?}"),
    }
}

#[test]
fn every_case() {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let friend = v["friend_keys"]["alice"].as_str().unwrap();
    let mut n = 0;
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = &case["request"];
        let req = RequestInfo {
            method: r["method"].as_str().unwrap(),
            url: r["url"].as_str().unwrap(),
            body: r["body"].as_str().unwrap().as_bytes(),
            now: r["server_time"].as_i64().unwrap(),
        };
        // The header decodes to exactly the event given in the case.
        let header = case["authorization"].as_str().unwrap();
        let event: NostrEvent = serde_json::from_value(case["event"].clone()).unwrap();
        assert_eq!(parse_header(header).unwrap(), event, "{name}");
        let got = verify_header(Some(header), &req);
        if case["valid"].as_bool().unwrap() {
            let ok = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                hex::encode(ok.pubkey),
                case["event"]["pubkey"].as_str().unwrap()
            );
            // The friends list is the server's separate check.
            assert_eq!(
                hex::encode(ok.pubkey) == friend,
                !name.contains("not a friend"),
                "{name}"
            );
        } else {
            let err = got.expect_err(name);
            let reason = case["reason"].as_str().unwrap();
            assert!(expected(reason, &err), "{name}: got {err}, want {reason}");
        }
        n += 1;
    }
    assert_eq!(n, 10);
}

#[test]
fn nip98_doc_example_needs_its_id_recomputed() {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let signed: NostrEvent =
        serde_json::from_value(v["nip98_doc_example"]["event_as_signed"].clone()).unwrap();
    // As signed (tag "url"), id and BIP340 signature verify.
    signed.verify_signature().unwrap();
    // As printed in NIP-98 (tag "u"), the stated id is not the event's id.
    let mut printed = signed.clone();
    printed.tags[0][0] = "u".to_owned();
    assert_eq!(printed.verify_signature(), Err(AuthError::IdMismatch));
    // And as signed it is no valid NIP-98 authorization for ferry: there is no `u` tag.
    let req = RequestInfo {
        method: "GET",
        url: "https://api.snort.social/api/v1/n5sp/list",
        body: b"",
        now: signed.created_at,
    };
    assert!(matches!(
        verify_event(&signed, &req),
        Err(AuthError::UrlMismatch { .. })
    ));
}
