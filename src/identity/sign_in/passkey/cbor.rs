//! A minimal CBOR reader (RFC 8949) for what WebAuthn hands us: the
//! attestation object and COSE keys (WebAuthn L2 §6.5.1, RFC 9052 §7).
//! Definite lengths only (CTAP2's canonical form), integers up to 64 bits,
//! byte and text strings, arrays, maps, and the simple values false, true and
//! null. Anything else (tags, floats, indefinite lengths) is refused, as is
//! nesting deeper than `MAX_DEPTH`.

/// Deeper than any COSE key or attestation object we accept.
const MAX_DEPTH: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub enum Cbor {
    /// Major types 0 and 1, as one signed range.
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Bool(bool),
    Null,
}

impl Cbor {
    /// The value of an integer or text key of a map.
    pub fn get(&self, key: &Cbor) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_int(&self, key: i128) -> Option<&Cbor> {
        self.get(&Cbor::Int(key))
    }

    pub fn get_text(&self, key: &str) -> Option<&Cbor> {
        self.get(&Cbor::Text(key.to_string()))
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Cbor::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Cbor::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cbor::Text(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CborError(pub &'static str);

/// Reads one value from the start of `input`; returns it and how many bytes it took.
pub fn read_prefix(input: &[u8]) -> Result<(Cbor, usize), CborError> {
    let mut r = Reader { input, pos: 0 };
    let v = r.value(0)?;
    Ok((v, r.pos))
}

/// Reads exactly one value: trailing bytes are an error.
pub fn read(input: &[u8]) -> Result<Cbor, CborError> {
    let (v, used) = read_prefix(input)?;
    if used != input.len() {
        return Err(CborError("bytes after the CBOR value"));
    }
    Ok(v)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.input.len()).ok_or(CborError("truncated CBOR"))?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The argument of an initial byte (RFC 8949 §3): the value itself or its length.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let size = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(CborError("indefinite or reserved CBOR length")),
        };
        Ok(self.take(size)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn length(&mut self, info: u8) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        // Every item takes at least one byte: a longer claim is a lie.
        usize::try_from(n).ok().filter(|n| *n <= self.input.len() - self.pos).ok_or(CborError("CBOR length beyond the input"))
    }

    fn value(&mut self, depth: usize) -> Result<Cbor, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("CBOR nested too deeply"));
        }
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        match major {
            0 => Ok(Cbor::Int(i128::from(self.argument(info)?))),
            1 => Ok(Cbor::Int(-1 - i128::from(self.argument(info)?))),
            2 => {
                let n = self.length(info)?;
                Ok(Cbor::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.length(info)?;
                let s = std::str::from_utf8(self.take(n)?).map_err(|_| CborError("CBOR text is not UTF-8"))?;
                Ok(Cbor::Text(s.to_string()))
            }
            4 => {
                let n = self.length(info)?;
                (0..n).map(|_| self.value(depth + 1)).collect::<Result<_, _>>().map(Cbor::Array)
            }
            5 => {
                let n = self.length(info)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    if entries.iter().any(|(seen, _)| *seen == k) {
                        return Err(CborError("duplicate CBOR map key"));
                    }
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                }
                Ok(Cbor::Map(entries))
            }
            7 => match info {
                20 => Ok(Cbor::Bool(false)),
                21 => Ok(Cbor::Bool(true)),
                22 => Ok(Cbor::Null),
                _ => Err(CborError("unsupported CBOR simple value or float")),
            },
            _ => Err(CborError("CBOR tags are not accepted")),
        }
    }
}

/// A tiny CBOR writer for tests (and the fuzz targets, `fuzzing`): builds authenticator responses.
#[cfg(any(test, feature = "fuzzing"))]
pub fn write(v: &Cbor) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(m | 26);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(m | 27);
                out.extend(n.to_be_bytes());
            }
        }
    }
    let mut out = Vec::new();
    match v {
        Cbor::Int(i) if *i >= 0 => head(&mut out, 0, *i as u64),
        Cbor::Int(i) => head(&mut out, 1, (-1 - *i) as u64),
        Cbor::Bytes(b) => {
            head(&mut out, 2, b.len() as u64);
            out.extend(b);
        }
        Cbor::Text(t) => {
            head(&mut out, 3, t.len() as u64);
            out.extend(t.as_bytes());
        }
        Cbor::Array(items) => {
            head(&mut out, 4, items.len() as u64);
            items.iter().for_each(|i| out.extend(write(i)));
        }
        Cbor::Map(entries) => {
            head(&mut out, 5, entries.len() as u64);
            for (k, v) in entries {
                out.extend(write(k));
                out.extend(write(v));
            }
        }
        Cbor::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Cbor::Null => out.push(0xf6),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_shapes_webauthn_uses() {
        let v = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(-7), Cbor::Int(-300)),
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("b".into()), Cbor::Bytes(vec![7; 300])),
            (Cbor::Text("a".into()), Cbor::Array(vec![Cbor::Bool(true), Cbor::Null, Cbor::Int(70000), Cbor::Int(1 << 40)])),
        ]);
        let bytes = write(&v);
        assert_eq!(read(&bytes), Ok(v.clone()));
        assert_eq!(v.get_int(-7).and_then(Cbor::as_int), Some(-300));
        assert_eq!(v.get_text("fmt").and_then(Cbor::as_text), Some("none"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(read_prefix(&longer).map(|(_, n)| n), Ok(bytes.len()));
        assert!(read(&longer).is_err());
    }

    #[test]
    fn refuses_what_it_does_not_read() {
        assert!(read(&[]).is_err());
        assert!(read(&[0x5f]).is_err(), "indefinite byte string");
        assert!(read(&[0xc0, 0x00]).is_err(), "tag");
        assert!(read(&[0xf9, 0, 0]).is_err(), "half float");
        assert!(read(&[0x5a, 0xff, 0xff, 0xff, 0xff]).is_err(), "length beyond input");
        assert!(read(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err(), "huge array");
        assert!(read(&[0xa2, 0x01, 0x00, 0x01, 0x00]).is_err(), "duplicate key");
        assert!(read(&[0x62, 0xff, 0xfe]).is_err(), "text not UTF-8");
        let deep: Vec<u8> = std::iter::repeat(0x81).take(20).chain([0x00]).collect();
        assert!(read(&deep).is_err(), "too deep");
    }
}
