// Package storeutil holds what the SQL state stores (sqlite, mysql,
// postgres) and, for KeysLike, redis do the same way: the periodic cleanup
// of expired rows, metadata lookups, KeysLike pattern rewriting and paging,
// TTLs, Dapr's binary value form and the steps of a transaction. Each
// store keeps its own SQL and schema.
package storeutil
