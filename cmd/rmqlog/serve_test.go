package main

import (
	"slices"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/config"
)

const brokerKeysConf = "dLegerGroup=g\ndLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912\ndLegerSelfId=n1\n"

// TestBrokerConfigMapping checks that every broker key reaches
// broker.Config, and that the defaults are the broker's own.
func TestBrokerConfigMapping(t *testing.T) {
	tests := []struct {
		name, extra string
		check       func(*broker.Config) bool
	}{
		{"member id", "", func(b *broker.Config) bool { return b.MemberID == 2 && b.BrokerAddr == "127.0.0.1:10911" }},
		{"default delay levels are the broker's", "", func(b *broker.Config) bool {
			want, _ := broker.ParseDelayLevels(broker.DefaultDelayLevels)
			return slices.Equal(b.DelayLevels, want)
		}},
		{"delay levels", "messageDelayLevel=1s 2m 1d", func(b *broker.Config) bool {
			want, _ := broker.ParseDelayLevels("1s 2m 1d")
			return slices.Equal(b.DelayLevels, want)
		}},
		{"dedup defaults", "", func(b *broker.Config) bool {
			return b.DedupWindow == broker.DefaultDedupWindow && b.DedupMaxKeys == broker.DefaultDedupMaxKeys
		}},
		{"dedup off", "rmqlogDedupWindowMs=0", func(b *broker.Config) bool { return b.DedupWindow < 0 }},
		{"dedup", "rmqlogDedupWindowMs=1500\nrmqlogDedupMaxKeys=7", func(b *broker.Config) bool {
			return b.DedupWindow == 1500*time.Millisecond && b.DedupMaxKeys == 7
		}},
		{"lock expiry default", "", func(b *broker.Config) bool { return b.LockExpiry == broker.DefaultLockExpiry }},
		{"lock expiry", "rmqlogQueueLockExpiryMs=2000", func(b *broker.Config) bool { return b.LockExpiry == 2*time.Second }},
		{"slave read", "slaveReadEnable=true\nwhichBrokerWhenConsumeSlowly=2\naccessMessageInMemoryMaxRatio=10", func(b *broker.Config) bool {
			return b.SlaveReadEnable && b.SlowConsumerBrokerID == 2 && b.SlaveReadLag == physicalMemory()*10/100
		}},
		{"slave read defaults", "", func(b *broker.Config) bool {
			return !b.SlaveReadEnable && b.SlowConsumerBrokerID == 1 && b.SlaveReadLag == physicalMemory()*40/100
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := config.Parse("t.conf", []byte(brokerKeysConf+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			bc, err := brokerConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(bc) {
				t.Fatalf("%s: broker config %+v", tt.extra, *bc)
			}
		})
	}
}
