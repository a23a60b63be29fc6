//! Authenticator data (WebAuthn L2 §6.1, attested credential data §6.5.1):
//! never panics on any bytes; what parses is at least 37 bytes, carries
//! attested data exactly when the AT flag says so, and rebuilt by our own
//! writer parses to the same value.
#![no_main]

use gatehouse::identity::sign_in::passkey::authenticator_data::{build, parse, FLAG_AT, FLAG_ED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ad) = parse(data) else { return };
    assert!(data.len() >= 37);
    assert_eq!(ad.attested.is_some(), ad.flags & FLAG_AT != 0, "attested data exactly with AT");
    if ad.flags & FLAG_ED != 0 {
        return; // our writer writes no extensions
    }
    let attested = ad.attested.as_ref().map(|a| (a.credential_id.as_slice(), &a.public_key));
    let rebuilt = build(ad.rp_id_hash, ad.flags, ad.sign_count, attested);
    assert_eq!(parse(&rebuilt).expect("our own encoding parses"), ad);
});
