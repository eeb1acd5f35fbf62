//! The networks ferry speaks: Bitcoin's mainnet and test networks, and Qtum (a Bitcoin
//! Core derivative with the same transaction and address formats but its own prefixes).
//!
//! Qtum's values come from Qtum's own `chainparams.cpp` (base58 prefixes, bech32 HRP) and
//! SLIP-0044 (coin type 2301).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A network ferry can hold keys and build transactions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Network {
    /// Bitcoin mainnet.
    Bitcoin,
    /// Bitcoin testnet3.
    Testnet,
    /// Bitcoin testnet4 (BIP-0094).
    Testnet4,
    /// Bitcoin signet (the default public one).
    Signet,
    /// Bitcoin regtest, the devnet's network.
    Regtest,
    /// Qtum mainnet.
    Qtum,
    /// Qtum testnet.
    QtumTestnet,
}

/// The encoding parameters of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Base58 version byte of P2PKH addresses.
    pub p2pkh_prefix: u8,
    /// Base58 version byte of P2SH addresses.
    pub p2sh_prefix: u8,
    /// Base58 version byte of WIF private keys.
    pub wif_prefix: u8,
    /// Bech32 human-readable part of segwit addresses.
    pub bech32_hrp: &'static str,
    /// BIP-0032 extended public key version (xpub/tpub).
    pub xpub_version: [u8; 4],
    /// BIP-0032 extended private key version (xprv/tprv).
    pub xprv_version: [u8; 4],
    /// SLIP-0044 coin type used in BIP-0044/49/84/86 paths.
    pub coin_type: u32,
    /// Blocks before a coinbase output may be spent.
    pub coinbase_maturity: u32,
}

const XPUB: [u8; 4] = [0x04, 0x88, 0xb2, 0x1e];
const XPRV: [u8; 4] = [0x04, 0x88, 0xad, 0xe4];
const TPUB: [u8; 4] = [0x04, 0x35, 0x87, 0xcf];
const TPRV: [u8; 4] = [0x04, 0x35, 0x83, 0x94];

const BITCOIN_TEST: Params = Params {
    p2pkh_prefix: 111,
    p2sh_prefix: 196,
    wif_prefix: 239,
    bech32_hrp: "tb",
    xpub_version: TPUB,
    xprv_version: TPRV,
    coin_type: 1,
    coinbase_maturity: 100,
};

impl Network {
    /// Every network, in a stable order.
    pub const ALL: [Network; 7] = [
        Network::Bitcoin,
        Network::Testnet,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
        Network::Qtum,
        Network::QtumTestnet,
    ];

