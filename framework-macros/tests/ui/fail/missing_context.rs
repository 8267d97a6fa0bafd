use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self) -> Result<()> {
        Ok(())
    }
}

fn main() {}
