//! D1 rows read column by column, by hand, instead of through serde: each
//! `#[derive(Deserialize)]` row type compiled its own copy of
//! serde_wasm_bindgen's `deserialize_struct` into the wasm, and with the
//! crate's own code that was 12.7 KB of the wasm gzipped (measured when this
//! file replaced them).
//!
//! The rules are the ones `serde_wasm_bindgen::from_value` applied to the
//! field types the rows have: a `String` column must hold a string, an `i64`
//! one a number that is a safe integer (`Number.isSafeInteger`), a `u32` one a
//! safe integer that fits; the `Option` forms also take `null` (SQL NULL) or
//! `undefined` (no such column) as `None`. Anything else is an error naming
//! the column. One difference: serde_wasm_bindgen also read a BigInt into an
//! `i64`, which D1 never returns (its integers are numbers); it is an error here.
//!
//! The decisions are plain functions over `Cell` (what JavaScript type the
//! column's value has), tested natively below; `edge/d1` classifies the value.

use crate::base::error::StoreError;
use crate::store::StoreResult;

/// One column's value, by its JavaScript type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// `null` (SQL NULL) or `undefined` (no such column in the row).
    Null,
    Text(String),
    Number(f64),
    /// A boolean, a BigInt, an object, ...
    Other,
}

/// Never inlined: one copy of the message, not one per call site.
#[cold]
#[inline(never)]
fn mistyped(name: &str) -> StoreError {
    StoreError(format!("D1 row: column `{name}` is missing or of the wrong type"))
}

pub(crate) fn text(name: &str, c: Cell) -> StoreResult<String> {
    match c {
        Cell::Text(s) => Ok(s),
        _ => Err(mistyped(name)),
    }
}

pub(crate) fn opt_text(name: &str, c: Cell) -> StoreResult<Option<String>> {
    match c {
        Cell::Null => Ok(None),
        c => text(name, c).map(Some),
    }
}

/// `Number.isSafeInteger`: whole, and at most 2^53 - 1 either way (NaN and the
/// infinities are neither).
fn safe_integer(f: f64) -> Option<i64> {
    (f.trunc() == f && f.abs() <= 9_007_199_254_740_991.0).then_some(f as i64)
}

pub(crate) fn int(name: &str, c: Cell) -> StoreResult<i64> {
    match c {
        Cell::Number(f) => safe_integer(f).ok_or_else(|| mistyped(name)),
        _ => Err(mistyped(name)),
    }
}

pub(crate) fn opt_int(name: &str, c: Cell) -> StoreResult<Option<i64>> {
    match c {
        Cell::Null => Ok(None),
        c => int(name, c).map(Some),
    }
}

pub(crate) fn count(name: &str, c: Cell) -> StoreResult<u32> {
    u32::try_from(int(name, c)?).map_err(|_| mistyped(name))
}

/// `meta.changes` (a `usize`, which is a u32 in wasm32).
pub(crate) fn opt_count(name: &str, c: Cell) -> StoreResult<Option<u32>> {
    match c {
        Cell::Null => Ok(None),
        c => count(name, c).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A row's fields of every type the readers cover, read by serde from JSON.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Serde {
        text: String,
        opt_text: Option<String>,
        int: i64,
        opt_int: Option<i64>,
        count: u32,
        opt_count: Option<u32>,
    }

    /// The same row by hand, from JSON values as `Cell`s (a missing member is `undefined`).
    fn by_hand(v: &serde_json::Value) -> StoreResult<Serde> {
        let cell = |name: &str| match v.get(name) {
            None | Some(serde_json::Value::Null) => Cell::Null,
            Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
            Some(serde_json::Value::Number(n)) => Cell::Number(n.as_f64().unwrap()),
            Some(_) => Cell::Other,
        };
        Ok(Serde {
            text: text("text", cell("text"))?,
            opt_text: opt_text("opt_text", cell("opt_text"))?,
            int: int("int", cell("int"))?,
            opt_int: opt_int("opt_int", cell("opt_int"))?,
            count: count("count", cell("count"))?,
            opt_count: opt_count("opt_count", cell("opt_count"))?,
        })
    }

    #[test]
    fn columns_read_by_hand_as_serde_read_rows() {
        use serde_json::json;
        let good = json!({"text": "a", "opt_text": "b", "int": -7, "opt_int": 9_007_199_254_740_991i64, "count": 4_294_967_295u32, "opt_count": 0});
        let cases = [
            good.clone(),
            json!({"text": "", "opt_text": null, "int": 0, "opt_int": null, "count": 0, "extra": [1, {"x": 2}]}),
            json!({"text": "a", "int": 1, "count": 1}),
            json!({"text": null, "int": 1, "count": 1}),
            json!({"int": 1, "count": 1}),
            json!({"text": 1, "int": 1, "count": 1}),
            json!({"text": "a", "opt_text": 2, "int": 1, "count": 1}),
            json!({"text": "a", "opt_text": true, "int": 1, "count": 1}),
            json!({"text": "a", "int": "1", "count": 1}),
            json!({"text": "a", "int": 1.5, "count": 1}),
            json!({"text": "a", "int": null, "count": 1}),
            json!({"text": "a", "int": 1, "opt_int": "2", "count": 1}),
            json!({"text": "a", "int": 1, "opt_int": [2], "count": 1}),
            json!({"text": "a", "int": 1, "count": -1}),
            json!({"text": "a", "int": 1, "count": 4_294_967_296u64}),
            json!({"text": "a", "int": 1, "count": 1, "opt_count": 3}),
            json!({"text": "a", "int": 1, "count": 1, "opt_count": null}),
            json!({"text": "a", "int": 1, "count": 1, "opt_count": -3}),
            json!({"text": "a", "int": 1, "count": 1, "opt_count": "3"}),
            json!({"text": "a", "int": 1}),
            json!({"text": ["a"], "int": 1, "count": 1}),
            json!({}),
        ];
        for row in cases {
            assert_eq!(by_hand(&row).ok(), serde_json::from_value::<Serde>(row.clone()).ok(), "{row}");
        }
        assert!(by_hand(&good).is_ok());
    }

    /// Where JavaScript's numbers differ from JSON's: every number is an f64, so a
    /// whole one written `2.0` is the integer 2 (serde_wasm_bindgen read it so),
    /// and past 2^53 a number is no longer a safe integer.
    #[test]
    fn integers_are_safe_integers() {
        assert_eq!(int("c", Cell::Number(2.0)).unwrap(), 2);
        assert_eq!(int("c", Cell::Number(-0.0)).unwrap(), 0);
        assert_eq!(int("c", Cell::Number(-9_007_199_254_740_991.0)).unwrap(), -9_007_199_254_740_991);
        for f in [9_007_199_254_740_992.0, -9_007_199_254_740_992.0, 0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(int("c", Cell::Number(f)).is_err(), "{f}");
            assert!(opt_int("c", Cell::Number(f)).is_err(), "{f}");
        }
        assert!(int("c", Cell::Other).is_err(), "a BigInt is not read");
        assert_eq!(count("c", Cell::Number(4_294_967_295.0)).unwrap(), u32::MAX);
        assert!(count("c", Cell::Number(-1.0)).is_err());
        assert_eq!(opt_text("c", Cell::Null).unwrap(), None);
        assert!(text("c", Cell::Null).unwrap_err().0.contains("`c`"), "the error names the column");
    }
}
