//! Watch-only wallets: an account made from public output descriptors — `ferry export
//! descriptors`' output, Bitcoin Core's `getdescriptorinfo`/`listdescriptors`, Sparrow's
//! export (xpub/ypub/zpub/tpub/upub/vpub keys with key origin, `/0/*` and `/1/*` or the
//! multipath `/<0;1>/*`). It has the database and no keystore: addresses, balance,
//! history and `psbt create` work, signing does not.
//!
//! Only ferry's account shape is accepted — one key with its origin `[fingerprint/path]`,
//! receive at `/0/*`, change at `/1/*` — so that the PSBTs it makes carry origins a signer
//! can find its keys by. Descriptors must carry their `#checksum`: a mistyped key must not
//! become a wallet that silently watches the wrong addresses.

use std::fs;

use super::{Account, WalletError, WalletPaths, WalletStore};
use crate::descriptor::{Descriptor, DescriptorPublicKey, checksum};
use crate::keys::ChildNumber;
use crate::network::Network;

/// Why descriptors do not make a watch-only wallet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchOnlyError {
    /// The descriptor has no `#checksum`.
    #[error(
        "the descriptor has no #checksum: copy it whole, checksum included (Bitcoin Core's getdescriptorinfo adds it)"
    )]
    MissingChecksum,
    /// The descriptor does not parse, or its checksum is wrong.
    #[error("{0}")]
    Descriptor(String),
    /// Not ferry's account shape.
    #[error("{0}")]
    Shape(String),
    /// The key is for another network than the one asked.
    #[error("{0}")]
    Network(String),
}

/// Checks the checksum and splits a multipath `/<0;1>/*` descriptor into its receive and
/// change descriptors (bodies without checksum).
fn split(desc: &str) -> Result<(String, Option<String>), WatchOnlyError> {
    let desc = desc.trim();
    let Some((body, sum)) = desc.split_once('#') else {
        return Err(WatchOnlyError::MissingChecksum);
    };
    let expected = checksum(body).ok_or_else(|| {
        WatchOnlyError::Descriptor("the descriptor has characters descriptors never use".into())
    })?;
    if sum != expected {
        return Err(WatchOnlyError::Descriptor(format!(
            "descriptor checksum mismatch: it says #{sum}, the descriptor gives #{expected} (a character was mistyped or lost)"
        )));
    }
    if body.contains("/<0;1>/") {
        Ok((
            body.replacen("/<0;1>/", "/0/", 1),
            Some(body.replacen("/<0;1>/", "/1/", 1)),
        ))
    } else if body.contains('<') {
        Err(WatchOnlyError::Shape(
            "only the multipath /<0;1>/* (receive and change) is understood".into(),
        ))
    } else {
        Ok((body.to_owned(), None))
    }
}

fn parse(body: &str) -> Result<Descriptor, WatchOnlyError> {
    body.parse()
        .map_err(|e: crate::descriptor::DescriptorError| WatchOnlyError::Descriptor(e.to_string()))
}

/// Makes the account a receive descriptor (and optionally its change descriptor) describe,
/// on `network` (`None`: the key's own network, which must then be unambiguous).
///
/// # Errors
/// [`WatchOnlyError`] naming what is wrong.
pub fn account_from_descriptors(
    receive: &str,
    change: Option<&str>,
    network: Option<Network>,
) -> Result<Account, WatchOnlyError> {
    let (receive_body, multipath_change) = split(receive)?;
    let change_body = match (change, multipath_change) {
        (Some(_), Some(_)) => {
            return Err(WatchOnlyError::Shape(
                "the descriptor already holds its change branch (/<0;1>/*): give no --change-descriptor".into(),
            ));
        }
        (Some(c), None) => {
            let (body, extra) = split(c)?;
            if extra.is_some() {
                return Err(WatchOnlyError::Shape(
                    "the change descriptor must be a single branch (/1/*)".into(),
                ));
            }
            Some(body)
        }
        (None, m) => m,
    };
    let desc = parse(&receive_body)?;
    let shape = |what: &str| {
        WatchOnlyError::Shape(format!(
            "{what}: ferry's watch-only wallets are single-key accounts, TYPE([fingerprint/path]xpub/0/*)"
        ))
    };
    let key = desc.key();
    let origin = key.origin.clone().ok_or_else(|| {
        shape("the key has no origin [fingerprint/path], so a signer could not find its keys")
    })?;
    let DescriptorPublicKey::Extended {
        xpub,
        path,
        wildcard,
    } = &key.key
    else {
        return Err(shape("the key is a single public key, not an extended key"));
    };
    if !wildcard || path.as_slice() != [ChildNumber::Normal(0)] {
        return Err(shape("the receive descriptor must end in /0/*"));
    }
    let key_network = xpub.network();
    let network = match network {
        Some(n) if n.is_mainnet() != key_network.is_mainnet() => {
            return Err(WatchOnlyError::Network(format!(
                "the key is a {} key, but --network is {n}",
                if key_network.is_mainnet() {
                    "mainnet"
                } else {
                    "test-network"
                }
            )));
        }
        Some(n) => n,
        None if key_network.is_mainnet() => key_network,
        None => {
            return Err(WatchOnlyError::Network(
                "a test-network key (tpub/upub/vpub) serves testnet, testnet4, signet and regtest: pass --network".into(),
            ));
        }
    };
    let xpub = xpub
        .clone()
        .with_network(network)
        .map_err(|e| WatchOnlyError::Network(e.to_string()))?;
    let account = Account::from_parts(
        network,
        desc.address_type(),
        origin.fingerprint,
        origin.path,
        xpub,
    );
    // Compared as text: the parsed key says "test network", the account's its network.
    if account.receive.to_string() != desc.to_string() {
        return Err(shape(
            "the receive descriptor is not an account's /0/* branch",
        ));
    }
    if let Some(c) = change_body
        && parse(&c)?.to_string() != account.change.to_string()
    {
        return Err(WatchOnlyError::Shape(format!(
            "the change descriptor is not the receive descriptor's /1/* branch: expected {}",
            account.change
        )));
    }
    Ok(account)
}

