//! Compile-time behaviour of `#[handler]`, `#[websocket_handler]` and `routes!`: what must compile, and the exact
//! errors (with spans) for each kind of mistake.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
