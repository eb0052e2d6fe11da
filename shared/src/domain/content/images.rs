//! Images: a decoder needs a readable header with the picture's dimensions before anything
//! else, and the dimensions say what decoding will cost. PNG: signature, an `IHDR` chunk whose
//! CRC holds, consistent bit depth and colour type, `IEND` closing the file. JPEG: SOI, then the
//! segments up to a frame header (SOFn) with its dimensions. TIFF: the first IFD, readable,
//! with `ImageWidth` and `ImageLength`. Every side must be non-zero and within the limits.

use super::crc32::crc32;
use super::{Limits, Problem, ReadAt, Step, Window, be16, be32, le16, le32, malformed, read_exact};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// The IEND chunk: no data, its CRC fixed.
const PNG_END: &[u8] = b"\0\0\0\0IEND\xae\x42\x60\x82";
/// A JPEG whose frame header is further than this from the start is no photo a desk receives
/// (EXIF, ICC profiles and thumbnails together stay well below).
const JPEG_MAX_HEADER_BYTES: u64 = 4 * 1024 * 1024;
/// TIFF IFDs with more entries than this are not images, they are attacks on readers.
const TIFF_MAX_ENTRIES: u16 = 4096;

fn check_dimensions<E>(width: u64, height: u64, limits: &Limits) -> Step<E> {
    let side = u64::from(limits.max_image_side);
    if width == 0 || height == 0 || width > side || height > side {
        return Err(Problem::ImageTooLarge { width, height }.into());
    }
    if width * height > limits.max_image_pixels {
        return Err(Problem::ImageTooLarge { width, height }.into());
    }
    Ok(())
}

pub(super) fn check_png<R: ReadAt + ?Sized>(source: &R, limits: &Limits) -> Step<R::Error> {
    const FORMAT: &str = "PNG";
    // Signature, IHDR (length, type, 13 bytes of data, CRC), IEND.
    if source.size() < 8 + 25 + 12 {
        return Err(malformed(FORMAT, "the file is too short for a PNG"));
    }
    let head = read_exact(source, 0, 33, FORMAT, "the header")?;
    if !head.starts_with(PNG_SIGNATURE) {
        return Err(malformed(FORMAT, "the signature is damaged"));
    }
    if be32(&head[8..]) != 13 || &head[12..16] != b"IHDR" {
        return Err(malformed(FORMAT, "the first chunk is not a 13-byte IHDR"));
    }
    if be32(&head[29..]) != crc32(&head[12..29]) {
        return Err(malformed(FORMAT, "the IHDR chunk's CRC does not match"));
    }
    let ihdr = &head[16..29];
    let (width, height) = (be32(ihdr), be32(&ihdr[4..]));
    if width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(malformed(FORMAT, "the dimensions exceed 2^31 - 1"));
    }
    let (depth, colour) = (ihdr[8], ihdr[9]);
    let depth_fits = match colour {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !depth_fits {
        return Err(malformed(
            FORMAT,
            "bit depth and colour type do not go together",
        ));
    }
    if ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] > 1 {
        return Err(malformed(
            FORMAT,
            "unknown compression, filter or interlace method",
        ));
    }
    let end = read_exact(source, source.size() - 12, 12, FORMAT, "the IEND chunk")?;
    if end != PNG_END {
        return Err(malformed(
            FORMAT,
            "the file does not end with an IEND chunk",
        ));
    }
    check_dimensions(u64::from(width), u64::from(height), limits)
}

