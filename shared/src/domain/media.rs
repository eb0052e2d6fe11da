//! Media types of submitted documents, told by their content and never by their file name.
//!
//! A citizen's "pianta.pdf" may be a renamed Word file; the catalog's allowed types are only
//! meaningful if they are checked against what the bytes are. [`sniff`] looks at the first
//! [`SNIFF_LEN`] bytes for the signatures of the formats the catalog admits.

/// How many leading bytes [`sniff`] needs; fewer are fine for short files.
pub const SNIFF_LEN: usize = 64;

pub const PDF: &str = "application/pdf";
pub const JPEG: &str = "image/jpeg";
pub const PNG: &str = "image/png";
pub const TIFF: &str = "image/tiff";
pub const XML: &str = "application/xml";
/// A CAdES-signed document (`.p7m`), the usual form of a digitally signed Italian document.
pub const PKCS7: &str = "application/pkcs7-mime";
pub const ZIP: &str = "application/zip";

/// Every media type [`sniff`] can return, and so every type the catalog may admit.
pub const KNOWN_MEDIA_TYPES: &[&str] = &[PDF, JPEG, PNG, TIFF, XML, PKCS7, ZIP];

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// DER of OID 1.2.840.113549.1.7.2 (pkcs7-signedData), tag and length included.
const SIGNED_DATA_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];

/// The media type the content starts like, or `None` when it is none of the known formats.
pub fn sniff(prefix: &[u8]) -> Option<&'static str> {
    let head = &prefix[..prefix.len().min(SNIFF_LEN)];
    if head.starts_with(b"%PDF-") {
        Some(PDF)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(JPEG)
    } else if head.starts_with(PNG_SIGNATURE) {
        Some(PNG)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(TIFF)
    } else if head.starts_with(b"PK\x03\x04") {
        Some(ZIP)
    } else if is_xml(head) {
        Some(XML)
    } else if is_signed_pkcs7(head) {
        Some(PKCS7)
    } else {
        None
    }
}

/// An XML declaration, after an optional byte-order mark in UTF-8 or UTF-16.
fn is_xml(head: &[u8]) -> bool {
    const DECLARATION: &[u8] = b"<?xml";
    let utf16 = |bytes: &[u8], little_endian: bool| {
        bytes.len() >= DECLARATION.len() * 2
            && DECLARATION.iter().enumerate().all(|(i, &ascii)| {
                let (low, high) = if little_endian {
                    (bytes[2 * i], bytes[2 * i + 1])
                } else {
                    (bytes[2 * i + 1], bytes[2 * i])
                };
                low == ascii && high == 0
            })
    };
    if let Some(rest) = head.strip_prefix(b"\xef\xbb\xbf") {
        rest.starts_with(DECLARATION)
    } else if let Some(rest) = head.strip_prefix(b"\xff\xfe") {
        utf16(rest, true)
    } else if let Some(rest) = head.strip_prefix(b"\xfe\xff") {
        utf16(rest, false)
    } else {
        head.starts_with(DECLARATION)
    }
}

/// A DER/BER SEQUENCE (indefinite length or a long-form length of 1 to 4 bytes) whose first
/// bytes name the signedData content type. Other DER files (certificates, keys) start alike
/// but carry other OIDs, hence the OID search.
fn is_signed_pkcs7(head: &[u8]) -> bool {
    head.len() >= 2
        && head[0] == 0x30
        && (0x80..=0x84).contains(&head[1])
        && head
            .windows(SIGNED_DATA_OID.len())
            .any(|window| window == SIGNED_DATA_OID)
}

/// The declared media type in the form [`sniff`] returns: lowercase, without parameters, with
/// the common aliases folded (`image/jpg`, `text/xml`, …), so that a sender is not told off
/// for a harmless spelling.
pub fn canonical(declared: &str) -> String {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpg" | "image/pjpeg" => JPEG.to_owned(),
        "image/x-png" => PNG.to_owned(),
        "application/x-pdf" => PDF.to_owned(),
        "text/xml" => XML.to_owned(),
        "application/x-pkcs7-mime" => PKCS7.to_owned(),
        "application/x-zip-compressed" | "application/x-zip" => ZIP.to_owned(),
        _ => essence,
    }
}

