//! Any bytes: decoding never panics, and whatever decodes re-encodes to the same bytes
//! (the strict decoder accepts exactly one encoding per transaction).
#![no_main]

use ferry::tx::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Transaction::deserialize(data) {
        assert_eq!(tx.serialize(), data);
        let _ = tx.txid();
        assert!(tx.weight().to_wu() >= tx.base_size() as u64 * 4);
    }
});
