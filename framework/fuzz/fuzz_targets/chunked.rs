//! Arbitrary bytes into the chunked-body decoder: whole, in pieces and byte by byte, which must
//! agree (`squall::http1::__fuzz::chunked`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall::http1::__fuzz::chunked(data);
});
