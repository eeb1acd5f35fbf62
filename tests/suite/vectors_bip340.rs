//! BIP-0340 test vectors: signing with the row's explicit aux randomness, public key
//! derivation and verification (including keys not on the curve and out-of-range values).
// Test helpers panic on malformed vectors by design.

use ferry::sign::verify_schnorr;
use k256::schnorr::SigningKey;

#[test]
fn bip340_csv() {
    let csv = include_str!("../../fixtures/bip340_test-vectors.csv");
    let (mut rows, mut signed) = (0, 0);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.splitn(8, ',').collect();
        assert_eq!(f.len(), 8, "row {line}");
        let (secret, pubkey, aux, msg, sig, result) = (f[1], f[2], f[3], f[4], f[5], f[6]);
        let pubkey: [u8; 32] = hex::decode(pubkey).unwrap().try_into().unwrap();
        let msg = hex::decode(msg).unwrap();
        let sig: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
        let expected = match result {
            "TRUE" => true,
            "FALSE" => false,
            other => panic!("bad verification result {other}"),
        };
        if !secret.is_empty() {
            let key = SigningKey::from_slice(&hex::decode(secret).unwrap()).unwrap();
            assert_eq!(
                <[u8; 32]>::from(key.verifying_key().to_bytes()),
                pubkey,
                "row {}",
                f[0]
            );
            let aux: [u8; 32] = hex::decode(aux).unwrap().try_into().unwrap();
            // The rows' messages have any length, so sign through the raw BIP-0340 call.
            let got = key.sign_raw(&msg, &aux).unwrap();
            assert_eq!(got.to_bytes().as_slice(), &sig[..], "row {}", f[0]);
            if msg.len() == 32 {
                let m: [u8; 32] = msg.clone().try_into().unwrap();
                let via_ferry = ferry::sign::sign_schnorr_with_aux(&key, &m, 0, &aux).unwrap();
                assert_eq!(via_ferry.to_vec(), sig.to_vec(), "row {}", f[0]);
            }
            signed += 1;
        }
        assert_eq!(
            verify_schnorr(&pubkey, &msg, &sig),
            expected,
            "row {}",
            f[0]
        );
        rows += 1;
    }
    assert_eq!(rows, 19);
    assert_eq!(signed, 8);
}
