//! Bearer tokens: JWTs from the issuers this service trusts, each checked with its own key.
//!
//! Three parties sign tokens: the citizens' portal (citizens), the counter application
//! (operators) and sportello itself (`sportello token`: operators, for operations and the
//! demo). Each has its own key, and all of them are asymmetric (EdDSA or ES256): for the portal
//! and the counter application we hold only the public key, so nothing in our configuration
//! lets anyone mint tokens in their name; sportello's own key is a private key too, so that a
//! replica that only checks tokens could be given its public half alone.
//!
//! `iss` picks the key and the algorithm (the header's `alg` must be that issuer's, so a public
//! key can never be replayed as an HMAC secret); `aud` must be `http.audience`, so a token
//! minted for another service of the municipality is no good here; `exp` must not have passed
//! (`http.clock_leeway_secs` allowed). Any of these failing is 401.
//!
//! Claims: `iss`, `aud`, `sub`, `exp`, `role` (`citizen` | `operator`), `cf` (citizens: their
//! tax code), `roles` (operators: any of `counter`, `protocol_officer`, `operations`). An
//! issuer grants only what its configuration lets it (`may_mint`): a portal key that signs an
//! operator token is refused as if the signature were wrong. Which role does what is
//! [`OperatorRole`]'s and the routes' business.

use crate::ApiState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};
use sportello_shared::config::HttpSettings;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

/// What a token says its holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Operator,
}

/// An operator's hats; a token may carry any combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// The counter: folders, submissions on a citizen's behalf, withdrawals, deliveries.
    Counter,
    /// The protocol officer: annulments and the daily register.
    ProtocolOfficer,
    /// Operations: the error queues (replay, discard) and the service's health in detail.
    Operations,
}

impl OperatorRole {
    pub const ALL: [OperatorRole; 3] = [
        OperatorRole::Counter,
        OperatorRole::ProtocolOfficer,
        OperatorRole::Operations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Counter => "counter",
            OperatorRole::ProtocolOfficer => "protocol_officer",
            OperatorRole::Operations => "operations",
        }
    }

    pub fn parse(text: &str) -> Option<OperatorRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }

    /// A comma-separated list, as the command line takes it (`counter,operations`).
    pub fn parse_list(text: &str) -> Result<BTreeSet<OperatorRole>, String> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                OperatorRole::parse(part).ok_or_else(|| {
                    format!(
                        "unknown operator role `{}` (known: counter, protocol_officer, operations)",
                        part.trim().escape_debug()
                    )
                })
            })
            .collect()
    }
}

/// `aud` as RFC 7519 allows it: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: Audience,
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<OperatorRole>,
    /// Seconds since the epoch.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Who is asking, once the token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A citizen, by their tax code (upper case).
    Citizen { tax_code: String },
    /// An operator, by their operator id, with their roles (never empty).
    Operator {
        id: String,
        roles: BTreeSet<OperatorRole>,
    },
}

impl Caller {
    /// Whether this caller may read the folder of `tax_code`, once [`Caller::reader`] let them
    /// read folders at all.
    pub fn may_read(&self, tax_code: &str) -> bool {
        match self {
            Caller::Citizen { tax_code: own } => own.eq_ignore_ascii_case(tax_code),
            Caller::Operator { .. } => true,
        }
    }

    /// Refuses an operator without the counter role: citizens read their own folder, the
    /// counter anyone's, the other operator roles nobody's.
    pub fn reader(&self) -> Result<(), ApiError> {
        match self {
            Caller::Citizen { .. } => Ok(()),
            Caller::Operator { .. } => self.require(OperatorRole::Counter).map(|_| ()),
        }
    }

    /// The operator's id, or 403 unless this is an operator with `role`.
    pub fn require(&self, role: OperatorRole) -> Result<&str, ApiError> {
        match self {
            Caller::Operator { id, roles } if roles.contains(&role) => Ok(id),
            Caller::Operator { .. } => Err(ApiError::Forbidden(format!(
                "this needs the operator role `{}`, which the token does not grant",
                role.as_str()
            ))),
            Caller::Citizen { .. } => Err(ApiError::Forbidden(format!(
                "this endpoint is for operators with the role `{}`",
                role.as_str()
            ))),
        }
    }