    /// Returns this network's encoding parameters.
    pub const fn params(self) -> &'static Params {
        match self {
            Network::Bitcoin => &Params {
                p2pkh_prefix: 0,
                p2sh_prefix: 5,
                wif_prefix: 128,
                bech32_hrp: "bc",
                xpub_version: XPUB,
                xprv_version: XPRV,
                coin_type: 0,
                coinbase_maturity: 100,
            },
            Network::Testnet | Network::Testnet4 | Network::Signet => &BITCOIN_TEST,
            Network::Regtest => &Params {
                bech32_hrp: "bcrt",
                ..BITCOIN_TEST
            },
            Network::Qtum => &Params {
                p2pkh_prefix: 58,
                p2sh_prefix: 50,
                wif_prefix: 128,
                bech32_hrp: "qc",
                xpub_version: XPUB,
                xprv_version: XPRV,
                coin_type: 2301,
                coinbase_maturity: 500,
            },
            Network::QtumTestnet => &Params {
                p2pkh_prefix: 120,
                p2sh_prefix: 110,
                wif_prefix: 239,
                bech32_hrp: "tq",
                xpub_version: TPUB,
                xprv_version: TPRV,
                coin_type: 1,
                coinbase_maturity: 500,
            },
        }
    }

    /// Returns the name used on the command line and in files.
    pub const fn name(self) -> &'static str {
        match self {
            Network::Bitcoin => "bitcoin",
            Network::Testnet => "testnet",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
            Network::Qtum => "qtum",
            Network::QtumTestnet => "qtum-testnet",
        }
    }

    /// Returns true for networks whose coins have real value.
    pub const fn is_mainnet(self) -> bool {
        matches!(self, Network::Bitcoin | Network::Qtum)
    }

    /// Returns the peer-to-peer message start ("magic") bytes, or `None` for the networks
    /// whose peer-to-peer protocol ferry does not speak (Qtum's differs from Bitcoin's).
    ///
    /// From Bitcoin Core's `kernel/chainparams.cpp` (`pchMessageStart`); the signet value is
    /// the default signet's (a custom signet's depends on its challenge).
    pub const fn p2p_magic(self) -> Option<[u8; 4]> {
        match self {
            Network::Bitcoin => Some([0xf9, 0xbe, 0xb4, 0xd9]),
            Network::Testnet => Some([0x0b, 0x11, 0x09, 0x07]),
            Network::Testnet4 => Some([0x1c, 0x16, 0x3f, 0x28]),
            Network::Signet => Some([0x0a, 0x03, 0xcf, 0x40]),
            Network::Regtest => Some([0xfa, 0xbf, 0xb5, 0xda]),
            Network::Qtum | Network::QtumTestnet => None,
        }
    }

    /// Returns the default peer-to-peer port, for networks with [`Network::p2p_magic`].
    pub const fn default_p2p_port(self) -> Option<u16> {
        match self {
            Network::Bitcoin => Some(8333),
            Network::Testnet => Some(18333),
            Network::Testnet4 => Some(48333),
            Network::Signet => Some(38333),
            Network::Regtest => Some(18444),
            Network::Qtum | Network::QtumTestnet => None,
        }
    }

    /// Returns the default chain backend URL, if ferry has one for this network.
    pub const fn default_backend(self) -> Option<&'static str> {
        match self {
            Network::Bitcoin => Some("https://mempool.space/api"),
            Network::Testnet => Some("https://mempool.space/testnet/api"),
            Network::Testnet4 => Some("https://mempool.space/testnet4/api"),
            Network::Signet => Some("https://mempool.space/signet/api"),
            Network::Regtest => Some("http://127.0.0.1:3002/api"),
            Network::Qtum | Network::QtumTestnet => None,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A network name ferry does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown network {0:?}: use bitcoin, testnet, testnet4, signet, regtest, qtum or qtum-testnet"
)]
pub struct ParseNetworkError(pub String);

impl FromStr for Network {
    type Err = ParseNetworkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "bitcoin" | "mainnet" | "main" => Network::Bitcoin,
            "testnet" | "testnet3" | "test" => Network::Testnet,
            "testnet4" => Network::Testnet4,
            "signet" => Network::Signet,
            "regtest" => Network::Regtest,
            "qtum" => Network::Qtum,
            "qtum-testnet" | "qtumtestnet" => Network::QtumTestnet,
            _ => return Err(ParseNetworkError(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Network::ALL {
            assert_eq!(n.name().parse::<Network>(), Ok(n));
        }
        assert!("litecoin".parse::<Network>().is_err());
    }

    #[test]
    fn p2p_magic_per_network() {
        let magic = |n: Network| n.p2p_magic().map(u32::from_be_bytes);
        assert_eq!(magic(Network::Bitcoin), Some(0xf9be_b4d9));
        assert_eq!(magic(Network::Testnet), Some(0x0b11_0907));
        assert_eq!(magic(Network::Testnet4), Some(0x1c16_3f28));
        assert_eq!(magic(Network::Signet), Some(0x0a03_cf40));
        assert_eq!(magic(Network::Regtest), Some(0xfabf_b5da));
        assert_eq!(magic(Network::Qtum), None);
        for n in Network::ALL {
            assert_eq!(n.p2p_magic().is_some(), n.default_p2p_port().is_some());
        }
    }

    #[test]
    fn qtum_params_from_chainparams() {
        let q = Network::Qtum.params();
        assert_eq!((q.p2pkh_prefix, q.p2sh_prefix, q.wif_prefix), (58, 50, 128));
        assert_eq!(q.bech32_hrp, "qc");
        assert_eq!(q.coin_type, 2301);
        let qt = Network::QtumTestnet.params();
        assert_eq!(
            (qt.p2pkh_prefix, qt.p2sh_prefix, qt.wif_prefix),
            (120, 110, 239)
        );
        assert_eq!(qt.bech32_hrp, "tq");
    }
}
