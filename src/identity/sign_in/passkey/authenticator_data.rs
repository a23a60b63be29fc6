//! Authenticator data (WebAuthn L2 §6.1): the RP ID hash, the flags, the
//! signature counter and, at registration, the attested credential data
//! (§6.5.1) with the credential's COSE public key.

use super::cbor::{self, Cbor};

pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
pub const FLAG_AT: u8 = 0x40;
pub const FLAG_ED: u8 = 0x80;

/// WebAuthn L2 §5.8.3: credential ids are at most 1023 bytes.
pub const MAX_CREDENTIAL_ID: usize = 1023;

#[derive(Debug, Clone, PartialEq)]
pub struct AttestedCredential {
    pub credential_id: Vec<u8>,
    pub public_key: Cbor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatorData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredential>,
}

impl AuthenticatorData {
    pub fn user_present(&self) -> bool {
        self.flags & FLAG_UP != 0
    }
    pub fn user_verified(&self) -> bool {
        self.flags & FLAG_UV != 0
    }
}

/// Parses the whole structure: attested credential data exactly when the AT
/// flag says so, extensions exactly when ED says so, nothing after them.
pub fn parse(data: &[u8]) -> Result<AuthenticatorData, &'static str> {
    if data.len() < 37 {
        return Err("authenticator data is too short");
    }
    let mut rp_id_hash = [0u8; 32];
    rp_id_hash.copy_from_slice(&data[..32]);
    let flags = data[32];
    let sign_count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    let mut rest = &data[37..];
    let attested = if flags & FLAG_AT != 0 {
        // aaguid (16) and the credential id length (2).
        if rest.len() < 18 {
            return Err("attested credential data is truncated");
        }
        let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        rest = &rest[18..];
        if id_len == 0 || id_len > MAX_CREDENTIAL_ID || rest.len() < id_len {
            return Err("credential id has a bad length");
        }
        let credential_id = rest[..id_len].to_vec();
        let (public_key, used) = cbor::read_prefix(&rest[id_len..]).map_err(|_| "credential public key is not CBOR")?;
        rest = &rest[id_len + used..];
        Some(AttestedCredential { credential_id, public_key })
    } else {
        None
    };
    if flags & FLAG_ED != 0 {
        let (ext, used) = cbor::read_prefix(rest).map_err(|_| "extensions are not CBOR")?;
        if !matches!(ext, Cbor::Map(_)) {
            return Err("extensions are not a map");
        }
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        return Err("bytes after the authenticator data");
    }
    Ok(AuthenticatorData { rp_id_hash, flags, sign_count, attested })
}

/// Builds authenticator data, for tests and the fuzz targets (`fuzzing`).
#[cfg(any(test, feature = "fuzzing"))]
pub fn build(rp_id_hash: [u8; 32], flags: u8, sign_count: u32, attested: Option<(&[u8], &Cbor)>) -> Vec<u8> {
    let mut out = rp_id_hash.to_vec();
    out.push(flags | if attested.is_some() { FLAG_AT } else { 0 });
    out.extend(sign_count.to_be_bytes());
    if let Some((id, key)) = attested {
        out.extend([0u8; 16]);
        out.extend((id.len() as u16).to_be_bytes());
        out.extend(id);
        out.extend(cbor::write(key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Cbor {
        Cbor::Map(vec![(Cbor::Int(1), Cbor::Int(2))])
    }

    #[test]
    fn parses_assertion_and_registration_data() {
        let a = parse(&build([7; 32], FLAG_UP | FLAG_UV, 42, None)).unwrap();
        assert_eq!((a.rp_id_hash, a.sign_count, a.user_present(), a.user_verified()), ([7; 32], 42, true, true));
        assert!(a.attested.is_none());
        let r = parse(&build([7; 32], FLAG_UP, 0, Some((b"cred", &key())))).unwrap();
        assert!(!r.user_verified());
        assert_eq!(r.attested, Some(AttestedCredential { credential_id: b"cred".to_vec(), public_key: key() }));
    }

    #[test]
    fn extensions_are_skipped_and_trailing_bytes_refused() {
        let mut with_ext = build([0; 32], FLAG_UP | FLAG_ED, 1, None);
        with_ext.extend(cbor::write(&Cbor::Map(vec![(Cbor::Text("credProtect".into()), Cbor::Int(2))])));
        assert!(parse(&with_ext).is_ok());
        with_ext.push(0);
        assert!(parse(&with_ext).is_err());
        let mut trailing = build([0; 32], FLAG_UP, 1, None);
        trailing.push(0);
        assert!(parse(&trailing).is_err());
    }

    #[test]
    fn truncated_or_lying_data_is_refused() {
        let full = build([0; 32], FLAG_UP, 0, Some((b"cred", &key())));
        for cut in [0, 36, 40, 55, full.len() - 1] {
            assert!(parse(&full[..cut]).is_err(), "cut at {cut}");
        }
        let mut long_id = full.clone();
        long_id[37 + 16] = 0xff; // id length 0xff04 > 1023
        assert!(parse(&long_id).is_err());
    }
}
