//! Where to find peers when none is given: the network's DNS seeds and fixed seed nodes,
//! both Bitcoin Core's (DNS seeds from `kernel/chainparams.cpp`, fixed seeds from
//! `contrib/seeds/`; origins in fixtures/README.md). Nothing here is contacted by the tests.
//!
//! Through a proxy, DNS seeds are skipped: a SOCKS5 proxy has no lookup command, and a
//! lookup from this machine would tell its resolver that it is about to broadcast. The
//! fixed seeds (onion addresses included) are then the source.

use std::time::Duration;

use super::error::P2pError;
use super::transport::Route;
use crate::network::Network;

/// The DNS seeds Bitcoin Core queries for `network`.
pub fn dns_seeds(network: Network) -> &'static [&'static str] {
    match network {
        Network::Bitcoin => &[
            "seed.bitcoin.sipa.be",
            "dnsseed.bluematt.me",
            "seed.bitcoin.jonasschnelli.ch",
            "seed.btc.petertodd.net",
            "seed.bitcoin.sprovoost.nl",
            "dnsseed.emzy.de",
            "seed.bitcoin.wiz.biz",
        ],
        Network::Testnet => &[
            "testnet-seed.bitcoin.jonasschnelli.ch",
            "seed.tbtc.petertodd.net",
            "seed.testnet.bitcoin.sprovoost.nl",
            "testnet-seed.bluematt.me",
        ],
        Network::Testnet4 => &[
            "seed.testnet4.bitcoin.sprovoost.nl",
            "seed.testnet4.wiz.biz",
        ],
        Network::Signet => &["seed.signet.bitcoin.sprovoost.nl"],
        _ => &[],
    }
}

/// The fixed seed nodes for `network`, `HOST:PORT` (IPv4, IPv6 in brackets, onion).
pub fn fixed_seeds(network: Network) -> Vec<&'static str> {
    let text = match network {
        Network::Bitcoin => include_str!("seeds/mainnet.txt"),
        Network::Testnet4 => include_str!("seeds/testnet4.txt"),
        Network::Signet => include_str!("seeds/signet.txt"),
        _ => "",
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Returns up to `want` candidate peers for `network` in random order: DNS seeds
/// (only on a direct route) and fixed seeds (onion ones only through a proxy).
///
/// # Errors
/// [`P2pError::Unsupported`] for networks without peer-to-peer support;
/// [`P2pError::NoPeers`] when no candidate was found (always on regtest: give `--peer`).
pub async fn candidates(
    network: Network,
    route: &Route,
    want: usize,
) -> Result<Vec<String>, P2pError> {
    let port = network
        .default_p2p_port()
        .ok_or(P2pError::Unsupported(network))?;
    let mut found: Vec<String> = Vec::new();
    if *route == Route::Direct {
        for seed in dns_seeds(network) {
            let lookup = tokio::net::lookup_host((*seed, port));
            if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(5), lookup).await {
                found.extend(addrs.map(|a| a.to_string()));
            }
            if found.len() >= want * 4 {
                break;
            }
        }
    }
    let onion_ok = *route != Route::Direct;
    found.extend(
        fixed_seeds(network)
            .into_iter()
            .filter(|s| onion_ok || !s.contains(".onion:"))
            .map(str::to_owned),
    );
    found.sort();
    found.dedup();
    shuffle(&mut found)?;
    found.truncate(want);
    if found.is_empty() {
        return Err(P2pError::NoPeers(format!(
            "no {network} peers found{}: give --peer HOST:PORT and --observer HOST:PORT",
            if network == Network::Regtest {
                " (regtest has no seeds)"
            } else {
                ""
            }
        )));
    }
    Ok(found)
}

/// Fisher–Yates with OS randomness: which peers get the transaction should not be
/// predictable.
fn shuffle(v: &mut [String]) -> Result<(), P2pError> {
    for i in (1..v.len()).rev() {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| P2pError::Protocol(format!("no randomness: {e}")))?;
        let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2p::transport::split_host_port;

    #[test]
    fn fixed_seeds_parse_and_use_the_network_port() {
        for network in [Network::Bitcoin, Network::Testnet4, Network::Signet] {
            let seeds = fixed_seeds(network);
            assert!(!seeds.is_empty());
            for s in seeds {
                let (_, port) = split_host_port(s).unwrap();
                assert_eq!(Some(port), network.default_p2p_port(), "{s}");
            }
        }
    }

    #[tokio::test]
    async fn regtest_has_no_seeds_and_says_what_to_do() {
        let err = candidates(Network::Regtest, &Route::Direct, 3)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--peer"), "{err}");
        let err = candidates(Network::Qtum, &Route::Direct, 3)
            .await
            .unwrap_err();
        assert!(matches!(err, P2pError::Unsupported(_)));
    }

    #[tokio::test]
    async fn through_a_proxy_only_fixed_seeds_are_used() {
        // No DNS lookup happens on a proxied route (this test makes no network traffic).
        let route = Route::Socks5("127.0.0.1:9".into());
        let got = candidates(Network::Signet, &route, 10).await.unwrap();
        let mut want: Vec<String> = fixed_seeds(Network::Signet)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        want.sort();
        assert_eq!(got_sorted, want);
    }
}
