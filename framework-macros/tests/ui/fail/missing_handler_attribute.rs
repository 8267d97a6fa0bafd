use squall::prelude::*;

#[derive(Clone, Default)]
struct Plain;

impl Plain {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = Plain::get;
    let _ = routes![(r"/", Plain)];
}
