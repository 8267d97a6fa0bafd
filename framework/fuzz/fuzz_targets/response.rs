//! Arbitrary bytes as an HTTP response to the client's parser: the head scanned whole and as
//! it would arrive, the body decoded whole and byte by byte, which must agree
//! (`squall::http1::__fuzz::response`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall::http1::__fuzz::response(data);
});
