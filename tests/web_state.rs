//! `Shared` state from outside: many async requests interleaving on one loop change one value
//! through `with` (no borrow held across their awaits, so none fails), and a misuse (a `with`
//! inside a `with` of the same value) is a 500 that leaves the server and the value usable.

use std::time::Duration;

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

#[derive(Default)]
struct Stats {
    started: u64,
    finished: u64,
    log: Vec<u64>,
}

#[derive(Clone)]
struct Count {
    stats: Shared<Stats>,
}

#[handler]
impl Count {
    /// Touches the state, waits on the loop's timer (other requests run meanwhile), touches it
    /// again.
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let n = self.stats.with(|s| {
            s.started += 1;
            s.started
        });
        squall::task::sleep(Duration::from_millis(20)).await;
        self.stats.with(|s| {
            s.finished += 1;
            s.log.push(n);
        });
        cx.write(n.to_string());
        Ok(())
    }

    /// `with` inside `with`: a programming error, answered 500.
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let again = self.stats.clone();
        self.stats.with(|_| again.with(|s| s.started += 1000));
        cx.write("unreachable");
        Ok(())
    }
}

#[derive(Clone)]
struct Show {
    stats: Shared<Stats>,
}

#[handler]
impl Show {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let (a, b, len) = self.stats.with(|s| (s.started, s.finished, s.log.len()));
        cx.write(format!("{a} {b} {len}"));
        Ok(())
    }
}

fn app() -> Application {
    let stats = Shared::new(Stats::default());
    Application::with_settings(
        routes![
            (
                r"/count",
                Count {
                    stats: stats.clone()
                }
            ),
            (r"/show", Show { stats }),
        ],
        Settings::default(),
    )
    .unwrap()
}

#[test]
fn interleaved_async_requests_share_one_value() {
    let server = TestServer::start(app);
    let addr = server.addr();
    let n = 16;
    let threads: Vec<_> = (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = TestClient::connect_to(addr);
                (0..3).map(|_| c.get("/count").status()).collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), [200, 200, 200]);
    }
    let total = n * 3;
    let r = TestClient::new(&server).get("/show");
    assert_eq!(r.text(), format!("{total} {total} {total}"));
}

#[test]
fn a_nested_with_is_a_500_and_the_value_stays_usable() {
    let server = TestServer::start(app);
    let mut c = TestClient::new(&server);
    let r = c.request("POST", "/count").body("").send();
    assert_eq!(r.status(), 500);
    assert!(!r.text().contains("another with"), "panic text leaked");
    assert_eq!(c.get("/count").text(), "1");
    assert_eq!(TestClient::new(&server).get("/show").text(), "1 1 1");
}
