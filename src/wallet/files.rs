//! The wallets directory: `DATA_DIR/wallets/NAME/{keystore.json, wallet.sqlite}`. Creating,
//! replacing (with a backup), opening, listing and unlocking wallets. File I/O only.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::keystore::{self, KdfParams, KeystoreSecret};
use super::sync::{SyncOptions, SyncResult};
use super::{Account, WalletError, WalletStore};
use crate::keys::{DerivationPath, KeyChain, Mnemonic};
use crate::network::Network;
use crate::script::{AddressType, ScriptBuf};

/// File name of the encrypted keystore.
pub const KEYSTORE_FILE: &str = "keystore.json";
/// File name of the wallet database.
pub const DATABASE_FILE: &str = "wallet.sqlite";

/// Returns `DATA_DIR/wallets`.
pub fn wallets_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("wallets")
}

/// Checks that a wallet name is safe as a directory name.
///
/// # Errors
/// [`WalletError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), WalletError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(WalletError::InvalidName(name.to_owned()))
    }
}

/// Where one wallet's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletPaths {
    /// The wallet's name.
    pub name: String,
    /// `DATA_DIR/wallets/NAME`.
    pub dir: PathBuf,
}

impl WalletPaths {
    /// Returns the paths of wallet `name` under `data_dir`.
    ///
    /// # Errors
    /// [`WalletError::InvalidName`].
    pub fn new(data_dir: &Path, name: &str) -> Result<Self, WalletError> {
        validate_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            dir: wallets_dir(data_dir).join(name),
        })
    }

    /// `…/keystore.json`.
    pub fn keystore(&self) -> PathBuf {
        self.dir.join(KEYSTORE_FILE)
    }

    /// `…/wallet.sqlite`.
    pub fn database(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }

    /// True if either wallet file exists.
    pub fn exists(&self) -> bool {
        self.keystore().exists() || self.database().exists()
    }
}

/// What a new wallet is made of.
pub struct NewWallet<'a> {
    /// The mnemonic.
    pub mnemonic: &'a Mnemonic,
    /// The BIP-0039 passphrase, empty if none.
    pub passphrase: &'a str,
    /// The network.
    pub network: Network,
    /// The address type.
    pub address_type: AddressType,
    /// The password that encrypts the keystore.
    pub password: &'a str,
    /// The keystore's KDF cost ([`KdfParams::DEFAULT`] outside tests).
    pub kdf: KdfParams,
    /// Replace an existing wallet of that name (keeping its files as backups).
    pub force: bool,
}

impl std::fmt::Debug for NewWallet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWallet")
            .field("network", &self.network)
            .field("address_type", &self.address_type)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// A wallet just written.
