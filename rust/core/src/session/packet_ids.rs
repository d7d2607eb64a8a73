//! Packet identifiers: every id in use is known here, so an id is only ever
//! handed out when it is free. There is no "collision" to wait out, and no
//! second map from ids to messages.

/// The ids 1..=65535 and which of them are taken.
pub(super) struct PacketIds {
    /// Bit `id` set: in use. Bit 0 (id 0 is not a valid packet id) is
    /// always set.
    used: Box<[u64; 1024]>,
    in_use: usize,
    /// Where the search for the next free id starts: ids are handed out in
    /// rising order, so a just-released id is not reused at once (a late
    /// duplicate acknowledgement then cannot complete a new message).
    next: u16,
}

impl PacketIds {
    pub fn new() -> PacketIds {
        let mut used = Box::new([0u64; 1024]);
        used[0] = 1;
        PacketIds {
            used,
            in_use: 0,
            next: 1,
        }
    }

    /// Takes the next free id, or `None` when all 65535 are in use.
    pub fn allocate(&mut self) -> Option<u16> {
        if self.in_use == usize::from(u16::MAX) {
            return None;
        }
        let mut id = self.next;
        loop {
            if !self.is_used(id) {
                self.set(id, true);
                self.in_use += 1;
                self.next = id.checked_add(1).unwrap_or(1);
                return Some(id);
            }
            id = id.checked_add(1).unwrap_or(1);
        }
    }

    pub fn release(&mut self, id: u16) {
        if id != 0 && self.is_used(id) {
            self.set(id, false);
            self.in_use -= 1;
        }
    }

    pub fn is_used(&self, id: u16) -> bool {
        self.used[usize::from(id) / 64] & (1 << (id % 64)) != 0
    }

    pub fn in_use(&self) -> usize {
        self.in_use
    }

    fn set(&mut self, id: u16, used: bool) {
        let word = &mut self.used[usize::from(id) / 64];
        if used {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PacketIds;

    #[test]
    fn ids_rise_skip_used_ones_and_wrap_past_65535_without_zero() {
        let mut ids = PacketIds::new();
        assert_eq!(ids.allocate(), Some(1));
        assert_eq!(ids.allocate(), Some(2));
        ids.release(1);
        // Not reused at once: the search goes on upwards.
        assert_eq!(ids.allocate(), Some(3));
        ids.next = 1;
        assert_eq!(ids.allocate(), Some(1), "free again");
        assert_eq!(ids.allocate(), Some(4), "2 and 3 are still in use");
        ids.release(1);
        ids.next = u16::MAX;
        assert_eq!(ids.allocate(), Some(u16::MAX));
        assert_eq!(ids.allocate(), Some(1), "wraps to 1, never 0");
    }

    #[test]
    fn all_ids_in_use_gives_none_until_one_is_released() {
        let mut ids = PacketIds::new();
        for _ in 0..u16::MAX {
            assert!(ids.allocate().is_some());
        }
        assert_eq!(ids.in_use(), 65535);
        assert_eq!(ids.allocate(), None);
        ids.release(777);
        assert_eq!(ids.allocate(), Some(777));
    }
}
