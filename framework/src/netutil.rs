//! Sockets: binding listeners ([`bind_sockets`], [`bind_unix_socket`]), resolving host names
//! without blocking the loop ([`resolve`]), and the small socket helpers the rest of Squall
//! uses.
//!
//! ### Resolving
//!
//! The system resolver (`getaddrinfo`) blocks, for as long as a DNS server takes to answer.
//! [`resolve`] runs it on the executor's threads (Tornado's `DefaultExecutorResolver`), so a
//! slow lookup stalls only the task awaiting it, never the loop; an IP literal needs no
//! lookup and resolves at once. Every client in Squall (the HTTP client, the WebSocket client,
//! through [`tcpclient::connect`](crate::tcpclient::connect)) resolves through it.
//!
//! ### Close-on-exec
//!
//! Every socket Squall creates is created with `SOCK_CLOEXEC` (and accepted with `accept4(...,
//! SOCK_CLOEXEC)`), so a child process that `exec`s never inherits the server's port or its
//! clients' connections. [`is_cloexec`] checks the flag.

use std::io;
use std::mem::ManuallyDrop;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
    ToSocketAddrs,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// The listen backlog Squall uses (Tornado uses 128; busy servers want more).
pub const DEFAULT_BACKLOG: i32 = 1024;

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Creates a non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the returned fd is owned by the OwnedFd.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) })?;
    // SAFETY: fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Converts an address to a `sockaddr_storage` and its length.
pub(crate) fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// Converts a `sockaddr_storage` filled by the kernel back to an address.
pub(crate) fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Borrows `fd` as a `TcpStream` without taking ownership.
fn as_tcp(fd: RawFd) -> ManuallyDrop<TcpStream> {
    // SAFETY: ManuallyDrop: the fd is never closed through this value.
    ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) })
}

/// Sets `TCP_NODELAY` on a socket.
pub(crate) fn set_nodelay(fd: RawFd, on: bool) -> io::Result<()> {
    as_tcp(fd).set_nodelay(on)
}

/// The peer address of a connected socket.
pub(crate) fn peer_addr(fd: RawFd) -> io::Result<SocketAddr> {
    as_tcp(fd).peer_addr()
}

/// The pending socket error (`SO_ERROR`), if any.
pub(crate) fn socket_error(fd: RawFd) -> Option<io::Error> {
    as_tcp(fd).take_error().unwrap_or_else(Some)
}