    pub fn has(&self, role: OperatorRole) -> bool {
        self.require(role).is_ok()
    }

    /// The actor recorded for what this caller does (as in the practice history).
    pub fn actor(&self) -> String {
        match self {
            Caller::Citizen { .. } => "citizen".to_owned(),
            Caller::Operator { id, .. } => format!("operator:{id}"),
        }
    }
}

/// A checked token: its caller, who vouched for them, and until when.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// The issuer's `iss`.
    pub issuer: String,
    pub subject: String,
    /// The last second (since the epoch) in which the token is accepted: `exp` plus the
    /// leeway (a token is refused once the clock is past it, as jsonwebtoken checks it).
    pub accepted_until: u64,
}

impl Session {
    /// Whom the per-caller limits count: the issuer and subject, not the token, so that a
    /// fresh token for the same person does not reset them.
    pub fn holder(&self) -> String {
        format!("{}\u{1f}{}", self.issuer, self.subject)
    }

    /// How long from now until the token is refused: to the end of its last second.
    pub fn remaining(&self) -> Duration {
        let refused_from_ms = self.accepted_until.saturating_add(1).saturating_mul(1000);
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        Duration::from_millis(refused_from_ms.saturating_sub(now_ms))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: not a PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`)")]
    NotPrivateKey(String),
    #[error(
        "{0}: not a PEM public key (`-----BEGIN PUBLIC KEY-----`, from `openssl pkey -pubout`)"
    )]
    NotPublicKey(String),
    #[error("{0}: only Ed25519 (EdDSA) and P-256 (ES256) keys are supported")]
    UnsupportedKey(String),
    #[error("{what}: the key is {found:?}, but the algorithm configured is {configured:?}")]
    AlgorithmMismatch {
        what: String,
        found: Algorithm,
        configured: Algorithm,
    },
    #[error("{0}: unknown algorithm (EdDSA or ES256)")]
    UnknownAlgorithm(String),
    #[error("{what}: unknown grant `{grant}` (citizen, counter, protocol_officer, operations)")]
    UnknownGrant { what: String, grant: String },
    #[error("{0}: may_mint is empty, so no token of it would be accepted")]
    NothingToMint(String),
    #[error("two issuers have iss `{0}`")]
    DuplicateIssuer(String),
    #[error("http.audience must not be empty")]
    NoAudience,
    #[error(
        "no token issuer is configured (http.signing_key or [http.issuers]): every request would be refused; deploy/local/stack-up.sh generates the keys"
    )]
    NoIssuer,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a citizen token needs --cf (the citizen's tax code)")]
    MissingTaxCode,
    #[error("an operator token needs --operator-id")]
    MissingOperator,
    #[error("an operator token needs at least one role")]
    MissingRoles,
    #[error("issuer `{issuer}` may not grant {what}")]
    NotGranted { issuer: String, what: String },
    #[error("signing the token: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

/// What an issuer may grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub citizen: bool,
    pub operator: BTreeSet<OperatorRole>,
}

impl Grants {
    /// What sportello itself grants: operators, any role — never citizens, whom only the portal
    /// vouches for.
    pub fn operators() -> Grants {
        Grants {
            citizen: false,
            operator: OperatorRole::ALL.into_iter().collect(),
        }
    }

    pub fn citizens() -> Grants {
        Grants {
            citizen: true,
            operator: BTreeSet::new(),
        }
    }

    pub fn parse(what: &str, list: &[String]) -> Result<Grants, KeyError> {
        let mut grants = Grants::default();
        for grant in list {
            match grant.trim() {
                "citizen" => grants.citizen = true,
                other => {
                    let role =
                        OperatorRole::parse(other).ok_or_else(|| KeyError::UnknownGrant {
                            what: what.to_owned(),
                            grant: other.to_owned(),
                        })?;
                    grants.operator.insert(role);
                }
            }
        }
        if !grants.citizen && grants.operator.is_empty() {
            return Err(KeyError::NothingToMint(what.to_owned()));
        }
        Ok(grants)
    }

    /// Why `claims` grant more than this, if they do.
    fn refuses(&self, claims: &Claims) -> Option<String> {
        match claims.role {
            Role::Citizen if !self.citizen => Some("citizen tokens".to_owned()),
            Role::Citizen => None,
            Role::Operator => claims
                .roles
                .iter()
                .find(|role| !self.operator.contains(role))
                .map(|role| format!("the operator role `{}`", role.as_str())),
        }
    }
}

/// Whom a token is for, before it is signed.
#[derive(Debug, Clone)]
pub enum Subject<'a> {
    Citizen {
        tax_code: &'a str,
    },
    Operator {
        id: &'a str,
        roles: &'a BTreeSet<OperatorRole>,
    },
}

/// Signs tokens as one issuer. Sportello holds one for itself; the tests and `sportello token
/// --issuer` hold one for the portal or the counter to play them.
#[derive(Clone)]
pub struct Signer {
    issuer: String,
    audience: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The raw public key (Ed25519: 32 bytes; P-256: the uncompressed point).
    public: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, {:?})", self.issuer, self.algorithm)
    }
}

