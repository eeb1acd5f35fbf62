//! Any bytes from a peer: the v1 frame decoder and the BIP-0324 message decoder never
//! panic, and what decodes re-encodes to the same message.
#![no_main]

use ferry::network::Network;
use ferry::p2p::Message;
use ferry::p2p::wire::{decode_frame, encode_frame};
use libfuzzer_sys::fuzz_target;

const REGTEST: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

fuzz_target!(|data: &[u8]| {
    // The magic is fixed so the fuzzer reaches the header and payload checks quickly.
    let mut framed = REGTEST.to_vec();
    framed.extend_from_slice(data);
    for bytes in [data, &framed[..]] {
        if let Ok(Some((msg, used))) = decode_frame(Network::Regtest, REGTEST, bytes) {
            assert!(used <= bytes.len());
            let again = encode_frame(REGTEST, &msg);
            let (back, n) = decode_frame(Network::Regtest, REGTEST, &again)
                .expect("re-encoded frame decodes")
                .expect("re-encoded frame is complete");
            assert_eq!(back, msg);
            assert_eq!(n, again.len());
        }
    }
    if let Ok(msg) = Message::from_v2_bytes(data) {
        let back = Message::from_v2_bytes(&msg.to_v2_bytes()).expect("re-encoded v2 decodes");
        assert_eq!(back, msg);
    }
});