impl super::Wallet {
    /// Returns true if the wallet has no keystore: it can watch, not sign.
    pub fn is_watch_only(&self) -> bool {
        !self.paths.keystore().exists()
    }
}

/// Writes a watch-only wallet: its database alone (no keystore), built under a temporary
/// name and renamed into place. An existing wallet of that name is refused.
///
/// # Errors
/// [`WalletError::AlreadyExists`], or a database or I/O error (nothing is left behind).
pub fn create_watch_only(paths: &WalletPaths, account: &Account) -> Result<(), WalletError> {
    if paths.exists() {
        return Err(WalletError::AlreadyExists {
            name: paths.name.clone(),
            dir: paths.dir.clone(),
        });
    }
    crate::fs::create_private_dir_all(&paths.dir)
        .map_err(|e| WalletError::io("create directory", &paths.dir, e))?;
    let tmp = paths.dir.join(format!(
        ".{}.tmp{}",
        super::files::DATABASE_FILE,
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let result = WalletStore::create(&tmp, account).and_then(|store| {
        drop(store);
        fs::rename(&tmp, paths.database())
            .map_err(|e| WalletError::io("write", &paths.database(), e))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;
    use crate::script::AddressType;

    fn account(ty: AddressType) -> Account {
        let m = Mnemonic::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        )
        .unwrap();
        Account::from_mnemonic(&m, "", Network::Regtest, ty).unwrap()
    }

    #[test]
    fn exported_descriptors_make_the_same_account() {
        for ty in AddressType::ALL {
            let a = account(ty);
            let (r, c) = (a.receive.to_string(), a.change.to_string());
            let w = account_from_descriptors(&r, Some(&c), Some(Network::Regtest)).unwrap();
            assert_eq!(w, a, "{ty:?}");
            // Change inferred, and the multipath form.
            assert_eq!(
                account_from_descriptors(&r, None, Some(Network::Regtest)).unwrap(),
                a
            );
            let body = a
                .receive
                .to_string_without_checksum()
                .replace("/0/*", "/<0;1>/*");
            let multi = format!("{body}#{}", checksum(&body).unwrap());
            assert_eq!(
                account_from_descriptors(&multi, None, Some(Network::Regtest)).unwrap(),
                a
            );
            // Core prints ' as h or the other way round: both are the same descriptor.
            let body = a.receive.to_string_without_checksum();
            let (head, rest) = body.split_once('[').unwrap();
            let (origin, rest) = rest.split_once(']').unwrap();
            let body = format!("{head}[{}]{rest}", origin.replace('h', "'"));
            let core = format!("{body}#{}", checksum(&body).unwrap());
            assert_eq!(
                account_from_descriptors(&core, None, Some(Network::Regtest)).unwrap(),
                a
            );
        }
    }

    /// Sparrow writes SLIP-0132 keys (zpub, vpub…) inside descriptors.
    #[test]
    fn slip132_keys_are_read() {
        let a = account(AddressType::P2wpkh);
        let body = a.receive.to_string_without_checksum();
        let tpub = a.account_xpub.to_string();
        let mut raw = crate::script::base58::decode_check(&tpub).unwrap();
        let vpub = crate::keys::slip132::VERSIONS
            .iter()
            .find(|v| v.prefix == "vpub")
            .unwrap();
        raw[..4].copy_from_slice(&vpub.bytes);
        let body = body.replace(&tpub, &crate::script::base58::encode_check(&raw));
        assert!(body.contains("vpub"), "{body}");
        let d = format!("{body}#{}", checksum(&body).unwrap());
        assert_eq!(
            account_from_descriptors(&d, None, Some(Network::Regtest)).unwrap(),
            a
        );
    }

    #[test]
    fn bad_descriptors_are_refused_with_reasons() {
        let a = account(AddressType::P2wpkh);
        let r = a.receive.to_string();
        let no_sum = a.receive.to_string_without_checksum();
        let net = Some(Network::Regtest);
        assert_eq!(
            account_from_descriptors(&no_sum, None, net),
            Err(WatchOnlyError::MissingChecksum)
        );
        let mut wrong = r.clone();
        wrong.pop();
        wrong.push(if r.ends_with('q') { 'p' } else { 'q' });
        let e = account_from_descriptors(&wrong, None, net).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        let e = account_from_descriptors(&r, None, None).unwrap_err();
        assert!(matches!(e, WatchOnlyError::Network(_)), "{e}");
        let e = account_from_descriptors(&r, None, Some(Network::Bitcoin)).unwrap_err();
        assert!(matches!(e, WatchOnlyError::Network(_)), "{e}");
        let e = account_from_descriptors(&r, Some(&r), net).unwrap_err();
        assert!(e.to_string().contains("/1/*"), "{e}");
        let body = no_sum
            .split_once(']')
            .map(|(_, k)| format!("wpkh({k}"))
            .unwrap();
        let bare = format!("{body}#{}", checksum(&body).unwrap());
        let e = account_from_descriptors(&bare, None, net).unwrap_err();
        assert!(e.to_string().contains("no origin"), "{e}");
    }
}
