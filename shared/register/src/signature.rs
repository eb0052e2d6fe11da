//! The AOO's signature over a segnatura: enveloped XML-DSig with XAdES baseline-B properties.
//!
//! AgID annex 6 asks for a XAdES baseline-B signature (ETSI EN 319 132-1) as the last child of
//! `prot:SegnaturaInformatica`. The signature covers the whole document minus itself
//! (`URI=""` with the enveloped-signature transform) and the XAdES `SignedProperties`, which bind
//! the signing time and the digest of the AOO's certificate; everything is canonicalised with
//! Exclusive C14N, so the segnatura can be moved into another document (a message, an archive
//! package) without its signature breaking.
//!
//! Digests are computed over the canonical octets of each signed node-set. The tree of
//! [`crate::segnatura`] serialises straight to canonical form, so those octets are produced
//! by the same code that writes the document, never by parsing it back.
//!
//! The key and certificate come from configuration as PEM files: a PKCS#8 private key (RSA of
//! 2048 bits or more, or ECDSA P-256) and the matching X.509 certificate.

use crate::segnatura::{Element, Ns, Segnatura, SegnaturaError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

/// `Id`s inside the signature. A segnatura carries exactly one signature, so fixed values
/// cannot collide, and they keep two signings of the same data byte-comparable.
pub const SIGNATURE_ID: &str = "segnatura-firma";
pub const SIGNED_PROPERTIES_ID: &str = "segnatura-firma-proprieta";
const DOCUMENT_REFERENCE_ID: &str = "segnatura-firma-riferimento";

/// Why the AOO's key cannot be loaded or a segnatura cannot be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("cannot read {what} PEM: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error(
        "the private key is neither RSA (2048 bits or more) nor ECDSA P-256 in PKCS#8 form \
         (convert a PKCS#1 or SEC1 key with `openssl pkcs8 -topk8 -nocrypt`)"
    )]
    UnsupportedKey,
    #[error("the certificate is not a well-formed X.509 certificate: {0}")]
    MalformedCertificate(&'static str),
    #[error("the certificate does not belong to the private key")]
    KeyMismatch,
    #[error(transparent)]
    Segnatura(#[from] SegnaturaError),
    #[error("the signing operation failed")]
    Signing,
}

/// The signature algorithm, chosen by the kind of key configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha256,
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The XML-DSig algorithm identifier (RFC 6931).
    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureAlgorithm::EcdsaP256Sha256 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
            }
        }
    }
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// The AOO's signing identity: its private key and the certificate that names it.
pub struct AooSigner {
    key: SigningKey,
    certificate: Vec<u8>,
    rng: SystemRandom,
}

impl fmt::Debug for AooSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material, even in logs of a failed start.
        f.debug_struct("AooSigner")
            .field("algorithm", &self.algorithm())
            .field(
                "certificate_sha256",
                &BASE64.encode(self.certificate_digest()),
            )
            .finish_non_exhaustive()
    }
}

impl AooSigner {
    /// Loads the key and certificate named in configuration.
    pub fn from_pem_files(
        key: impl AsRef<Path>,
        certificate: impl AsRef<Path>,
    ) -> Result<Self, SignatureError> {
        let key_path = key.as_ref();
        let key = PrivatePkcs8KeyDer::from_pem_file(key_path).map_err(|e| SignatureError::Pem {
            what: "private key",
            reason: format!("{}: {e}", key_path.display()),
        })?;
        let cert_path = certificate.as_ref();
        let certificate =
            CertificateDer::from_pem_file(cert_path).map_err(|e| SignatureError::Pem {
                what: "certificate",
                reason: format!("{}: {e}", cert_path.display()),
            })?;
        Self::from_der(key.secret_pkcs8_der(), &certificate)
    }

