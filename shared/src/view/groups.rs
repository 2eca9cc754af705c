//! The answer's groups: its bookings by campaign and touchpoint.

use super::{BookingGroup, BookingView};

/// Groups bookings by (campaign, touchpoint); bookings inside a group in slot order, groups by
/// their earliest slot (ties broken by key, so the answer is stable).
pub fn group<'a>(bookings: &'a [BookingView<'_>]) -> Vec<BookingGroup<'a>> {
    let mut order: Vec<&BookingView> = bookings.iter().collect();
    order.sort_by(|a, b| {
        (a.booking.slot_starting_at, &a.booking.booking)
            .cmp(&(b.booking.slot_starting_at, &b.booking.booking))
    });
    let mut index: foldhash::HashMap<(&str, &str), usize> = foldhash::HashMap::default();
    let mut groups: Vec<BookingGroup> = Vec::new();
    for view in order {
        let booking = &view.booking;
        let key = (&*booking.interaction.public_key, &*booking.activity.id);
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(BookingGroup {
                interaction_public_key: &booking.interaction.public_key,
                activity_id: &booking.activity.id,
                activity_title: &booking.activity.title,
                timezone: &booking.interaction.timezone,
                booking_ids: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].booking_ids.push(&booking.booking);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::{booking, view_of};

    #[test]
    fn the_same_activity_in_two_campaigns_is_two_groups() {
        let views: Vec<BookingView> = [
            booking(
                "winter-festival",
                "santa",
                "2024-12-12T10:00:00Z",
                "w2",
                Some(30),
            ),
            booking("spring-fair", "santa", "2024-12-11T10:00:00Z", "s1", None),
            booking(
                "winter-festival",
                "craft",
                "2024-12-13T10:00:00Z",
                "c1",
                Some(60),
            ),
            booking(
                "winter-festival",
                "santa",
                "2024-12-10T10:00:00Z",
                "w1",
                Some(30),
            ),
        ]
        .into_iter()
        .map(view_of)
        .collect();
        let groups = group(&views);
        let summary: Vec<(&str, &str, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                (
                    g.interaction_public_key,
                    g.activity_id,
                    g.booking_ids.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("winter-festival", "santa", vec!["w1", "w2"]),
                ("spring-fair", "santa", vec!["s1"]),
                ("winter-festival", "craft", vec!["c1"]),
            ]
        );
        assert!(group(&[]).is_empty());
    }
}
