//! Out of file descriptors: the accept loop backs off on a timer instead of spinning on a
//! listener that stays readable, then accepts the waiting connections once descriptors free up.
//! (Its own test binary: it lowers the process's descriptor limit.)

use std::net::TcpStream;
use std::time::{Duration, Instant};

use squall::ioloop::IOLoop;
use squall::tcpserver::TcpServer;

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn open_fds() -> u64 {
    // The listing's own directory descriptor is in it: not counted.
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1
}

fn set_nofile(n: u64) {
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit/setrlimit with a live struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur = n as libc::rlim_t;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

#[test]
fn accept_backs_off_on_emfile_without_spinning() {
    let l = IOLoop::new().unwrap();
    l.make_current();
    // Accepted streams are kept, so each accept uses up a descriptor for good.
    let kept = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let k2 = kept.clone();
    let server = TcpServer::on(&l, move |stream, _addr| k2.borrow_mut().push(stream));
    server.listen(0, "127.0.0.1").unwrap();
    let addr = server.local_addrs()[0];
    // Connections the kernel completes in the backlog, waiting for accept.
    let clients: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let original = {
        let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        lim.rlim_cur as u64
    };
    // No descriptor left: every accept4 fails with EMFILE. (Lower the limit near the current
    // count, then use up whatever slack is left.)
    set_nofile(open_fds() + 2);
    let mut hogs = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hogs.push(f);
    }
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let l2 = l.clone();
    l.call_later(Duration::from_millis(400), move || l2.stop());
    l.start();
    let busy = cpu_time() - cpu0;
    assert!(t0.elapsed() >= Duration::from_millis(390));
    assert_eq!(server.accepted(), 0);
    // A spinning loop would burn the whole 400 ms; the back-off retries ~4 times.
    assert!(
        busy < Duration::from_millis(150),
        "accept loop spun: {busy:?} of CPU in 400 ms"
    );
    // Descriptors free up: the waiting connections are accepted after the back-off.
    drop(hogs);
    set_nofile(original);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.accepted() < 5 {
        assert!(
            Instant::now() < deadline,
            "connections never accepted after EMFILE"
        );
        let l2 = l.clone();
        l.call_later(Duration::from_millis(50), move || l2.stop());
        l.start();
    }
    drop(clients);
}
