//! Compact JWS / JWT made by other parties (RFC 7515 §7.1, RFC 7519 §7.2):
//! ID tokens from an upstream provider, Cloudflare Access assertions and
//! clients' `private_key_jwt` assertions (`client_assertion`). Our
//! own tokens go through `access_token`; this is the stricter reader for
//! tokens we did not sign: a closed set of algorithms, no `crit`, the key
//! chosen by `kid`, and the registered claims checked against what we expect.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::encoding::b64url_decode;
use super::signature::{Alg, PublicJwk, SignatureVerifier};

/// Larger tokens are refused before decoding (ID tokens are a few KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwsError {
    Malformed(&'static str),
    UnsupportedAlg,
    /// The header names a key the set does not have: refresh the set once.
    UnknownKid,
    BadSignature,
    Claim(String),
}

impl std::fmt::Display for JwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwsError::Malformed(why) => write!(f, "malformed token: {why}"),
            JwsError::UnsupportedAlg => f.write_str("the token's algorithm is not accepted"),
            JwsError::UnknownKid => f.write_str("the token was signed by an unknown key"),
            JwsError::BadSignature => f.write_str("the token's signature does not verify"),
            JwsError::Claim(why) => write!(f, "the token's claims are not acceptable: {why}"),
        }
    }
}

/// A parsed, not yet verified token.
#[derive(Debug)]
pub struct Jws {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<Value>,
}

pub fn parse(token: &str) -> Result<Jws, JwsError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwsError::Malformed("too large"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed("not three parts"));
    };
    let header: Header = utf8_json(h).ok_or(JwsError::Malformed("header"))?;
    // RFC 7515 §4.1.11: extensions we do not understand must be refused.
    if header.crit.is_some() {
        return Err(JwsError::Malformed("crit"));
    }
    let alg = Alg::from_name(&header.alg).ok_or(JwsError::UnsupportedAlg)?;
    let claims: Map<String, Value> = utf8_json(p).ok_or(JwsError::Malformed("claims"))?;
    let signature = b64url_decode(s).ok_or(JwsError::Malformed("signature"))?;
    Ok(Jws { alg, kid: header.kid, typ: header.typ, claims, signing_input: format!("{h}.{p}"), signature })
}

/// A base64url part decoded as JSON that is UTF-8 throughout: RFC 7515 §5.2
/// (steps 3-4) and RFC 7519 §7.2 (step 10). serde_json checks UTF-8 only in
/// the strings it keeps, so a member it skips could hold any bytes.
fn utf8_json<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    let bytes = b64url_decode(part)?;
    let text = std::str::from_utf8(&bytes).ok()?;
    serde_json::from_slice(text.as_bytes()).ok()
}

impl Jws {
    /// With a `kid`, only keys with that kid are tried; without, every key
    /// that suits the algorithm.
    pub async fn verify_with(&self, v: &impl SignatureVerifier, keys: &[PublicJwk]) -> Result<(), JwsError> {
        let named = |k: &&PublicJwk| self.kid.is_none() || k.kid == self.kid;
        let candidates: Vec<&PublicJwk> = keys.iter().filter(named).collect();
        if candidates.is_empty() {
            return Err(if self.kid.is_some() { JwsError::UnknownKid } else { JwsError::BadSignature });
        }
        for key in candidates.into_iter().filter(|k| k.suits(self.alg)) {
            if v.verify(self.alg, key, self.signing_input.as_bytes(), &self.signature).await {
                return Ok(());
            }
        }
        Err(JwsError::BadSignature)
    }

    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// What the registered claims must say.
pub struct ClaimChecks<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: i64,
    /// Allowed clock skew, seconds.
    pub leeway: i64,
}

/// `iss` exact; `aud` a string or an array containing the audience; `exp`
/// required and not passed; `iat` and `nbf`, if present, not in the future.
pub fn check_claims(claims: &Map<String, Value>, c: &ClaimChecks<'_>) -> Result<(), JwsError> {
    let bad = |why: &str| Err(JwsError::Claim(why.to_string()));
    if claims.get("iss").and_then(Value::as_str) != Some(c.issuer) {
        return bad("wrong issuer");
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == c.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(c.audience)),
        _ => false,
    };
    if !aud_ok {
        return bad("wrong audience");
    }
    check_times(claims, c.now, c.leeway).map(|_| ())
}

