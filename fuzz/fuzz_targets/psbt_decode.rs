//! Any bytes: PSBT parsing never panics; whatever parses serializes to bytes that parse to
//! the same PSBT, and decoding/summarizing it never panics either.
#![no_main]

use ferry::psbt::Psbt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(psbt) = Psbt::deserialize(data) {
        let bytes = psbt.serialize();
        let again = Psbt::deserialize(&bytes).expect("own serialization parses");
        assert_eq!(again.serialize(), bytes);
        let _ = psbt.decode();
        let _ = psbt.fee();
    }
});
