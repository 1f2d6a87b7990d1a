//! Table tests and a property test for the edit throttle.

use super::*;
use proptest::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn budget(actions: u32, window_ms: u64) -> Budget {
    Budget { actions, window: ms(window_ms) }
}

#[test]
fn pacer_table() {
    let t0 = Instant::now();
    // (last sent offset, now offset, is_final, expected ready offset), all in ms from t0.
    let cases: &[(Option<u64>, u64, bool, u64)] = &[
        // First edit: at once, final or not.
        (None, 0, false, 0),
        (None, 700, false, 700),
        (None, 0, true, 0),
        // Second edit within the interval waits until last + interval.
        (Some(0), 200, false, 1_000),
        (Some(500), 600, false, 1_500),
        // Exactly at last + interval, or later: at once.
        (Some(0), 1_000, false, 1_000),
        (Some(0), 3_000, false, 3_000),
        // Final edit ignores the interval.
        (Some(0), 200, true, 200),
        (Some(900), 900, true, 900),
    ];
    for &(last, now, is_final, want) in cases {
        let mut pacer = EditPacer::new(ms(1_000));
        if let Some(last) = last {
            pacer.record_sent(t0 + ms(last));
        }
        let got = pacer.ready_at(t0 + ms(now), is_final);
        assert_eq!(got, t0 + ms(want), "last={last:?} now={now} final={is_final}");
    }
}

#[test]
fn pacer_ignores_stale_record_and_defaults_to_one_second() {
    let t0 = Instant::now();
    let mut pacer = EditPacer::default();
    assert_eq!(pacer.min_interval(), DEFAULT_MIN_EDIT_INTERVAL);
    pacer.record_sent(t0 + ms(500));
    pacer.record_sent(t0); // out of order: must not loosen the pacer
    assert_eq!(pacer.last_sent(), Some(t0 + ms(500)));
    assert_eq!(pacer.ready_at(t0 + ms(600), false), t0 + ms(1_500));
}

#[test]
fn huge_interval_is_clamped_instead_of_panicking() {
    let t0 = Instant::now();
    let mut pacer = EditPacer::new(Duration::MAX);
    pacer.record_sent(t0);
    assert_eq!(pacer.ready_at(t0, false), t0 + MAX_SPAN);
    let mut b = BudgetWindow::new(Budget { actions: 1, window: Duration::MAX });
    assert_eq!(b.try_acquire(t0), Ok(()));
    assert_eq!(b.try_acquire(t0), Err(t0 + MAX_SPAN));
}

#[test]
fn budget_err_is_exactly_when_the_oldest_slot_frees() {
    let t0 = Instant::now();
    let mut b = BudgetWindow::new(budget(3, 5_000));
    for at in [0, 1_000, 2_000] {
        assert_eq!(b.try_acquire(t0 + ms(at)), Ok(()), "at {at}");
    }
    // Full: the slot taken at 0 frees at 5 000.
    assert_eq!(b.available_at(t0 + ms(2_500)), t0 + ms(5_000));
    assert_eq!(b.try_acquire(t0 + ms(2_500)), Err(t0 + ms(5_000)));
    assert_eq!(b.try_acquire(t0 + ms(4_999)), Err(t0 + ms(5_000)));
    // A refusal takes nothing.
    assert_eq!(b.try_acquire(t0 + ms(5_000)), Ok(()));
    // Now the oldest busy slot is the one from 1 000.
    assert_eq!(b.try_acquire(t0 + ms(5_000)), Err(t0 + ms(6_000)));
}

#[test]
fn available_at_peeks_without_taking() {
    let t0 = Instant::now();
    let mut b = BudgetWindow::new(budget(1, 1_000));
    assert_eq!(b.available_at(t0), t0);
    assert_eq!(b.available_at(t0), t0);
    assert_eq!(b.try_acquire(t0), Ok(()));
    assert_eq!(b.available_at(t0 + ms(10)), t0 + ms(1_000));
    assert_eq!(b.available_at(t0 + ms(2_000)), t0 + ms(2_000));
}

#[test]
fn zero_actions_reads_as_one() {
    let t0 = Instant::now();
    let mut b = BudgetWindow::new(budget(0, 1_000));
    assert_eq!(b.budget(), budget(1, 1_000));
    assert_eq!(b.try_acquire(t0), Ok(()));
    assert_eq!(b.try_acquire(t0 + ms(1)), Err(t0 + ms(1_000)));
}

#[test]
fn stale_now_is_moved_to_the_latest_acquisition() {
    let t0 = Instant::now();
    let mut b = BudgetWindow::new(budget(2, 1_000));
    assert_eq!(b.try_acquire(t0 + ms(500)), Ok(()));
    // A task that read the clock at 0 but acquires after the one at 500: recorded at 500.
    assert_eq!(b.try_acquire(t0), Ok(()));
    assert_eq!(b.try_acquire(t0 + ms(600)), Err(t0 + ms(1_500)));
}

