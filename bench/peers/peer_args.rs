//! The peers' command line, `--port N` (or `--port=N`), plus `--cert FILE --key FILE
//! [--no-resumption]` for the peers that serve HTTPS, shared by every peer server through `#[path]` (they are separate
//! crates with no common library).
#![allow(dead_code)]

/// Parsed arguments.
pub struct PeerArgs {
    pub port: u16,
    /// PEM certificate chain and key: serve HTTPS.
    pub tls: Option<(String, String)>,
    /// `--no-resumption`: no session cache nor tickets (every handshake a full one).
    pub no_resumption: bool,
}

/// `--port N [--cert FILE --key FILE [--no-resumption]]`; an error message for anything else.
pub fn parse_args() -> Result<PeerArgs, String> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut cert, mut key) = (None, None, None);
    let mut no_resumption = false;
    while let Some(a) = args.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => {
                let v = value()?;
                port = Some(v.parse::<u16>().map_err(|_| format!("bad port {v:?}"))?);
            }
            "--cert" => cert = Some(value()?),
            "--key" => key = Some(value()?),
            "--no-resumption" => no_resumption = true,
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some((c, k)),
        _ => return Err("--cert and --key go together".to_string()),
    };
    if no_resumption && tls.is_none() {
        return Err("--no-resumption goes with --cert and --key".to_string());
    }
    Ok(PeerArgs {
        port: port.ok_or("--port is required")?,
        tls,
        no_resumption,
    })
}

/// The port from the command line, for peers without HTTPS.
pub fn parse_port() -> Result<u16, String> {
    let args = parse_args()?;
    if args.tls.is_some() {
        return Err("this peer does not serve HTTPS".to_string());
    }
    Ok(args.port)
}