/// `exp` required and not passed; `iat` and `nbf`, if present, not in the
/// future; each within `leeway` seconds. Returns `exp`.
pub fn check_times(claims: &Map<String, Value>, now: i64, leeway: i64) -> Result<i64, JwsError> {
    let time = |name: &str| claims.get(name).map(|v| v.as_f64().map(|t| t as i64));
    let exp = match time("exp") {
        Some(Some(exp)) if exp > now - leeway => exp,
        Some(Some(_)) => return Err(JwsError::Claim("expired".into())),
        _ => return Err(JwsError::Claim("no expiry".into())),
    };
    for name in ["iat", "nbf"] {
        match time(name) {
            None => {}
            Some(Some(t)) if t <= now + leeway => {}
            Some(Some(_)) => return Err(JwsError::Claim(format!("{name} is in the future"))),
            Some(None) => return Err(JwsError::Claim(format!("{name} is not a number"))),
        }
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::block_on;
    use crate::testing::net::{TestKey, TestNet};
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// Found by the foreign_jwt fuzz target: a header (or claims set) whose
    /// JSON holds bytes that are not UTF-8 inside a member nobody reads.
    #[test]
    fn a_part_that_is_not_utf8_is_malformed() {
        use crate::base::encoding::b64url;
        let bad_header = b64url(b"{\"alg\":\"RS256\",\"x\":\"\xff\xfe\"}");
        let good_header = b64url(br#"{"alg":"RS256"}"#);
        let bad_claims = b64url(b"{\"iss\":\"a\",\"x\":\"\xc3\"}");
        let good_claims = b64url(br#"{"iss":"a"}"#);
        assert!(matches!(parse(&format!("{bad_header}.{good_claims}.c2ln")), Err(JwsError::Malformed("header"))));
        assert!(matches!(parse(&format!("{good_header}.{bad_claims}.c2ln")), Err(JwsError::Malformed("claims"))));
        assert!(parse(&format!("{good_header}.{good_claims}.c2ln")).is_ok());
    }

    const CHECKS: ClaimChecks<'static> = ClaimChecks { issuer: "https://idp.example", audience: "gatehouse", now: 1000, leeway: 60 };

    #[test]
    fn each_algorithm_verifies_with_its_key_and_not_another() {
        let net = TestNet::default();
        let pairs = [
            (TestKey::rs256("k"), TestKey::rs256("k")),
            (TestKey::ps256("k"), TestKey::ps256("k")),
            (TestKey::es256("k"), TestKey::es256("k")),
            (TestKey::eddsa("k"), TestKey::eddsa("k")),
        ];
        for (key, other) in pairs {
            let token = key.sign_jws(&json!({"iss": "x"}));
            let jws = parse(&token).unwrap();
            assert_eq!(block_on(jws.verify_with(&net, &[key.public_jwk()])), Ok(()));
            let res = block_on(jws.verify_with(&net, &[other.public_jwk()]));
            assert_eq!(res, Err(JwsError::BadSignature), "{:?} verified with another key", jws.alg);
        }
    }

    #[test]
    fn tampered_claims_do_not_verify() {
        let net = TestNet::default();
        let key = TestKey::rs256("r1");
        let token = key.sign_jws(&json!({"sub": "alice"}));
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = crate::base::encoding::b64url(br#"{"sub":"mallory"}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        let jws = parse(&forged).unwrap();
        assert_eq!(block_on(jws.verify_with(&net, &[key.public_jwk()])), Err(JwsError::BadSignature));
    }

    #[test]
    fn rsa_paddings_are_not_interchangeable() {
        // One RSA key, published without an `alg`, so it suits both algorithms:
        // a PSS signature presented as RS256 (or the reverse) must still fail.
        let net = TestNet::default();
        let pss = TestKey::ps256("k");
        let mut jwk = pss.public_jwk();
        jwk.alg = None;
        let claims = json!({"sub": "x"});
        let as_rs256 = pss.sign_jws_with_header(&json!({"alg": "RS256", "kid": "k"}), &claims);
        assert_eq!(block_on(parse(&as_rs256).unwrap().verify_with(&net, &[jwk.clone()])), Err(JwsError::BadSignature));
        let honest = pss.sign_jws(&claims);
        assert_eq!(block_on(parse(&honest).unwrap().verify_with(&net, &[jwk.clone()])), Ok(()));
        let pkcs1 = TestKey::rs256("k");
        let mut jwk = pkcs1.public_jwk();
        jwk.alg = None;
        let as_ps256 = pkcs1.sign_jws_with_header(&json!({"alg": "PS256", "kid": "k"}), &claims);
        assert_eq!(block_on(parse(&as_ps256).unwrap().verify_with(&net, &[jwk])), Err(JwsError::BadSignature));
    }

    #[test]
    fn unknown_kid_asks_for_a_refresh() {
        let net = TestNet::default();
        let token = TestKey::es256("new").sign_jws(&json!({}));
        let jws = parse(&token).unwrap();
        let res = block_on(jws.verify_with(&net, &[TestKey::es256("old").public_jwk()]));
        assert_eq!(res, Err(JwsError::UnknownKid));
    }

    #[test]
    fn none_hmac_and_crit_are_refused() {
        let b = |v: Value| crate::base::encoding::b64url(v.to_string().as_bytes());
        let body = b(json!({"sub": "x"}));
        for alg in ["none", "HS256", "RS512", "ES384"] {
            let token = format!("{}.{body}.", b(json!({"alg": alg})));
            assert_eq!(parse(&token).err(), Some(JwsError::UnsupportedAlg), "{alg}");
        }
        let crit = format!("{}.{body}.AA", b(json!({"alg": "RS256", "crit": ["exp"]})));
        assert_eq!(parse(&crit).err(), Some(JwsError::Malformed("crit")));
        assert!(parse("a.b").is_err());
        assert!(parse(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_err());
    }

    #[test]
    fn registered_claims_are_checked() {
        let good = json!({"iss": "https://idp.example", "aud": "gatehouse", "exp": 2000, "iat": 990});
        assert_eq!(check_claims(&claims(good.clone()), &CHECKS), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            check_claims(&c, &CHECKS)
        };
        assert!(with("iss", json!("https://idp.example/")).is_err(), "issuer must match exactly");
        assert!(with("aud", json!("someone-else")).is_err());
        assert_eq!(with("aud", json!(["x", "gatehouse"])), Ok(()));
        assert!(with("aud", json!(["x"])).is_err());
        assert!(with("exp", json!(939)).is_err(), "expired beyond the leeway");
        assert_eq!(with("exp", json!(941)), Ok(()), "within the leeway");
        assert!(with("exp", json!("2000")).is_err());
        assert!(with("iat", json!(1061)).is_err(), "issued in the future");
        assert!(with("nbf", json!(1061)).is_err());
        let mut no_exp = claims(good);
        no_exp.remove("exp");
        assert!(check_claims(&no_exp, &CHECKS).is_err());
    }
}
