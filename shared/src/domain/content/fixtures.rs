//! Small well-formed documents of every checked format, built byte by byte, so that each test
//! can damage exactly one thing and see it refused.

use super::crc32::crc32;
use std::io::Write;

/// A one-page PDF with a classic cross-reference table, every line ending with `eol`.
pub fn pdf_with(eol: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_owned(),
    ];
    let mut out = format!("%PDF-1.4{eol}%\u{e2}\u{e3}{eol}").into_bytes();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj{eol}{object}{eol}endobj{eol}", i + 1).as_bytes());
    }
    let xref = out.len();
    let entry_end = if eol == "\r\n" { "\r\n" } else { " \n" };
    out.extend_from_slice(format!("xref{eol}0 {}{eol}", objects.len() + 1).as_bytes());
    out.extend_from_slice(format!("0000000000 65535 f{entry_end}").as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n{entry_end}").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer{eol}<< /Size {} /Root 1 0 R /ID [<0a0b> <0c0d>] >>{eol}startxref{eol}{xref}{eol}%%EOF{eol}",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

pub fn pdf() -> Vec<u8> {
    pdf_with("\n")
}

/// A PDF 1.5 whose cross-reference is a stream object.
pub fn pdf_with_xref_stream() -> Vec<u8> {
    let mut out = b"%PDF-1.5\n".to_vec();
    let catalog = out.len();
    out.extend_from_slice(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    let pages = out.len();
    out.extend_from_slice(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    let xref = out.len();
    let mut rows = vec![0u8, 0, 0, 0xff];
    for offset in [catalog, pages, xref] {
        rows.extend_from_slice(&[1, (offset >> 8) as u8, offset as u8, 0]);
    }
    out.extend_from_slice(
        format!(
            "3 0 obj\n<< /Type /XRef /Size 4 /W [1 2 1] /Root 1 0 R /Length {} >>\nstream\n",
            rows.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&rows);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

/// An 8-bit RGB PNG header of `width` × `height`, an IDAT, IEND.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01"));
    out.extend(png_chunk(b"IEND", b""));
    out
}

/// A baseline greyscale JPEG's segments: SOI, APP0 (JFIF), SOF0 of `width` × `height`, SOS, EOI.
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8];
    out.extend_from_slice(b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    out.extend_from_slice(&[0xff, 0xc0, 0x00, 0x0b, 0x08]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x01, 0x11, 0x00]);
    out.extend_from_slice(&[0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]);
    out.extend_from_slice(&[0x12, 0x34, 0xff, 0xd9]);
    out
}

/// A little-endian TIFF whose first IFD gives `width` and `height` as LONGs.
pub fn tiff(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"II*\0\x08\0\0\0".to_vec();
    out.extend_from_slice(&2u16.to_le_bytes());
    for (tag, value) in [(256u16, width), (257, height)] {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[0x80; 16]);
    out
}

/// A signedData envelope with a definite long-form length.
pub fn pkcs7() -> Vec<u8> {
    let mut inner = vec![
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    inner.extend_from_slice(&[0xa0, 0x82, 0x01, 0x00]);
    inner.extend_from_slice(&[0x11; 256]);
    let mut out = vec![0x30, 0x82];
    out.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    out.extend(inner);
    out
}

/// One entry of [`zip_entries`].
pub struct ZipEntry<'a> {
    pub name: &'a str,
    pub data: Vec<u8>,
    pub deflate: bool,
    /// What the headers claim instead of the real uncompressed size.
    pub declared_size: Option<u32>,
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An archive of `entries`, all stored or all deflated.
pub fn zip(entries: &[(&str, &[u8])], deflated: bool) -> Vec<u8> {
    let entries: Vec<ZipEntry<'_>> = entries
        .iter()
        .map(|(name, data)| ZipEntry {
            name,
            data: data.to_vec(),
            deflate: deflated,
            declared_size: None,
        })
        .collect();
    zip_entries(&entries)
}

pub fn zip_entries(entries: &[ZipEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut directory = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let (method, body) = if entry.deflate {
            (8u16, deflate(&entry.data))
        } else {
            (0u16, entry.data.clone())
        };
        let size = entry.declared_size.unwrap_or(entry.data.len() as u32);
        let crc = crc32(&entry.data);
        let common = |out: &mut Vec<u8>| {
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0x5a]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&body);
        directory.extend_from_slice(b"PK\x01\x02\x14\x00");
        common(&mut directory);
        directory.extend_from_slice(&[0; 6]);
        directory.extend_from_slice(&0u32.to_le_bytes());
        directory.extend_from_slice(&offset.to_le_bytes());
        directory.extend_from_slice(entry.name.as_bytes());
    }
    let directory_offset = out.len() as u32;
    out.extend_from_slice(&directory);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    out.extend_from_slice(&directory_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
