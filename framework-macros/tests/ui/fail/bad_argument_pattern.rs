use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context, (a, b): (u32, u32)) -> Result<()> {
        let _ = (a, b);
        Ok(())
    }
}

fn main() {}
