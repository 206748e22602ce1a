package membership

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestTuningKeepsAValidConfig(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		single                      bool
		tuning                      Tuning
		heartbeat, lease            time.Duration
		trailing, snapshotThreshold uint64
	}{
		{name: "cluster defaults", heartbeat: time.Second, lease: 500 * time.Millisecond, trailing: 1024, snapshotThreshold: 1024},
		{name: "longer lease", tuning: Tuning{LeaderLeaseTimeout: 800 * time.Millisecond},
			heartbeat: time.Second, lease: 800 * time.Millisecond, trailing: 1024, snapshotThreshold: 1024},
		{name: "lease capped at the heartbeat", tuning: Tuning{LeaderLeaseTimeout: 5 * time.Second},
			heartbeat: time.Second, lease: time.Second, trailing: 1024, snapshotThreshold: 1024},
		{name: "compaction", single: true, tuning: Tuning{TrailingLogs: 1, SnapshotThreshold: 4},
			heartbeat: 50 * time.Millisecond, lease: 50 * time.Millisecond, trailing: 1, snapshotThreshold: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := raftConfig(tc.single, tc.tuning)
			conf.LocalID = "n"
			if err := raft.ValidateConfig(conf); err != nil {
				t.Fatal(err)
			}
			if conf.HeartbeatTimeout != tc.heartbeat || conf.ElectionTimeout != tc.heartbeat || conf.LeaderLeaseTimeout != tc.lease {
				t.Errorf("heartbeat %s, election %s, lease %s; want %s, %s, %s",
					conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout, tc.heartbeat, tc.heartbeat, tc.lease)
			}
			if conf.TrailingLogs != tc.trailing || conf.SnapshotThreshold != tc.snapshotThreshold {
				t.Errorf("trailing logs %d, snapshot threshold %d; want %d, %d", conf.TrailingLogs, conf.SnapshotThreshold, tc.trailing, tc.snapshotThreshold)
			}
		})
	}
}
