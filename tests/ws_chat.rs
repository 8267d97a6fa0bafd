//! The showcase's `/ws/chat` (websocket-contract.md "Routes"): every text message reaches
//! every member, the sender included, in each sender's order; a member that vanishes or stops
//! reading does not stop or delay the others.

use std::time::{Duration, Instant};

use squall_tests::showcase_support::showcase;
use squall_tests::ws::{WsClient, OP_TEXT};

#[test]
fn every_message_reaches_every_member_in_each_senders_order() {
    let server = showcase();
    let addr = server.addr();
    let mut members: Vec<WsClient> = (0..4)
        .map(|_| WsClient::connect(addr, "/ws/chat"))
        .collect();
    for round in 0..20 {
        for (i, m) in members.iter_mut().enumerate() {
            m.send_text(&format!("{i}:{round}"));
        }
    }
    for m in members.iter_mut() {
        // 80 messages; per sender, rounds in order.
        let mut next = [0usize; 4];
        for _ in 0..80 {
            let t = m.read_text();
            let (who, round) = t.split_once(':').unwrap();
            let who: usize = who.parse().unwrap();
            assert_eq!(round.parse::<usize>().unwrap(), next[who], "{t}");
            next[who] += 1;
        }
        assert_eq!(next, [20; 4]);
    }
    for mut m in members {
        m.close_cleanly();
    }
}

#[test]
fn a_vanished_or_stalled_member_does_not_hold_up_the_others() {
    let server = showcase();
    let addr = server.addr();
    let mut sender = WsClient::connect(addr, "/ws/chat");
    let mut reader = WsClient::connect(addr, "/ws/chat");
    let stalled = WsClient::connect(addr, "/ws/chat"); // never reads
    let vanished = WsClient::connect(addr, "/ws/chat");
    drop(vanished); // gone without a Close
    let big = "x".repeat(16 * 1024);
    let n = 400; // 6.4 MiB to each member: more than a stalled socket and its limit hold
                 // The live reader reads as the messages come, in its own thread.
    let live = std::thread::spawn(move || {
        for i in 0..n {
            let t = reader.read_text();
            assert!(t.starts_with(&format!("{i} ")), "message {i} out of order");
        }
        reader
    });
    let t0 = Instant::now();
    for i in 0..n {
        sender.send_text(&format!("{i} {big}"));
        // Keep the sender's own echo drained, as a live client would.
        let t = sender.read_text();
        assert!(t.starts_with(&format!("{i} ")));
    }
    let mut reader = live.join().expect("the live member missed messages");
    assert!(t0.elapsed() < Duration::from_secs(30));
    // The room still works.
    sender.send_text("after");
    assert_eq!(reader.read_text(), "after");
    assert_eq!(sender.read_text(), "after");
    drop(stalled);
}

#[test]
fn binary_messages_are_not_broadcast() {
    let server = showcase();
    let addr = server.addr();
    let mut a = WsClient::connect(addr, "/ws/chat");
    let mut b = WsClient::connect(addr, "/ws/chat");
    a.send_binary(b"not chat");
    a.send_text("chat");
    let (op, data) = b.read_message();
    assert_eq!((op, data.as_slice()), (OP_TEXT, &b"chat"[..]));
    assert_eq!(a.read_text(), "chat");
}
