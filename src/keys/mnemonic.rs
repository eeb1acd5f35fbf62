//! BIP-0039 mnemonics (English word list) over the `bip39` crate: generation from the
//! operating system's randomness, parsing with errors that say which word is wrong and what
//! was probably meant, and the PBKDF2 seed.

use std::fmt;

use bip39::Language;
use zeroize::Zeroizing;

/// How many words a new mnemonic has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordCount {
    /// 12 words, 128 bits of entropy.
    Words12,
    /// 24 words, 256 bits of entropy.
    Words24,
}

impl WordCount {
    /// Returns the number of words.
    pub const fn words(self) -> usize {
        match self {
            WordCount::Words12 => 12,
            WordCount::Words24 => 24,
        }
    }

    const fn entropy_bytes(self) -> usize {
        self.words() / 3 * 4
    }
}

/// Why a phrase is not a valid mnemonic, or one could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MnemonicError {
    /// Not 12, 15, 18, 21 or 24 words.
    #[error("a mnemonic has 12, 15, 18, 21 or 24 words, this one has {0}")]
    WordCount(usize),
    /// A word outside the English BIP-0039 list.
    #[error(
        "word {position} {word:?} is not in the BIP-0039 English word list{}",
        suggestion.map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
    )]
    UnknownWord {
        /// 1-based position of the word.
        position: usize,
        /// The word as typed.
        word: String,
        /// The closest word of the list, if one is close.
        suggestion: Option<&'static str>,
    },
    /// Every word is known but the checksum does not match: a word is wrong or misplaced.
    #[error("the mnemonic's checksum does not match: a word is wrong or out of order")]
    Checksum,
    /// Entropy of a length BIP-0039 does not allow.
    #[error("entropy is {0} bits: BIP-0039 takes 128 to 256 bits in steps of 32")]
    EntropyLength(usize),
    /// The operating system's random number generator failed.
    #[error("cannot get randomness from the operating system: {0}")]
    Randomness(String),
}

/// A BIP-0039 mnemonic. Its words are erased on drop and never shown by `Debug` or
/// `Display`: call [`Mnemonic::phrase`] to get them on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic(bip39::Mnemonic);

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mnemonic({} words)", self.word_count())
    }
}

impl Mnemonic {
    /// Generates a new mnemonic from the operating system's randomness.
    ///
    /// # Errors
    /// [`MnemonicError::Randomness`] if the OS generator fails.
    pub fn generate(word_count: WordCount) -> Result<Self, MnemonicError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        let entropy = &mut entropy[..word_count.entropy_bytes()];
        getrandom::fill(entropy).map_err(|e| MnemonicError::Randomness(e.to_string()))?;
        Self::from_entropy(entropy)
    }

    /// Returns the mnemonic encoding `entropy` (16 to 32 bytes, a multiple of 4).
    ///
    /// # Errors
    /// [`MnemonicError::EntropyLength`].
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, MnemonicError> {
        bip39::Mnemonic::from_entropy_in(Language::English, entropy)
            .map(Self)
            .map_err(|_| MnemonicError::EntropyLength(entropy.len() * 8))
    }

    /// Parses a phrase (words separated by any whitespace, case-insensitive).
    ///
    /// # Errors
    /// [`MnemonicError::WordCount`], [`MnemonicError::UnknownWord`] naming the first unknown
    /// word with a suggestion, or [`MnemonicError::Checksum`].
    pub fn parse(phrase: &str) -> Result<Self, MnemonicError> {
        let normalized = Zeroizing::new(phrase.to_lowercase());
        let words: Vec<&str> = normalized.split_whitespace().collect();
        if !matches!(words.len(), 12 | 15 | 18 | 21 | 24) {
            return Err(MnemonicError::WordCount(words.len()));
        }
        for (i, word) in words.iter().enumerate() {
            if Language::English.find_word(word).is_none() {
                return Err(MnemonicError::UnknownWord {
                    position: i + 1,
                    word: (*word).to_owned(),
                    suggestion: suggest(word),
                });
            }
        }
        let joined = Zeroizing::new(words.join(" "));
        match bip39::Mnemonic::parse_in_normalized(Language::English, &joined) {
            Ok(m) => Ok(Self(m)),
            Err(bip39::Error::InvalidChecksum) => Err(MnemonicError::Checksum),
            Err(bip39::Error::BadWordCount(n)) => Err(MnemonicError::WordCount(n)),
            Err(_) => Err(MnemonicError::Checksum),
        }
    }

    /// Returns the words, space-separated. Handle with care: this is the wallet.
    pub fn phrase(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(24 * 9));
        for (i, w) in self.0.words().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(w);
        }
        s
    }

    /// Returns the number of words.
    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// Returns the entropy the words encode.
    pub fn to_entropy(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_entropy())
    }

    /// Returns the 64-byte BIP-0039 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt
    /// `"mnemonic" + passphrase` after NFKD normalization).
    pub fn to_seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.0.to_seed(passphrase))
    }
}

