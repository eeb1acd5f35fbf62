//! `DATA_DIR/friends.toml`: friends' names, relay URLs and identity keys. A friend's key
//! is whose transactions this install's relay accepts; a friend's URL is where `--via NAME`
//! sends ours, and the key pins the receipts that relay signs.
//!
//! ```toml
//! [[friend]]
//! name = "bob"
//! url = "http://bob.example:3737"
//! key = "ed5db4f7…"   # x-only hex (npub accepted on input, stored as hex)
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::identity::parse_public_key;

/// The file's name in the data directory.
pub const FRIENDS_FILE: &str = "friends.toml";

/// One friend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    /// A local name (unique).
    pub name: String,
    /// The friend's relay, if they run one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The friend's identity key, x-only hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Friend {
    /// Returns the key as 32 bytes, if set. Keys are checked when the list is loaded or
    /// changed, so a set key is a valid one.
    pub fn key_bytes(&self) -> Option<[u8; 32]> {
        self.key.as_deref().and_then(|k| parse_public_key(k).ok())
    }
}

/// The file as written by hand, with where each key sits (to name its line).
#[derive(Deserialize)]
struct RawFriends {
    #[serde(default)]
    friend: Vec<RawFriend>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFriend {
    name: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    key: Option<toml::Spanned<String>>,
}

/// The friends list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friends {
    /// The friends, in the order added.
    #[serde(default, rename = "friend")]
    pub friends: Vec<Friend>,
}

/// Why the friends list cannot be read, written or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FriendsError {
    /// The file cannot be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid friends list: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The name is taken.
    #[error("a friend named {0:?} already exists; remove it first")]
    Exists(String),
    /// No such friend.
    #[error("no friend named {0:?}; see `ferry friends list`")]
    Unknown(String),
    /// The key is neither 64 hex digits nor an npub.
    #[error("invalid key {key:?}: {reason}")]
    BadKey {
        /// The input.
        key: String,
        /// Why.
        reason: String,
    },
    /// A key in the file is neither 64 hex digits nor an npub. Refused rather than skipped:
    /// a friend without a usable key would silently lose the pinning of its relay's
    /// receipts (issue 14).
    #[error(
        "{path}, line {line}: friend {name:?} has an invalid key {key:?}: {reason}; fix or remove it (`ferry friends remove {name}`)"
    )]
    BadKeyInFile {
        /// The file.
        path: String,
        /// The line of the key, from 1.
        line: usize,
        /// The friend.
        name: String,
        /// The key as written.
        key: String,
        /// Why.
        reason: String,
    },
    /// A friend needs a URL or a key to be useful.
    #[error("give --url (their relay) and/or --key (their identity key)")]
    Empty,
}

