//! Tests of the loop core: fd handlers in both trigger modes, stale events, callbacks,
//! timers, the cross-thread handle, `run_sync`.

use super::fd_handlers::key_of;
use super::*;
use polling::Event;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

#[test]
fn events_bits_match_tornado() {
    assert_eq!(Events::READ.bits(), 0x001);
    assert_eq!(Events::WRITE.bits(), 0x004);
    assert_eq!(Events::ERROR.bits(), 0x018);
    let e = Events::READ | Events::ERROR;
    assert!(e.contains(Events::READ));
    assert!(!e.contains(Events::WRITE));
    assert_eq!((e & Events::ERROR), Events::ERROR);
    assert!(Events::NONE.contains(Events::NONE));
    assert!(!Events::NONE.contains(Events::READ));
    assert_eq!(format!("{:?}", e), "Events(READ | ERROR)");
}

#[test]
fn timers_run_in_deadline_order_and_cancel() {
    let l = IOLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let base = Instant::now();
    for (i, ms) in [(1, 30u64), (2, 10), (3, 20), (4, 10)] {
        let log = log.clone();
        l.call_at(base + Duration::from_millis(ms), move || {
            log.borrow_mut().push(i)
        });
    }
    let log2 = log.clone();
    let cancelled = l.call_at(base + Duration::from_millis(15), move || {
        log2.borrow_mut().push(99)
    });
    assert!(l.remove_timeout(cancelled));
    assert!(
        !l.remove_timeout(cancelled),
        "second cancel reports nothing pending"
    );
    let l2 = l.clone();
    l.call_at(base + Duration::from_millis(40), move || l2.stop());
    l.start();
    assert_eq!(*log.borrow(), vec![2, 4, 3, 1]);
}

#[test]
fn callbacks_added_by_callbacks_run_next_turn() {
    let l = IOLoop::new().unwrap();
    let n = Rc::new(Cell::new(0u32));
    fn again(l: IOLoop, n: Rc<Cell<u32>>) {
        n.set(n.get() + 1);
        if n.get() == 100 {
            l.stop();
        } else {
            let l2 = l.clone();
            l.add_callback(move || again(l2, n));
        }
    }
    let (l2, n2) = (l.clone(), n.clone());
    l.add_callback(move || again(l2, n2));
    l.start();
    assert_eq!(n.get(), 100);
}

#[test]
fn panicking_callback_does_not_kill_the_loop() {
    let l = IOLoop::new().unwrap();
    l.add_callback(|| panic!("boom (expected by this test)"));
    l.call_later(Duration::from_millis(1), || panic!("timer boom (expected)"));
    let l2 = l.clone();
    let ran = Rc::new(Cell::new(false));
    let r2 = ran.clone();
    l.call_later(Duration::from_millis(5), move || {
        r2.set(true);
        l2.stop();
    });
    l.start();
    assert!(ran.get());
}

fn fd_handler_roundtrip(trigger: Trigger) {
    let l = IOLoop::builder().trigger(trigger).build().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s2, l2) = (seen.clone(), l.clone());
    let fd = a.as_raw_fd();
    let a = Rc::new(a);
    let a2 = a.clone();
    // The safe form: the registration owns (a handle to) the stream.
    let reg = l
        .register(a, Events::READ, move |fd2, ev| {
            assert_eq!(fd2, fd);
            let mut buf = [0u8; 16];
            let n = std::io::Read::read(&mut &*a2, &mut buf).unwrap_or(0);
            s2.borrow_mut().push((ev, n));
            if s2.borrow().len() == 2 {
                l2.stop();
            }
        })
        .unwrap();
    assert_eq!(reg.fd(), fd);
    std::io::Write::write_all(&mut b, b"abc").unwrap();
    let b = RefCell::new(Some(b));
    l.call_later(Duration::from_millis(5), move || {
        drop(b.borrow_mut().take()); // hang up: READ (EOF) plus ERROR
    });
    l.start();
    let seen = seen.borrow();
    assert_eq!(seen[0], (Events::READ, 3));
    assert!(seen[1].0.contains(Events::READ));
    assert_eq!(seen[1].1, 0);
    assert_eq!(l.handler_count(), 1);
    let a = reg.into_inner(); // deregistered, still open
    assert_eq!(l.handler_count(), 0);
    assert!(!l.remove_handler(fd));
    drop(a);
}

#[test]
fn dropping_a_registration_deregisters_before_closing() {
    let l = IOLoop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let reg = l.register(a, Events::WRITE, |_, _| {}).unwrap();
    assert_eq!(l.handler_events(fd), Some(Events::WRITE));
    reg.set_events(Events::READ).unwrap();
    assert_eq!(l.handler_events(fd), Some(Events::READ));
    drop(reg);
    assert_eq!(l.handler_count(), 0);
    // The fd number is free and unregistered: a new socket that gets it registers cleanly.
    let (c, _d) = UnixStream::pair().unwrap();
    let reg = l.register(c, Events::READ, |_, _| {}).unwrap();
    assert_eq!(l.handler_count(), 1);
    drop(reg);
    assert_eq!(l.handler_count(), 0);
}

