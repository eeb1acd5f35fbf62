//! Bitcoin Core's test-vector script notation (`ParseScript` in Core's `core_read.cpp`):
//! opcode names with or without `OP_`, decimal numbers, `0x…` raw bytes and `'text'` pushes.

use super::{ScriptBuf, opcodes};

/// A token that is not valid script notation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse script token {0:?}")]
pub struct ParseAsmError(pub String);

/// Parses Core's test notation into script bytes.
///
/// # Errors
/// The first token that is neither a number, hex, a quoted string nor an opcode name.
pub fn parse_core_asm(s: &str) -> Result<ScriptBuf, ParseAsmError> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        let digits = word.strip_prefix('-').unwrap_or(word);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = word.parse().map_err(|_| ParseAsmError(word.into()))?;
            let mut script = ScriptBuf::new();
            script.push_int(n);
            out.extend_from_slice(script.as_bytes());
        } else if let Some(h) = word.strip_prefix("0x").filter(|h| !h.is_empty()) {
            out.extend(hex::decode(h).map_err(|_| ParseAsmError(word.into()))?);
        } else if word.len() >= 2 && word.starts_with('\'') && word.ends_with('\'') {
            let mut script = ScriptBuf::new();
            script.push_slice(&word.as_bytes()[1..word.len() - 1]);
            out.extend_from_slice(script.as_bytes());
        } else if let Some(op) = opcodes::from_name(word) {
            out.push(op);
        } else {
            return Err(ParseAsmError(word.into()));
        }
    }
    Ok(ScriptBuf::from_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_core_notation() {
        let s = parse_core_asm(
            "DUP HASH160 0x14 0x0000000000000000000000000000000000000000 EQUALVERIFY CHECKSIG",
        )
        .unwrap();
        assert!(s.is_p2pkh());
        assert_eq!(
            parse_core_asm("0 1 16 -1").unwrap().as_bytes(),
            &[0x00, 0x51, 0x60, 0x4f]
        );
        assert_eq!(
            parse_core_asm("1000").unwrap().as_bytes(),
            &[0x02, 0xe8, 0x03]
        );
        assert_eq!(
            parse_core_asm("'ab'").unwrap().as_bytes(),
            &[0x02, b'a', b'b']
        );
        assert_eq!(parse_core_asm("OP_CHECKSIG").unwrap().as_bytes(), &[0xac]);
        assert!(parse_core_asm("FOO").is_err());
    }
}