/// The name a citizen knows a format by, for messages in Italian.
pub fn display_name(media_type: &str) -> &str {
    match media_type {
        PDF => "PDF",
        JPEG => "JPEG",
        PNG => "PNG",
        TIFF => "TIFF",
        XML => "XML",
        PKCS7 => "P7M (file firmato digitalmente)",
        ZIP => "ZIP",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_pkcs7(length_byte: u8) -> Vec<u8> {
        let mut bytes = vec![0x30, length_byte];
        bytes.extend(vec![0x12; usize::from(length_byte & 0x7f)]);
        bytes.extend(SIGNED_DATA_OID);
        bytes.extend([0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01]);
        bytes
    }

    #[test]
    fn known_signatures_are_recognised() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj".to_vec(), PDF),
            (vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F'], JPEG),
            (vec![0xff, 0xd8, 0xff, 0xe1, 0x12, 0x34, b'E', b'x'], JPEG),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), PNG),
            (b"II*\0\x08\0\0\0".to_vec(), TIFF),
            (b"MM\0*\0\0\0\x08".to_vec(), TIFF),
            (b"<?xml version=\"1.0\"?><a/>".to_vec(), XML),
            (b"\xef\xbb\xbf<?xml version=\"1.0\"?>".to_vec(), XML),
            (b"\xff\xfe<\0?\0x\0m\0l\0 \0".to_vec(), XML),
            (b"\xfe\xff\0<\0?\0x\0m\0l\0 ".to_vec(), XML),
            (b"PK\x03\x04\x14\0\x06\0".to_vec(), ZIP),
            (signed_pkcs7(0x80), PKCS7),
            (signed_pkcs7(0x82), PKCS7),
            (signed_pkcs7(0x83), PKCS7),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(&bytes), Some(expected), "{bytes:02x?}");
            assert!(KNOWN_MEDIA_TYPES.contains(&expected));
        }
    }

    #[test]
    fn a_real_p7m_header_is_recognised() {
        // The opening bytes of a CAdES file as produced by common Italian signing software.
        let header = [
            0x30, 0x83, 0x01, 0x9a, 0x4b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
            0x07, 0x02, 0xa0, 0x83, 0x01, 0x9a, 0x3b, 0x30, 0x83, 0x01, 0x9a, 0x36, 0x02, 0x01,
        ];
        assert_eq!(sniff(&header), Some(PKCS7));
    }

    #[test]
    fn look_alikes_are_not_recognised() {
        let mut certificate = vec![0x30, 0x82, 0x03, 0x5d, 0x30, 0x82, 0x02, 0x45];
        // rsaEncryption, not signedData.
        certificate.extend([
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ]);
        let mut oid_too_far = vec![0x30, 0x80];
        oid_too_far.extend([0u8; SNIFF_LEN]);
        oid_too_far.extend(SIGNED_DATA_OID);
        let mut short_form = vec![0x30, 0x20];
        short_form.extend(SIGNED_DATA_OID);
        for bytes in [
            b"".to_vec(),
            b"%PDF".to_vec(),
            b" %PDF-1.4".to_vec(),
            b"\x89PNG\r\n".to_vec(),
            b"II*".to_vec(),
            b"  <?xml version=\"1.0\"?>".to_vec(),
            b"<html><body>".to_vec(),
            b"PK\x05\x06".to_vec(),
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec(),
            b"GIF89a".to_vec(),
            b"plain text".to_vec(),
            certificate,
            oid_too_far,
            short_form,
        ] {
            assert_eq!(sniff(&bytes), None, "{bytes:02x?}");
        }
    }

    #[test]
    fn a_word_document_is_a_zip_not_a_pdf() {
        // A .docx renamed to .pdf: the name lies, the content does not.
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0\x06\0\x08\0[Content_Types].xml"),
            Some(ZIP)
        );
    }

    #[test]
    fn declared_types_are_canonicalised() {
        assert_eq!(canonical(" Image/JPG "), JPEG);
        assert_eq!(canonical("application/pdf; name=\"a.pdf\""), PDF);
        assert_eq!(canonical("text/xml; charset=utf-8"), XML);
        assert_eq!(canonical("application/x-pkcs7-mime"), PKCS7);
        assert_eq!(
            canonical("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(canonical(""), "");
    }

    #[test]
    fn every_known_type_has_an_italian_name() {
        for media_type in KNOWN_MEDIA_TYPES {
            assert_ne!(display_name(media_type), *media_type);
        }
    }
}
