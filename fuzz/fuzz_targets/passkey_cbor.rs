//! The passkey CBOR reader (RFC 8949, the subset WebAuthn uses): never
//! panics on any bytes, reads no further than the input, and whatever it
//! reads survives our own writer: read(write(v)) == v.
#![no_main]

use gatehouse::identity::sign_in::passkey::cbor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((value, used)) = cbor::read_prefix(data) {
        assert!(used <= data.len() && used > 0, "read {used} of {} bytes", data.len());
        let again = cbor::read(&cbor::write(&value)).expect("our own encoding reads back");
        assert_eq!(again, value);
    }
    if let Ok(whole) = cbor::read(data) {
        // `read` is `read_prefix` that must use every byte.
        assert_eq!(cbor::read_prefix(data).map(|(v, n)| (v, n == data.len())).ok(), Some((whole, true)));
    }
});
