use squall::prelude::*;
use squall::websocket::CompressionOptions;

#[derive(Clone, Default)]
struct Room {
    name: String,
}

// Every hook, a path argument, and an async on_message.
#[websocket_handler]
impl Room {
    fn open(&mut self, _cx: &mut Context, ws: &WebSocket, name: String) -> Result<()> {
        self.name = name;
        ws.write_message("welcome")?;
        Ok(())
    }

    async fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
        squall::task::yield_now().await;
        ws.write_message(message)?;
        Ok(())
    }

    fn on_ping(&mut self, _ws: &WebSocket, _data: &[u8]) {}

    fn on_pong(&mut self, _ws: &WebSocket, _data: &[u8]) {}

    fn on_close(&mut self, _ws: &WebSocket, _code: Option<u16>, _reason: &str) {}

    fn check_origin(&mut self, _cx: &mut Context, origin: &str) -> bool {
        origin.starts_with("https://")
    }

    fn select_subprotocol(&mut self, offered: &[&str]) -> Option<String> {
        offered.first().map(|s| s.to_string())
    }

    fn get_compression_options(&mut self, _cx: &mut Context) -> Option<CompressionOptions> {
        Some(CompressionOptions::default())
    }
}

// No hooks at all: a socket that ignores what it receives.
#[derive(Clone, Default)]
struct Sink;

#[websocket_handler]
impl Sink {}

fn main() {
    let _ = Application::new(routes![
        (r"/room/([a-z]+)", Room),
        (r"/sink", Sink),
    ]);
}
