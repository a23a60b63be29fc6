//! COSE public keys of passkeys (RFC 9052 §7, RFC 9053 §2.1 and §7) as the
//! JWKs our verifiers take. Only what WebAuthn L2 §5.8.5 lets us ask for:
//! ES256 (-7, EC2 on P-256, uncompressed) and EdDSA (-8, OKP Ed25519).

use super::cbor::Cbor;
use crate::base::encoding::b64url;
use crate::base::signature::{Alg, PublicJwk};

pub const COSE_ES256: i128 = -7;
pub const COSE_EDDSA: i128 = -8;

// COSE key map labels and values.
const KTY: i128 = 1;
const ALG: i128 = 3;
const CRV: i128 = -1;
const X: i128 = -2;
const Y: i128 = -3;
const KTY_OKP: i128 = 1;
const KTY_EC2: i128 = 2;
const CRV_P256: i128 = 1;
const CRV_ED25519: i128 = 6;

/// The key's algorithm and its JWK form; None for any other algorithm,
/// curve or malformed coordinate.
pub fn to_jwk(key: &Cbor) -> Option<(Alg, PublicJwk)> {
    let int = |label| key.get_int(label).and_then(Cbor::as_int);
    let coordinate = |label| key.get_int(label).and_then(Cbor::as_bytes).filter(|b| b.len() == 32).map(b64url);
    let jwk = |kty: &str, crv: &str, alg: Alg, y: Option<String>| PublicJwk {
        kty: kty.into(),
        kid: None,
        alg: Some(alg.name().into()),
        crv: Some(crv.into()),
        n: None,
        e: None,
        x: coordinate(X),
        y,
        use_: None,
    };
    match (int(KTY)?, int(ALG)?, int(CRV)?) {
        (KTY_EC2, COSE_ES256, CRV_P256) => {
            let (x, y) = (coordinate(X)?, coordinate(Y)?);
            Some((Alg::Es256, PublicJwk { x: Some(x), ..jwk("EC", "P-256", Alg::Es256, Some(y)) }))
        }
        (KTY_OKP, COSE_EDDSA, CRV_ED25519) => {
            coordinate(X)?;
            Some((Alg::EdDsa, jwk("OKP", "Ed25519", Alg::EdDsa, None)))
        }
        _ => None,
    }
}

/// The COSE form of a test key's public JWK.
#[cfg(test)]
pub fn from_jwk(jwk: &PublicJwk) -> Cbor {
    use crate::base::encoding::b64url_decode;
    let bytes = |v: &Option<String>| Cbor::Bytes(v.as_deref().and_then(b64url_decode).unwrap_or_default());
    let mut entries = vec![];
    if jwk.kty == "EC" {
        entries.extend([(KTY, Cbor::Int(KTY_EC2)), (ALG, Cbor::Int(COSE_ES256)), (CRV, Cbor::Int(CRV_P256)), (X, bytes(&jwk.x)), (Y, bytes(&jwk.y))]);
    } else {
        entries.extend([(KTY, Cbor::Int(KTY_OKP)), (ALG, Cbor::Int(COSE_EDDSA)), (CRV, Cbor::Int(CRV_ED25519)), (X, bytes(&jwk.x))]);
    }
    Cbor::Map(entries.into_iter().map(|(k, v)| (Cbor::Int(k), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::net::TestKey;

    #[test]
    fn es256_and_eddsa_keys_become_jwks_that_suit_their_alg() {
        for key in [TestKey::es256("a"), TestKey::eddsa("b")] {
            let (alg, jwk) = to_jwk(&from_jwk(&key.public_jwk())).unwrap();
            assert_eq!(alg, key.alg());
            assert!(jwk.suits(alg));
            assert_eq!(jwk.x, key.public_jwk().x);
            assert_eq!(jwk.y, key.public_jwk().y);
        }
    }

    #[test]
    fn other_algorithms_and_bad_coordinates_are_refused() {
        let es = from_jwk(&TestKey::es256("a").public_jwk());
        let with = |label: i128, v: Cbor| match &es {
            Cbor::Map(e) => Cbor::Map(e.iter().map(|(k, old)| (k.clone(), if *k == Cbor::Int(label) { v.clone() } else { old.clone() })).collect()),
            _ => unreachable!(),
        };
        assert!(to_jwk(&with(ALG, Cbor::Int(-257))).is_none(), "RS256 is not offered");
        assert!(to_jwk(&with(ALG, Cbor::Int(COSE_EDDSA))).is_none(), "alg must fit kty");
        assert!(to_jwk(&with(CRV, Cbor::Int(2))).is_none(), "P-384");
        assert!(to_jwk(&with(X, Cbor::Bytes(vec![1; 31]))).is_none(), "short x");
        assert!(to_jwk(&with(Y, Cbor::Text("y".into()))).is_none(), "y not bytes");
        assert!(to_jwk(&Cbor::Int(1)).is_none());
    }
}
