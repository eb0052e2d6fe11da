//! The keys: [`Signer`] (one issuer's private key, minting tokens) and [`Keys`] (every trusted
//! issuer's public key, by `iss`, checking them), loaded from PEM files or generated.

use super::*;

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
                let tax_code = FiledTaxCode::file(tax_code)
                    .ok()
                    .filter(|code| !code.as_str().is_empty())
                    .ok_or(TokenError::MissingTaxCode)?;
                (
                    format!("citizen:{}", tax_code.as_str()),
                    Role::Citizen,
                    Some(String::from(tax_code)),
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
                    .and_then(|cf| FiledTaxCode::file(cf).ok())
                    .filter(|cf| !cf.as_str().is_empty())
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
