//! Close-on-exec: a program started while the server holds a listener, an accepted connection
//! and a client connection inherits none of them, whether it is started by `Subprocess` or by
//! plain `std::process::Command`. It gets 0, 1 and 2, plus the directory `ls` itself opens, plus
//! whatever the test process itself inherited without close-on-exec from whoever started it
//! (a CI runner's or a shell's descriptors, which are not Squall's to close).

use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use squall::ioloop::IOLoop;
use squall::iostream::IOStream;
use squall::netutil::{bind_sockets, is_cloexec};
use squall::process::Subprocess;
use squall::task::{sleep, with_timeout};
use squall::tcpserver::TcpServer;

const LIMIT: Duration = Duration::from_secs(20);

/// `ls -l /proc/self/fd` output: (fd, link target) per entry.
fn parse_fd_listing(out: &[u8]) -> Vec<(RawFd, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_string()))
        })
        .collect()
}

/// Descriptors this process was started with, beyond stdio, that lack FD_CLOEXEC: they were
/// handed down by the environment and pass on to any child, whatever Squall does.
fn inherited_from_environment() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .filter(|&fd| fd > 2 && is_cloexec(fd).is_ok_and(|c| !c))
        .collect()
}

fn check_listing(who: &str, out: &[u8], ours: &[RawFd], inherited: &[RawFd]) {
    let fds = parse_fd_listing(out);
    let numbers: Vec<RawFd> = fds.iter().map(|(fd, _)| *fd).collect();
    assert!(
        numbers.contains(&0) && numbers.contains(&1) && numbers.contains(&2),
        "{who}: stdio missing from {fds:?}\n{}",
        String::from_utf8_lossy(out)
    );
    for fd in ours {
        assert!(!numbers.contains(fd), "{who}: inherited fd {fd}: {fds:?}");
    }
    for (fd, target) in &fds {
        // Anything beyond stdio must be ls's own handle on the directory it lists.
        assert!(
            *fd <= 2
                || inherited.contains(fd)
                || (target.starts_with("/proc/") && target.ends_with("/fd")),
            "{who}: unexpected fd {fd} -> {target} in {fds:?}"
        );
    }
}

#[test]
fn children_inherit_no_socket() {
    let inherited = inherited_from_environment();
    let l = IOLoop::new().unwrap();
    l.run_sync(async move {
        with_timeout(LIMIT, async {
            let mut socks = bind_sockets(0, "127.0.0.1").unwrap();
            let listener = socks.remove(0);
            let addr = listener.local_addr().unwrap();
            let listener_fd = listener.as_raw_fd();
            let accepted: Rc<RefCell<Option<IOStream>>> = Rc::new(RefCell::new(None));
            let a2 = accepted.clone();
            let server = TcpServer::new(move |s, _| *a2.borrow_mut() = Some(s));
            server.add_sockets(vec![listener]).unwrap();
            let client = IOStream::connect(addr).await.unwrap();
            let deadline = Instant::now() + LIMIT;
            while accepted.borrow().is_none() {
                assert!(Instant::now() < deadline, "no connection accepted");
                sleep(Duration::from_millis(2)).await;
            }
            let server_fd = accepted.borrow().as_ref().unwrap().fd();
            let ours = [listener_fd, client.fd(), server_fd];
            for fd in ours {
                assert!(is_cloexec(fd).unwrap(), "fd {fd} lacks FD_CLOEXEC");
            }

            // Through Subprocess, with all three stdio piped (the pipes are Squall's too).
            let p = Subprocess::spawn(
                Command::new("ls")
                    .args(["-l", "/proc/self/fd"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
            .unwrap();
            for s in [&p.stdin, &p.stdout, &p.stderr] {
                assert!(is_cloexec(s.as_ref().unwrap().fd()).unwrap());
            }
            let out = p.stdout.as_ref().unwrap().read_until_close().await.unwrap();
            assert!(p.wait_for_exit().await.unwrap().success());
            check_listing("Subprocess", &out, &ours, &inherited);

            // Through plain std::process::Command, while the loop's reaper pipe exists as well.
            let out = Command::new("ls")
                .args(["-l", "/proc/self/fd"])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success());
            check_listing("Command", &out.stdout, &ours, &inherited);

            drop(client);
            drop(server);
        })
        .await
        .expect("timed out")
    });
}