#[test]
fn fd_handler_level() {
    fd_handler_roundtrip(Trigger::Level);
}

#[test]
fn fd_handler_edge() {
    fd_handler_roundtrip(Trigger::Edge);
}

#[test]
fn level_rereports_until_drained_edge_reports_once() {
    for trigger in [Trigger::Level, Trigger::Edge] {
        let l = IOLoop::builder().trigger(trigger).build().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut b, b"x").unwrap();
        let calls = Rc::new(Cell::new(0));
        let c2 = calls.clone();
        // Never reads: level mode calls every turn, edge mode once.
        // SAFETY: `a` stays open until after the remove_handler below.
        unsafe {
            l.add_handler(a.as_raw_fd(), Events::READ, move |_, _| {
                c2.set(c2.get() + 1)
            })
        }
        .unwrap();
        let l2 = l.clone();
        l.call_later(Duration::from_millis(30), move || l2.stop());
        l.start();
        match trigger {
            Trigger::Level => assert!(calls.get() > 5, "level: {}", calls.get()),
            Trigger::Edge => assert_eq!(calls.get(), 1),
        }
        l.remove_handler(a.as_raw_fd());
    }
}

#[test]
fn update_handler_adds_write_interest() {
    let l = IOLoop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let got = Rc::new(Cell::new(Events::NONE));
    let (g2, l2) = (got.clone(), l.clone());
    // SAFETY: `a` stays open until after the remove_handler below.
    unsafe {
        l.add_handler(fd, Events::NONE, move |_, ev| {
            g2.set(ev);
            l2.stop();
        })
    }
    .unwrap();
    assert_eq!(l.handler_events(fd), Some(Events::NONE));
    l.update_handler(fd, Events::WRITE).unwrap();
    l.start();
    assert_eq!(got.get(), Events::WRITE);
    // SAFETY: refused (already registered); `a` is open either way.
    assert!(unsafe { l.add_handler(fd, Events::READ, |_, _| {}) }.is_err());
    l.remove_handler(fd);
    assert!(l.update_handler(fd, Events::READ).is_err());
}

#[test]
fn removed_handler_gets_no_stale_event() {
    // Two fds ready in the same turn; the first handler removes the second and registers a
    // new handler on the same fd number. The old event must not reach the new handler.
    let l = IOLoop::new().unwrap();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut a_peer, b"1").unwrap();
    std::io::Write::write_all(&mut b_peer, b"1").unwrap();
    let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
    let new_calls = Rc::new(Cell::new(0));
    let old_calls = Rc::new(Cell::new(0));
    let mk = |me: RawFd, other: RawFd| {
        let (l2, n2, o2) = (l.clone(), new_calls.clone(), old_calls.clone());
        move |_: RawFd, _: Events| {
            o2.set(o2.get() + 1);
            l2.remove_handler(me);
            l2.remove_handler(other);
            let n3 = n2.clone();
            // Re-register the other fd with WRITE-only interest; a stale READ must not fire.
            // SAFETY: both streams stay open until after the final remove_handler calls.
            unsafe { l2.add_handler(other, Events::NONE, move |_, _| n3.set(n3.get() + 1)) }
                .unwrap();
            let l3 = l2.clone();
            l2.add_callback(move || l3.stop());
        }
    };
    // SAFETY: `a` and `b` stay open until after the final remove_handler calls.
    unsafe { l.add_handler(fa, Events::READ, mk(fa, fb)) }.unwrap();
    // SAFETY: as above.
    unsafe { l.add_handler(fb, Events::READ, mk(fb, fa)) }.unwrap();
    l.start();
    assert_eq!(old_calls.get(), 1, "only one of the two old handlers ran");
    assert_eq!(
        new_calls.get(),
        0,
        "stale event delivered to a new registration"
    );
    l.remove_handler(fa);
    l.remove_handler(fb);
}

