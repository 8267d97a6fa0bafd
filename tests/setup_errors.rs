//! A setup error that leaves `fn main() -> std::io::Result<()>` through `?` prints as a
//! sentence with its causes (the `SetupError`'s `Debug`), not as a dump of nested structs;
//! the process exits with status 1. Runs the real binary `tests/bin/setup_error.rs`.

use std::net::TcpListener;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_setup_error");

fn run(args: &[&str]) -> (Output, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("setup_error runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

#[test]
fn a_configuration_error_prints_one_sentence() {
    let (out, stderr) = run(&["config"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // `main` prints `Error: {:?}` of the io::Error, which wraps the setup error's own Debug.
    assert_eq!(
        stderr,
        "Error: Custom { kind: InvalidInput, error: invalid configuration: xsrf_cookies \
         requires a cookie_secret (Settings::cookie_secret) }\n"
    );
}

#[test]
fn a_bind_error_names_the_address_and_keeps_the_os_cause() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port to take");
    let port = taken.local_addr().expect("its address").port();
    let (out, stderr) = run(&["listen", &port.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The io::Error's kind is the bind error's; the sentence has the address, then the cause.
    let want = format!(
        "Error: Custom {{ kind: AddrInUse, error: I/O error: cannot listen on 127.0.0.1:{port}: \
         Address already in use (os error 98) }}\n"
    );
    assert_eq!(stderr, want);
}
