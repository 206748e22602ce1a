// Package reminders stores actor reminders durably in the actor state store
// and fires each due time on the one sidecar that owns the actor.
//
// # Storage layout
//
// Reminders belong to an actor type (any app hosting the type may fire
// them), so keys carry the type, not the app ID:
//
//	outrigger||reminders||<actorType>||<p>        partition p (0..1023)
//	outrigger||reminders||<actorType>||version    changes on every create/delete
//
// An actor's reminders all live in partition fnv32a(actorID) mod 1024, so a
// get, a list by actor, or a delete touches one key, and 100k reminders of a
// type make partitions of about a hundred entries: a change rewrites a few
// kilobytes, not one big value. A partition is a JSON object
// {"reminders":[...]} whose entries hold the definition (actor ID, name,
// dueTime/period/ttl as registered, data, resolved first due time and
// expiry), a generation ID that changes when the reminder is re-created,
// and the firing progress (due time of the last completed firing and the
// number of firings).
//
// Every write is a read-modify-write guarded by the partition's ETag
// (insert-only when the key is new), retried on conflict, so sidecars
// writing the same partition never lose each other's changes; within one
// sidecar a mutex per partition serialises them. Creates and deletes also
// rewrite the type's version key in the same transaction; each sidecar polls
// the version keys of the types it hosts every SyncInterval and, when one
// changed, re-reads the partitions whose ETag changed. That is how a
// reminder created or deleted through another sidecar reaches (within
// SyncInterval) the sidecar that owns its actor.
//
// # Firing
//
// Each sidecar loads the reminders of the actor types it hosts and keeps
// those of the actors it owns (IsLocal) in a min-heap of next due times; one
// goroutine sleeps until the earliest and hands each due reminder to a
// worker of a schedule.Dispatcher (at most MaxInFlight firings at once),
// which fires it and goes on with the next due one. Just before firing,
// IsLocal is asked again, so a reminder whose actor moved is never fired
// by the old owner. While every worker is busy, due reminders wait in the
// heap and a worker done takes the earliest, so none is starved. A
// reminder is queued again only when its firing returned: firings of one
// reminder never overlap. A failed firing is retried MaxRetries times
// (default 3, as Dapr without a failure policy), RetryInterval apart; then
// the reminder moves on to its next due time. cancel from the app, spent
// repetitions or a passed ttl end the reminder and it is deleted from the
// store.
//
// After Rebalance (the placement table changed) every stored reminder's
// owner is looked up again: reminders that moved away are dropped, those
// that moved here (for instance from a host that died) are scheduled from
// their recorded progress.
//
// # Durability rule
//
// Firing progress is kept in memory and written back in one write per
// changed partition every FlushInterval (default 1s), on Rebalance and on
// shutdown; finished reminders are deleted from the store the same way. So
// the store is written at most once per partition per interval, whatever
// the trigger rate. Delivery is at-least-once: when a sidecar dies, or
// ownership moves while a firing is in progress, the due times fired in the
// last FlushInterval were not recorded and fire once more on the next
// owner. Due times missed while no sidecar fired a reminder (all sidecars
// down, or a firing slower than the period) are not replayed one by one:
// the reminder fires once for them and then keeps to its period grid.
// Repetition counts ("R5/PT10S") count firings.
//
// Deviations from Dapr: reminders live in the state store rather than the
// scheduler service (a later issue moves them); a reminder created or
// deleted through a sidecar that does not own the actor takes effect on
// the owner within SyncInterval.
package reminders
