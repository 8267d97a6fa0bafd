//! Arbitrary bytes inflated under a bound (never past it) and compressed then inflated back
//! (equal), with the window size and context mode the first bytes pick
//! (`squall::websocket::__fuzz::deflate`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall::websocket::__fuzz::deflate(data);
});