/// Whether `fd` has the close-on-exec flag.
///
/// # Errors
///
/// `fcntl`'s error (a closed fd, say).
pub fn is_cloexec(fd: RawFd) -> io::Result<bool> {
    // SAFETY: F_GETFD takes no argument and does not touch memory.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    Ok(flags & libc::FD_CLOEXEC != 0)
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passing a pointer to a live c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// Binds one listening TCP socket: non-blocking, close-on-exec, `SO_REUSEADDR`, IPv6 sockets
/// v6-only, listening with `backlog`.
///
/// # Errors
///
/// The socket, bind or listen error.
pub fn bind_socket(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let fd = socket(domain, libc::SOCK_STREAM)?;
    let raw = fd.as_raw_fd();
    setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        setsockopt_int(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    let (storage, len) = sockaddr(&addr);
    // SAFETY: valid fd and address storage of `len` bytes.
    cvt(unsafe { libc::bind(raw, &storage as *const _ as *const libc::sockaddr, len) })?;
    // SAFETY: listen on our socket.
    cvt(unsafe { libc::listen(raw, backlog) })?;
    Ok(TcpListener::from(fd))
}

/// Binds listening sockets for `port` on `address`, like Tornado's `bind_sockets`.
///
/// `address` may be an IP literal, `"localhost"` (127.0.0.1 and ::1), or `""` (every
/// interface, IPv4 and IPv6). With port 0 the port the kernel picks for the first socket is
/// reused for the others. Sockets are non-blocking and close-on-exec, with `SO_REUSEADDR` and a
/// backlog of [`DEFAULT_BACKLOG`]. An IPv6 address the host lacks is skipped when another
/// address was bound.
///
/// # Examples
///
/// ```
/// let socks = squall::netutil::bind_sockets(0, "127.0.0.1").unwrap();
/// assert_eq!(socks.len(), 1);
/// assert!(squall::netutil::is_cloexec(std::os::fd::AsRawFd::as_raw_fd(&socks[0])).unwrap());
/// ```
///
/// # Errors
///
/// An address that does not parse (`InvalidInput`), or the first bind error.
pub fn bind_sockets(port: u16, address: &str) -> io::Result<Vec<TcpListener>> {
    let ips: Vec<IpAddr> = match address {
        "" => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
        "localhost" => vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        a => match a
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => vec![ip],
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not an IP address, \"localhost\" or \"\": {address:?}"),
                ))
            }
        },
    };
    let mut out: Vec<TcpListener> = Vec::new();
    let mut port = port;
    for ip in &ips {
        match bind_socket(SocketAddr::new(*ip, port), DEFAULT_BACKLOG) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) if ip.is_ipv6() && !out.is_empty() => {
                log::debug!("squall: skipping {ip}: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A second descriptor for the same listening socket, made with `fcntl(F_DUPFD_CLOEXEC)` so the
/// copy is close-on-exec from the start (a plain `dup` would leak it into exec'd programs until
/// `FD_CLOEXEC` is set). Both accept from one queue: the kernel hands each connection to one of
/// the loops watching them.
///
/// # Errors
///
/// `fcntl`'s error (out of descriptors).
pub(crate) fn dup_listener(listener: &TcpListener) -> io::Result<TcpListener> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int (the lowest fd to use) and returns a new fd.
    let fd = cvt(unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: the fd was just created and belongs to nobody else.
    Ok(unsafe { TcpListener::from_raw_fd(fd) })
}

/// Binds a listening Unix socket at `path` (replacing a stale socket file), non-blocking and
/// close-on-exec.
///
/// # Errors
///
/// The bind error, or `AlreadyExists` if `path` exists and is not a socket.
pub fn bind_unix_socket(path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
    }
    // std creates the socket with SOCK_CLOEXEC.
    let l = UnixListener::bind(path)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Accepts one connection with `accept4`: non-blocking and close-on-exec in one syscall.
pub(crate) fn accept(listener: RawFd) -> io::Result<(TcpStream, SocketAddr)> {
    // SAFETY: zeroed storage is valid; accept4 writes at most `len` bytes into it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` and `len` are live locals, `len` is `storage`'s size, so accept4 writes
    // inside them; `listener` is only read (a closed fd is EBADF, not undefined behaviour).
    let fd = cvt(unsafe {
        libc::accept4(
            listener,
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    })?;
    // SAFETY: accept4 returned a new fd that nobody else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let addr = from_sockaddr(&storage)
        .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    Ok((stream, addr))
}

/// The addresses of `host` for `port`, without blocking the loop (see [Resolving](self#resolving)).
///
/// `host` is an IP literal (IPv6 with or without its brackets), returned at once without a
/// lookup, or a name, looked up by the system resolver on the executor's threads. The
/// addresses come in the resolver's order of preference; there is at least one.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// use squall::netutil::resolve;
///
/// let addrs = IOLoop::new().unwrap().run_sync(resolve("[::1]", 8888)).unwrap();
/// assert_eq!(addrs, vec!["[::1]:8888".parse().unwrap()]);
/// ```
///
/// # Errors
///
/// The resolver's error (an unknown name: [`io::ErrorKind::NotFound`] when the name has no
/// address), or [`io::ErrorKind::Other`] if the executor could not run the lookup.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_owned();
    let found = crate::executor::run_in_executor(move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
    })
    .await
    .map_err(|e| io::Error::other(format!("resolving {host}: {e}")))??;
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    Ok(found)
}

/// `host` as an IP address, if it is a literal (`[v6]` with its brackets too).
fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_roundtrip() {
        for a in ["127.0.0.1:8080", "[::1]:443", "10.1.2.3:1"] {
            let addr: SocketAddr = a.parse().unwrap();
            let (st, _) = sockaddr(&addr);
            assert_eq!(from_sockaddr(&st), Some(addr));
        }
    }

    #[test]
    fn bind_sockets_shares_the_port_and_sets_flags() {
        let socks = bind_sockets(0, "localhost").unwrap();
        assert!(!socks.is_empty());
        let port = socks[0].local_addr().unwrap().port();
        for s in &socks {
            assert_eq!(s.local_addr().unwrap().port(), port);
            assert!(is_cloexec(s.as_raw_fd()).unwrap());
            assert!(s.local_addr().unwrap().ip().is_loopback());
        }
        assert!(bind_sockets(0, "not-an-address").is_err());
    }

    #[test]
    fn dup_listener_is_cloexec_and_shares_the_socket() {
        let l = bind_sockets(0, "127.0.0.1").unwrap().remove(0);
        let d = dup_listener(&l).unwrap();
        assert_ne!(d.as_raw_fd(), l.as_raw_fd());
        assert!(is_cloexec(d.as_raw_fd()).unwrap());
        assert_eq!(d.local_addr().unwrap(), l.local_addr().unwrap());
        // A connection queued on the socket is accepted through the copy, even after the
        // original descriptor is closed.
        let addr = l.local_addr().unwrap();
        drop(l);
        let _c = TcpStream::connect(addr).unwrap();
        d.set_nonblocking(false).unwrap();
        assert!(d.accept().is_ok());
    }

    #[test]
    fn unix_socket_replaces_stale_file() {
        let dir = std::env::temp_dir().join(format!("squall-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.sock");
        let a = bind_unix_socket(&p).unwrap();
        drop(a);
        let b = bind_unix_socket(&p).unwrap();
        assert!(is_cloexec(b.as_raw_fd()).unwrap());
        drop(b);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Polls `f` once, outside any loop: a literal must not need the executor or a wake-up.
    fn poll_once<F: std::future::Future>(f: F) -> std::task::Poll<F::Output> {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        f.as_mut().poll(&mut cx)
    }

    #[test]
    fn ip_literals_resolve_at_once_without_a_lookup() {
        for (host, want) in [
            ("127.0.0.1", "127.0.0.1:80"),
            ("::1", "[::1]:80"),
            ("[::1]", "[::1]:80"),
            ("10.0.0.7", "10.0.0.7:80"),
        ] {
            match poll_once(resolve(host, 80)) {
                std::task::Poll::Ready(Ok(a)) => assert_eq!(a, vec![want.parse().unwrap()]),
                other => panic!("{host}: {other:?}"),
            }
        }
        // A name is not resolved inline: it is no literal, so it goes to the executor. (Polling
        // `resolve("localhost")` once raced a warm executor thread that can answer from
        // /etc/hosts before the first poll looks: Ready there is no inline lookup.)
        assert_eq!(ip_literal("localhost"), None);
        assert_eq!(ip_literal("[localhost]"), None);
    }

    #[test]
    fn names_resolve_on_the_executor() {
        let l = crate::ioloop::IOLoop::new().unwrap();
        let addrs = l.run_sync(resolve("localhost", 8080)).unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080));
        // A name the resolver refuses (before any query: it holds a NUL) is an error.
        assert!(l.run_sync(resolve("bad\0name", 80)).is_err());
    }
}