pub(super) fn check_jpeg<R: ReadAt + ?Sized>(source: &R, limits: &Limits) -> Step<R::Error> {
    const FORMAT: &str = "JPEG";
    let mut window = Window::new(source, 64 * 1024);
    if window.get(0, 2)? != [0xff, 0xd8] {
        return Err(malformed(FORMAT, "the file does not start with SOI"));
    }
    let mut position = 2u64;
    while position < JPEG_MAX_HEADER_BYTES {
        let bytes = window.get(position, 2)?;
        if bytes.len() < 2 {
            break;
        }
        if bytes[0] != 0xff {
            return Err(malformed(FORMAT, "a segment does not start with a marker"));
        }
        let marker = bytes[1];
        match marker {
            // Fill bytes before a marker.
            0xff => {
                position += 1;
                continue;
            }
            // Markers without a length.
            0x01 | 0xd0..=0xd7 => {
                position += 2;
                continue;
            }
            0xd8 => return Err(malformed(FORMAT, "SOI appears twice")),
            0xd9 | 0xda => {
                return Err(malformed(
                    FORMAT,
                    "the image data starts before a frame header",
                ));
            }
            0x00 => return Err(malformed(FORMAT, "a marker is damaged")),
            _ => {}
        }
        let length = window.get(position + 2, 2)?;
        if length.len() < 2 || be16(length) < 2 {
            return Err(malformed(FORMAT, "a segment has no valid length"));
        }
        let length = u64::from(be16(length));
        if position + 2 + length > window.size() {
            return Err(malformed(FORMAT, "a segment runs past the end of the file"));
        }
        // SOF0…SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            let frame = window.get(position + 4, length as usize - 2)?;
            if frame.len() < 6 {
                return Err(malformed(FORMAT, "the frame header is too short"));
            }
            let (precision, height, width, components) =
                (frame[0], be16(&frame[1..]), be16(&frame[3..]), frame[5]);
            if !(2..=16).contains(&precision)
                || !(1..=4).contains(&components)
                || length != 8 + 3 * u64::from(components)
            {
                return Err(malformed(FORMAT, "the frame header is not consistent"));
            }
            return check_dimensions(u64::from(width), u64::from(height), limits);
        }
        position += 2 + length;
    }
    Err(malformed(
        FORMAT,
        "no frame header (SOFn) with the dimensions",
    ))
}

