//! A wallet account: what a mnemonic, a network and an address type derive — the master
//! fingerprint, the account's extended public key, and its receive and change descriptors.
//! Everything here is public information; the seed is dropped (and erased) before returning.

use crate::descriptor::Descriptor;
use crate::keys::path::account_path;
use crate::keys::{DerivationPath, DerivedOutput, Fingerprint, KeyChain, Mnemonic, Xpriv, Xpub};
use crate::network::Network;
use crate::script::AddressType;

use super::WalletError;

/// The public side of a single-key wallet account (account 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The network the account's keys and addresses are for.
    pub network: Network,
    /// The kind of outputs it receives to.
    pub address_type: AddressType,
    /// Fingerprint of the BIP-0032 master key.
    pub master_fingerprint: Fingerprint,
    /// `m/purpose'/coin_type'/0'`.
    pub account_path: DerivationPath,
    /// The account's extended public key.
    pub account_xpub: Xpub,
    /// `TYPE([fp/path]xpub/0/*)`.
    pub receive: Descriptor,
    /// `TYPE([fp/path]xpub/1/*)`.
    pub change: Descriptor,
}

impl Account {
    /// Derives account 0 of `address_type` on `network` from a mnemonic and its BIP-0039
    /// passphrase (empty if none).
    ///
    /// # Errors
    /// A derivation failure (probability below 2^-127).
    pub fn from_mnemonic(
        mnemonic: &Mnemonic,
        passphrase: &str,
        network: Network,
        address_type: AddressType,
    ) -> Result<Self, WalletError> {
        let seed = mnemonic.to_seed(passphrase);
        let master = Xpriv::new_master(seed.as_ref(), network)?;
        let path = account_path(address_type, network, 0)?;
        let account_xpub = Xpub::from_priv(&master.derive_priv(&path)?);
        Ok(Self::from_parts(
            network,
            address_type,
            master.fingerprint(),
            path,
            account_xpub,
        ))
    }

    /// Assembles an account from its public parts (as stored in `wallet.sqlite`).
    pub fn from_parts(
        network: Network,
        address_type: AddressType,
        master_fingerprint: Fingerprint,
        account_path: DerivationPath,
        account_xpub: Xpub,
    ) -> Self {
        let descriptor = |chain| {
            Descriptor::for_account(
                address_type,
                master_fingerprint,
                account_path.clone(),
                account_xpub.clone(),
                chain,
            )
        };
        Self {
            receive: descriptor(KeyChain::Receive),
            change: descriptor(KeyChain::Change),
            network,
            address_type,
            master_fingerprint,
            account_path,
            account_xpub,
        }
    }

    /// Returns the descriptor of `chain`.
    pub fn descriptor(&self, chain: KeyChain) -> &Descriptor {
        match chain {
            KeyChain::Receive => &self.receive,
            KeyChain::Change => &self.change,
        }
    }

    /// Returns the output at `chain/index` and its full derivation path.
    ///
    /// # Errors
    /// [`WalletError::Descriptor`] if `index >= 2^31`.
    pub fn output_at(
        &self,
        chain: KeyChain,
        index: u32,
    ) -> Result<(DerivedOutput, DerivationPath), WalletError> {
        let output = self.descriptor(chain).derive_output(index, self.network)?;
        let path = self
            .account_path
            .child(chain.child_number())
            .child(crate::keys::ChildNumber::normal(index)?);
        Ok((output, path))
    }
}
