//! Arbitrary bytes into the WebSocket frame reader (server and client roles, with and without
//! permessage-deflate, two size limits): whole, split where the first bytes say, and byte by
//! byte, which must agree; no event may break a limit (`squall::websocket::__fuzz::frames`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall::websocket::__fuzz::frames(data);
});
