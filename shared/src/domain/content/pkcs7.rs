//! A signed envelope (`.p7m`) is one DER/BER SEQUENCE: its length, or the end-of-contents octets
//! of an indefinite length, must close the file. A signature's worth is checked elsewhere; this
//! only refuses a signedData header with something else glued behind it.

use super::{ReadAt, Step, malformed, read_exact, tail};

const FORMAT: &str = "PKCS#7";
/// Line ends or NUL padding some tools leave after the envelope; nothing longer.
const MAX_TRAILING: u64 = 16;

pub(super) fn check<R: ReadAt + ?Sized>(source: &R) -> Step<R::Error> {
    let head = read_exact(source, 0, 6, FORMAT, "the outer SEQUENCE")?;
    if head[0] != 0x30 {
        return Err(malformed(FORMAT, "the outer element is not a SEQUENCE"));
    }
    let (_, end) = tail(source, 2 + MAX_TRAILING)?;
    if head[1] == 0x80 {
        // Indefinite length: end-of-contents octets close it (NUL is no padding here).
        let line_ends = end
            .iter()
            .rev()
            .take_while(|&&b| matches!(b, b'\r' | b'\n' | b' '))
            .count();
        return if line_ends as u64 <= MAX_TRAILING
            && end[..end.len() - line_ends].ends_with(&[0, 0])
        {
            Ok(())
        } else {
            Err(malformed(
                FORMAT,
                "the indefinite-length SEQUENCE is not closed",
            ))
        };
    }
    let octets = usize::from(head[1].wrapping_sub(0x80));
    if !(1..=4).contains(&octets) {
        return Err(malformed(FORMAT, "the outer length is not in long form"));
    }
    let length = head[2..2 + octets]
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let expected = 2 + octets as u64 + length;
    let extra = source.size().checked_sub(expected);
    let padded = extra.is_some_and(|extra| {
        extra <= MAX_TRAILING
            && end[end.len() - extra as usize..]
                .iter()
                .all(|b| matches!(b, b'\0' | b'\r' | b'\n' | b' '))
    });
    if padded {
        Ok(())
    } else {
        Err(malformed(
            FORMAT,
            "the outer SEQUENCE's length does not match the file",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fail, fixtures};
    use super::*;

    fn accepted(bytes: &[u8]) -> bool {
        match check(bytes) {
            Ok(()) => true,
            Err(Fail::Problem(_)) => false,
            Err(Fail::Source(never)) => match never {},
        }
    }

    #[test]
    fn the_envelope_must_close_the_file() {
        let good = fixtures::pkcs7();
        assert!(accepted(&good));
        let mut padded = good.clone();
        padded.extend_from_slice(b"\r\n");
        assert!(accepted(&padded));
        let mut glued = good.clone();
        glued.extend_from_slice(b"<html>");
        assert!(!accepted(&glued));
        let mut short = good.clone();
        short.pop();
        assert!(!accepted(&short));
        let mut indefinite = vec![0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d];
        indefinite.extend_from_slice(&[0x01, 0x07, 0x02, 0xa0, 0x80, 0, 0, 0, 0]);
        assert!(accepted(&indefinite));
        indefinite.extend_from_slice(b"\n");
        assert!(accepted(&indefinite));
        indefinite.extend_from_slice(b"<html>");
        assert!(!accepted(&indefinite));
    }
}
