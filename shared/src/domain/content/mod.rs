//! Is a document what its first bytes say it is?
//!
//! [`media::sniff`](super::media::sniff) looks at a signature, and a signature is easy to fake:
//! `%PDF-1.4` in front of an HTML page with a script is "a PDF" to it, and a well-formed ZIP can
//! still be a bomb. [`check`] reads what each format needs to be recognisably itself — a PDF's
//! trailer and cross-reference, an image's header and dimensions, an archive's directory with
//! every entry inflated under a cap, a signed envelope's outer length — and says why not when it
//! is not.
//!
//! The checks are pure: they read through [`ReadAt`], which a byte slice implements and which a
//! staged object can implement with range requests. A 50 MiB PDF costs a few KiB of reads; an
//! archive is read and inflated in bounded chunks (only an archive nested in an archive is held
//! in memory, and it is bounded by [`ZipLimits::max_uncompressed_bytes`]).

mod crc32;
mod images;
mod pdf;
mod pkcs7;
mod zip;

use super::media;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crc32::{Crc32, crc32};

/// Random access to a document's bytes, whatever holds them.
pub trait ReadAt {
    type Error;

    /// The document's length in bytes.
    fn size(&self) -> u64;

    /// Up to `len` bytes from `offset`; fewer only where the document ends.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, Self::Error>;
}

impl ReadAt for [u8] {
    type Error = std::convert::Infallible;

    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, Self::Error> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let end = start.saturating_add(len).min(self.len());
        Ok(self[start..end].to_vec())
    }
}

impl ReadAt for Vec<u8> {
    type Error = std::convert::Infallible;

    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, Self::Error> {
        self.as_slice().read_at(offset, len)
    }
}

/// How far the content check lets a document go; the catalog's `[content]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest width or height of an image, in pixels.
    pub max_image_side: u32,
    /// The most pixels (width × height) an image may have: what decoding it will cost.
    pub max_image_pixels: u64,
    pub zip: ZipLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_image_side: 30_000,
            max_image_pixels: 200_000_000,
            zip: ZipLimits::default(),
        }
    }
}

/// What an archive may expand to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZipLimits {
    pub max_entries: u32,
    /// The most bytes inflating the archive may produce, nested archives included.
    pub max_uncompressed_bytes: u64,
    /// The most an entry, or the whole archive, may expand: uncompressed ÷ compressed.
    pub max_ratio: u32,
    /// Below this many uncompressed bytes the ratio is not held against an entry or archive:
    /// a few KiB of blank text compress a thousand times and harm nobody.
    pub ratio_grace_bytes: u64,
    /// How deep archives may nest: 1 admits no archive inside the archive, 2 one level, …
    pub max_depth: u32,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 1_000,
            max_uncompressed_bytes: 100 * 1024 * 1024,
            max_ratio: 100,
            ratio_grace_bytes: 1024 * 1024,
            max_depth: 2,
        }
    }
}

impl Limits {
    /// Every limit that cannot work, as `content.<key>: <problem>`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |key: &str, value: u64| {
            if value == 0 {
                problems.push(format!("content.{key} must be > 0"));
            }
        };
        positive("max_image_side", u64::from(self.max_image_side));
        positive("max_image_pixels", self.max_image_pixels);
        positive("zip.max_entries", u64::from(self.zip.max_entries));
        positive(
            "zip.max_uncompressed_bytes",
            self.zip.max_uncompressed_bytes,
        );
        positive("zip.max_ratio", u64::from(self.zip.max_ratio));
        positive("zip.max_depth", u64::from(self.zip.max_depth));
        problems
    }
}

/// Why a document is not a well-formed document of its type. `Display` is English, for logs and
/// machines; the citizen's words are the validation worker's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not the structure of its format: truncated, damaged, or something else behind a
    /// look-alike header.
    Malformed {
        format: &'static str,
        detail: String,
    },
    /// An image larger than the limits allow (or with no size at all).
    ImageTooLarge { width: u64, height: u64 },
    /// An archive that expands beyond the limits.
    ArchiveTooLarge(String),
    /// An archive inside an archive, deeper than the limits allow.
    NestedTooDeep { max_depth: u32 },
    /// Something the check cannot look into: an encrypted archive, an unknown compression.
    Unsupported {
        format: &'static str,
        detail: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed { format, detail } => {
                write!(f, "not a well-formed {format}: {detail}")
            }
            Problem::ImageTooLarge { width, height } => {
                write!(f, "image of {width}×{height} pixels is beyond the limits")
            }
            Problem::ArchiveTooLarge(detail) => write!(f, "archive beyond the limits: {detail}"),
            Problem::NestedTooDeep { max_depth } => {
                write!(f, "archive nested deeper than {max_depth} level(s)")
            }
            Problem::Unsupported { format, detail } => {
                write!(f, "{format} that cannot be checked: {detail}")
            }
        }
    }
}

/// What a check ends with: the document is fine, or [`Problem`] says why not.
pub type Checked = Result<(), Problem>;

