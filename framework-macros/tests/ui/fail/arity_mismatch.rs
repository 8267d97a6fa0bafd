use squall::prelude::*;

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, _cx: &mut Context, _id: u64) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = routes![(r"/user/(\d+)/(\w+)", User)];
}
