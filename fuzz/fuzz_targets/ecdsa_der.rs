//! DER-encoded ECDSA signatures (RFC 3279 §2.2.3, what WebAuthn's ES256
//! gives) to the raw r||s WebCrypto verifies (`signature::ecdsa_der_to_raw`):
//! never panics; any 64 raw bytes encoded as minimal DER come back unchanged;
//! whatever DER it accepts re-encodes to DER that gives the same raw bytes.
#![no_main]

use gatehouse::base::signature::ecdsa_der_to_raw;
use libfuzzer_sys::fuzz_target;

/// Minimal DER: an INTEGER is positive, without leading zeros beyond the one
/// that keeps a high bit from reading as a sign.
fn der(raw: &[u8; 64]) -> Vec<u8> {
    let int = |half: &[u8]| {
        let mut v: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
        if v.is_empty() || v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 64 {
        let raw: [u8; 64] = data[..64].try_into().unwrap();
        assert_eq!(ecdsa_der_to_raw(&der(&raw)), Some(raw), "minimal DER of {raw:?}");
    }
    if let Some(raw) = ecdsa_der_to_raw(data) {
        assert_eq!(ecdsa_der_to_raw(&der(&raw)), Some(raw));
    }
});
