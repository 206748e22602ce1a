package lock

import "strconv"

// String names the status as Dapr's proto enum does, for logs and test
// failures.
func (s UnlockStatus) String() string {
	switch s {
	case UnlockSuccess:
		return "SUCCESS"
	case UnlockLockDoesNotExist:
		return "LOCK_DOES_NOT_EXIST"
	case UnlockLockBelongsToOthers:
		return "LOCK_BELONGS_TO_OTHERS"
	case UnlockInternalError:
		return "INTERNAL_ERROR"
	}
	return "UnlockStatus(" + strconv.Itoa(int(s)) + ")"
}
