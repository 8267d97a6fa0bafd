// The loop and what is registered on it stay on their thread: the compiler refuses to send
// them; only IOLoopHandle crosses threads.
use squall::ioloop::IOLoop;

fn require_send<T: Send>(_: T) {}

fn main() {
    let l = IOLoop::new().unwrap();
    require_send(l.handle()); // fine
    require_send(l);
}