#[derive(Debug)]
pub struct Created {
    /// Its account.
    pub account: Account,
    /// The old wallet's files, renamed, if one was replaced.
    pub backups: Vec<PathBuf>,
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes a new wallet: derives the account, seals the keystore, then writes both files.
/// Nothing is written until everything that can fail without touching the disk (derivation,
/// encryption) has succeeded; an existing wallet is refused unless `force`, and then its
/// files are renamed to `*.bak-<unix time>`, never deleted.
///
/// # Errors
/// [`WalletError::AlreadyExists`], a derivation or keystore failure, or an I/O error.
pub fn create_wallet(paths: &WalletPaths, new: &NewWallet<'_>) -> Result<Created, WalletError> {
    if paths.exists() && !new.force {
        return Err(WalletError::AlreadyExists {
            name: paths.name.clone(),
            dir: paths.dir.clone(),
        });
    }
    let account =
        Account::from_mnemonic(new.mnemonic, new.passphrase, new.network, new.address_type)?;
    let secret = KeystoreSecret {
        mnemonic: new.mnemonic.phrase().to_string(),
        passphrase: new.passphrase.to_owned(),
    };
    let sealed = Zeroizing::new(keystore::seal(&secret, new.password, new.kdf)?);
    drop(secret);

    create_private_dir(&paths.dir)?;
    let mut backups = Vec::new();
    if paths.exists() {
        let stamp = unix_time();
        for file in [paths.keystore(), paths.database()] {
            if file.exists() {
                let mut name = file.clone().into_os_string();
                name.push(format!(".bak-{stamp}"));
                let backup = PathBuf::from(name);
                fs::rename(&file, &backup).map_err(|e| WalletError::io("back up", &file, e))?;
                backups.push(backup);
            }
        }
    }
    // The database is built under a temporary name and renamed last, so a wallet directory
    // never holds a database without its keystore.
    let tmp_db = paths
        .dir
        .join(format!(".{DATABASE_FILE}.tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp_db);
    let result = (|| {
        drop(WalletStore::create(&tmp_db, &account)?);
        // No secrets inside, but the xpub reveals the wallet's whole history: owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&tmp_db, fs::Permissions::from_mode(0o600))
                .map_err(|e| WalletError::io("set the mode of", &tmp_db, e))?;
        }
        crate::fs::write_atomic(&paths.keystore(), &sealed, 0o600)
            .map_err(|e| WalletError::io("write", &paths.keystore(), e))?;
        fs::rename(&tmp_db, paths.database())
            .map_err(|e| WalletError::io("write", &paths.database(), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_db);
    }
    result?;
    Ok(Created { account, backups })
}

fn create_private_dir(dir: &Path) -> Result<(), WalletError> {
    crate::fs::create_private_dir_all(dir).map_err(|e| WalletError::io("create directory", dir, e))
}

/// Returns the Unix permission bits of `path` if group or others may read or write it
/// (a secret file should be 0600), or `None` when they are fine or cannot be read.
pub fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// One address of the wallet, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletAddress {
    /// The address text.
    pub address: String,
    /// Its full derivation path.
    pub path: DerivationPath,
    /// Index on its chain.
    pub index: u32,
    /// Receive or change.
    pub chain: KeyChain,
    /// The scriptPubKey.
    pub script_pubkey: ScriptBuf,
}

/// An open wallet: its files, its account, and its view of the chain as of the last sync
/// applied ([`Wallet::apply_sync`]; empty until then). Opening never reads the keystore.
#[derive(Debug)]
pub struct Wallet {
    pub(super) paths: WalletPaths,
    pub(super) store: WalletStore,
    pub(super) account: Account,
    chain: SyncResult,
    /// Outputs labelled `spendable: false` (BIP-0329), which coin selection skips; read
    /// with each sync applied (coins exist only from then on) and each label change.
    pub(super) frozen: std::collections::HashSet<crate::tx::OutPoint>,
}

impl Wallet {
    /// Opens wallet `paths` (the database only; no password needed).
    ///
    /// # Errors
    /// [`WalletError::NotFound`] or a database error.
    pub fn open(paths: WalletPaths) -> Result<Self, WalletError> {
        if !paths.database().exists() {
            return Err(WalletError::NotFound {
                dir: wallets_dir_of(&paths),
                name: paths.name,
            });
        }
        let store = WalletStore::open(&paths.database())?;
        let account = store.account()?;
        Ok(Self {
            paths,
            store,
            account,
            chain: SyncResult::default(),
            frozen: std::collections::HashSet::new(),
        })
    }

    /// The wallet's name.
    pub fn name(&self) -> &str {
        &self.paths.name
    }

    /// Where its encrypted keystore is.
    pub fn keystore_path(&self) -> PathBuf {
        self.paths.keystore()
    }

    /// Its account: network, address type, descriptors.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Its network.
    pub fn network(&self) -> Network {
        self.account.network
    }

    /// The first index on `chain` not handed out yet.
    ///
    /// # Errors
    /// A database error.
    pub fn next_unused_index(&self, chain: KeyChain) -> Result<u32, WalletError> {
        self.store.next_unused_index(chain)
    }

    /// The coins as the last sync cached them in `wallet.sqlite` (for work without a
    /// backend, such as signing offline).
    ///
    /// # Errors
    /// A database error.
    pub fn cached_utxos(&self) -> Result<Vec<super::builder::WalletUtxo>, WalletError> {
        self.store.cached_utxos()
    }

    /// How to sync this wallet: at least as far as the addresses already handed out on
    /// each chain, then `gap_limit` more.
    ///
    /// # Errors
    /// A database error.
    pub fn sync_options(&self, gap_limit: u32) -> Result<SyncOptions, WalletError> {
        Ok(SyncOptions {
            gap_limit: gap_limit.max(1),
            receive_floor: self.next_unused_index(KeyChain::Receive)?,
            change_floor: self.next_unused_index(KeyChain::Change)?,
            ..SyncOptions::default()
        })
    }

    /// Takes `result` as the wallet's view of the chain: cached in `wallet.sqlite`, and every
    /// address with history marked as handed out (so it is never offered again).
    ///
    /// # Errors
    /// A database error.
    pub fn apply_sync(&mut self, result: SyncResult) -> Result<(), WalletError> {
        self.store
            .replace_chain_cache(result.tip_height, &result.utxos, &result.txs)?;
        for used in &result.used {
            self.store.record_handed_out(
                used.chain,
                used.index,
                &used.address,
                &used.script_pubkey,
            )?;
        }
        self.chain = result;
        self.frozen = super::label_store::unspendable(&self.store)?;
        Ok(())
    }

    /// The chain as of the last sync applied.
    pub fn synced(&self) -> &SyncResult {
        &self.chain
    }

    /// The next change address, not yet recorded: hand it out once the payment that uses
    /// it is broadcast.
    ///
    /// # Errors
    /// A derivation or database error.
    pub fn next_change_address(&self) -> Result<WalletAddress, WalletError> {
        self.address_at(KeyChain::Change, self.next_unused_index(KeyChain::Change)?)
    }

    /// Returns the address at `chain/index` without recording anything.
    ///
    /// # Errors
    /// [`WalletError::Descriptor`] if `index >= 2^31`.
    pub fn address_at(&self, chain: KeyChain, index: u32) -> Result<WalletAddress, WalletError> {
        let (out, path) = self.account.output_at(chain, index)?;
        Ok(WalletAddress {
            address: out.address.to_string(),
            path,
            index,
            chain,
            script_pubkey: out.script_pubkey,
        })
    }

    /// Hands out an address: the one at `index`, or the next not yet handed out, and
    /// records it.
    ///
    /// # Errors
    /// A derivation or database error.
    pub fn hand_out(
        &self,
        chain: KeyChain,
        index: Option<u32>,
    ) -> Result<WalletAddress, WalletError> {
        let index = match index {
            Some(i) => i,
            None => self.next_unused_index(chain)?,
        };
        let addr = self.address_at(chain, index)?;
        self.store
            .record_handed_out(chain, index, &addr.address, &addr.script_pubkey)?;
        Ok(addr)
    }

    /// Decrypts the keystore with `password`. Reads the file only; changes nothing.
    ///
    /// # Errors
    /// [`WalletError::Keystore`] (wrong password, corrupted file…) or an I/O error.
    pub fn unlock(&self, password: &str) -> Result<KeystoreSecret, WalletError> {
        let path = self.paths.keystore();
        let bytes = Zeroizing::new(fs::read(&path).map_err(|e| WalletError::io("read", &path, e))?);
        Ok(keystore::open(&bytes, password)?)
    }
}

fn wallets_dir_of(paths: &WalletPaths) -> PathBuf {
    paths
        .dir
        .parent()
        .map_or_else(|| paths.dir.clone(), Path::to_path_buf)
}

/// One entry of the wallet list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSummary {
    /// The name.
    pub name: String,
    /// The network and address type, or why the database could not be read.
    pub account: Result<(Network, AddressType), String>,
    /// No keystore: it can watch and make PSBTs, not sign.
    pub watch_only: bool,
}

/// Lists the wallets under `data_dir`, by name.
///
/// # Errors
/// An I/O error reading the directory (a missing directory is an empty list).
pub fn list_wallets(data_dir: &Path) -> Result<Vec<WalletSummary>, WalletError> {
    let dir = wallets_dir(data_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WalletError::io("read", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| WalletError::io("read", &dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let db = entry.path().join(DATABASE_FILE);
        if validate_name(&name).is_err() || !db.exists() {
            continue;
        }
        let account = WalletStore::open_read_only(&db)
            .and_then(|s| s.account())
            .map(|a| (a.network, a.address_type))
            .map_err(|e| e.to_string());
        let watch_only = !entry.path().join(KEYSTORE_FILE).exists();
        out.push(WalletSummary {
            name,
            account,
            watch_only,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABOUT: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                         abandon abandon about";

    #[test]
    fn create_refuse_replace_with_backup_list_unlock() {
        let data = tempfile::tempdir().unwrap();
        let paths = WalletPaths::new(data.path(), "w1").unwrap();
        let m = Mnemonic::parse(ABOUT).unwrap();
        let mut new = NewWallet {
            mnemonic: &m,
            passphrase: "",
            network: Network::Regtest,
            address_type: AddressType::P2tr,
            password: "pw",
            kdf: KdfParams::MINIMUM,
            force: false,
        };
        create_wallet(&paths, &new).unwrap();
        assert!(matches!(
            create_wallet(&paths, &new),
            Err(WalletError::AlreadyExists { .. })
        ));
        new.force = true;
        new.network = Network::Signet;
        let created = create_wallet(&paths, &new).unwrap();
        assert_eq!(created.backups.len(), 2);
        assert!(created.backups.iter().all(|b| b.exists()));
        assert_eq!(loose_permissions(&paths.keystore()), None);
        let list = list_wallets(data.path()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].account, Ok((Network::Signet, AddressType::P2tr)));
        assert!(!list[0].watch_only);
        let w = Wallet::open(paths).unwrap();
        assert_eq!(
            w.unlock("pw").unwrap().mnemonic,
            ABOUT.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert!(matches!(
            w.unlock("nope"),
            Err(WalletError::Keystore(
                keystore::KeystoreError::WrongPassword
            ))
        ));
        let a = w.hand_out(KeyChain::Receive, None).unwrap();
        let b = w.hand_out(KeyChain::Receive, None).unwrap();
        assert_eq!((a.index, b.index), (0, 1));
        assert_eq!(a.path.to_string(), "m/86'/1'/0'/0/0");
    }

    #[test]
    fn names_must_be_plain() {
        for bad in ["", ".hidden", "a/b", "..", "x y", &"n".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        validate_name("savings-2024_b").unwrap();
    }
}
