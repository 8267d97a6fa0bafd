// `Shared::with` lends the state to a synchronous closure only: neither the reference nor a
// future holding it can leave the closure, so no borrow can live across an `.await`.
use squall::state::Shared;

struct Counter {
    hits: u64,
}

async fn later() {}

fn main() {
    let state = Shared::new(Counter { hits: 0 });
    // The reference itself cannot escape...
    let hits: &mut u64 = state.with(|c| &mut c.hits);
    *hits += 1;
    // ...nor can a future that would hold it across an await.
    let _f = state.with(|c| async move {
        later().await;
        c.hits += 1;
    });
}
