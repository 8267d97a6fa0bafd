// The item form: a module with the table and one constant per named route; handlers of the
// parent module are in scope, and both name forms reverse.
use squall::prelude::*;

#[derive(Clone, Default)]
struct Main;

#[handler]
impl Main {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let a = cx.reverse_url(urls::user, &[&1])?;
        let b = cx.reverse_url("user", &[&1])?;
        cx.write(format!("{a} {b}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, _cx: &mut Context, _id: u64) -> Result<()> {
        Ok(())
    }
}

routes! {
    /// This app's routes.
    pub(crate) mod urls {
        (r"/", Main, name = "home"),
        (r"/user/(\d+)", User, name = "user"),
        (r"/static/(.*)", StaticFileHandler::new("static")),
    }
}

fn main() {
    let app = Application::new(urls::routes());
    assert_eq!(app.reverse_url(urls::home, &[]).unwrap(), "/");
    assert_eq!(urls::user.as_str(), "user");
    assert_eq!(urls::user.groups(), 1);
}
