//! Reading a request body into wasm memory, refused as soon as it passes a
//! limit. A declared `Content-Length` is checked before this; a body of
//! unknown length (chunked) is counted as it arrives, so a client that never
//! stops sending is answered 413 after `limit` bytes, not after the runtime or
//! the worker ran out of memory (wasm memory never shrinks). Every route that
//! reads a body reads it here.

use futures_util::StreamExt;
use worker::ByteStream;

pub enum BodyError {
    TooLarge,
    Unreadable,
}

/// The body of `stream`, at most `limit` bytes.
pub async fn read_capped(stream: web_sys::ReadableStream, declared: Option<u64>, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut stream = ByteStream::from(stream);
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| (n as usize).min(limit)));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
