// Registering a raw fd is unsafe (the caller must keep it open while registered); safe code
// uses IOLoop::register, whose Registration owns the fd.
use squall::ioloop::{Events, IOLoop};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

fn main() {
    let io_loop = IOLoop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    io_loop
        .add_handler(a.as_raw_fd(), Events::READ, |_, _| {})
        .unwrap();
    drop(a); // closed while still registered: what the unsafe contract forbids
}
