//! SLIP-0132 version bytes of serialized extended keys: wallets print `ypub`/`zpub`
//! (mainnet) and `upub`/`vpub` (testnet) to say which address type an account key is for.
//! ferry reads all of them and writes only `xpub`/`tpub` (what descriptors and Bitcoin Core
//! expect), keeping the address type beside the key instead of inside its version.

use crate::script::AddressType;

/// What a 4-byte extended key version says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyVersion {
    /// The version bytes.
    pub bytes: [u8; 4],
    /// The base58 prefix they produce, e.g. `zpub`.
    pub prefix: &'static str,
    /// True for mainnet versions, false for testnet ones.
    pub mainnet: bool,
    /// True for private keys.
    pub private: bool,
    /// The address type the version implies; `None` for `xpub`/`tpub`, which say nothing.
    pub address_type: Option<AddressType>,
}

const fn v(
    bytes: [u8; 4],
    prefix: &'static str,
    mainnet: bool,
    private: bool,
    address_type: Option<AddressType>,
) -> KeyVersion {
    KeyVersion {
        bytes,
        prefix,
        mainnet,
        private,
        address_type,
    }
}

/// Every version ferry reads (BIP-0032 and SLIP-0132 single-key types).
pub const VERSIONS: [KeyVersion; 12] = [
    v([0x04, 0x88, 0xad, 0xe4], "xprv", true, true, None),
    v([0x04, 0x88, 0xb2, 0x1e], "xpub", true, false, None),
    v(
        [0x04, 0x9d, 0x78, 0x78],
        "yprv",
        true,
        true,
        Some(AddressType::P2shP2wpkh),
    ),
    v(
        [0x04, 0x9d, 0x7c, 0xb2],
        "ypub",
        true,
        false,
        Some(AddressType::P2shP2wpkh),
    ),
    v(
        [0x04, 0xb2, 0x43, 0x0c],
        "zprv",
        true,
        true,
        Some(AddressType::P2wpkh),
    ),
    v(
        [0x04, 0xb2, 0x47, 0x46],
        "zpub",
        true,
        false,
        Some(AddressType::P2wpkh),
    ),
    v([0x04, 0x35, 0x83, 0x94], "tprv", false, true, None),
    v([0x04, 0x35, 0x87, 0xcf], "tpub", false, false, None),
    v(
        [0x04, 0x4a, 0x4e, 0x28],
        "uprv",
        false,
        true,
        Some(AddressType::P2shP2wpkh),
    ),
    v(
        [0x04, 0x4a, 0x52, 0x62],
        "upub",
        false,
        false,
        Some(AddressType::P2shP2wpkh),
    ),
    v(
        [0x04, 0x5f, 0x18, 0xbc],
        "vprv",
        false,
        true,
        Some(AddressType::P2wpkh),
    ),
    v(
        [0x04, 0x5f, 0x1c, 0xf6],
        "vpub",
        false,
        false,
        Some(AddressType::P2wpkh),
    ),
];

/// Returns what `bytes` mean, if they are a version ferry knows.
pub fn lookup(bytes: [u8; 4]) -> Option<&'static KeyVersion> {
    VERSIONS.iter().find(|v| v.bytes == bytes)
}
