//! The bottom layer: value types and their parse rules, encodings, crypto,
//! HTTP values and the page frame. Imports nothing else of the crate.
