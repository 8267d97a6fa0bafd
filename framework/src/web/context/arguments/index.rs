//! [`ArgIndex`]: the arguments of one source (a query string, a body) grouped by name.
//!
//! ### Linear time, whatever the names
//!
//! Grouping looks each name up in a hash table keyed with [`RandomState`] (SipHash with
//! per-process random keys, so a client cannot choose names that collide), twice per argument:
//! once to count each name's arguments, once to put every argument in its group's place (a
//! counting sort). A lookup by name is one more hash lookup. Nothing compares an argument with
//! every other: the cost is linear in the number of arguments, for distinct and repeated names
//! alike.
//!
//! ### Small, and borrowed
//!
//! An argument is a `u32` *handle*: whatever its source needs to find it again (the offset of
//! its segment in a urlencoded text, the index of a multipart field). Names and values stay in
//! the source and are decoded when asked for, so an index costs 4 bytes per argument plus, per
//! distinct name, 8 bytes and a table slot (~5-11 bytes).

use std::borrow::Cow;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Arguments grouped by name; see the [module docs](self).
#[derive(Default)]
pub(crate) struct ArgIndex {
    /// Every argument's handle, grouped: the groups in the order their names first appear,
    /// each group in the order its arguments came.
    handles: Vec<u32>,
    /// Per group, in the same order: its first argument's handle (to compare names with), and
    /// where its run in `handles` ends (it starts where the previous one ends).
    groups: Vec<(u32, u32)>,
    /// Group numbers, by the hash of their name.
    table: HashTable<u32>,
    hasher: RandomState,
}

/// `n` as a `u32`: counts of arguments, which the sources keep below `u32::MAX`.
fn as_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl ArgIndex {
    /// Groups the arguments `handles` (in the order received) by the names `name_of` gives.
    /// `handles` is walked twice; `name_of` must give the same name for a handle every time.
    pub(crate) fn build<'a, I, N>(handles: I, name_of: N) -> ArgIndex
    where
        I: Iterator<Item = u32> + Clone,
        N: Fn(u32) -> Cow<'a, str>,
    {
        let hasher = RandomState::new();
        let mut table: HashTable<u32> = HashTable::new();
        // First pass: the groups in order of appearance, with their first handle and a count.
        let mut groups: Vec<(u32, u32)> = Vec::new();
        let mut total = 0usize;
        for h in handles.clone() {
            total += 1;
            let name = name_of(h);
            let hash = hasher.hash_one(&*name);
            let same = |g: &u32| {
                groups
                    .get(*g as usize)
                    .is_some_and(|&(f, _)| name_of(f) == name)
            };
            if let Some(&g) = table.find(hash, same) {
                if let Some(group) = groups.get_mut(g as usize) {
                    group.1 += 1;
                }
                continue;
            }
            let g = as_u32(groups.len());
            groups.push((h, 1));
            let rehash = |g: &u32| match groups.get(*g as usize) {
                Some(&(f, _)) => hasher.hash_one(&*name_of(f)),
                None => 0,
            };
            table.insert_unique(hash, g, rehash);
        }
        groups.shrink_to_fit();
        // Each count becomes the group's start, then its cursor, then (once every handle is in
        // place) its end.
        let mut start = 0u32;
        for group in &mut groups {
            let count = group.1;
            group.1 = start;
            start += count;
        }
        // Second pass: every handle to its group's cursor.
        let mut placed = vec![0u32; total];
        for h in handles {
            let name = name_of(h);
            let hash = hasher.hash_one(&*name);
            let same = |g: &u32| {
                groups
                    .get(*g as usize)
                    .is_some_and(|&(f, _)| name_of(f) == name)
            };
            let Some(&g) = table.find(hash, same) else {
                continue;
            };
            if let Some(group) = groups.get_mut(g as usize) {
                if let Some(slot) = placed.get_mut(group.1 as usize) {
                    *slot = h;
                }
                group.1 += 1;
            }
        }
        ArgIndex {
            handles: placed,
            groups,
            table,
            hasher,
        }
    }

    /// The handles of the arguments named `name`, in the order received (empty if none).
    /// `name_of` is the one the index was built with.
    pub(crate) fn get<'a, N>(&self, name: &str, name_of: N) -> &[u32]
    where
        N: Fn(u32) -> Cow<'a, str>,
    {
        let hash = self.hasher.hash_one(name);
        let same = |g: &u32| {
            self.groups
                .get(*g as usize)
                .is_some_and(|&(f, _)| name_of(f) == name)
        };
        match self.table.find(hash, same) {
            Some(&g) => self.group(g as usize),
            None => &[],
        }
    }

    /// The handles of group `g`.
    fn group(&self, g: usize) -> &[u32] {
        let start = match g.checked_sub(1) {
            Some(previous) => self.groups.get(previous).map_or(0, |&(_, end)| end),
            None => 0,
        };
        let end = self.groups.get(g).map_or(start, |&(_, end)| end);
        self.handles
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// Every group's handles (never empty), in the order the names first appeared.
    pub(crate) fn groups(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.groups.len()).map(|g| self.group(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(names: &[&'static str]) -> ArgIndex {
        ArgIndex::build(0..as_u32(names.len()), |h| {
            Cow::Borrowed(names.get(h as usize).copied().unwrap_or(""))
        })
    }

    #[test]
    fn groups_in_order_of_first_appearance() {
        let names = ["b", "a", "b", "c", "a", "b"];
        let ix = index(&names);
        let name_of = |h: u32| Cow::Borrowed(names[h as usize]);
        assert_eq!(ix.get("b", name_of), [0, 2, 5]);
        assert_eq!(ix.get("a", name_of), [1, 4]);
        assert_eq!(ix.get("c", name_of), [3]);
        assert!(ix.get("d", name_of).is_empty());
        assert!(ix.get("", name_of).is_empty());
        let groups: Vec<&[u32]> = ix.groups().collect();
        assert_eq!(groups, [&[0, 2, 5][..], &[1, 4], &[3]]);
    }

    #[test]
    fn empty_and_single() {
        let ix = index(&[]);
        assert_eq!(ix.groups().count(), 0);
        let ix = index(&[""]);
        assert_eq!(ix.get("", |_| Cow::Borrowed("")), [0]);
    }

    #[test]
    fn names_compare_by_their_text_not_their_handle() {
        // Handles 0 and 2 decode to the same name from different raw text.
        let raw = ["%61", "b", "a"];
        let decoded = |h: u32| match raw[h as usize] {
            "%61" => Cow::Owned("a".to_owned()),
            other => Cow::Borrowed(other),
        };
        let ix = ArgIndex::build(0..3, decoded);
        assert_eq!(ix.get("a", decoded), [0, 2]);
        assert_eq!(ix.groups().count(), 2);
    }

    #[test]
    fn many_names_stay_grouped() {
        let names: Vec<String> = (0..5000).map(|i| (i % 1234).to_string()).collect();
        let name_of = |h: u32| Cow::Borrowed(names[h as usize].as_str());
        let ix = ArgIndex::build(0..5000, name_of);
        assert_eq!(ix.groups().count(), 1234);
        for (g, handles) in ix.groups().enumerate() {
            let expected: Vec<u32> = (0..5000).filter(|h| h % 1234 == g as u32).collect();
            assert_eq!(handles, expected);
            assert_eq!(ix.get(&g.to_string(), name_of), expected);
        }
    }
}
