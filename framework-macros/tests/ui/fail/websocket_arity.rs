use squall::prelude::*;

#[derive(Clone, Default)]
struct Room;

#[websocket_handler]
impl Room {
    fn open(&mut self, _cx: &mut Context, _ws: &WebSocket, _name: String) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let _ = routes![(r"/room", Room)];
}