    /// Loads a PEM `PRIVATE KEY` (PKCS#8) and the first PEM `CERTIFICATE` of `certificate_pem`.
    pub fn from_pem(key_pem: &[u8], certificate_pem: &[u8]) -> Result<Self, SignatureError> {
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem).map_err(|e| SignatureError::Pem {
            what: "private key",
            reason: e.to_string(),
        })?;
        let certificate =
            CertificateDer::from_pem_slice(certificate_pem).map_err(|e| SignatureError::Pem {
                what: "certificate",
                reason: e.to_string(),
            })?;
        Self::from_der(key.secret_pkcs8_der(), &certificate)
    }

    /// Loads a DER PKCS#8 key and a DER certificate, refusing a certificate that names another
    /// key: a mismatch would otherwise surface only when a receiving AOO rejects our segnaturas.
    pub fn from_der(pkcs8: &[u8], certificate: &[u8]) -> Result<Self, SignatureError> {
        let signer = Self::from_parts(pkcs8, certificate.to_vec())?;
        let certified_key = subject_public_key(certificate)?;
        let own_key = match &signer.key {
            SigningKey::Rsa(key) => key.public().as_ref(),
            SigningKey::Ecdsa(key) => key.public_key().as_ref(),
        };
        if certified_key != own_key {
            return Err(SignatureError::KeyMismatch);
        }
        Ok(signer)
    }

    fn from_parts(pkcs8: &[u8], certificate: Vec<u8>) -> Result<Self, SignatureError> {
        let rng = SystemRandom::new();
        let key = if let Ok(rsa) = RsaKeyPair::from_pkcs8(pkcs8) {
            SigningKey::Rsa(rsa)
        } else if let Ok(ec) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
        {
            SigningKey::Ecdsa(ec)
        } else {
            return Err(SignatureError::UnsupportedKey);
        };
        Ok(Self {
            key,
            certificate,
            rng,
        })
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.key {
            SigningKey::Rsa(_) => SignatureAlgorithm::RsaSha256,
            SigningKey::Ecdsa(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    /// The DER certificate placed in `ds:KeyInfo`.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// SHA-256 of the DER certificate, as `SigningCertificateV2` states it.
    pub fn certificate_digest(&self) -> [u8; 32] {
        Sha256::digest(&self.certificate).into()
    }

    /// The complete signed segnatura: XML declaration, newline, then the document in canonical
    /// form with `ds:Signature` as the root's last child. `signing_time` is written to the
    /// second, in UTC.
    pub fn sign(
        &self,
        segnatura: &Segnatura,
        signing_time: DateTime<Utc>,
    ) -> Result<String, SignatureError> {
        let mut root = segnatura.to_element()?;
        let document_digest = sha256_base64(root.canonical().as_bytes());

        let signed_properties = self.signed_properties(signing_time);
        let properties_digest = sha256_base64(signed_properties.canonical().as_bytes());

        let signed_info = Element::new(Ns::Ds, "SignedInfo")
            .child(algorithm("CanonicalizationMethod", EXC_C14N))
            .child(algorithm("SignatureMethod", self.algorithm().uri()))
            .child(
                Element::new(Ns::Ds, "Reference")
                    .attr(None, "Id", DOCUMENT_REFERENCE_ID)
                    .attr(None, "URI", "")
                    .child(
                        Element::new(Ns::Ds, "Transforms")
                            .child(algorithm("Transform", ENVELOPED))
                            .child(algorithm("Transform", EXC_C14N)),
                    )
                    .child(algorithm("DigestMethod", SHA256))
                    .child(Element::new(Ns::Ds, "DigestValue").text(&document_digest)),
            )
            .child(
                Element::new(Ns::Ds, "Reference")
                    .attr(None, "Type", SIGNED_PROPERTIES_TYPE)
                    .attr(None, "URI", &format!("#{SIGNED_PROPERTIES_ID}"))
                    .child(
                        Element::new(Ns::Ds, "Transforms").child(algorithm("Transform", EXC_C14N)),
                    )
                    .child(algorithm("DigestMethod", SHA256))
                    .child(Element::new(Ns::Ds, "DigestValue").text(&properties_digest)),
            );
        let signature_value = self.raw_sign(signed_info.canonical().as_bytes())?;

        let signature = Element::new(Ns::Ds, "Signature")
            .attr(None, "Id", SIGNATURE_ID)
            .child(signed_info)
            .child(Element::new(Ns::Ds, "SignatureValue").text(&BASE64.encode(signature_value)))
            .child(
                Element::new(Ns::Ds, "KeyInfo").child(Element::new(Ns::Ds, "X509Data").child(
                    Element::new(Ns::Ds, "X509Certificate").text(&BASE64.encode(&self.certificate)),
                )),
            )
            .child(
                Element::new(Ns::Ds, "Object").child(
                    Element::new(Ns::Xades, "QualifyingProperties")
                        .attr(None, "Target", &format!("#{SIGNATURE_ID}"))
                        .child(signed_properties),
                ),
            );
        root.push(signature);

        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
            root.canonical()
        ))
    }

    /// Baseline-B asks for the signing time, the signing certificate's digest and, for the
    /// signed data object, its format.
    fn signed_properties(&self, signing_time: DateTime<Utc>) -> Element {
        let xades = |name| Element::new(Ns::Xades, name);
        xades("SignedProperties")
            .attr(None, "Id", SIGNED_PROPERTIES_ID)
            .child(
                xades("SignedSignatureProperties")
                    .child(
                        xades("SigningTime")
                            .text(&signing_time.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    )
                    // V2 identifies the certificate by digest alone; IssuerSerialV2 is optional
                    // and not recommended by EN 319 132-1.
                    .child(
                        xades("SigningCertificateV2").child(
                            xades("Cert").child(
                                xades("CertDigest")
                                    .child(algorithm("DigestMethod", SHA256))
                                    .child(
                                        Element::new(Ns::Ds, "DigestValue")
                                            .text(&BASE64.encode(self.certificate_digest())),
                                    ),
                            ),
                        ),
                    ),
            )
            .child(
                xades("SignedDataObjectProperties").child(
                    xades("DataObjectFormat")
                        .attr(
                            None,
                            "ObjectReference",
                            &format!("#{DOCUMENT_REFERENCE_ID}"),
                        )
                        .child(xades("MimeType").text("text/xml")),
                ),
            )
    }

    fn raw_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match &self.key {
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    message,
                    &mut signature,
                )
                .map_err(|_| SignatureError::Signing)?;
                Ok(signature)
            }
            // XML-DSig wants r || s, which is ring's "fixed" encoding.
            SigningKey::Ecdsa(key) => key
                .sign(&self.rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| SignatureError::Signing),
        }
    }
}

