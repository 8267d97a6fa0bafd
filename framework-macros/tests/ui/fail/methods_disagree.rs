use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context, _id: u64) -> Result<()> {
        Ok(())
    }
    fn post(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
}

fn main() {}
