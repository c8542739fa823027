//! The cross-crate test suite: one binary.

mod allow_lists;
mod api;
mod backlog;
mod conformance;
mod consensus;
mod cost;
mod count;
mod devices;
mod dynamodb;
mod e2e;
mod events;
mod evidence;
mod faults;
mod flags;
mod forecast;
mod history;
mod hooks;
mod money;
mod notifications;
mod open_data;
mod order;
mod payments;
mod permissions;
mod plates;
mod privacy;
mod reports;
mod retention;
mod scenarios;
mod settle;
mod simulate;
mod staff;
mod stripe_contract;
mod sweeps;
mod unpaid;
mod usecases;
mod webhook;

/// Runs each conformance test against the in-memory store and against
/// DynamoDB on the local endpoint (a fresh table each).
macro_rules! against_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::conformance::$name(&parking_aws::MemoryStore::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb() {
                let store = parking_tests::fresh_dynamo_store(None).await;
                super::conformance::$name(&store).await;
            }
        }
    )*};
}

against_both_stores!(
    // Lots.
    records_round_trip,
    bay_readings_never_go_back_in_sequence,
    a_rebooted_sensor_is_believed_again,
    occupancy_follows_every_reading_exactly,
    // Drivers.
    a_plate_and_a_card_belong_to_one_driver,
    an_erased_driver_leaves_no_copies,
    store_errors_never_show_a_plate,
    // Reservations.
    reservations_never_oversell,
    reservations_follow_the_stored_lot,
    a_lot_with_no_reservable_bays_takes_no_reservation,
    fifty_attempts_on_the_last_slot_one_wins,
    // A plate's history.
    a_plates_history_changes_one_version_at_a_time,
    two_reads_of_one_plate_at_once_one_wins,
    // Sessions.
    sessions_are_listed_as_their_history_wrote_them,
    sessions_are_listed_by_exit_and_while_they_need_a_person,
    a_drivers_stays_are_read_a_page_at_a_time,
    forgetting_a_plate_is_guarded_by_its_head,
    // The ledger.
    the_ledger_forgets_at_the_expiry_second,
    events_that_change_nothing_else_are_remembered_once,
    repeating_a_write_reports_the_callers_own_success,
    // The outbox.
    the_outbox_lists_a_message_until_it_is_delivered,
    // Audit, flags, forecasts, usage.
    an_audit_entry_is_listed_once_in_its_lot,
    the_flag_document_changes_one_revision_at_a_time,
    a_lots_forecast_is_replaced_whole,
    a_lots_usage_adds_up_by_day,
    // Webhooks.
    a_lots_webhooks_change_one_version_at_a_time,
    // The unpaid register.
    the_unpaid_register_follows_the_timeline_commits,
    // Cameras' tracks.
    a_tracks_reads_move_between_timelines_in_one_commit,
);