#[test]
fn handle_add_callback_from_many_threads() {
    let l = IOLoop::new().unwrap();
    let count = Rc::new(Cell::new(0usize));
    let loop_thread = std::thread::current().id();
    let h = l.handle();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..8 {
        let h = h.clone();
        let done = done.clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..1000 {
                h.add_callback(move || {
                    assert_eq!(std::thread::current().id(), loop_thread);
                    IOLOOP_TEST_COUNT.with(|c| c.set(c.get() + 1));
                })
                .unwrap();
            }
            if done.fetch_add(1, Ordering::SeqCst) == 7 {
                h.add_callback(|| IOLoop::current().stop()).unwrap();
            }
        }));
    }
    let c2 = count.clone();
    l.call_later(Duration::from_secs(20), move || {
        c2.set(usize::MAX);
        IOLoop::current().stop()
    });
    l.start();
    for t in threads {
        t.join().unwrap();
    }
    assert_ne!(
        count.get(),
        usize::MAX,
        "timed out waiting for remote callbacks"
    );
    assert_eq!(IOLOOP_TEST_COUNT.with(|c| c.get()), 8000);
}

thread_local! {
    static IOLOOP_TEST_COUNT: Cell<usize> = const { Cell::new(0) };
}

#[test]
fn handle_wakes_sleeping_loop_at_once() {
    let l = IOLoop::new().unwrap();
    let h = l.handle();
    // A far timer keeps the loop asleep; only the handle can wake it.
    let fallback = l.call_later(Duration::from_secs(20), || IOLoop::current().stop());
    let t0 = Instant::now();
    let th = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        h.add_callback(|| IOLoop::current().stop()).unwrap();
    });
    l.start();
    th.join().unwrap();
    assert!(
        l.remove_timeout(fallback),
        "woke by the fallback timer, not the handle"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let h = l.handle();
    drop(l);
    assert_eq!(h.add_callback(|| {}), Err(LoopClosed));
}

#[test]
fn run_sync_returns_output_and_propagates_panics() {
    let l = IOLoop::new().unwrap();
    assert_eq!(l.run_sync(async { 40 + 2 }), 42);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        l.run_sync(async { panic!("inner (expected by this test)") })
    }));
    assert!(r.is_err());
    // The loop is still usable.
    assert_eq!(l.run_sync(async { 7 }), 7);
}

#[test]
fn handle_wakes_sleeping_loop_every_time() {
    // Each wake-up goes through the poller's notifier, which must be cleared and re-armed
    // after every one (the loop waits on epoll itself and hands notifications to polling).
    let l = IOLoop::new().unwrap();
    let h = l.handle();
    let fallback = l.call_later(Duration::from_secs(20), || IOLoop::current().stop());
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let th = std::thread::spawn(move || {
        for i in 0..200u32 {
            let tx = tx.clone();
            h.add_callback(move || tx.send(i).unwrap()).unwrap();
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(j) => assert_eq!(i, j),
                Err(e) => {
                    h.stop();
                    panic!("wake-up {i} was not delivered: {e}");
                }
            }
            if i % 2 == 0 {
                // Let the loop fall asleep again before the next one.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        h.stop();
    });
    l.start();
    th.join().unwrap();
    assert!(l.remove_timeout(fallback));
}

#[test]
fn waiter_reports_each_ready_fd_once_beside_a_notification() {
    for mode in [polling::PollMode::Level, polling::PollMode::Edge] {
        let poller = Poller::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let key = key_of(a.as_raw_fd(), 7);
        // SAFETY: `a` outlives its registration (deleted below).
        unsafe {
            poller
                .add_with_mode(a.as_raw_fd(), Event::readable(key), mode)
                .unwrap()
        };
        let mut waiter = wait::Waiter::new();
        std::io::Write::write_all(&mut b, b"x").unwrap();
        for round in 0..3 {
            poller.notify().unwrap();
            let t0 = Instant::now();
            let ready = waiter
                .wait(&poller, Some(Duration::from_secs(5)))
                .unwrap()
                .to_vec();
            assert!(t0.elapsed() < Duration::from_secs(4), "{mode:?} {round}");
            let expected = match (mode, round) {
                // Edge: only the first wait sees the byte's arrival.
                (polling::PollMode::Edge, r) if r > 0 => vec![],
                _ => vec![wait::Ready {
                    key,
                    readable: true,
                    writable: false,
                    error: false,
                }],
            };
            assert_eq!(ready, expected, "{mode:?} round {round}");
        }
        // Without a notification, a wait with nothing new times out empty (edge) or reports
        // the still-readable fd (level), and never the notifier.
        let ready = waiter
            .wait(&poller, Some(Duration::from_millis(20)))
            .unwrap()
            .to_vec();
        assert_eq!(ready.len(), usize::from(mode == polling::PollMode::Level));
        poller.delete(&a).unwrap();
    }
}

#[test]
fn waiter_rounds_a_sub_millisecond_timeout_up() {
    let poller = Poller::new().unwrap();
    let mut waiter = wait::Waiter::new();
    let t0 = Instant::now();
    let ready = waiter
        .wait(&poller, Some(Duration::from_micros(300)))
        .unwrap();
    assert!(ready.is_empty());
    assert!(t0.elapsed() >= Duration::from_micros(300));
}