fn algorithm(name: &'static str, uri: &str) -> Element {
    Element::new(Ns::Ds, name).attr(None, "Algorithm", uri)
}

fn sha256_base64(bytes: &[u8]) -> String {
    BASE64.encode(Sha256::digest(bytes))
}

/// The public key a certificate certifies: the content of `subjectPublicKey`, which for RSA is
/// the `RSAPublicKey` DER and for EC the uncompressed point, the same bytes ring exposes for
/// a key pair. Only the path to that field is walked, so no X.509 library is needed.
fn subject_public_key(certificate: &[u8]) -> Result<&[u8], SignatureError> {
    let malformed = SignatureError::MalformedCertificate;
    let (certificate, _) = der(certificate, 0x30).ok_or(malformed("Certificate"))?;
    let (tbs, _) = der(certificate, 0x30).ok_or(malformed("TBSCertificate"))?;
    let mut rest = tbs;
    if rest.first() == Some(&0xA0) {
        rest = der(rest, 0xA0).ok_or(malformed("version"))?.1;
    }
    for (tag, field) in [
        (0x02, "serialNumber"),
        (0x30, "signature"),
        (0x30, "issuer"),
        (0x30, "validity"),
        (0x30, "subject"),
    ] {
        rest = der(rest, tag).ok_or(malformed(field))?.1;
    }
    let (spki, _) = der(rest, 0x30).ok_or(malformed("subjectPublicKeyInfo"))?;
    let (_, spki) = der(spki, 0x30).ok_or(malformed("algorithm"))?;
    let (bits, _) = der(spki, 0x03).ok_or(malformed("subjectPublicKey"))?;
    match bits.split_first() {
        Some((0, key)) => Ok(key),
        _ => Err(malformed("subjectPublicKey")),
    }
}

