//! Access tokens: JWTs (RFC 9068 profile, RFC 7519) signed with Ed25519
//! (RFC 8037 `EdDSA`), verified at the edge without a storage read. The
//! public keys are published as a JWK Set (RFC 7517 §5); during a key
//! rotation it lists several and verification picks one by `kid` (RFC 7515 §4.1.4).
//!
//! Written and read here rather than by a JWT library: one algorithm, one
//! header shape and one claims type is all Gatehouse signs, and the reader
//! only ever accepts that (a native test checks the tokens against
//! `jwt-compact` both ways).

use serde::{Deserialize, Serialize};

use crate::base::ed25519::Ed25519;
use crate::base::encoding::b64url_decode;
use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::resource::Resource;
use crate::base::signing_key::{SigningKey, LEEWAY_SECS};

/// `typ` of Gatehouse's access tokens (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";
/// Longer strings are refused before decoding (ours are about 600 bytes).
const MAX_TOKEN_BYTES: usize = 4096;

/// The claims Gatehouse puts in an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    /// The grant this token came from, for revocation.
    pub gid: String,
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: AccessClaims,
    pub expires_at: i64,
    /// `iat`; 0 when absent (Gatehouse always sets it).
    pub issued_at: i64,
}

pub async fn issue(crypto: &impl Ed25519, key: &SigningKey, claims: AccessClaims, now: i64, ttl_secs: i64) -> OAuthResult<String> {
    key.sign_jwt(crypto, TYP, &claims, now, ttl_secs)
        .await
        .map_err(|_| OAuthError::server_error("could not sign the access token"))
}

/// Verifies signature, algorithm, key id, time window, issuer and audience.
/// `keys` are the current key first, then older ones still trusted; a token
/// names its key by `kid`. Every failure is `invalid_token` (RFC 6750 §3.1)
/// so clients refresh.
pub async fn verify<'k>(
    crypto: &impl Ed25519,
    keys: impl IntoIterator<Item = &'k SigningKey>,
    token: &str,
    now: i64,
    issuer: &str,
    accepted_audiences: &[Resource],
) -> OAuthResult<VerifiedToken> {
    let (nbf, verified) = signed_claims(crypto, keys, token, issuer).await?;
    if verified.expires_at + LEEWAY_SECS < now {
        return Err(invalid("token expired"));
    }
    if nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
        return Err(invalid("token not yet valid"));
    }
    if verified.issued_at > now + LEEWAY_SECS {
        return Err(invalid("token issued in the future"));
    }
    let aud = Resource::parse(&verified.claims.aud).map_err(|_| invalid("bad audience"))?;
    if !accepted_audiences.contains(&aud) {
        return Err(invalid("token is for another resource"));
    }
    Ok(verified)
}

/// A token this server issued, whatever its age: signature, algorithm, key
/// id and issuer checked, time not. For revocation (RFC 7009 §2.1: an expired
/// token may still be revoked), never for access decisions.
pub async fn verify_issued_by_us<'k>(crypto: &impl Ed25519, keys: impl IntoIterator<Item = &'k SigningKey>, token: &str, issuer: &str) -> OAuthResult<VerifiedToken> {
    signed_claims(crypto, keys, token, issuer).await.map(|(_, v)| v)
}

fn invalid(why: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, why)
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
}

/// The payload as signed: the claims and their times (`nbf` is never set by
/// us, but honoured if present).
#[derive(Deserialize)]
struct Body {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    jti: String,
    gid: String,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

/// A base64url segment decoded as JSON. The token's characters were already
/// checked, so the decoder sees no whitespace or padding, and it refuses
/// non-zero spare bits: one token has exactly one spelling.
fn segment<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    serde_json::from_slice(&b64url_decode(part)?).ok()
}

