use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context, _a: String) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = routes![(r"/(a|b)+/((x))", Page, name = "page")];
}