/// One DER TLV with the expected tag: its content and what follows it.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segnatura::tests::sample;
    use chrono::TimeZone;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    /// Just enough of a certificate for the parser: the fields it walks, with dummy values.
    fn fake_certificate(public_key: &[u8]) -> Vec<u8> {
        let mut bits = vec![0];
        bits.extend_from_slice(public_key);
        let spki = tlv(0x30, &[tlv(0x30, &[]), tlv(0x03, &bits)].concat());
        let tbs = [
            tlv(0xA0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            tlv(0x30, &[]),
            tlv(0x30, &[]),
            tlv(0x30, &[]),
            tlv(0x30, &[]),
            spki,
        ]
        .concat();
        tlv(
            0x30,
            &[tlv(0x30, &tbs), tlv(0x30, &[]), tlv(0x03, &[0])].concat(),
        )
    }

    fn ec_key() -> (Vec<u8>, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
    }

    fn between<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
        let from = xml.find(start).unwrap_or_else(|| panic!("{start} missing"));
        let to = from
            + xml[from..]
                .find(end)
                .unwrap_or_else(|| panic!("{end} missing"))
            + end.len();
        &xml[from..to]
    }

    fn signed() -> (String, Vec<u8>, Vec<u8>) {
        let (pkcs8, public) = ec_key();
        let certificate = fake_certificate(&public);
        let signer = AooSigner::from_der(&pkcs8, &certificate).unwrap();
        assert_eq!(signer.algorithm(), SignatureAlgorithm::EcdsaP256Sha256);
        let when = Utc.with_ymd_and_hms(2025, 3, 7, 8, 5, 0).unwrap();
        (signer.sign(&sample(), when).unwrap(), public, certificate)
    }

    #[test]
    fn signature_is_the_last_child_of_the_root() {
        let (xml, _, _) = signed();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prot:Segnatura"));
        assert!(xml.contains(&format!(
            "</prot:Descrizione><ds:Signature xmlns:ds=\"{DS}\" Id=\"segnatura-firma\"><ds:SignedInfo>"
        )));
        assert!(xml.ends_with("</ds:Object></ds:Signature></prot:SegnaturaInformatica>"));
        assert!(!xml.contains("/>"));
        assert_eq!(xml.matches('\n').count(), 1, "only after the declaration");
    }

    #[test]
    fn document_reference_digests_the_unsigned_document() {
        let (xml, _, _) = signed();
        let unsigned = sample().to_unsigned_xml().unwrap();
        let (before, after) = xml.split_once("<ds:Signature").unwrap();
        let (_, tail) = after.split_once("</ds:Signature>").unwrap();
        assert_eq!(
            format!("{before}{tail}"),
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{unsigned}")
        );
        assert!(xml.contains(&format!(
            "<ds:Reference Id=\"segnatura-firma-riferimento\" URI=\"\"><ds:Transforms>\
             <ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform>\
             <ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
             <ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
            sha256_base64(unsigned.as_bytes())
        )));
    }

    /// Re-derives the exc-c14n forms by plain string surgery on the output, independently of
    /// the tree serialiser: the apex gets the declarations its ancestors provided.
    #[test]
    fn signed_properties_and_signed_info_verify_in_their_canonical_form() {
        let (xml, public, certificate) = signed();

        let properties = between(&xml, "<xades:SignedProperties", "</xades:SignedProperties>");
        let canonical_properties = properties
            .replacen(
                "<xades:SignedProperties ",
                &format!("<xades:SignedProperties xmlns:xades=\"{XADES}\" "),
                1,
            )
            .replace(
                "<ds:DigestMethod ",
                &format!("<ds:DigestMethod xmlns:ds=\"{DS}\" "),
            )
            .replace(
                "<ds:DigestValue>",
                &format!("<ds:DigestValue xmlns:ds=\"{DS}\">"),
            );
        assert!(xml.contains(&format!(
            "URI=\"#segnatura-firma-proprieta\"><ds:Transforms><ds:Transform \
             Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms><ds:DigestMethod \
             Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue>",
            sha256_base64(canonical_properties.as_bytes())
        )));
        assert!(properties.contains("<xades:SigningTime>2025-03-07T08:05:00Z</xades:SigningTime>"));
        assert!(properties.contains(&format!(
            "<ds:DigestValue>{}</ds:DigestValue>",
            sha256_base64(&certificate)
        )));

        let signed_info = between(&xml, "<ds:SignedInfo>", "</ds:SignedInfo>");
        let canonical_info = signed_info.replacen(
            "<ds:SignedInfo>",
            &format!("<ds:SignedInfo xmlns:ds=\"{DS}\">"),
            1,
        );
        let value = between(&xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
        let value = &value["<ds:SignatureValue>".len()..value.len() - "</ds:SignatureValue>".len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(canonical_info.as_bytes(), &BASE64.decode(value).unwrap())
            .expect("SignatureValue verifies over the canonical SignedInfo");

        assert!(xml.contains(&format!(
            "<ds:X509Certificate>{}</ds:X509Certificate>",
            BASE64.encode(&certificate)
        )));
        assert!(xml.contains(&format!(
            "<ds:Object><xades:QualifyingProperties xmlns:xades=\"{XADES}\" \
             Target=\"#segnatura-firma\"><xades:SignedProperties Id=\"segnatura-firma-proprieta\">"
        )));
    }

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let (pkcs8, _) = ec_key();
        let (_, other_public) = ec_key();
        assert!(matches!(
            AooSigner::from_der(&pkcs8, &fake_certificate(&other_public)),
            Err(SignatureError::KeyMismatch)
        ));
        assert!(matches!(
            AooSigner::from_der(&pkcs8, b"not a certificate"),
            Err(SignatureError::MalformedCertificate(_))
        ));
        assert!(matches!(
            AooSigner::from_der(b"not a key", &fake_certificate(&other_public)),
            Err(SignatureError::UnsupportedKey)
        ));
    }

    #[test]
    fn pem_errors_name_what_was_wrong() {
        let err = AooSigner::from_pem(b"-----BEGIN RSA PRIVATE KEY-----\n", b"").unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let err =
            AooSigner::from_pem_files("/nonexistent/aoo.key", "/nonexistent/aoo.crt").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/aoo.key"), "{err}");
    }

    #[test]
    fn an_invalid_segnatura_is_not_signed() {
        let (pkcs8, public) = ec_key();
        let signer = AooSigner::from_der(&pkcs8, &fake_certificate(&public)).unwrap();
        let mut s = sample();
        s.recipients.clear();
        assert!(matches!(
            signer.sign(&s, Utc::now()),
            Err(SignatureError::Segnatura(SegnaturaError::NoRecipient))
        ));
        assert!(!format!("{signer:?}").contains("key:"));
    }
}
