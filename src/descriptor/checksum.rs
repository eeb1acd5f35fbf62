//! The BIP-0380 descriptor checksum: a BCH code over the descriptor characters, grouped so
//! that a case or symbol-class change touches one symbol.

/// The characters a descriptor may contain, in the order BIP-0380's checksum groups them.
const INPUT_CHARSET: &[u8] =
    b"0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
/// The checksum alphabet (bech32's).
const CHECKSUM_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/// The BCH code's generator, from BIP-0380.
const GENERATOR: [u64; 5] = [
    0xf5dee51989,
    0xa9fdca3312,
    0x1bab10e32d,
    0x3706b1677a,
    0x644d626ffd,
];

fn polymod_step(chk: u64, value: u64) -> u64 {
    let top = chk >> 35;
    let mut chk = ((chk & 0x7_ffff_ffff) << 5) ^ value;
    for (i, g) in GENERATOR.iter().enumerate() {
        if (top >> i) & 1 == 1 {
            chk ^= g;
        }
    }
    chk
}

/// Returns the 8-character BIP-0380 checksum of a descriptor (without `#…`), or `None` if
/// it contains a character outside the descriptor character set.
pub fn checksum(descriptor: &str) -> Option<String> {
    let mut chk = 1u64;
    let mut groups = Vec::with_capacity(3);
    for c in descriptor.bytes() {
        let v = INPUT_CHARSET.iter().position(|x| *x == c)? as u64;
        chk = polymod_step(chk, v & 31);
        groups.push(v >> 5);
        if groups.len() == 3 {
            chk = polymod_step(chk, groups[0] * 9 + groups[1] * 3 + groups[2]);
            groups.clear();
        }
    }
    match groups.as_slice() {
        [g] => chk = polymod_step(chk, *g),
        [g0, g1] => chk = polymod_step(chk, g0 * 3 + g1),
        _ => {}
    }
    for _ in 0..8 {
        chk = polymod_step(chk, 0);
    }
    chk ^= 1;
    Some(
        (0..8)
            .map(|i| char::from(CHECKSUM_CHARSET[((chk >> (5 * (7 - i))) & 31) as usize]))
            .collect(),
    )
}