/// Returns the list word closest to `word`: the one sharing its first four letters (BIP-0039
/// words are unique in those), else the nearest by edit distance if at most two edits away.
pub fn suggest(word: &str) -> Option<&'static str> {
    let list = Language::English.word_list();
    if let Some(prefix) = word.get(..4) {
        let mut by_prefix = Language::English.words_by_prefix_iter(prefix);
        if let (Some(only), None) = (by_prefix.next(), by_prefix.next()) {
            return Some(only);
        }
    }
    list.iter()
        .map(|w| (edit_distance(word, w), *w))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= 2)
        .map(|(_, w)| w)
}

/// Levenshtein distance over bytes (the list is ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABOUT: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                         abandon abandon about";

    #[test]
    fn names_unknown_word_and_suggests() {
        let typo = ABOUT.replacen("about", "abuot", 1);
        let err = Mnemonic::parse(&typo).unwrap_err();
        assert_eq!(
            err,
            MnemonicError::UnknownWord {
                position: 12,
                word: "abuot".into(),
                suggestion: Some("about"),
            }
        );
        assert!(err.to_string().contains("\"abuot\""), "{err}");
        assert!(err.to_string().contains("did you mean \"about\""), "{err}");
        let err = Mnemonic::parse(&ABOUT.replacen("abandon", "zzzzzzzz", 1)).unwrap_err();
        assert!(matches!(
            err,
            MnemonicError::UnknownWord {
                position: 1,
                suggestion: None,
                ..
            }
        ));
        let err = Mnemonic::parse(&ABOUT.replacen("abandon", "abandonn", 1)).unwrap_err();
        assert!(matches!(
            err,
            MnemonicError::UnknownWord {
                suggestion: Some("abandon"),
                ..
            }
        ));
    }

    #[test]
    fn rejects_bad_checksum_and_word_count() {
        let swapped = ABOUT.replacen("about", "abandon", 1);
        assert_eq!(Mnemonic::parse(&swapped), Err(MnemonicError::Checksum));
        let thirteen = format!("{ABOUT} abandon");
        assert_eq!(
            Mnemonic::parse(&thirteen),
            Err(MnemonicError::WordCount(13))
        );
        assert!(Mnemonic::parse(&ABOUT.to_uppercase()).is_ok());
    }

    #[test]
    fn generates_and_hides_words() {
        for wc in [WordCount::Words12, WordCount::Words24] {
            let m = Mnemonic::generate(wc).unwrap();
            assert_eq!(m.word_count(), wc.words());
            let again = Mnemonic::parse(&m.phrase()).unwrap();
            assert_eq!(again, m);
            let dbg = format!("{m:?}");
            let first = m.phrase().split(' ').next().unwrap().to_owned();
            assert!(!dbg.contains(&first) || dbg.contains("words"), "{dbg}");
            assert_eq!(dbg, format!("Mnemonic({} words)", wc.words()));
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