impl Signer {
    /// A signer from a PEM PKCS#8 private key; Ed25519 signs EdDSA, P-256 ES256.
    pub fn from_pem(
        issuer: &str,
        audience: &str,
        pem: &[u8],
        what: &str,
    ) -> Result<Signer, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
            .map_err(|_| KeyError::NotPrivateKey(what.to_owned()))?;
        let pkcs8 = der.secret_pkcs8_der();
        // OpenSSL writes Ed25519 keys as PKCS#8 v1 (no public key inside), which the checked
        // constructor refuses; the public key is derived from the seed either way.
        let (algorithm, public) =
            if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
                (Algorithm::EdDSA, pair.public_key().as_ref().to_vec())
            } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8,
                &SystemRandom::new(),
            ) {
                (Algorithm::ES256, pair.public_key().as_ref().to_vec())
            } else {
                return Err(KeyError::UnsupportedKey(what.to_owned()));
            };
        let (encoding, decoding) = match algorithm {
            Algorithm::EdDSA => (
                EncodingKey::from_ed_der(pkcs8),
                DecodingKey::from_ed_der(&public),
            ),
            _ => (
                EncodingKey::from_ec_der(pkcs8),
                DecodingKey::from_ec_der(&public),
            ),
        };
        Ok(Signer {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithm,
            encoding,
            decoding,
            public,
        })
    }

    /// A fresh key pair: the tests play every issuer with these.
    pub fn generate(
        issuer: &str,
        audience: &str,
        algorithm: Algorithm,
    ) -> Result<Signer, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = match algorithm {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec()),
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map(|d| d.as_ref().to_vec())
            }
            _ => return Err(KeyError::UnsupportedKey(issuer.to_owned())),
        }
        .map_err(|_| KeyError::UnsupportedKey(issuer.to_owned()))?;
        Signer::from_pem(issuer, audience, &pem("PRIVATE KEY", &pkcs8), issuer)
    }

    /// The public half as a PEM SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it.
    pub fn public_key_pem(&self) -> Vec<u8> {
        let prefix = match self.algorithm {
            Algorithm::EdDSA => SPKI_ED25519,
            _ => SPKI_P256,
        };
        pem("PUBLIC KEY", &[prefix, &self.public].concat())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs claims as they are (the tests forge with it).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            claims,
            &self.encoding,
        )?)
    }

    /// The claims of a token for `subject`, valid for `ttl`, before signing.
    pub fn claims(&self, subject: &Subject<'_>, ttl: Duration) -> Result<Claims, TokenError> {
        let now = now();
        let (sub, role, cf, roles) = match subject {
            Subject::Citizen { tax_code } => {
                let tax_code = tax_code.trim().to_uppercase();
                if tax_code.is_empty() {
                    return Err(TokenError::MissingTaxCode);
                }
                (
                    format!("citizen:{tax_code}"),
                    Role::Citizen,
                    Some(tax_code),
                    Vec::new(),
                )
            }
            Subject::Operator { id, roles } => {
                let id = id.trim();
                if id.is_empty() {
                    return Err(TokenError::MissingOperator);
                }
                if roles.is_empty() {
                    return Err(TokenError::MissingRoles);
                }
                (
                    id.to_owned(),
                    Role::Operator,
                    None,
                    roles.iter().copied().collect(),
                )
            }
        };
        Ok(Claims {
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            sub,
            role,
            cf,
            roles,
            exp: now + ttl.as_secs(),
            iat: Some(now),
        })
    }

    /// A token for `subject`, valid for `ttl`.
    pub fn mint(&self, subject: &Subject<'_>, ttl: Duration) -> Result<String, TokenError> {
        self.sign(&self.claims(subject, ttl)?)
    }
}

