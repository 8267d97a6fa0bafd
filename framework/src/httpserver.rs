//! [`HTTPServer`]: a [`TcpServer`] whose connections speak HTTP/1.1 to a request delegate.
//!
//! The delegate is anything implementing [`HttpDelegate`]: a closure
//! `Fn(Request, Responder)` for low-level use, or the web layer's
//! [`Application`](crate::web::Application).

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;

use crate::http1::{Conn, ServerCore};
use crate::ioloop::IOLoop;
use crate::tcpserver::TcpServer;

pub use crate::http1::{BodyMode, HttpDelegate, HttpServerOptions, Request, Responder};

/// An HTTP/1.1 server on the current loop.
///
/// # Examples
///
/// ```no_run
/// use squall::httpserver::{HTTPServer, HttpServerOptions};
/// use squall::http1::{Request, Responder};
///
/// let mut options = HttpServerOptions::default();
/// options.xheaders = true;
/// let server = HTTPServer::with_options(
///     |_req: Request, res: Responder| res.respond(200, &[("Content-Type", "text/plain")], b"hi"),
///     options,
/// );
/// server.listen(8888, "127.0.0.1").unwrap();
/// squall::ioloop::IOLoop::current().start();
/// ```
#[derive(Clone)]
pub struct HTTPServer {
    tcp: TcpServer,
    core: Rc<ServerCore>,
}

impl fmt::Debug for HTTPServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HTTPServer")
            .field("addrs", &self.tcp.local_addrs())
            .field("connections", &self.core.connection_count())
            .field("options", &self.core.options)
            .finish()
    }
}

impl HTTPServer {
    /// A server with default options on the current loop.
    pub fn new<D: HttpDelegate>(delegate: D) -> HTTPServer {
        HTTPServer::with_options(delegate, HttpServerOptions::default())
    }

    /// A server with the given options on the current loop.
    pub fn with_options<D: HttpDelegate>(delegate: D, options: HttpServerOptions) -> HTTPServer {
        HTTPServer::on(&IOLoop::current(), Box::new(delegate), options)
    }

    /// A server on a given loop (one loop per thread in threaded mode).
    pub fn on(
        io_loop: &IOLoop,
        delegate: Box<dyn HttpDelegate>,
        options: HttpServerOptions,
    ) -> HTTPServer {
        let core = ServerCore::new(delegate, options);
        let c2 = core.clone();
        let tcp = TcpServer::on(io_loop, move |stream, addr| Conn::start(&c2, stream, addr));
        HTTPServer { tcp, core }
    }

    /// Binds `port` on `address` and starts serving.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn listen(&self, port: u16, address: &str) -> io::Result<()> {
        self.tcp.listen(port, address)
    }

    /// Serves on already-bound listeners.
    ///
    /// # Errors
    ///
    /// Fails if a listener cannot be registered on the loop.
    pub fn add_sockets(&self, sockets: Vec<TcpListener>) -> io::Result<()> {
        self.tcp.add_sockets(sockets)
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.local_addrs()
    }

    /// The server's options.
    pub fn options(&self) -> &HttpServerOptions {
        &self.core.options
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.core.connection_count()
    }

    /// Connections with a request in flight.
    pub fn busy_count(&self) -> usize {
        self.core.busy_count()
    }

    /// Stops accepting new connections (open ones are served on).
    pub fn stop(&self) {
        self.tcp.stop();
    }

    /// Stops accepting, closes idle connections now and busy ones once their current response
    /// is sent (requests already received on them are still answered).
    pub fn drain(&self) {
        self.tcp.stop();
        self.core.drain();
    }

    /// Closes every open connection at once.
    pub fn close_all_connections(&self) {
        self.core.close_all();
    }
}
