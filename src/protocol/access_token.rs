//! Access tokens: JWTs (RFC 9068 profile, RFC 7519) signed with Ed25519
//! (RFC 8037 `EdDSA`), verified at the edge without a storage read. The
//! public keys are published as a JWK Set (RFC 7517 §5); during a key
//! rotation it lists several and verification picks one by `kid` (RFC 7515 §4.1.4).

use chrono::Duration;
use jwt_compact::alg::Ed25519;
use jwt_compact::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::resource::Resource;
use crate::base::signing_key::{time_options, SigningKey, LEEWAY_SECS};

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

pub fn issue(key: &SigningKey, claims: AccessClaims, now: i64, ttl_secs: i64) -> OAuthResult<String> {
    let opts = time_options(now);
    let claims = Claims::new(claims).set_duration_and_issuance(&opts, Duration::seconds(ttl_secs));
    let header = Header::empty().with_key_id(key.kid().to_string()).with_token_type("at+jwt");
    Ed25519
        .token(&header, &claims, key.secret_key())
        .map_err(|_| OAuthError::server_error("could not sign the access token"))
}

/// Verifies signature, algorithm, key id, time window, issuer and audience.
/// `keys` are the current key first, then older ones still trusted; a token
/// names its key by `kid`. Every failure is `invalid_token` (RFC 6750 §3.1)
/// so clients refresh.
pub fn verify<'k>(
    keys: impl IntoIterator<Item = &'k SigningKey>,
    token: &str,
    now: i64,
    issuer: &str,
    accepted_audiences: &[Resource],
) -> OAuthResult<VerifiedToken> {
    let invalid = |why: &str| OAuthError::new(ErrorCode::InvalidToken, why);
    let (claims, verified) = signed_claims(keys, token, issuer)?;
    let opts = time_options(now);
    claims.validate_expiration(&opts).map_err(|_| invalid("token expired"))?;
    if claims.not_before.is_some() {
        claims.validate_maturity(&opts).map_err(|_| invalid("token not yet valid"))?;
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
pub fn verify_issued_by_us<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, token: &str, issuer: &str) -> OAuthResult<VerifiedToken> {
    signed_claims(keys, token, issuer).map(|(_, v)| v)
}

fn signed_claims<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, token: &str, issuer: &str) -> OAuthResult<(Claims<AccessClaims>, VerifiedToken)> {
    let invalid = |why: &str| OAuthError::new(ErrorCode::InvalidToken, why);
    if token.len() > 4096 {
        return Err(invalid("token too long"));
    }
    let untrusted = UntrustedToken::new(token).map_err(|_| invalid("malformed token"))?;
    if untrusted.algorithm() != "EdDSA" {
        return Err(invalid("unexpected algorithm"));
    }
    let mut keys = keys.into_iter();
    // Without a `kid` only the current key is tried: no guessing across keys.
    let key = match untrusted.header().key_id.as_deref() {
        Some(kid) => keys.find(|k| k.kid() == kid),
        None => keys.next(),
    }
    .ok_or_else(|| invalid("unknown signing key"))?;
    let verified = Ed25519
        .validator::<AccessClaims>(key.public_key())
        .validate(&untrusted)
        .map_err(|_| invalid("bad signature"))?;
    let claims = verified.claims().clone();
    let Some(exp) = claims.expiration else {
        return Err(invalid("token has no expiry"));
    };
    if claims.custom.iss != issuer {
        return Err(invalid("token from another issuer"));
    }
    let v = VerifiedToken {
        claims: claims.custom.clone(),
        expires_at: exp.timestamp(),
        issued_at: claims.issued_at.map(|t| t.timestamp()).unwrap_or(0),
    };
    Ok((claims, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::encoding::b64url;
    use crate::base::signing_key::jwk_set;
    use crate::base::resource::accepted_resources;

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
        verify([k], tok, now, ISS, &accepted_resources(ISS))
    }

    #[test]
    fn after_rotation_old_and_new_tokens_verify_by_kid() {
        let (old, new, stranger) = (key(7), key(8), key(9));
        let old_tok = issue(&old, claims(), NOW, 3600).unwrap();
        let new_tok = issue(&new, claims(), NOW, 3600).unwrap();
        let ring = [&new, &old];
        assert!(verify(ring, &old_tok, NOW, ISS, &accepted_resources(ISS)).is_ok());
        assert!(verify(ring, &new_tok, NOW, ISS, &accepted_resources(ISS)).is_ok());
        // Retired: the old key is gone from the ring.
        assert!(verify([&new], &old_tok, NOW, ISS, &accepted_resources(ISS)).is_err());
        let foreign = issue(&stranger, claims(), NOW, 3600).unwrap();
        assert!(verify(ring, &foreign, NOW, ISS, &accepted_resources(ISS)).is_err());
        // A token claiming the old kid but signed by another key fails on the signature.
        let mut parts: Vec<String> = foreign.split('.').map(str::to_string).collect();
        parts[0] = old_tok.split('.').next().unwrap().to_string();
        assert!(verify(ring, &parts.join("."), NOW, ISS, &accepted_resources(ISS)).is_err());
        let set = jwk_set(ring);
        let kids: Vec<&str> = set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, [new.kid(), old.kid()]);
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let k = key(7);
        let tok = issue(&k, claims(), NOW, 3600).unwrap();
        let v = check(&k, &tok, NOW + 10).unwrap();
        assert_eq!(v.claims, claims());
        assert_eq!(v.expires_at, NOW + 3600);
        assert_eq!(v.issued_at, NOW);
    }

    #[test]
    fn issued_by_us_ignores_time_but_not_signature_or_issuer() {
        let k = key(7);
        let tok = issue(&k, claims(), NOW, 3600).unwrap();
        assert!(check(&k, &tok, NOW + 7200).is_err(), "expired for access");
        assert_eq!(verify_issued_by_us([&k], &tok, ISS).unwrap().claims, claims(), "still ours to revoke");
        assert!(verify_issued_by_us([&key(8)], &tok, ISS).is_err());
        assert!(verify_issued_by_us([&k], &tok, "https://evil.example.com").is_err());
        assert!(verify_issued_by_us([&k], "not.a.jwt", ISS).is_err());
    }

    #[test]
    fn expired_and_future_tokens_fail() {
        let k = key(7);
        let tok = issue(&k, claims(), NOW, 3600).unwrap();
        assert_eq!(check(&k, &tok, NOW + 3600 + LEEWAY_SECS + 1).unwrap_err().code, ErrorCode::InvalidToken);
        assert!(check(&k, &tok, NOW - 3600).is_err());
    }

    #[test]
    fn tampered_token_fails() {
        let k = key(7);
        let tok = issue(&k, claims(), NOW, 3600).unwrap();
        let mut parts: Vec<String> = tok.split('.').map(str::to_string).collect();
        let mut c = claims();
        c.sub = "attacker".into();
        let forged = Claims::new(c).set_duration_and_issuance(&time_options(NOW), Duration::seconds(3600));
        parts[1] = b64url(serde_json::to_string(&forged).unwrap().as_bytes());
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
        let tok = issue(&k, claims(), NOW, 3600).unwrap();
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
        let tok = issue(&key(8), claims(), NOW, 3600).unwrap();
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
        assert!(check(&k, &issue(&k, c, NOW, 60).unwrap(), NOW).is_err());
        let mut c = claims();
        c.iss = "https://evil.example.com".into();
        assert!(check(&k, &issue(&k, c, NOW, 60).unwrap(), NOW).is_err());
        let mut c = claims();
        c.aud = format!("{ISS}/mcp/");
        assert!(check(&k, &issue(&k, c, NOW, 60).unwrap(), NOW).is_ok(), "trailing slash normalises");
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
}
