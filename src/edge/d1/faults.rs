//! Storage faults on demand, for the fault suite (issue 16 §2;
//! `tests/e2e/storage_faults.test.mjs`). Only a build with the `test-faults`
//! feature (`scripts/build.sh --faults`, into `build-faults/`) reads the
//! request header; the committed build compiles the no-op half, and the suite
//! checks that its wasm does not even hold the header's name.
//!
//! `x-gatehouse-test-fault: fail` fails every D1 statement of the request,
//! `fail-after=N` lets N statements through and fails the rest, `stall=MS`
//! delays each round trip. Answers say how many statements were prepared
//! (`x-gatehouse-test-statements`), so a suite can sweep a failure over each,
//! and how many sequential round trips to D1 the request made
//! (`x-gatehouse-test-round-trips`: a batch is one; issue 14 counts them).
//! A statement fails when it is prepared: one that belongs to a batch then
//! fails the whole batch before it runs, as a failed transaction would.

#[cfg(feature = "test-faults")]
pub use on::Faults;
#[cfg(not(feature = "test-faults"))]
pub use off::Faults;

#[cfg(feature = "test-faults")]
mod on {
    use std::cell::Cell;

    use crate::base::error::StoreError;
    use crate::store::StoreResult;

    const HEADER: &str = "x-gatehouse-test-fault";
    const COUNT_HEADER: &str = "x-gatehouse-test-statements";
    const TRIPS_HEADER: &str = "x-gatehouse-test-round-trips";

    #[derive(Default)]
    pub struct Faults {
        fail_from: Option<u32>,
        stall_ms: u32,
        prepared: Cell<u32>,
        trips: Cell<u32>,
    }

    impl Faults {
        pub fn of(headers: &worker::Headers) -> Self {
            let plan = headers.get(HEADER).ok().flatten().unwrap_or_default();
            let mut f = Faults::default();
            match plan.split_once('=') {
                None if plan == "fail" => f.fail_from = Some(0),
                Some(("fail-after", n)) => f.fail_from = n.parse().ok(),
                Some(("stall", ms)) => f.stall_ms = ms.parse().unwrap_or(0),
                _ => {}
            }
            f
        }

        pub fn statement(&self) -> StoreResult<()> {
            let n = self.prepared.get();
            self.prepared.set(n + 1);
            match self.fail_from {
                Some(from) if n >= from => Err(StoreError(format!("injected storage failure at statement {n}"))),
                _ => Ok(()),
            }
        }

        /// One round trip to D1 is about to be awaited.
        pub async fn round_trip(&self) {
            self.trips.set(self.trips.get() + 1);
            if self.stall_ms > 0 {
                worker::Delay::from(std::time::Duration::from_millis(self.stall_ms.into())).await;
            }
        }

        /// An answer of `edge::hot`, which cannot await storage at all: no
        /// statement, no round trip, and which path answered.
        pub fn report_hot(headers: &mut Vec<(String, String)>) {
            headers.push((COUNT_HEADER.into(), "0".into()));
            headers.push((TRIPS_HEADER.into(), "0".into()));
            headers.push(("x-gatehouse-test-wasm-pages".into(), core::arch::wasm32::memory_size(0).to_string()));
            headers.push(("x-gatehouse-test-path".into(), "hot".into()));
        }

        /// Also the wasm instance's linear memory (64 KiB pages), so a soak can
        /// tell memory Gatehouse holds from the runtime's own.
        pub fn report(&self, headers: &worker::Headers) {
            let _ = headers.set(COUNT_HEADER, &self.prepared.get().to_string());
            let _ = headers.set(TRIPS_HEADER, &self.trips.get().to_string());
            let _ = headers.set("x-gatehouse-test-wasm-pages", &core::arch::wasm32::memory_size(0).to_string());
        }
    }
}

#[cfg(not(feature = "test-faults"))]
mod off {
    use crate::store::StoreResult;

    #[derive(Default)]
    pub struct Faults;

    impl Faults {
        pub fn of(_: &worker::Headers) -> Self {
            Faults
        }
        #[inline(always)]
        pub fn statement(&self) -> StoreResult<()> {
            Ok(())
        }
        #[inline(always)]
        pub async fn round_trip(&self) {}
        #[inline(always)]
        pub fn report(&self, _: &worker::Headers) {}
        #[inline(always)]
        pub fn report_hot(_: &mut Vec<(String, String)>) {}
    }
}
