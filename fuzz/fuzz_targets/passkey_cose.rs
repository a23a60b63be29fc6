//! The COSE key reader (RFC 9053 §7.1 EC2 P-256 and RFC 8037 §2 OKP Ed25519,
//! as WebAuthn uses them) on any CBOR: never panics; a key it accepts turns
//! into a JWK that suits the algorithm, with 32-byte coordinates; and the
//! same key written back as the minimal COSE map reads as the same JWK.
#![no_main]

use gatehouse::base::encoding::b64url_decode;
use gatehouse::base::signature::Alg;
use gatehouse::identity::sign_in::passkey::cbor::{self, Cbor};
use gatehouse::identity::sign_in::passkey::cose;
use libfuzzer_sys::fuzz_target;

/// The minimal COSE map for a JWK (labels: kty 1, alg 3, crv -1, x -2, y -3).
fn minimal(alg: Alg, x: &[u8], y: Option<&[u8]>) -> Cbor {
    let (kty, cose_alg, crv) = if alg == Alg::Es256 { (2, -7, 1) } else { (1, -8, 6) };
    let mut m = vec![(1, Cbor::Int(kty)), (3, Cbor::Int(cose_alg)), (-1, Cbor::Int(crv)), (-2, Cbor::Bytes(x.to_vec()))];
    if let Some(y) = y {
        m.push((-3, Cbor::Bytes(y.to_vec())));
    }
    Cbor::Map(m.into_iter().map(|(k, v)| (Cbor::Int(k), v)).collect())
}

fuzz_target!(|data: &[u8]| {
    let Ok(key) = cbor::read(data) else { return };
    let Some((alg, jwk)) = cose::to_jwk(&key) else { return };
    assert!(jwk.suits(alg), "{alg:?} {jwk:?}");
    let x = jwk.x.as_deref().and_then(b64url_decode).expect("x");
    let y = jwk.y.as_deref().and_then(b64url_decode);
    assert_eq!(x.len(), 32);
    assert_eq!(y.as_ref().map(Vec::len), (alg == Alg::Es256).then_some(32));
    let again = cose::to_jwk(&minimal(alg, &x, y.as_deref())).expect("the minimal form reads");
    assert_eq!(again, (alg, jwk));
});
