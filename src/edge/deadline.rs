//! A deadline on a fetch: the runtime's `setTimeout` is handed the
//! `AbortController`'s own `abort`, and the fetch (and its body, if still
//! being read) fails when it fires. No wasm closure is made and no second
//! future races the work: a `worker::Delay` under `select` did both, and
//! left the fetch running when it won (bench/NOTES.md, the origin timeout).

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

pub struct Deadline {
    controller: web_sys::AbortController,
    timer: JsValue,
}

impl Deadline {
    /// Starts `secs` seconds from now.
    pub fn start(secs: u64) -> Result<Deadline, JsValue> {
        let controller = web_sys::AbortController::new()?;
        let abort = js_sys::Reflect::get(&controller, &JsValue::from_str("abort"))?.dyn_into::<js_sys::Function>()?.bind0(&controller);
        let timer = set_timeout(&abort, secs as f64 * 1000.0);
        Ok(Deadline { controller, timer })
    }

    /// For the fetch's `RequestInit`.
    pub fn signal(&self) -> web_sys::AbortSignal {
        self.controller.signal()
    }

    /// Whether it fired: a failure then is the deadline's, not the network's.
    pub fn passed(&self) -> bool {
        self.controller.signal().aborted()
    }
}

impl Drop for Deadline {
    /// Ends it: what the fetch returned is no longer bounded (an open
    /// stream's body, say, once its headers came).
    fn drop(&mut self) {
        clear_timeout(&self.timer);
    }
}
