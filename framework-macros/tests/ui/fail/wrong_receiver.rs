use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
    fn post(cx: &mut Context) -> Result<()> {
        let _ = cx;
        Ok(())
    }
}

fn main() {}