pub(super) fn check_tiff<R: ReadAt + ?Sized>(source: &R, limits: &Limits) -> Step<R::Error> {
    const FORMAT: &str = "TIFF";
    let head = read_exact(source, 0, 8, FORMAT, "the header")?;
    let little = match &head[..4] {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => {
            return Err(malformed(
                FORMAT,
                "the byte order or magic number is damaged",
            ));
        }
    };
    let u16_at = |bytes: &[u8]| if little { le16(bytes) } else { be16(bytes) };
    let u32_at = |bytes: &[u8]| if little { le32(bytes) } else { be32(bytes) };
    let ifd = u64::from(u32_at(&head[4..]));
    if ifd < 8 || ifd + 2 > source.size() {
        return Err(malformed(
            FORMAT,
            "the first IFD offset points outside the file",
        ));
    }
    let count = u16_at(&read_exact(source, ifd, 2, FORMAT, "the first IFD")?);
    if count == 0 || count > TIFF_MAX_ENTRIES {
        return Err(malformed(
            FORMAT,
            "the first IFD has no entries or far too many",
        ));
    }
    let entries = read_exact(
        source,
        ifd + 2,
        12 * usize::from(count),
        FORMAT,
        "the first IFD",
    )?;
    let (mut width, mut height) = (None, None);
    for entry in entries.chunks_exact(12) {
        let (tag, kind, values) = (u16_at(entry), u16_at(&entry[2..]), u32_at(&entry[4..]));
        let value = match (kind, values) {
            (3, 1) => u64::from(u16_at(&entry[8..])),
            (4, 1) => u64::from(u32_at(&entry[8..])),
            _ => continue,
        };
        match tag {
            256 => width = Some(value),
            257 => height = Some(value),
            _ => {}
        }
    }
    match (width, height) {
        (Some(width), Some(height)) => check_dimensions(width, height, limits),
        _ => Err(malformed(
            FORMAT,
            "the first IFD has no ImageWidth and ImageLength",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fail, fixtures};
    use super::*;

    fn verdict(result: Step<std::convert::Infallible>) -> Result<(), Problem> {
        match result {
            Ok(()) => Ok(()),
            Err(Fail::Problem(problem)) => Err(problem),
            Err(Fail::Source(never)) => match never {},
        }
    }

    fn refused(result: Step<std::convert::Infallible>, why: &str) {
        let problem = verdict(result).expect_err("accepted");
        assert!(problem.to_string().contains(why), "{problem}");
    }

    #[test]
    fn the_sample_images_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/documents");
        let limits = Limits::default();
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let result = match path.extension().and_then(|e| e.to_str()) {
                Some("png") => check_png(bytes.as_slice(), &limits),
                Some("jpg") => check_jpeg(bytes.as_slice(), &limits),
                _ => continue,
            };
            assert_eq!(verdict(result), Ok(()), "{}", path.display());
            seen += 1;
        }
        assert!(seen > 10);
    }

    #[test]
    fn png_header_damage_is_found() {
        let limits = Limits::default();
        let good = fixtures::png(16, 9);
        assert_eq!(verdict(check_png(good.as_slice(), &limits)), Ok(()));
        let mut crc = good.clone();
        crc[20] ^= 1;
        refused(check_png(crc.as_slice(), &limits), "CRC");
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 3);
        refused(check_png(truncated.as_slice(), &limits), "IEND");
        refused(check_png(fixtures::png(0, 9).as_slice(), &limits), "0×9");
        refused(
            check_png(fixtures::png(40_000, 2).as_slice(), &limits),
            "beyond",
        );
        refused(
            check_png(fixtures::png(20_000, 20_000).as_slice(), &limits),
            "beyond",
        );
        let mut depth = fixtures::png(4, 4);
        depth[24] = 3; // bit depth 3
        let crc = crc32(&depth[12..29]).to_be_bytes();
        depth[29..33].copy_from_slice(&crc);
        refused(check_png(depth.as_slice(), &limits), "bit depth");
    }

    #[test]
    fn jpeg_needs_a_frame_header_with_dimensions() {
        let limits = Limits::default();
        assert_eq!(
            verdict(check_jpeg(fixtures::jpeg(640, 480).as_slice(), &limits)),
            Ok(())
        );
        refused(
            check_jpeg(fixtures::jpeg(0, 480).as_slice(), &limits),
            "0×480",
        );
        refused(
            check_jpeg(
                b"\xff\xd8\xff\xe0\x00\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xda".as_slice(),
                &limits,
            ),
            "before a frame header",
        );
        refused(
            check_jpeg(b"\xff\xd8\xff\xe0\xff\xff".as_slice(), &limits),
            "past the end",
        );
        refused(check_jpeg(b"\xff\xd8<html>".as_slice(), &limits), "marker");
        refused(
            check_jpeg(b"\xff\xd8".as_slice(), &limits),
            "no frame header",
        );
    }

    #[test]
    fn tiff_needs_a_readable_first_ifd() {
        let limits = Limits::default();
        assert_eq!(
            verdict(check_tiff(fixtures::tiff(100, 50).as_slice(), &limits)),
            Ok(())
        );
        refused(
            check_tiff(fixtures::tiff(0, 50).as_slice(), &limits),
            "0×50",
        );
        refused(
            check_tiff(b"II*\0\xff\xff\0\0".as_slice(), &limits),
            "outside the file",
        );
        let mut cut = fixtures::tiff(100, 50);
        cut.truncate(20);
        refused(
            check_tiff(cut.as_slice(), &limits),
            "ends inside the first IFD",
        );
        let mut no_width = fixtures::tiff(100, 50);
        no_width[10] = 0x17; // tag 256 → 279
        refused(check_tiff(no_width.as_slice(), &limits), "no ImageWidth");
    }
}
