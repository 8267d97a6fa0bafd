//! The peers' one command-line option, `--port N` (or `--port=N`), shared by every peer
//! server through `#[path]` (they are separate crates with no common library).

/// The port from the command line; an error message for anything else.
pub fn parse_port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = None;
    while let Some(a) = args.next() {
        let v = if a == "--port" {
            args.next().ok_or("--port needs a value")?
        } else if let Some(v) = a.strip_prefix("--port=") {
            v.to_string()
        } else {
            return Err(format!("unknown argument {a:?}"));
        };
        port = Some(v.parse::<u16>().map_err(|_| format!("bad port {v:?}"))?);
    }
    port.ok_or_else(|| "--port is required".to_string())
}
