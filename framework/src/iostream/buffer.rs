//! The byte buffer behind a stream's reads and writes.

/// A byte buffer whose consumed prefix is dropped lazily.
#[derive(Default)]
pub(super) struct Buffer {
    pub(super) data: Vec<u8>,
    pub(super) start: usize,
}

impl Buffer {
    pub(super) fn len(&self) -> usize {
        self.data.len() - self.start
    }
    pub(super) fn bytes(&self) -> &[u8] {
        &self.data[self.start..]
    }
    pub(super) fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }
    pub(super) fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.data[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }
    /// Makes room for at least `want` more bytes at the end, compacting first if that suffices.
    pub(super) fn reserve(&mut self, want: usize) {
        if self.data.capacity() - self.data.len() >= want {
            return;
        }
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.reserve(want);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_consume_and_reserve() {
        let mut b = Buffer::default();
        b.data.extend_from_slice(b"hello world");
        b.consume(6);
        assert_eq!(b.bytes(), b"world");
        b.reserve(1000);
        assert_eq!(b.bytes(), b"world");
        assert_eq!(b.take(3), b"wor");
        b.consume(10);
        assert_eq!(b.len(), 0);
        assert_eq!(b.start, 0);
    }
}
