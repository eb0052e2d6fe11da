use super::*;

/// A token of operator `OP` with `roles`, valid for a minute.
fn mint_operator(signer: &Signer, roles: &BTreeSet<OperatorRole>) -> String {
    signer
        .mint(
            &Subject::Operator { id: "OP", roles },
            Duration::from_secs(60),
        )
        .unwrap()
}

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
            tax_code: FiledTaxCode::file("RSSMRA85T10A562S").unwrap()
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
    let token = mint_operator(&signer, &roles);
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
    let es256 = mint_operator(&counter_app, &roles);
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
    assert!(keys.check(&mint_operator(&generated, &roles)).is_ok());
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
