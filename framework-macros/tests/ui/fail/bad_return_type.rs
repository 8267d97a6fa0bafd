use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, _cx: &mut Context) -> u32 {
        7
    }
}

fn main() {}
