// The item form of routes! declares a constant per named route: a misspelt name in
// reverse_url is a compile error at the misspelling (the string form is checked at run time).
use squall::prelude::*;

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        let url = cx.reverse_url(urls::usr, &[&id])?;
        cx.write(url);
        Ok(())
    }
}

routes! {
    mod urls {
        (r"/user/(\d+)", User, name = "user"),
    }
}

fn main() {
    let _ = Application::new(urls::routes());
}