#[derive(Clone)]
struct Issuer {
    key: DecodingKey,
    grants: Grants,
    validation: Validation,
}

/// The trusted issuers, by `iss`, and sportello's own signer.
#[derive(Clone)]
pub struct Keys {
    audience: String,
    leeway: u64,
    issuers: HashMap<String, Issuer>,
    own: Option<Signer>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.issuers.keys().collect();
        names.sort();
        write!(f, "Keys({names:?})")
    }
}

fn read(path: &str) -> Result<Vec<u8>, KeyError> {
    std::fs::read(Path::new(path)).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

pub fn algorithm(name: &str, what: &str) -> Result<Algorithm, KeyError> {
    match name.trim() {
        "EdDSA" => Ok(Algorithm::EdDSA),
        "ES256" => Ok(Algorithm::ES256),
        _ => Err(KeyError::UnknownAlgorithm(what.to_owned())),
    }
}

/// SubjectPublicKeyInfo up to the key: SEQUENCE, algorithm id-Ed25519, BIT STRING of 32 bytes.
const SPKI_ED25519: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// …and for id-ecPublicKey on prime256v1, BIT STRING of the 65-byte uncompressed point.
const SPKI_P256: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

/// The raw public key inside a SubjectPublicKeyInfo, as ring verifies with it. The two
/// encodings we accept have fixed prefixes (algorithm identifier and bit-string header), so a
/// prefix match is a full parse.
fn raw_public_key(spki: &[u8], what: &str) -> Result<(Algorithm, Vec<u8>), KeyError> {
    if let Some(key) = spki.strip_prefix(SPKI_ED25519).filter(|k| k.len() == 32) {
        return Ok((Algorithm::EdDSA, key.to_vec()));
    }
    if let Some(key) = spki
        .strip_prefix(SPKI_P256)
        .filter(|k| k.len() == 65 && k[0] == 0x04)
    {
        return Ok((Algorithm::ES256, key.to_vec()));
    }
    Err(KeyError::UnsupportedKey(what.to_owned()))
}

impl Keys {
    /// No issuer yet; add them with [`Keys::trust`] and [`Keys::sign_as`].
    pub fn new(audience: &str, leeway: Duration) -> Keys {
        Keys {
            audience: audience.to_owned(),
            leeway: leeway.as_secs(),
            issuers: Default::default(),
            own: None,
        }
    }

    /// The keys `http` names, read from their files.
    pub fn from_settings(http: &HttpSettings) -> Result<Keys, KeyError> {
        if http.audience.trim().is_empty() {
            return Err(KeyError::NoAudience);
        }
        let mut keys = Keys::new(&http.audience, Duration::from_secs(http.clock_leeway_secs));
        if !http.signing_key.trim().is_empty() {
            let what = format!("http.signing_key ({})", http.signing_key);
            let signer = Signer::from_pem(
                &http.issuer,
                &http.audience,
                &read(&http.signing_key)?,
                &what,
            )?;
            keys = keys.sign_as(signer)?;
        }
        for (name, issuer) in &http.issuers {
            let what = format!("http.issuers.{name}");
            let iss = issuer.iss.as_deref().unwrap_or(name);
            let pem = read(&issuer.public_key)?;
            keys = keys.trust(
                iss,
                algorithm(&issuer.algorithm, &what)?,
                &pem,
                Grants::parse(&what, &issuer.may_mint)?,
                &what,
            )?;
        }
        if keys.issuers.is_empty() {
            return Err(KeyError::NoIssuer);
        }
        Ok(keys)
    }

    fn add(
        mut self,
        iss: &str,
        algorithm: Algorithm,
        key: DecodingKey,
        grants: Grants,
    ) -> Result<Keys, KeyError> {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[iss]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        if self.issuers.contains_key(iss) {
            return Err(KeyError::DuplicateIssuer(iss.to_owned()));
        }
        self.issuers.insert(
            iss.to_owned(),
            Issuer {
                key,
                grants,
                validation,
            },
        );
        Ok(self)
    }

    /// Trusts `iss`'s tokens, checked with the PEM public key `pem`, for what `grants` allow.
    pub fn trust(
        self,
        iss: &str,
        algorithm: Algorithm,
        pem: &[u8],
        grants: Grants,
        what: &str,
    ) -> Result<Keys, KeyError> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|_| KeyError::NotPublicKey(what.to_owned()))?;
        let (found, raw) = raw_public_key(spki.as_ref(), what)?;
        if found != algorithm {
            return Err(KeyError::AlgorithmMismatch {
                what: what.to_owned(),
                found,
                configured: algorithm,
            });
        }
        let key = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_der(&raw),
            _ => DecodingKey::from_ec_der(&raw),
        };
        self.add(iss, algorithm, key, grants)
    }

    /// Signs as `signer` (sportello's own issuer: operators only) and trusts its tokens.
    pub fn sign_as(self, signer: Signer) -> Result<Keys, KeyError> {
        let mut keys = self.add(
            &signer.issuer.clone(),
            signer.algorithm,
            signer.decoding.clone(),
            Grants::operators(),
        )?;
        keys.own = Some(signer);
        Ok(keys)
    }

    /// Sportello's own signer, if it has a key.
    pub fn own(&self) -> Option<&Signer> {
        self.own.as_ref()
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// What the issuer `iss` may grant, if it is trusted.
    pub fn grants(&self, iss: &str) -> Option<&Grants> {
        self.issuers.get(iss).map(|issuer| &issuer.grants)
    }

    /// Refuses to sign claims its issuer could not get accepted here.
    pub fn check_grants(&self, claims: &Claims) -> Result<(), TokenError> {
        let refused = match self.grants(&claims.iss) {
            None => Some("anything (it is not a trusted issuer)".to_owned()),
            Some(grants) => grants.refuses(claims),
        };
        match refused {
            Some(what) => Err(TokenError::NotGranted {
                issuer: claims.iss.clone(),
                what,
            }),
            None => Ok(()),
        }
    }

    /// The session a token opens, or why it opens none (always 401).
    pub fn check(&self, token: &str) -> Result<Session, ApiError> {
        let invalid =
            |why: &str| ApiError::Unauthorized(format!("the bearer token is not valid: {why}"));
        let iss = unverified_issuer(token).ok_or_else(|| invalid("no readable `iss` claim"))?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| invalid("its issuer is not one this service trusts"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &issuer.key, &issuer.validation)
            .map_err(|err| invalid(&err.to_string()))?
            .claims;
        if let Some(what) = issuer.grants.refuses(&claims) {
            return Err(invalid(&format!("its issuer may not grant {what}")));
        }
        let caller = match claims.role {
            Role::Citizen => {
                let tax_code = claims
                    .cf
                    .as_deref()
                    .map(|cf| cf.trim().to_uppercase())
                    .filter(|cf| !cf.is_empty())
                    .ok_or_else(|| {
                        ApiError::Unauthorized("a citizen token must carry `cf`".to_owned())
                    })?;
                if !claims.roles.is_empty() {
                    return Err(invalid("a citizen token carries no operator roles"));
                }
                Caller::Citizen { tax_code }
            }
            Role::Operator => {
                if claims.sub.trim().is_empty() {
                    return Err(ApiError::Unauthorized(
                        "an operator token must name the operator in `sub`".to_owned(),
                    ));
                }
                if claims.roles.is_empty() {
                    return Err(ApiError::Unauthorized(
                        "an operator token must carry its `roles`".to_owned(),
                    ));
                }
                Caller::Operator {
                    id: claims.sub.clone(),
                    roles: claims.roles.iter().copied().collect(),
                }
            }
        };
        Ok(Session {
            caller,
            issuer: iss,
            subject: claims.sub,
            accepted_until: claims.exp.saturating_add(self.leeway),
        })
    }
}