#[test]
fn final_edit_ignores_the_interval_but_not_the_budget() {
    let t0 = Instant::now();
    let mut pacer = EditPacer::new(ms(1_000));
    let mut channel = BudgetWindow::new(budget(1, 5_000));
    assert_eq!(channel.try_acquire(t0), Ok(()));
    pacer.record_sent(t0);

    let now = t0 + ms(100);
    assert_eq!(pacer.ready_at(now, true), now);
    let at = next_action_at(pacer.ready_at(now, true), &[channel.available_at(now)]);
    assert_eq!(at, t0 + ms(5_000));
    assert_eq!(channel.try_acquire(now), Err(t0 + ms(5_000)));
}

#[test]
fn next_action_at_is_the_latest_constraint() {
    let t0 = Instant::now();
    assert_eq!(next_action_at(t0, &[]), t0);
    assert_eq!(next_action_at(t0 + ms(5), &[t0, t0 + ms(3)]), t0 + ms(5));
    assert_eq!(next_action_at(t0, &[t0 + ms(7), t0 + ms(3)]), t0 + ms(7));
}

#[test]
fn acquire_all_takes_every_slot_or_none() {
    let t0 = Instant::now();
    let mut channel = BudgetWindow::new(budget(5, 5_000));
    let mut workspace = BudgetWindow::new(budget(1, 1_000));
    assert_eq!(try_acquire_all(&mut [&mut channel, &mut workspace], t0), Ok(()));
    // The workspace is full: the channel slot must not be burnt.
    let now = t0 + ms(10);
    assert_eq!(try_acquire_all(&mut [&mut channel, &mut workspace], now), Err(t0 + ms(1_000)));
    for _ in 0..4 {
        assert_eq!(channel.try_acquire(now), Ok(()));
    }
    // Channel now full too: the answer is the later of the two.
    assert_eq!(try_acquire_all(&mut [&mut channel, &mut workspace], now), Err(t0 + ms(5_000)));
}

/// Greedy acquisition times never put more than `actions` into any window.
#[track_caller]
fn assert_within_budget(times: &[Instant], b: Budget) {
    let n = usize::try_from(b.actions.max(1)).unwrap();
    for pair in times.windows(n + 1) {
        let span = pair[n].duration_since(pair[0]);
        assert!(span >= b.window, "{} actions within {span:?} < {:?}", n + 1, b.window);
    }
}

#[test]
fn two_replies_share_a_discord_channel_budget() {
    let t0 = Instant::now();
    let b = budget(5, 5_000);
    let mut channel = BudgetWindow::new(b);
    let mut replies = [EditPacer::new(ms(1_000)), EditPacer::new(ms(1_000))];
    let mut sent = Vec::new();
    let mut per_reply = [0usize; 2];
    // Both replies want to edit as often as allowed for 20 s, interleaved in 50 ms ticks.
    for tick in 0..400u64 {
        let now = t0 + ms(tick * 50);
        for k in 0..2 {
            let i = (k + usize::try_from(tick).unwrap()) % 2; // alternate who goes first
            let ready =
                next_action_at(replies[i].ready_at(now, false), &[channel.available_at(now)]);
            if ready <= now && channel.try_acquire(now).is_ok() {
                replies[i].record_sent(now);
                sent.push(now);
                per_reply[i] += 1;
            }
        }
    }
    assert_within_budget(&sent, b);
    // The budget is used, not just respected: 5 per 5 s over 20 s.
    assert_eq!(sent.len(), 20, "{sent:?}");
    assert!(per_reply.iter().all(|&n| n > 0), "{per_reply:?}");
}

proptest! {
    #[test]
    fn budget_never_exceeded_and_never_refuses_a_free_slot(
        actions in 0u32..7,
        window_ms in 1u64..3_000,
        mut offsets in proptest::collection::vec(0u64..20_000, 0..120),
    ) {
        offsets.sort_unstable();
        let t0 = Instant::now();
        let b = budget(actions, window_ms);
        let mut w = BudgetWindow::new(b);
        let mut accepted: Vec<Instant> = Vec::new();
        for off in offsets {
            let now = t0 + ms(off);
            let peek = w.available_at(now);
            match w.try_acquire(now) {
                Ok(()) => {
                    prop_assert_eq!(peek, now);
                    accepted.push(now);
                }
                Err(t) => {
                    prop_assert_eq!(peek, t);
                    prop_assert!(t > now);
                    // Refused only when the window really is full...
                    let busy = accepted
                        .iter()
                        .filter(|&&a| now.duration_since(a) < b.window)
                        .count();
                    prop_assert!(busy >= usize::try_from(actions.max(1)).unwrap());
                    // ...and `t` is exactly when a slot frees.
                    prop_assert!(w.clone().try_acquire(t).is_ok());
                    prop_assert!(w.clone().try_acquire(t - ms(1)).is_err());
                }
            }
        }
        assert_within_budget(&accepted, b);
    }
}