impl Friends {
    /// Loads the list (an absent file is an empty list).
    ///
    /// # Errors
    /// [`FriendsError::Io`] or [`FriendsError::Parse`].
    pub fn load(path: &Path) -> Result<Friends, FriendsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Friends::default()),
            Err(error) => {
                return Err(FriendsError::Io {
                    path: path.display().to_string(),
                    error,
                });
            }
        };
        let raw: RawFriends = toml::from_str(&text).map_err(|e| FriendsError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut friends = Friends::default();
        for f in raw.friend {
            let key = match f.key {
                None => None,
                Some(k) => {
                    let parsed =
                        parse_public_key(k.get_ref()).map_err(|e| FriendsError::BadKeyInFile {
                            path: path.display().to_string(),
                            line: text[..k.span().start.min(text.len())]
                                .lines()
                                .count()
                                .max(1),
                            name: f.name.clone(),
                            key: k.get_ref().clone(),
                            reason: e.to_string(),
                        })?;
                    Some(hex::encode(parsed))
                }
            };
            friends.friends.push(Friend {
                name: f.name,
                url: f.url,
                key,
            });
        }
        Ok(friends)
    }

    /// Writes the list atomically.
    ///
    /// # Errors
    /// [`FriendsError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), FriendsError> {
        let io = |error| FriendsError::Io {
            path: path.display().to_string(),
            error,
        };
        let text = toml::to_string_pretty(self).map_err(|e| FriendsError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if let Some(dir) = path.parent() {
            crate::fs::create_private_dir_all(dir).map_err(io)?;
        }
        // Owner only: it says whose requests this relay trusts and where one's friends are.
        crate::fs::write_atomic(path, text.as_bytes(), 0o600).map_err(io)
    }

    /// Adds a friend; the key may be hex or npub and is stored as hex.
    ///
    /// # Errors
    /// [`FriendsError::Exists`], [`FriendsError::BadKey`] or [`FriendsError::Empty`].
    pub fn add(
        &mut self,
        name: &str,
        url: Option<&str>,
        key: Option<&str>,
    ) -> Result<&Friend, FriendsError> {
        if self.get(name).is_some() {
            return Err(FriendsError::Exists(name.to_owned()));
        }
        if url.is_none() && key.is_none() {
            return Err(FriendsError::Empty);
        }
        let key = key
            .map(|k| {
                parse_public_key(k)
                    .map(hex::encode)
                    .map_err(|e| FriendsError::BadKey {
                        key: k.to_owned(),
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        self.friends.push(Friend {
            name: name.to_owned(),
            url: url.map(|u| u.trim_end_matches('/').to_owned()),
            key,
        });
        Ok(&self.friends[self.friends.len() - 1])
    }

    /// Removes a friend.
    ///
    /// # Errors
    /// [`FriendsError::Unknown`].
    pub fn remove(&mut self, name: &str) -> Result<Friend, FriendsError> {
        let i = self
            .friends
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| FriendsError::Unknown(name.to_owned()))?;
        Ok(self.friends.remove(i))
    }

    /// Returns the friend named `name`.
    pub fn get(&self, name: &str) -> Option<&Friend> {
        self.friends.iter().find(|f| f.name == name)
    }

    /// Returns every friend's key (the relay's allow list).
    pub fn keys(&self) -> Vec<[u8; 32]> {
        self.friends.iter().filter_map(Friend::key_bytes).collect()
    }

    /// Resolves `--via`: a friend's name, or a URL as is; with the friend's pinned key.
    ///
    /// # Errors
    /// [`FriendsError::Unknown`] for a name that is not a friend or has no URL.
    pub fn resolve_via(&self, via: &str) -> Result<(String, Option<[u8; 32]>), FriendsError> {
        if via.starts_with("http://") || via.starts_with("https://") {
            let url = via.trim_end_matches('/');
            let key = self
                .friends
                .iter()
                .find(|f| f.url.as_deref() == Some(url))
                .and_then(Friend::key_bytes);
            return Ok((url.to_owned(), key));
        }
        let f = self
            .get(via)
            .ok_or_else(|| FriendsError::Unknown(via.to_owned()))?;
        let url = f
            .url
            .clone()
            .ok_or_else(|| FriendsError::Unknown(format!("{via} (no relay URL)")))?;
        Ok((url, f.key_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FRIENDS_FILE);
        let mut f = Friends::load(&path).unwrap();
        let key = "ed5db4f7d6d43a6b30f1b28eaee71d911cc1171ebf1439807753dd8522ae0c3d";
        f.add("bob", Some("http://127.0.0.1:3737/"), Some(key))
            .unwrap();
        assert!(matches!(
            f.add("bob", None, Some(key)),
            Err(FriendsError::Exists(_))
        ));
        assert!(matches!(
            f.add("x", None, Some("zz")),
            Err(FriendsError::BadKey { .. })
        ));
        f.save(&path).unwrap();
        let g = Friends::load(&path).unwrap();
        assert_eq!(g, f);
        assert_eq!(g.keys().len(), 1);
        let (url, pinned) = g.resolve_via("bob").unwrap();
        assert_eq!(url, "http://127.0.0.1:3737");
        assert_eq!(pinned.map(hex::encode).as_deref(), Some(key));
        let mut g = g;
        g.remove("bob").unwrap();
        assert!(g.friends.is_empty());
    }

    /// Finding 4 of issue 14: a key that does not parse once meant "no pinned key".
    #[test]
    fn a_bad_key_in_the_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FRIENDS_FILE);
        std::fs::write(
            &path,
            "[[friend]]\nname = \"bob\"\nurl = \"http://127.0.0.1:1\"\nkey = \"ed5db4f7\"\n",
        )
        .unwrap();
        let e = Friends::load(&path).unwrap_err();
        assert!(
            matches!(&e, FriendsError::BadKeyInFile { line: 4, name, .. } if name == "bob"),
            "{e}"
        );
        assert!(e.to_string().contains("line 4"), "{e}");
    }
}
