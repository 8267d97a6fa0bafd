use squall::prelude::*;

#[derive(Clone, Default)]
struct Everything;

#[handler]
impl Everything {
    async fn prepare(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
    fn get(&mut self, cx: &mut Context, id: u64, page: Option<u32>) -> Result<()> {
        cx.write(format!("{id} {page:?}"));
        Ok(())
    }
    async fn post(&mut self, _cx: &mut Context, _id: u64, _page: Option<u32>) -> Result<()> {
        squall::task::sleep(std::time::Duration::from_millis(1)).await;
        Ok(())
    }
    #[xsrf_exempt]
    fn delete(&mut self, _cx: &mut Context, _id: u64, _page: Option<u32>) {}
    fn on_finish(&mut self, _cx: &mut Context) {}
    fn on_connection_close(&mut self) {}
    fn write_error(&mut self, cx: &mut Context, status: u16, _e: &HttpError) -> Result<()> {
        cx.write(format!("custom {status}"));
        Ok(())
    }
    // Not a method or hook: left alone.
    fn helper(&self) -> u8 {
        1
    }
}

#[derive(Clone)]
struct Stateful {
    name: std::rc::Rc<String>,
}

#[handler(xsrf_exempt)]
impl Stateful {
    fn get(&mut self, cx: &mut Context, rest: String) -> std::result::Result<(), HttpError> {
        cx.write(format!("{} {rest}", self.name));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Upload {
    bytes: usize,
}

#[handler(stream_request_body)]
impl Upload {
    fn body_started(&mut self, _request: &squall::http1::Request) -> Result<()> {
        Ok(())
    }
    fn data_received(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len();
        Ok(())
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        cx.write(self.bytes.to_string());
        Ok(())
    }
}

const HELLO: &str = "hello";

fn main() {
    let shared = std::rc::Rc::new(String::from("shared"));
    let stateful = Stateful { name: shared.clone() };
    let app = Application::new(routes![
        (r"/(\d+)-(\d+)?", Everything::default()),
        (r"/e/(\d+)(?:/(\d+))?", Everything),
        (r"/f/(\d+)/(\d+)", Everything, name = "e"),
        (r"/s/(.*)", Stateful { name: shared }),
        (r"/t/(.*)", stateful),
        (r"/upload", Upload),
        (r"/lit\.txt", Upload::default()),
    ]);
    let _ = app.reverse_url("e", &[&1, &2]);
    let _ = HELLO;
    let _ = Everything.helper();
}