/// Checks that `source` is a well-formed document of `media_type` (one of
/// [`media::KNOWN_MEDIA_TYPES`], as sniffed). The outer error is the source's own (a read that
/// failed), never a verdict on the content. XML is taken on its declaration alone.
pub fn check<R: ReadAt + ?Sized>(
    source: &R,
    media_type: &str,
    limits: &Limits,
) -> Result<Checked, R::Error> {
    let checked = if source.size() == 0 {
        Err(Fail::Problem(Problem::Malformed {
            format: format_name(media_type),
            detail: "the file is empty".into(),
        }))
    } else {
        match media_type {
            media::PDF => pdf::check(source),
            media::PNG => images::check_png(source, limits),
            media::JPEG => images::check_jpeg(source, limits),
            media::TIFF => images::check_tiff(source, limits),
            media::ZIP => zip::check(source, &limits.zip),
            media::PKCS7 => pkcs7::check(source),
            _ => Ok(()),
        }
    };
    match checked {
        Ok(()) => Ok(Ok(())),
        Err(Fail::Problem(problem)) => Ok(Err(problem)),
        Err(Fail::Source(error)) => Err(error),
    }
}

/// What a document is: the media type its first bytes name, and the content check's verdict
/// on it as that type. `None` when the bytes are none of the known formats.
pub fn examine<R: ReadAt + ?Sized>(
    source: &R,
    limits: &Limits,
) -> Result<Option<(&'static str, Checked)>, R::Error> {
    let head = source.read_at(0, media::SNIFF_LEN)?;
    let Some(media_type) = media::sniff(&head) else {
        return Ok(None);
    };
    Ok(Some((media_type, check(source, media_type, limits)?)))
}

/// [`examine`] for bytes in memory.
pub fn check_bytes(bytes: &[u8], limits: &Limits) -> Option<(&'static str, Checked)> {
    match examine(bytes, limits) {
        Ok(examined) => examined,
        Err(never) => match never {},
    }
}

fn format_name(media_type: &str) -> &'static str {
    match media_type {
        media::PDF => "PDF",
        media::PNG => "PNG",
        media::JPEG => "JPEG",
        media::TIFF => "TIFF",
        media::ZIP => "ZIP",
        media::PKCS7 => "PKCS#7",
        media::XML => "XML",
        _ => "document",
    }
}

/// Inside the checks: a verdict on the content, or a read that failed.
enum Fail<E> {
    Problem(Problem),
    Source(E),
}

impl<E> From<Problem> for Fail<E> {
    fn from(problem: Problem) -> Self {
        Fail::Problem(problem)
    }
}

type Step<E> = Result<(), Fail<E>>;

fn malformed<E>(format: &'static str, detail: impl Into<String>) -> Fail<E> {
    Fail::Problem(Problem::Malformed {
        format,
        detail: detail.into(),
    })
}

fn read<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, Fail<R::Error>> {
    source.read_at(offset, len).map_err(Fail::Source)
}

/// Exactly `len` bytes at `offset`, or the document is too short for its own structure.
fn read_exact<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    len: usize,
    format: &'static str,
    what: &str,
) -> Result<Vec<u8>, Fail<R::Error>> {
    let bytes = read(source, offset, len)?;
    if bytes.len() == len {
        Ok(bytes)
    } else {
        Err(malformed(format, format!("the file ends inside {what}")))
    }
}

/// Reads through a cached chunk, so that walking a structure piece by piece (a JPEG's segments,
/// a PDF's xref subsections) costs one read per chunk, not one per piece.
struct Window<'s, R: ?Sized> {
    source: &'s R,
    chunk: usize,
    start: u64,
    bytes: Vec<u8>,
}

impl<'s, R: ReadAt + ?Sized> Window<'s, R> {
    fn new(source: &'s R, chunk: usize) -> Self {
        Window {
            source,
            chunk,
            start: 0,
            bytes: Vec::new(),
        }
    }

    fn size(&self) -> u64 {
        self.source.size()
    }

    /// Up to `len` bytes at `offset`: fewer only where the document ends.
    fn get(&mut self, offset: u64, len: usize) -> Result<&[u8], Fail<R::Error>> {
        let end = offset.saturating_add(len as u64).min(self.source.size());
        let cached_end = self.start + self.bytes.len() as u64;
        if offset < self.start || end > cached_end {
            self.bytes = read(self.source, offset, len.max(self.chunk))?;
            self.start = offset;
        }
        let from = (offset - self.start) as usize;
        let to = ((end.max(offset) - self.start) as usize).min(self.bytes.len());
        Ok(&self.bytes[from.min(to)..to])
    }
}

/// The last `len` bytes (all of them for a shorter document) and where they start.
fn tail<R: ReadAt + ?Sized>(source: &R, len: u64) -> Result<(u64, Vec<u8>), Fail<R::Error>> {
    let start = source.size().saturating_sub(len);
    let bytes = read(source, start, (source.size() - start) as usize)?;
    Ok((start, bytes))
}

