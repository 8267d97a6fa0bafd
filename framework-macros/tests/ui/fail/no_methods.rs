use squall::prelude::*;

#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn helper(&self) {}
}

fn main() {}