fn now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

/// The `iss` of a token, read before its signature is checked: it only picks the key that
/// then checks everything, `iss` included.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|i| i.iss)
}

fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".to_owned()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthorized(
            "the Authorization header must be `Bearer <token>`".to_owned(),
        )),
    }
}

fn missing() -> ApiError {
    ApiError::Unauthorized("this endpoint needs a bearer token (Authorization: Bearer …)".into())
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Session, ApiError> {
        let token = bearer(parts)?.ok_or_else(missing)?;
        state.keys().check(token)
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        Session::from_request_parts(parts, state)
            .await
            .map(|session| session.caller)
    }
}

/// A session when the request carries a token, none when it carries none (a bad token is
/// still 401): for the endpoints that answer anyone, and tell operators more.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<ApiState> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<MaybeSession, ApiError> {
        match bearer(parts)? {
            Some(token) => state.keys().check(token).map(|s| MaybeSession(Some(s))),
            None => Ok(MaybeSession(None)),
        }
    }
}

/// Like [`Session`], but also reads `?access_token=`: a browser's `EventSource` cannot set
/// headers, so the live-events endpoint accepts the token in the query string.
#[derive(Debug, Clone)]
pub struct StreamSession(pub Session);

impl FromRequestParts<ApiState> for StreamSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<StreamSession, ApiError> {
        if let Some(token) = bearer(parts)? {
            return state.keys().check(token).map(StreamSession);
        }
        let from_query = parts.uri.query().and_then(|query| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == "access_token").then_some(value)
            })
        });
        match from_query {
            Some(token) if !token.is_empty() => state.keys().check(token).map(StreamSession),
            _ => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUD: &str = "sportello-api";

    /// Test-only keys, generated with `openssl genpkey` (Ed25519: PKCS#8 v1, as the local
    /// stack's) and `openssl pkey -pubout`.
    const OPENSSL_ED25519: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIO5bQzIB4P2bOLjS4JsKQxp7ty2ww7HA4OvxXwjAvMcP\n\
        -----END PRIVATE KEY-----\n";
    const OPENSSL_ED25519_PUB: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAcIraFT3ssN5lB1Fu2UNMAMITmraprQayszh2nqzHpwA=\n\
        -----END PUBLIC KEY-----\n";
    const OPENSSL_P256: &str = "-----BEGIN PRIVATE KEY-----\n\
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEul8Z94bw6IrhfL+\n\
        AqgtvLD14nQ3gU3U6Kr418i9OGyhRANCAAQl92NeGvcBMFYbkyQNCzQXxoKz8mpK\n\
        +hbpcVGZkZz1QZ39nCEqmqtSqqEQtHeM4m/7lvAP9vcIB2jsjD83hsdy\n\
        -----END PRIVATE KEY-----\n";
    const OPENSSL_P256_PUB: &str = "-----BEGIN PUBLIC KEY-----\n\
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJfdjXhr3ATBWG5MkDQs0F8aCs/Jq\n\
        SvoW6XFRmZGc9UGd/ZwhKpqrUqqhELR3jOJv+5bwD/b3CAdo7Iw/N4bHcg==\n\
        -----END PUBLIC KEY-----\n";

    /// A fresh Ed25519 issuer: its signer and its public key as PEM.
    fn ed25519(iss: &str) -> (Signer, Vec<u8>) {
        let signer = Signer::generate(iss, AUD, Algorithm::EdDSA).unwrap();
        let public = signer.public_key_pem();
        (signer, public)
    }

    fn counter() -> BTreeSet<OperatorRole> {
        [OperatorRole::Counter].into()
    }

    #[test]
    fn each_issuer_is_checked_with_its_own_key_for_what_it_may_grant() {
        let (own, _) = ed25519("sportello");
        let (portal, portal_pub) = ed25519("portal");
        let keys = Keys::new(AUD, Duration::ZERO)
            .sign_as(own.clone())
            .unwrap()
            .trust(
                "portal",
                Algorithm::EdDSA,
                &portal_pub,
                Grants::citizens(),
                "portal",
            )
            .unwrap();
        let hour = Duration::from_secs(3600);
        let citizen = portal
            .mint(
                &Subject::Citizen {
                    tax_code: "rssmra85t10a562s",
                },
                hour,
            )
            .unwrap();
        assert_eq!(
            keys.check(&citizen).unwrap().caller,
            Caller::Citizen {
                tax_code: "RSSMRA85T10A562S".into()
            }
        );
        let roles = counter();
        let operator = own
            .mint(
                &Subject::Operator {
                    id: "OP-7",
                    roles: &roles,
                },
                hour,
            )
            .unwrap();
        let session = keys.check(&operator).unwrap();
        assert_eq!(
            session.caller,
            Caller::Operator {
                id: "OP-7".into(),
                roles: counter()
            }
        );
        assert!(session.caller.require(OperatorRole::Counter).is_ok());
        assert!(session.caller.require(OperatorRole::Operations).is_err());
        // The portal's key signing an operator, or sportello's a citizen: refused.
        let portal_operator = portal
            .mint(
                &Subject::Operator {
                    id: "OP-7",
                    roles: &roles,
                },
                hour,
            )
            .unwrap();
        assert!(keys.check(&portal_operator).is_err());
        let own_citizen = own
            .mint(
                &Subject::Citizen {
                    tax_code: "RSSMRA85T10A562S",
                },
                hour,
            )
            .unwrap();
        assert!(keys.check(&own_citizen).is_err());
    }

    #[test]
    fn wrong_audience_issuer_key_or_expiry_is_refused() {
        let (own, _) = ed25519("sportello");
        let keys = Keys::new(AUD, Duration::ZERO).sign_as(own.clone()).unwrap();
        let roles = counter();
        let subject = Subject::Operator {
            id: "OP",
            roles: &roles,
        };
        let mut claims = own.claims(&subject, Duration::from_secs(60)).unwrap();
        assert!(keys.check(&own.sign(&claims).unwrap()).is_ok());
        claims.aud = Audience::One("another-service".into());
        assert!(keys.check(&own.sign(&claims).unwrap()).is_err());
        claims.aud = Audience::Many(vec!["another-service".into(), AUD.into()]);
        assert!(keys.check(&own.sign(&claims).unwrap()).is_ok());
        claims.iss = "stranger".into();
        assert!(keys.check(&own.sign(&claims).unwrap()).is_err());
        claims.iss = "sportello".into();
        claims.exp = 1_000_000;
        assert!(keys.check(&own.sign(&claims).unwrap()).is_err());
        // Same iss, another key.
        let (impostor, _) = ed25519("sportello");
        assert!(
            keys.check(&impostor.mint(&subject, Duration::from_secs(60)).unwrap())
                .is_err()
        );
        assert!(keys.check("not.a.token").is_err());
        // An operator token without roles names nobody.
        let mut no_roles = own.claims(&subject, Duration::from_secs(60)).unwrap();
        no_roles.roles.clear();
        assert!(keys.check(&own.sign(&no_roles).unwrap()).is_err());
    }

    #[test]
    fn an_hmac_token_made_with_the_public_key_is_refused() {
        // The classic confusion: HS256 "signed" with the issuer's public key as the secret.
        let (own, public) = ed25519("sportello");
        let keys = Keys::new(AUD, Duration::ZERO).sign_as(own.clone()).unwrap();
        let roles = counter();
        let claims = own
            .claims(
                &Subject::Operator {
                    id: "OP",
                    roles: &roles,
                },
                Duration::from_secs(60),
            )
            .unwrap();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert!(keys.check(&forged).is_err());
    }

    #[test]
    fn openssl_keys_load_and_public_keys_must_match_their_algorithm() {
        let signer = Signer::from_pem("sportello", AUD, OPENSSL_ED25519.as_bytes(), "t").unwrap();
        assert_eq!(signer.algorithm(), Algorithm::EdDSA);
        let keys = Keys::new(AUD, Duration::ZERO)
            .trust(
                "sportello",
                Algorithm::EdDSA,
                OPENSSL_ED25519_PUB.as_bytes(),
                Grants::operators(),
                "t",
            )
            .unwrap();
        let roles = counter();
        let token = signer
            .mint(
                &Subject::Operator {
                    id: "OP",
                    roles: &roles,
                },
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(keys.check(&token).is_ok(), "the public half checks it");
        let counter_app = Signer::from_pem("counter", AUD, OPENSSL_P256.as_bytes(), "t").unwrap();
        assert_eq!(counter_app.algorithm(), Algorithm::ES256);
        let keys = keys
            .trust(
                "counter",
                Algorithm::ES256,
                OPENSSL_P256_PUB.as_bytes(),
                Grants::operators(),
                "t",
            )
            .unwrap();
        let es256 = counter_app
            .mint(
                &Subject::Operator {
                    id: "OP",
                    roles: &roles,
                },
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(keys.check(&es256).is_ok());
        // A generated P-256 key's public PEM is what `trust` reads.
        let generated = Signer::generate("app", AUD, Algorithm::ES256).unwrap();
        let keys = keys
            .trust(
                "app",
                Algorithm::ES256,
                &generated.public_key_pem(),
                Grants::operators(),
                "t",
            )
            .unwrap();
        assert!(
            keys.check(
                &generated
                    .mint(
                        &Subject::Operator {
                            id: "OP",
                            roles: &roles
                        },
                        Duration::from_secs(60)
                    )
                    .unwrap()
            )
            .is_ok()
        );
        assert!(matches!(
            Keys::new(AUD, Duration::ZERO).trust(
                "x",
                Algorithm::ES256,
                OPENSSL_ED25519_PUB.as_bytes(),
                Grants::operators(),
                "t"
            ),
            Err(KeyError::AlgorithmMismatch { .. })
        ));
        assert!(matches!(
            Keys::new(AUD, Duration::ZERO).trust(
                "x",
                Algorithm::EdDSA,
                OPENSSL_ED25519.as_bytes(),
                Grants::operators(),
                "t"
            ),
            Err(KeyError::NotPublicKey(_))
        ));
    }

    #[test]
    fn grants_and_roles_parse_strictly() {
        assert!(Grants::parse("x", &["citizen".into()]).unwrap().citizen);
        assert!(matches!(
            Grants::parse("x", &["admin".into()]),
            Err(KeyError::UnknownGrant { .. })
        ));
        assert!(matches!(
            Grants::parse("x", &[]),
            Err(KeyError::NothingToMint(_))
        ));
        assert_eq!(
            OperatorRole::parse_list("counter, operations").unwrap(),
            [OperatorRole::Counter, OperatorRole::Operations].into()
        );
        assert!(OperatorRole::parse_list("counter,root").is_err());
    }
}