async fn signed_claims<'k>(crypto: &impl Ed25519, keys: impl IntoIterator<Item = &'k SigningKey>, token: &str, issuer: &str) -> OAuthResult<(Option<i64>, VerifiedToken)> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("token too long"));
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(invalid("malformed token"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("malformed token"));
    };
    let header: Header = segment(h).ok_or_else(|| invalid("malformed token"))?;
    if header.alg != "EdDSA" {
        return Err(invalid("unexpected algorithm"));
    }
    // RFC 7515 §4.1.11: we understand no extension; RFC 9068 §4: the type is ours.
    if header.crit.is_some() || !matches!(header.typ.as_deref(), Some(TYP | "application/at+jwt")) {
        return Err(invalid("not an access token"));
    }
    let mut keys = keys.into_iter();
    // Without a `kid` only the current key is tried: no guessing across keys.
    let key = match header.kid.as_deref() {
        Some(kid) => keys.find(|k| k.kid() == kid),
        None => keys.next(),
    }
    .ok_or_else(|| invalid("unknown signing key"))?;
    let signature = b64url_decode(s).ok_or_else(|| invalid("malformed token"))?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    if !crypto.ed25519_verify(key.public_key(), signing_input.as_bytes(), &signature).await {
        return Err(invalid("bad signature"));
    }
    let body: Body = segment(p).ok_or_else(|| invalid("malformed claims"))?;
    let Some(exp) = body.exp else {
        return Err(invalid("token has no expiry"));
    };
    if body.iss != issuer {
        return Err(invalid("token from another issuer"));
    }
    let Body { iss, sub, aud, client_id, scope, jti, gid, nbf, iat, .. } = body;
    let claims = AccessClaims { iss, sub, aud, client_id, scope, jti, gid };
    Ok((nbf, VerifiedToken { claims, expires_at: exp, issued_at: iat.unwrap_or(0) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::encoding::b64url;
    use crate::base::signing_key::jwk_set;
    use crate::base::ed25519::Native;
    use crate::base::resource::accepted_resources;
    use crate::store::memory::block_on;

    const ISS: &str = "https://mcp.example.com";
    const NOW: i64 = 1_800_000_000;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_seed_b64(&b64url(&[byte; 32])).unwrap()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISS.into(),
            sub: "owner".into(),
            aud: format!("{ISS}/mcp"),
            client_id: "gh_client".into(),
            scope: "mcp".into(),
            jti: "j1".into(),
            gid: "g1".into(),
        }
    }

    fn check(k: &SigningKey, tok: &str, now: i64) -> OAuthResult<VerifiedToken> {
        ring_check(&[k], tok, now)
    }

    fn ring_check(ring: &[&SigningKey], tok: &str, now: i64) -> OAuthResult<VerifiedToken> {
        block_on(verify(&Native, ring.iter().copied(), tok, now, ISS, &accepted_resources(ISS)))
    }

    fn mint(k: &SigningKey, c: AccessClaims, now: i64, ttl: i64) -> String {
        block_on(issue(&Native, k, c, now, ttl)).unwrap()
    }

    fn ours(k: &SigningKey, tok: &str, iss: &str) -> OAuthResult<VerifiedToken> {
        block_on(verify_issued_by_us(&Native, [k], tok, iss))
    }

    #[test]
    fn after_rotation_old_and_new_tokens_verify_by_kid() {
        let (old, new, stranger) = (key(7), key(8), key(9));
        let old_tok = mint(&old, claims(), NOW, 3600);
        let new_tok = mint(&new, claims(), NOW, 3600);
        let ring = [&new, &old];
        assert!(ring_check(&ring, &old_tok, NOW).is_ok());
        assert!(ring_check(&ring, &new_tok, NOW).is_ok());
        // Retired: the old key is gone from the ring.
        assert!(ring_check(&[&new], &old_tok, NOW).is_err());
        let foreign = mint(&stranger, claims(), NOW, 3600);
        assert!(ring_check(&ring, &foreign, NOW).is_err());
        // A token claiming the old kid but signed by another key fails on the signature.
        let mut parts: Vec<String> = foreign.split('.').map(str::to_string).collect();
        parts[0] = old_tok.split('.').next().unwrap().to_string();
        assert!(ring_check(&ring, &parts.join("."), NOW).is_err());
        let set = jwk_set(ring);
        let kids: Vec<&str> = set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, [new.kid(), old.kid()]);
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let k = key(7);
        let tok = mint(&k, claims(), NOW, 3600);
        let v = check(&k, &tok, NOW + 10).unwrap();
        assert_eq!(v.claims, claims());
        assert_eq!(v.expires_at, NOW + 3600);
        assert_eq!(v.issued_at, NOW);
    }

    #[test]
    fn issued_by_us_ignores_time_but_not_signature_or_issuer() {
        let k = key(7);
        let tok = mint(&k, claims(), NOW, 3600);
        assert!(check(&k, &tok, NOW + 7200).is_err(), "expired for access");
        assert_eq!(ours(&k, &tok, ISS).unwrap().claims, claims(), "still ours to revoke");
        assert!(ours(&key(8), &tok, ISS).is_err());
        assert!(ours(&k, &tok, "https://evil.example.com").is_err());
        assert!(ours(&k, "not.a.jwt", ISS).is_err());
    }

    #[test]
    fn expired_and_future_tokens_fail() {
        let k = key(7);
        let tok = mint(&k, claims(), NOW, 3600);
        assert_eq!(check(&k, &tok, NOW + 3600 + LEEWAY_SECS + 1).unwrap_err().code, ErrorCode::InvalidToken);
        assert!(check(&k, &tok, NOW - 3600).is_err());
    }

    #[test]
    fn tampered_token_fails() {
        let k = key(7);
        let tok = mint(&k, claims(), NOW, 3600);
        let mut parts: Vec<String> = tok.split('.').map(str::to_string).collect();
        let mut c = claims();
        c.sub = "attacker".into();
        let mut forged = serde_json::to_value(c).unwrap();
        forged["iat"] = NOW.into();
        forged["exp"] = (NOW + 3600).into();
        parts[1] = b64url(forged.to_string().as_bytes());
        assert!(check(&k, &parts.join("."), NOW).is_err());
        assert!(check(&k, &tok[..tok.len() - 3], NOW).is_err());
        assert!(check(&k, &format!(" {tok}"), NOW).is_err());
    }

    #[test]
    fn only_the_exact_issued_string_verifies() {
        // Base64url leaves spare bits in a segment's last character; a lenient
        // decoder would accept other characters there, and so other strings
        // for the same token (the jwt_verify fuzz target's property).
        let k = key(7);
        let tok = mint(&k, claims(), NOW, 3600);
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (seg_index, seg) in tok.split('.').enumerate() {
            let last = seg.chars().last().unwrap();
            for c in ALPHABET.chars().filter(|c| *c != last) {
                let mut parts: Vec<String> = tok.split('.').map(str::to_string).collect();
                parts[seg_index].pop();
                parts[seg_index].push(c);
                let variant = parts.join(".");
                assert!(check(&k, &variant, NOW).is_err(), "segment {seg_index} ending in {c:?} verified");
            }
        }
        assert!(check(&k, &format!("{tok}="), NOW).is_err(), "padding");
        assert!(check(&k, &format!("{tok}."), NOW).is_err(), "a fourth segment");
    }

    #[test]
    fn other_key_alg_none_and_hs256_fail() {
        let tok = mint(&key(8), claims(), NOW, 3600);
        assert!(check(&key(7), &tok, NOW).is_err());

        let body = b64url(serde_json::to_string(&serde_json::json!({
            "iss": ISS, "sub": "x", "aud": format!("{ISS}/mcp"), "client_id": "c", "scope": "mcp",
            "jti": "j", "gid": "g", "exp": NOW + 100, "iat": NOW
        })).unwrap().as_bytes());
        let none = format!("{}.{body}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(check(&key(7), &none, NOW).is_err());
        let hs = format!("{}.{body}.{}", b64url(br#"{"alg":"HS256"}"#), b64url(&[1u8; 32]));
        assert!(check(&key(7), &hs, NOW).is_err());
    }

    #[test]
    fn wrong_issuer_or_audience_fails() {
        let k = key(7);
        let mut c = claims();
        c.aud = "https://elsewhere.example.com/mcp".into();
        assert!(check(&k, &mint(&k, c, NOW, 60), NOW).is_err());
        let mut c = claims();
        c.iss = "https://evil.example.com".into();
        assert!(check(&k, &mint(&k, c, NOW, 60), NOW).is_err());
        let mut c = claims();
        c.aud = format!("{ISS}/mcp/");
        assert!(check(&k, &mint(&k, c, NOW, 60), NOW).is_ok(), "trailing slash normalises");
    }

    #[test]
    fn kid_is_the_one_rotate_key_computes() {
        // scripts/lib/cloudflare.mjs keyId() of the same seed: the key-rotation
        // audit event names keys by this id, so both sides must agree.
        assert_eq!(key(7).kid(), "_oEsEvOrTOasXbaa");
    }

    #[test]
    fn bad_seeds_are_refused_and_debug_is_redacted() {
        assert!(SigningKey::from_seed_b64("short").is_err());
        assert!(SigningKey::from_seed_b64("!!!!").is_err());
        assert!(SigningKey::from_seed_b64(&b64url(&[0u8; 32])).is_err(), "all-zero seed must not panic");
        let k = key(9);
        assert!(!format!("{k:?}").contains(&b64url(&[9u8; 32])));
        assert_eq!(jwk_set([&k])["keys"][0]["kid"], k.kid());
        assert_ne!(k.derive("a"), k.derive("b"));
    }

    /// The reader and writer against an independent implementation, both
    /// ways: `jwt-compact` (a dev-dependency only) verifies what we sign, and
    /// we accept what it signs with our header.
    #[test]
    fn matches_jwt_compact() {
        use jwt_compact::alg::Ed25519 as JcEd25519;
        use jwt_compact::prelude::*;
        let k = key(7);
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
        let tok = mint(&k, claims(), NOW, 3600);
        let untrusted = UntrustedToken::new(&tok).unwrap();
        assert_eq!(untrusted.header().key_id.as_deref(), Some(k.kid()));
        assert_eq!(untrusted.header().token_type.as_deref(), Some(TYP));
        let theirs = JcEd25519.validator::<AccessClaims>(&pair.pk).validate(&untrusted).unwrap();
        assert_eq!(theirs.claims().custom, claims());
        assert_eq!(theirs.claims().expiration.unwrap().timestamp(), NOW + 3600);
        assert_eq!(theirs.claims().issued_at.unwrap().timestamp(), NOW);

        let at = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
        let c = Claims::new(claims()).set_duration_and_issuance(&TimeOptions::new(chrono::Duration::seconds(0), move || at), chrono::Duration::seconds(600));
        let header = Header::empty().with_key_id(k.kid().to_string()).with_token_type(TYP);
        let by_them = JcEd25519.token(&header, &c, &pair.sk).unwrap();
        let v = check(&k, &by_them, NOW + 1).unwrap();
        assert_eq!((v.claims, v.expires_at, v.issued_at), (claims(), NOW + 600, NOW));
        // The same claims under another `typ` (RFC 9068 §4) are not an access token.
        let other = Header::empty().with_key_id(k.kid().to_string()).with_token_type("JWT");
        assert!(check(&k, &JcEd25519.token(&other, &c, &pair.sk).unwrap(), NOW + 1).is_err());
        let untyped = Header::empty().with_key_id(k.kid().to_string());
        assert!(check(&k, &JcEd25519.token(&untyped, &c, &pair.sk).unwrap(), NOW + 1).is_err());
    }

    #[test]
    fn crit_and_not_yet_valid_are_refused() {
        let k = key(7);
        let seed = [7u8; 32];
        let sign = |header: &str, body: serde_json::Value| {
            let input = format!("{}.{}", b64url(header.as_bytes()), b64url(body.to_string().as_bytes()));
            let sig = Native::sign_now(&seed, input.as_bytes()).unwrap();
            format!("{input}.{}", b64url(&sig))
        };
        let mut body = serde_json::to_value(claims()).unwrap();
        body["iat"] = NOW.into();
        body["exp"] = (NOW + 600).into();
        let good = format!(r#"{{"alg":"EdDSA","kid":"{}","typ":"at+jwt"}}"#, k.kid());
        assert!(check(&k, &sign(&good, body.clone()), NOW).is_ok(), "the hand-made token itself is fine");
        let crit = format!(r#"{{"alg":"EdDSA","kid":"{}","typ":"at+jwt","crit":["exp"]}}"#, k.kid());
        assert!(check(&k, &sign(&crit, body.clone()), NOW).is_err());
        body["nbf"] = (NOW + 100).into();
        assert!(check(&k, &sign(&good, body.clone()), NOW).is_err());
        assert!(check(&k, &sign(&good, body.clone()), NOW + 100 - LEEWAY_SECS).is_ok(), "nbf with the same leeway");
        body.as_object_mut().unwrap().remove("exp");
        assert!(check(&k, &sign(&good, body), NOW + 200).is_err(), "no expiry");
    }
}
