//! Arbitrary bytes into the request-head parser: whole and fed in pieces, under small and
//! default limits, with the invariants of `squall::http1::__fuzz::scan_head`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall::http1::__fuzz::scan_head(data);
});
