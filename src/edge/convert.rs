//! The protocol core's `HttpResponse` as the runtime's `Response`.

use worker::{Headers, Response, ResponseBuilder};

use crate::base::http::HttpResponse;

pub(crate) fn to_response(r: HttpResponse) -> worker::Result<Response> {
    let h = Headers::new();
    for (k, v) in &r.headers {
        h.append(k, v)?;
    }
    Ok(ResponseBuilder::new().with_status(r.status).with_headers(h).fixed(r.body.into_bytes()))
}
