package sqlite

import "strings"

// statements are the SQL texts, built once for the configured table names.
// Named parameters: :topic, :grp, :me (this instance), :now, :lease (lease
// end), :stale (oldest heartbeat of a live instance), :limit.
//
// The driver parses a statement on every execution, prepared or not, so
// the hot paths run few statements: rows are inserted and acknowledged
// many per statement.
type statements struct {
	insertPrefix string // + "(?, ?, ?, ?, ?, ?)" per row
	ackPrefix    string // + "(?, ?, …)": the acknowledged ids
	joinGroup    string
	reclaim      string
	readNew      string
	leaseNew     string
	advance      string
	readByID     string // + "(?, ?, …)"
	dropDelivery string
	nack         string
	hasWork      string
	heartbeat    string
	unregister   string
	releaseOwned string
}

// cursorOf is the group's cursor as a subquery.
func cursorOf(t tables) string {
	return `(SELECT cursor FROM ` + t.groups + ` WHERE topic = :topic AND grp = :grp)`
}

func newStatements(t tables) statements {
	// reclaimable selects a group's deliveries that may be handed out
	// again: due for redelivery, lease expired, or leased to an instance
	// that stopped sending heartbeats.
	reclaimable := `d.topic = :topic AND d.grp = :grp AND (d.lease_until <= :now OR (d.state = 0 AND d.owner <> :me
		AND NOT EXISTS (SELECT 1 FROM ` + t.consumers + ` c WHERE c.id = d.owner AND c.heartbeat > :stale)))`
	return statements{
		// OR ROLLBACK: a multi-row INSERT that may abort half-way needs a
		// statement journal, which the driver's allocator pays for with an
		// mmap per page; the writer rolls back and retries each op alone
		// after any error anyway.
		insertPrefix: `INSERT OR ROLLBACK INTO ` + t.messages + ` (topic, data, content_type, metadata, created, expires) VALUES `,
		ackPrefix:    `DELETE FROM ` + t.deliveries + ` WHERE topic = ? AND grp = ? AND msg_id IN `,
		// A group new to a topic that other groups already consume starts
		// after the newest message; the first group of a topic gets what
		// was published before anyone subscribed. An existing group is
		// marked active (the heartbeat runs this for every subscription,
		// which also recreates a group the cleanup forgot).
		joinGroup: `INSERT INTO ` + t.groups + ` (topic, grp, cursor, last_seen)
			VALUES (:topic, :grp, CASE WHEN EXISTS (SELECT 1 FROM ` + t.groups + ` WHERE topic = :topic)
				THEN IFNULL((SELECT MAX(id) FROM ` + t.messages + ` WHERE topic = :topic), 0) ELSE 0 END, :now)
			ON CONFLICT (topic, grp) DO UPDATE SET last_seen = excluded.last_seen`,
		reclaim: `UPDATE ` + t.deliveries + ` SET state = 0, owner = :me, lease_until = :lease, attempts = attempts + 1
			WHERE topic = :topic AND grp = :grp AND msg_id IN (
				SELECT d.msg_id FROM ` + t.deliveries + ` d WHERE ` + reclaimable + ` ORDER BY d.msg_id LIMIT :limit)
			RETURNING msg_id, attempts`,
		readNew: `SELECT id, data, content_type, metadata, expires FROM ` + t.messages + `
			WHERE topic = :topic AND id > ` + cursorOf(t) + ` ORDER BY id LIMIT :limit`,
		leaseNew: `INSERT OR IGNORE INTO ` + t.deliveries + ` (topic, grp, msg_id, state, owner, lease_until, attempts)
			SELECT topic, :grp, id, 0, :me, :lease, 1 FROM ` + t.messages + `
			WHERE topic = :topic AND id > ` + cursorOf(t) + ` AND id <= :to AND (expires IS NULL OR expires > :now)`,
		advance:      `UPDATE ` + t.groups + ` SET cursor = :to WHERE topic = :topic AND grp = :grp AND cursor < :to`,
		readByID:     `SELECT id, data, content_type, metadata, expires FROM ` + t.messages + ` WHERE id IN `,
		dropDelivery: `DELETE FROM ` + t.deliveries + ` WHERE topic = ? AND grp = ? AND msg_id = ?`,
		nack: `UPDATE ` + t.deliveries + ` SET state = 1, owner = '', lease_until = ?
			WHERE topic = ? AND grp = ? AND msg_id = ? AND owner = ?`,
		// Two flags: new messages past the cursor; reclaimable deliveries.
		hasWork: `SELECT EXISTS (SELECT 1 FROM ` + t.messages + ` WHERE topic = :topic AND id > IFNULL(` + cursorOf(t) + `, 0)),
			EXISTS (SELECT 1 FROM ` + t.deliveries + ` d WHERE ` + reclaimable + `)`,
		heartbeat: `INSERT INTO ` + t.consumers + ` (id, heartbeat) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat`,
		unregister:   `DELETE FROM ` + t.consumers + ` WHERE id = ?`,
		releaseOwned: `UPDATE ` + t.deliveries + ` SET state = 1, owner = '', lease_until = ? WHERE owner = ? AND state = 0`,
	}
}

// placeholders returns "(?, ?, …)" with n marks.
func placeholders(n int) string {
	return "(?" + strings.Repeat(", ?", n-1) + ")"
}
