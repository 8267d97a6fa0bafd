//! A TCP echo server on `TcpServer` + `IOStream`, like Tornado's TCP demo: each line a client
//! sends comes back to it.
//!
//! ```sh
//! cargo run --example echo -- --port 8888
//! printf 'hello\n' | nc -q1 127.0.0.1 8888
//! ```
//!
//! `SIGTERM` or `SIGINT` stops it: no new connections, exit status 0.

mod common;

use squall::ioloop::IOLoop;
use squall::tcpserver::TcpServer;

fn main() -> std::io::Result<()> {
    let args = common::Args::parse();
    let server = TcpServer::new(|stream, addr| {
        squall::task::spawn(async move {
            // Lines of up to 64 KiB; a longer line or a closed peer ends the session.
            while let Ok(line) = stream.read_until(b"\n", 64 * 1024).await {
                if stream.write(&line).await.is_err() {
                    break;
                }
            }
            eprintln!("{addr} disconnected");
        });
    });
    // SIGTERM or SIGINT: stop accepting and leave the loop (an echo session has no request to
    // finish: its open connections close with the process), exit status 0. Handled before
    // listening, so a signal as soon as clients can connect finds it.
    let io_loop = IOLoop::current();
    let (l, s) = (io_loop.clone(), server.clone());
    let _stop = squall::process::add_stop_signal_handler(&io_loop, move |_| {
        s.stop();
        l.stop();
    })?;
    server.listen(args.port, &args.address)?;
    println!("echo server on {}:{}", args.address, args.port);
    io_loop.start();
    Ok(())
}
