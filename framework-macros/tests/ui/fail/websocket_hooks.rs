use squall::prelude::*;

#[derive(Clone, Default)]
struct Bad;

#[websocket_handler]
impl Bad {
    fn open(&mut self, _ws: &WebSocket) -> Result<()> {
        Ok(())
    }

    fn on_message(&mut self, _message: Message<'_>) -> Result<()> {
        Ok(())
    }

    async fn on_close(&mut self, _ws: &WebSocket, _code: Option<u16>, _reason: &str) {}

    fn on_ping(self, _ws: &WebSocket, _data: &[u8]) {}
}

fn main() {}
