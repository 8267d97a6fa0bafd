use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context, _raw: Vec<u8>) -> Result<()> {
        Ok(())
    }
}

fn main() {}
