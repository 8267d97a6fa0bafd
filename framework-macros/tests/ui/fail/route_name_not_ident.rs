// In the item form each name becomes a constant, so it must be an identifier.
use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
}

routes! {
    pub mod urls {
        (r"/a", Page, name = "user-page"),
        (r"/b", Page, name = "routes"),
        (r"/c", Page, name = "fine"),
    }
}

fn main() {}
