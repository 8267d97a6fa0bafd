use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = routes![(r"/a", Page, name = "page"), (r"/b", Page, name = "page")];
}