fn be16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn le16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn le32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_reads_like_a_file() {
        let bytes: &[u8] = b"0123456789";
        assert_eq!(bytes.read_at(2, 3).unwrap(), b"234");
        assert_eq!(bytes.read_at(8, 10).unwrap(), b"89");
        assert_eq!(bytes.read_at(20, 10).unwrap(), b"");
    }

    #[test]
    fn an_empty_document_is_nothing() {
        let empty: &[u8] = b"";
        for media_type in media::KNOWN_MEDIA_TYPES {
            if *media_type != media::XML {
                assert!(
                    check(empty, media_type, &Limits::default())
                        .unwrap()
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn the_default_limits_are_usable() {
        assert!(Limits::default().problems().is_empty());
        let mut broken = Limits::default();
        broken.zip.max_ratio = 0;
        broken.max_image_side = 0;
        assert_eq!(
            broken.problems(),
            [
                "content.max_image_side must be > 0",
                "content.zip.max_ratio must be > 0"
            ]
        );
    }

    #[test]
    fn well_formed_fixtures_pass_their_check() {
        for (bytes, media_type) in [
            (fixtures::pdf(), media::PDF),
            (fixtures::png(16, 9), media::PNG),
            (fixtures::jpeg(16, 9), media::JPEG),
            (fixtures::tiff(16, 9), media::TIFF),
            (
                fixtures::zip(&[("a.txt", b"hello".as_slice())], true),
                media::ZIP,
            ),
            (fixtures::pkcs7(), media::PKCS7),
        ] {
            let (sniffed, checked) = check_bytes(&bytes, &Limits::default()).unwrap();
            assert_eq!(sniffed, media_type);
            assert_eq!(checked, Ok(()), "{media_type}");
        }
    }

    #[test]
    fn a_look_alike_header_is_not_enough() {
        let html = b"<html><body><script>alert(document.cookie)</script></body></html>\n";
        for header in [
            b"%PDF-1.4\n".as_slice(),
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff\xe0",
            b"II*\0",
            b"PK\x03\x04",
            &[
                0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
            ],
        ] {
            let mut bytes = header.to_vec();
            bytes.extend_from_slice(html);
            let (media_type, checked) = check_bytes(&bytes, &Limits::default()).unwrap();
            assert!(
                matches!(checked, Err(Problem::Malformed { .. })),
                "{media_type}: {checked:?}"
            );
        }
    }
}

#[cfg(test)]
mod bounded_reads {
    use super::*;
    use std::cell::Cell;

    /// A large document that counts what is read of it.
    struct Counted {
        bytes: Vec<u8>,
        largest: Cell<usize>,
        total: Cell<usize>,
    }

    impl ReadAt for Counted {
        type Error = std::convert::Infallible;

        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }

        fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, Self::Error> {
            let bytes = self.bytes.read_at(offset, len)?;
            self.largest.set(self.largest.get().max(bytes.len()));
            self.total.set(self.total.get() + bytes.len());
            Ok(bytes)
        }
    }

    fn counted(bytes: Vec<u8>) -> Counted {
        Counted {
            bytes,
            largest: Cell::new(0),
            total: Cell::new(0),
        }
    }

    #[test]
    fn a_large_pdf_costs_a_few_kib_of_reads() {
        let small = fixtures::pdf();
        let split = small.windows(7).position(|w| w == b"1 0 obj").unwrap();
        let mut large = small[..split].to_vec();
        let filler = 20 * 1024 * 1024;
        large.extend(std::iter::repeat_n(b'x', filler));
        large.push(b'\n');
        // The offsets after the filler move by its length.
        let rest = String::from_utf8(small[split..].to_vec()).unwrap();
        let shift = |n: usize| n + filler + 1;
        let mut fixed = String::new();
        for line in rest.split_inclusive('\n') {
            match line.strip_suffix(" 00000 n \n") {
                Some(offset) => fixed.push_str(&format!(
                    "{:010} 00000 n \n",
                    shift(offset.parse().unwrap())
                )),
                None => fixed.push_str(line),
            }
        }
        let xref_at = fixed.find("xref\n").unwrap() + large.len();
        let start = fixed.rfind("startxref\n").unwrap() + "startxref\n".len();
        fixed.replace_range(start.., &format!("{xref_at}\n%%EOF\n"));
        large.extend_from_slice(fixed.as_bytes());
        let source = counted(large);
        assert_eq!(
            check(&source, media::PDF, &Limits::default()).unwrap(),
            Ok(())
        );
        assert!(source.total.get() < 64 * 1024, "{}", source.total.get());
    }

    #[test]
    fn an_archive_is_read_in_bounded_chunks() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..3 * 1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let source = counted(fixtures::zip(&[("noise.bin", &noise)], true));
        assert_eq!(
            check(&source, media::ZIP, &Limits::default()).unwrap(),
            Ok(())
        );
        assert!(source.largest.get() <= 65_557, "{}", source.largest.get());
    }
}
