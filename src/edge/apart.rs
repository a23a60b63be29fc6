//! A future behind a pointer, so that its code stays a wasm function of its
//! own. The runtime compiles each wasm function when it is first called, the
//! whole function at once: with every endpoint inlined into one function
//! (100 KB), an isolate's first request compiled them all, whichever it
//! served (bench/NOTES.md, cold start).

use std::future::Future;
use std::pin::Pin;

pub fn apart<'a, T>(f: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(f)
}
