//! A build without the `tls` feature pulls no TLS crate (issue 15): `cargo tree` over the
//! dependencies a `cargo build` compiles (normal and build edges, no dev-dependencies) lists
//! none of rustls, ring, webpki... for the workspace as a plain `cargo build` builds it, and for
//! `squall` with default features and with none. The same query with `--features tls` must
//! list them, which proves the check sees TLS crates when they are there.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Crates that only a TLS stack brings (rustls and its ring provider, the webpki verifier and
/// roots; and the other stacks, so that a switch of provider is caught too).
fn is_tls_crate(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "rustls",
        "tokio-rustls",
        "ring",
        "webpki",
        "untrusted",
        "aws-lc",
        "openssl",
        "native-tls",
        "rcgen",
    ];
    PREFIXES
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}-")))
}

/// The names of the packages `cargo tree ARGS` lists for what `cargo build` compiles.
fn tree(args: &[&str]) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut child = Command::new(cargo)
        .arg("tree")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--offline", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    // Bounded: cargo may wait for a lock another build holds, but not forever.
    let deadline = Instant::now() + Duration::from_secs(300);
    while child.try_wait().expect("wait for cargo").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo tree {args:?} did not finish in 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("cargo output");
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    assert!(names.iter().any(|n| n == "squall"), "{args:?}: {names:?}");
    names
}

fn tls_crates(names: &[String]) -> Vec<&str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|n| is_tls_crate(n))
        .collect()
}

#[test]
fn a_build_without_the_tls_feature_pulls_no_tls_crate() {
    // The whole workspace as `cargo build` builds it (the examples and tests turn `tls` on
    // only for their dev-dependency, which a plain build does not compile).
    let workspace = tree(&["--workspace"]);
    assert_eq!(tls_crates(&workspace), Vec::<&str>::new(), "workspace");
    for features in [
        &["-p", "squall"][..],
        &["-p", "squall", "--no-default-features"],
    ] {
        let names = tree(features);
        assert_eq!(tls_crates(&names), Vec::<&str>::new(), "{features:?}");
    }
    // With the feature: rustls and its provider are there, so the check above can fail.
    let with = tree(&["-p", "squall", "--features", "tls"]);
    let found = tls_crates(&with);
    for expected in ["ring", "rustls", "rustls-webpki", "webpki-roots"] {
        assert!(found.contains(&expected), "{expected} not in {found:?}");
    }
}

#[test]
fn the_tls_crate_names_are_recognised() {
    for name in [
        "rustls",
        "rustls-pki-types",
        "ring",
        "webpki-roots",
        "aws-lc-rs",
    ] {
        assert!(is_tls_crate(name), "{name}");
    }
    for name in ["string-interner", "ringbuf", "squall", "serde", "hmac"] {
        assert!(!is_tls_crate(name), "{name}");
    }
}
