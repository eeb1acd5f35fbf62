//! Any string: address parsing never panics, and a parsed address prints back to the
//! same string (modulo bech32 case) and to a scriptPubKey that maps back to it.
#![no_main]

use ferry::network::Network;
use ferry::script::Address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for network in Network::ALL {
        if let Ok(addr) = Address::parse(s, network) {
            let printed = addr.to_string();
            assert!(printed == s || printed == s.to_lowercase());
            let back = Address::from_script(&addr.script_pubkey(), network).expect("own script");
            assert_eq!(back, addr);
        }
    }
});
